"""What the "auto" recipe and the "auto" method chose, in words and as a table (CLI, dashboard).

The choices themselves are made in :mod:`embaug_core.training.recipe` (single heads) and
:mod:`embaug_core.experiment.heads` (experiments); this module only reads what they recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .records import GridPoint, LearningRateChoice, SelectionRow, TemperatureFit

__all__ = ["candidates_frame", "auto_choice", "describe_length"]

#: The table's columns: the candidate's own settings, then what the validation split measured.
_COLUMNS = {
    "method": "method",
    "alpha": "alpha",
    "softness": "softness",
    "val_nll_scaled": "validation log loss",
    "auroc": "validation AUROC",
    "temperature": "temperature",
    "best_epoch": "best epoch",
    "val_nll": "log loss before temperature",
    "val_top_nll": "top-class log loss",
}


def _title_and_settings(method: str, alpha, softness, C=None) -> tuple[str, str, str]:
    """(title, alpha, softness) as the table shows them: "–" where the method has no such setting
    (Control has no alpha); logistic regression as "LogReg (C 1)", a deep ensemble as "E-Stitchup, 5 seeds
    averaged", a blend as "E-Stitchup, 5 seeds averaged, averaged with LogReg (C 1)". A method this version
    does not know (an older run's) keeps its name and shows the settings it recorded."""
    from ..errors import EmbaugError
    from ..training.augment import get_method

    if method == "logreg":  # the peer as a candidate: its C is in its title
        return "LogReg" + (f" (C {C:g})" if C is not None else ""), "–", "–"
    if method.endswith(" + logreg"):  # a blend of a head or ensemble with the peer
        title, alpha, softness = _title_and_settings(method.removesuffix(" + logreg"), alpha, softness)
        return title + ", averaged with LogReg" + (f" (C {C:g})" if C is not None else ""), alpha, softness
    base, _, members = method.partition(" x")  # a deep ensemble: "e_stitchup x5"
    try:
        m = get_method(base)
    except EmbaugError:
        title, uses_alpha, uses_softness = method, alpha is not None, softness is not None
    else:
        title, uses_alpha, uses_softness = m.title, m.uses_alpha, m.uses_softness
        if members.isdigit():
            title += f", {members} seeds averaged"
    return (
        title,
        f"{alpha:g}" if uses_alpha and alpha is not None else "–",
        f"{softness:g}" if uses_softness and softness is not None else "–",
    )


def candidates_frame(rows: Sequence[SelectionRow | dict]) -> pd.DataFrame:
    """One row per validated candidate, best first, with a rank: the method's title, its alpha and softness
    ("–" where the method has none), then what ranked it: the validation log loss (NLL) after its
    temperature, the validation AUROC that breaks near-ties, the temperature and the best epoch; last, for
    the curious, the log loss before the temperature and the top-class log loss.

    ``rows``: the "auto" method's selection (an experiment record's :class:`GridPoint` s; its other
    entries are skipped) or the single-head recipe's candidates as ``head.json`` keeps them (flat
    dicts, AUROC as "val_auroc").
    """
    flat, Cs = [], []
    for r in rows:
        if isinstance(r, GridPoint) and r.method is not None:
            checkpoint = r.checkpoint.to_dict() if r.checkpoint else {}
            setting = {"method": r.method, "alpha": r.alpha, "softness": r.softness}
            flat.append({k: checkpoint.get(k, setting.get(k)) for k in _COLUMNS if k != "auroc"} | {"auroc": r.score})
            Cs.append(r.C)
        elif isinstance(r, dict) and "method" in r:
            flat.append({k: r.get(k) for k in _COLUMNS if k != "auroc"} | {"auroc": r.get("val_auroc")})
            Cs.append(r.get("C"))
    for row, C in zip(flat, Cs, strict=True):
        row["method"], row["alpha"], row["softness"] = _title_and_settings(
            row["method"], row["alpha"], row["softness"], C
        )
    frame = pd.DataFrame(flat, columns=list(_COLUMNS)).rename(columns=_COLUMNS)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame


def _named(row) -> str:
    """A candidate in words: "E-Stitchup (alpha 0.4)", "Control"."""
    settings = [f"{k} {row[k]}" for k in ("alpha", "softness") if row[k] != "–"]
    return f"{row['method']}" + (f" ({', '.join(settings)})" if settings else "")


def _ranking_parts(frame: pd.DataFrame, scaled: bool, cross_fitted: bool = False) -> list[str]:
    """How the candidates of ``frame`` were ranked and why its first one won, in plain words
    (``cross_fitted``: the winner's final model has a temperature of its own, said by :func:`_retraining`)."""
    from ..training.recipe import DEFAULT_RECIPE

    top = frame.iloc[0]
    loss, auroc = "validation log loss", "validation AUROC"
    tie = DEFAULT_RECIPE.nll_tie
    lowest = frame[loss].min()  # the tie band starts at the lowest log loss (selection.rank)
    parts = [
        (
            "**How they are ranked:** each candidate's confidences are first rescaled to fit the validation "
            "rows (a temperature of its own; this one "
            + ("had" if cross_fitted else "is used with")
            + f" {top['temperature']:.2f}"
            + (" on the validation split" if cross_fitted else "")
            + "). The candidate whose "
            "rescaled confidences then fit the validation rows best wins"
            if scaled
            else "**How they are ranked:** the candidate whose confidences fit the validation rows best wins"
        )
        + f": the lowest log loss (negative log-likelihood). Validation AUROC decides only between candidates "
        f"whose log losses are within {tie:g} of the lowest."
    ]
    if top[loss] > lowest:
        best = frame[frame[loss] == lowest].iloc[0]
        parts.append(
            f"This one won a near-tie: its log loss, {top[loss]:.4f}, is within {tie:g} of the lowest "
            f"({best[loss]:.4f}, {_named(best)}), and its validation AUROC, {top[auroc]:.4f}, is the highest "
            "of those within it."
        )
    else:
        parts.append(f"Its log loss, {top[loss]:.4f}, is the lowest.")
    better_auroc = frame[(frame[auroc] > top[auroc]) & (frame[loss] > lowest + tie)]
    if len(better_auroc):
        other = better_auroc.iloc[0]
        parts.append(
            f"So {_named(other)} ranks lower although its validation AUROC is higher ({other[auroc]:.4f} against "
            f"{top[auroc]:.4f}): its log loss, {other[loss]:.4f}, is more than {tie:g} above the lowest, which "
            "means its confidences fit worse, and confidences are what a threshold acts on."
        )
    return parts


def _retraining(top, scaled: bool, epochs: int, rate: str, cross_fit: TemperatureFit | None = None) -> str:
    """How the winner of the ranking was trained again on all training rows, in words (``cross_fit``: the
    record's cross-fitted temperature, when its ensemble was cross-fitted)."""
    if cross_fit is not None:
        return (
            f"The heads of the chosen ensemble were then trained again as fold models{rate}, each on all training "
            f"rows but its own share of them, stopped at its best epoch ({int(top['best epoch'])}). Each is divided "
            f"by a temperature of {cross_fit.temperature:.2f}, fitted on every training row's prediction by the "
            "one head that never trained on it (cross-fitting), not carried over from the validation split."
        )
    if str(top["method"]).startswith("LogReg"):
        again = "The chosen logistic regression was then fitted again on all training rows with the same C"
        return again + (", and rescaled by the same temperature." if scaled else ".")
    stop = (
        f"stopped at its best epoch ({int(top['best epoch'])}) and rescaled by the same temperature"
        if scaled
        else f"for the same {epochs} epochs"
    )
    what = "heads of the chosen ensemble were" if "seeds averaged" in str(top["method"]) else "chosen head was"
    peer = " (and its logistic regression fitted again with the same C)" if "with LogReg" in str(top["method"]) else ""
    return f"The {what}{peer} then trained again on all training rows{rate}, {stop}."


def auto_choice(result, trial: int) -> tuple[str, pd.DataFrame]:
    """(why the "auto" method chose its head in ``trial``, in plain words; the ranked candidates as
    :func:`candidates_frame` shows them)."""
    from .config import AUTO_METHOD, entry_title

    record = next(r for r in result.records if r.method == AUTO_METHOD and r.trial == trial)
    frame = candidates_frame(record.selection)
    top = frame.iloc[0]
    # a TemperatureFit in the auto method's record is its cross-fitted ensemble's (experiment.heads.final_heads)
    crossed = next((r for r in record.selection if isinstance(r, TemperatureFit)), None)
    scaled = result.config.train.recipe == "auto"
    parts = [
        f"**{_named(top)}** was chosen from {len(frame)} candidates. Each was trained on part of this trial's "
        "training rows and tested on the rest (the validation split), which it never trained on.",
        *_ranking_parts(frame, scaled, crossed is not None),
    ]
    lr = next((r for r in record.selection if isinstance(r, LearningRateChoice)), None)
    rate = (
        f", at the learning rate ({lr.lr_max:.3g}) that gave the lowest validation log loss in short trial runs"
        if lr
        else ""
    )
    parts.append(_retraining(top, scaled, result.config.train.epochs, rate, crossed))
    peers = {r.method: r for r in result.records if r.trial == trial and r.method != AUTO_METHOD}
    if "logreg_ts" in peers:
        mine, theirs = record, peers["logreg_ts"]
        parts.append(
            f"On the evaluation rows its calibration error (ECE: how far its confidences are from its accuracy) "
            f"is {mine.calibration.ece:.3f} against {entry_title('logreg_ts')}'s {theirs.calibration.ece:.3f} "
            f"(lower is better), its AUROC {mine.auroc:.4f} against {theirs.auroc:.4f} (higher is better)."
        )
    return "\n\n".join(parts), frame


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
