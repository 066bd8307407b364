"""Numbers and tables as people see them: :func:`fmt` (one number) and :func:`for_display` (a table
with titled columns and rounded numbers), the same on every page, in the CLI and in reports."""

from __future__ import annotations

import pandas as pd

from ..evaluation.scores import SCORE_TITLES
from ..jsonio import nan_to_none

__all__ = ["fmt", "fmt_threshold", "for_display", "COLUMN_TITLES", "DISPLAY_DIGITS"]


#: Column titles of the tables on screen and in reports (the CSV exports keep the keys).
COLUMN_TITLES = {
    "method": "method",
    "heuristic": "heuristic",
    "trials": "trials",
    "auroc_mean": "AUROC",
    "auroc_std": "AUROC std",
    "auroc_delta_mean": "AUROC − control",
    "auroc_delta_std": "AUROC − control std",
    "aupr_mean": "AUPR",
    "aupr_std": "AUPR std",
    "aupr_delta_mean": "AUPR − control",
    "aupr_delta_std": "AUPR − control std",
    "correlation_mean": "conf.–acc. correlation",
    "correlation_std": "correlation std",
    "ece_mean": "ECE",
    "ece_std": "ECE std",
    "mce_mean": "MCE",
    "mce_std": "MCE std",
    "brier_mean": "Brier",
    "brier_std": "Brier std",
    "nll_mean": "NLL",
    "nll_std": "NLL std",
    "threshold_mean": "threshold",
    "threshold_std": "threshold std",
    "id_accuracy_mean": "ID acc.",
    "id_accuracy_std": "ID acc. std",
    "none_accuracy_mean": '"none" acc.',
    "none_accuracy_std": '"none" acc. std',
    "overall_accuracy_mean": "overall acc.",
    "overall_accuracy_std": "overall acc. std",
    "none_auroc_max_prob": "none-AUROC, 1 − max p",
    "none_auroc_energy": "none-AUROC, energy",
    "none_auroc_knn": "none-AUROC, k-NN",
    "none_auroc_mahalanobis": "none-AUROC, Mahalanobis",
    "none_auroc_fused": "none-AUROC, fused",
    "id_top1_accuracy": "ID top-1 acc.",
    "score": "none score",
    "aurc_mean": "AURC",
    "aurc_std": "AURC std",
    "e_aurc_mean": "E-AURC",
    "e_aurc_std": "E-AURC std",
    "classwise_ece_mean": "class-wise ECE",
    "violations": "violations",
    "n_mean": "rows (mean)",
    "realised_false_rejection_mean": "realised false rejection",
    "train_seconds": "s / training",
}
#: Decimals of every number shown on screen (the exports keep full precision).
DISPLAY_DIGITS = 3


def fmt(value, digits: int = DISPLAY_DIGITS) -> str:
    """One number as shown on screen: ``digits`` decimals, "–" when undefined (NaN / None)."""
    return "–" if nan_to_none(value) is None else f"{value:.{digits}f}"


def fmt_threshold(value) -> str:
    """A threshold as shown on screen: 3 decimals, more where 3 would round a threshold inside (0, 1) to 0 or 1
    (0.0003, not 0.000: a percentile threshold that catches only the farthest rows is not "no threshold")."""
    if nan_to_none(value) is None:
        return "–"
    digits = DISPLAY_DIGITS
    while 0.0 < value < 1.0 and round(value, digits) in (0.0, 1.0) and digits < 9:
        digits += 1
    return f"{value:.{digits}f}"


def for_display(frame: pd.DataFrame, *, digits: int = DISPLAY_DIGITS, trials: int | None = None) -> pd.DataFrame:
    """A table for people: titled columns, numbers with ``digits`` decimals, "–" where undefined, none
    scores by their titles.

    Numbers become text so that every page rounds the same way and no "None" or "nan" shows. A standard
    deviation over one trial is undefined, not 0: std columns show "–" in rows of one trial (the table's
    "trials" column, else ``trials``).
    """
    out = pd.DataFrame(index=frame.index)
    counts = frame["trials"] if "trials" in frame.columns else pd.Series(trials, index=frame.index)
    for key in frame.columns:
        title = COLUMN_TITLES.get(key, key.replace("_", " "))
        col = frame[key]
        if pd.api.types.is_float_dtype(col):
            single = key.endswith("_std") & (counts == 1)
            out[title] = ["–" if one else fmt(v, digits) for v, one in zip(col, single, strict=True)]
        elif key == "score":
            out[title] = [SCORE_TITLES.get(v, v) for v in col]
        else:
            out[title] = ["–" if v is None else v for v in col]
    return out
