"""What the "auto" recipe and the "auto" method chose, in words and as a table (CLI, dashboard).

The choices themselves are made in :mod:`embaug_core.training.recipe` (single heads) and
:mod:`embaug_core.experiment.heads` (experiments); this module only reads what they recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .records import GridPoint, LearningRateChoice, SelectionRow

__all__ = ["candidates_frame", "auto_choice", "describe_length"]

_COLUMNS = {
    "method": "method",
    "alpha": "alpha",
    "softness": "softness",
    "val_nll_scaled": "val. NLL after T",
    "val_top_nll": "val. top-label NLL after T",
    "val_nll": "val. NLL",
    "auroc": "val. AUROC",
    "temperature": "T",
    "best_epoch": "best epoch",
}


def candidates_frame(rows: Sequence[SelectionRow | dict]) -> pd.DataFrame:
    """One row per validated candidate, best first, with a rank: method, alpha, softness, validation
    NLL after its temperature (the criterion) and before it, top-label NLL after it, validation
    AUROC, T and the best epoch.

    ``rows``: the "auto" method's selection (an experiment record's :class:`GridPoint` s; its other
    entries are skipped) or the single-head recipe's candidates as ``head.json`` keeps them (flat
    dicts, AUROC as "val_auroc").
    """
    flat = []
    for r in rows:
        if isinstance(r, GridPoint) and r.method is not None:
            checkpoint = r.checkpoint.to_dict() if r.checkpoint else {}
            setting = {"method": r.method, "alpha": r.alpha, "softness": r.softness}
            flat.append({k: checkpoint.get(k, setting.get(k)) for k in _COLUMNS if k != "auroc"} | {"auroc": r.score})
        elif isinstance(r, dict) and "method" in r:
            flat.append({k: r.get(k) for k in _COLUMNS if k != "auroc"} | {"auroc": r.get("val_auroc")})
    frame = pd.DataFrame(flat, columns=list(_COLUMNS)).rename(columns=_COLUMNS)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame


def auto_choice(result, trial: int) -> tuple[str, pd.DataFrame]:
    """(a sentence saying which head "auto" chose in ``trial`` and why, the ranked candidates)."""
    from .config import AUTO_METHOD, entry_title

    record = next(r for r in result.records if r.method == AUTO_METHOD and r.trial == trial)
    frame = candidates_frame(record.selection)
    top = frame.iloc[0]
    lr = next((r for r in record.selection if isinstance(r, LearningRateChoice)), None)
    peers = {r.method: r for r in result.records if r.trial == trial and r.method != AUTO_METHOD}
    text = (
        f"**{entry_title(top['method'])}** (alpha {top['alpha']:g}, softness {top['softness']:g}) has the lowest "
        f"validation NLL after its temperature ({top['val. NLL after T']:.4f}; T = {top['T']:.2f}, best epoch "
        f"{int(top['best epoch'])}) of {len(frame)} candidates trained together on the validation split; NLLs "
        "within 0.002 of the lowest are ranked by validation AUROC. It was retrained on all training rows, "
        "stopped at that epoch and divided by T."
    )
    if lr is not None:
        text += f" Peak learning rate {lr.lr_max:.3g}, the lowest validation NLL of the probes tried."
    if "logreg_ts" in peers:
        mine, theirs = record, peers["logreg_ts"]
        text += (
            f" On the evaluation rows: ECE {mine.calibration.ece:.3f} against LogReg + TS "
            f"{theirs.calibration.ece:.3f}, AUROC {mine.auroc:.4f} against {theirs.auroc:.4f}."
        )
    return text, frame


def describe_length(result) -> str:
    """How long the heads of an experiment trained, in words."""
    train = result.config.train
    if train.recipe != "auto":
        return f"{train.epochs} epochs"
    epochs = sorted({len(r.history) for r in result.records if r.history})  # final heads stop at their best epoch
    if not epochs:
        return f"auto recipe (up to {train.epochs} epochs, length chosen on the validation split)"
    span = f"{epochs[0]}–{epochs[-1]}" if len(epochs) > 1 else f"{epochs[0]}"
    return f"auto recipe ({span} of up to {train.epochs} epochs, chosen on the validation split)"
