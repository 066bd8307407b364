"""The experiment's tables as Markdown (``tables.md``), formatted like the paper: mean (std)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..evaluation.guarantee import percent
from ..evaluation.scores import SCORE_NAMES
from ..jsonio import nan_to_none

if TYPE_CHECKING:
    from .results import ExperimentResult

__all__ = ["format_markdown"]


def _ms(mean, std, signed: bool = False) -> str:
    if nan_to_none(mean) is None:
        return "–"
    return f"{mean:+.4f} ({std:.4f})" if signed else f"{mean:.4f} ({std:.4f})"


def _f(v, digits: int = 4) -> str:
    return "–" if nan_to_none(v) is None else f"{v:.{digits}f}"


def _section(title: str, header: tuple[str, ...]) -> list[str]:
    """A Markdown table's caption and header rows."""
    return ["", title, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]


def _table1_lines(result: ExperimentResult) -> list[str]:
    lines = _section(
        '**Table 1** – weighted one-vs-rest AUROC / AUPR incl. "none" (control absolute, others relative to '
        "the control of the same trial; mean (std) over trials)",
        ("Method", "AUROC", "AUPR"),
    )[1:]
    for _, r in result.table1().iterrows():
        absolute = r["method"] == "Control" or np.isnan(r["auroc_delta_mean"])
        key = "" if absolute else "_delta"
        cells = [_ms(r[f"{m}{key}_mean"], r[f"{m}{key}_std"], signed=not absolute) for m in ("auroc", "aupr")]
        lines.append(f"| {r['method']} | {' | '.join(cells)} |")
    return lines


def _table23_lines(result: ExperimentResult) -> list[str]:
    lines = _section(
        "**Table 2** – confidence–accuracy correlation (reliability diagram, "
        f"{result.config.n_bins} equal-width bins) and ECE",
        ("Method", "Conf.-Acc. correlation", "ECE"),
    )
    for _, r in result.table2().iterrows():
        cells = [_ms(r[f"{k}_mean"], r[f"{k}_std"]) for k in ("correlation", "ece")]
        lines.append(f"| {r['method']} | {' | '.join(cells)} |")
    lines += _section(
        "**Table 3** – threshold chosen on the validation split and accuracies on the evaluation rows",
        ("Method", "Heuristic", "Thresh.", "ID Acc.", "None Acc.", "Acc."),
    )
    for _, r in result.table3().iterrows():
        accs = " | ".join(
            _ms(r[f"{k}_mean"], r[f"{k}_std"]) for k in ("id_accuracy", "none_accuracy", "overall_accuracy")
        )
        lines.append(f"| {r['method']} | {r['heuristic']} | {r['threshold_mean']:.2f} | {accs} |")
    return lines


def _comparison_lines(result: ExperimentResult) -> list[str]:
    lines = _section(
        '**Comparison** – every method and baseline: ECE, AUROC of the "none" scores '
        "(1 − max probability, energy of the logits, k-NN cosine distance, relative Mahalanobis, max-prob + k-NN "
        "fused; peers have no fused score), top-1 ID accuracy without threshold, seconds per final training",
        ("Method", "ECE", *(f"none-AUROC {s}" for s in SCORE_NAMES), "ID acc.", "s/training"),
    )
    for _, r in result.table_compare().iterrows():
        scores = " | ".join(_f(r[f"none_auroc_{s}"]) for s in SCORE_NAMES)
        lines.append(
            f"| {r['method']} | {_f(r['ece_mean'])} | {scores} | {_f(r['id_top1_accuracy'])} | "
            f"{_f(r['train_seconds'], 1)} |"
        )
    return lines


def format_markdown(result: ExperimentResult) -> str:
    """The tables as Markdown, formatted like the paper (mean (std))."""
    cfg, data = result.config, result.dataset
    head = [
        f"Trials: {cfg.n_trials}; epochs: {cfg.train.epochs}; "
        f"data: {data['source']} ({data['rows']} rows, {data['classes']} classes).",
        "",
    ]
    body = _table1_lines(result) + _table23_lines(result) + _comparison_lines(result) + _selective_lines(result)
    body += _score_threshold_lines(result) + _guarantee_lines(result) + _discovery_lines(result)
    return "\n".join(head + body) + "\n"


def _guarantee_lines(result: ExperimentResult) -> list[str]:
    frame = result.table_guarantee()
    if frame.empty:
        return []
    cfg = result.config
    lines = _section(
        f"**Heuristic 3** – a threshold for at most {percent(cfg.guarantee_alpha)} false rejections with "
        f"{percent(1 - cfg.guarantee_delta)} confidence, computed on a random half of each trial's known evaluation "
        "rows; trials in which the other half's realised false-rejection rate exceeded alpha (the guarantee "
        f"allows {percent(cfg.guarantee_delta)} of trials)",
        ("Method", "Score", "Trials", "Rows (mean)", "Violations", "Realised false rejection (mean)"),
    )
    for _, r in frame.iterrows():
        lines.append(
            f"| {r['method']} | {r['score']} | {r['trials']} | {r['n_mean']:.0f} | {r['violations']} | "
            f"{_f(r['realised_false_rejection_mean'])} |"
        )
    return lines


def _selective_lines(result: ExperimentResult) -> list[str]:
    frame = result.table_selective()
    if frame.empty:
        return []
    lines = _section(
        "**Selective classification** – AURC and E-AURC (lower is better) of answering the evaluation rows in the "
        'order of each score ("none" rows count as wrong answers), with top-label and class-wise ECE',
        ("Method", "Score", "AURC", "E-AURC", "ECE", "class-wise ECE"),
    )
    for _, r in frame.iterrows():
        lines.append(
            f"| {r['method']} | {r['score']} | {_ms(r['aurc_mean'], r['aurc_std'])} | "
            f"{_ms(r['e_aurc_mean'], r['e_aurc_std'])} | {_f(r['ece_mean'])} | {_f(r['classwise_ece_mean'])} |"
        )
    return lines


def _score_threshold_lines(result: ExperimentResult) -> list[str]:
    frame = result.table_score_thresholds()
    if frame.empty:
        return []
    lines = _section(
        "**Table 3 per none score** – heuristics 1 and 2 chosen on the validation split in each score's units "
        "(a percentile for all but max_prob), accuracies on the evaluation rows",
        ("Method", "Score", "Heuristic", "Thresh.", "ID Acc.", "None Acc.", "Acc."),
    )
    for _, r in frame.iterrows():
        accs = " | ".join(
            _ms(r[f"{k}_mean"], r[f"{k}_std"]) for k in ("id_accuracy", "none_accuracy", "overall_accuracy")
        )
        lines.append(f"| {r['method']} | {r['score']} | {r['heuristic']} | {r['threshold_mean']:.3f} | {accs} |")
    return lines


def _discovery_lines(result: ExperimentResult) -> list[str]:
    frame = result.table_discovery()
    if frame.empty:
        return []
    lines = _section(
        '**From "none" to new classes** – the unseen classes\' evaluation rows that heuristic 2 routes to "none", '
        "grouped without being told how many classes they hold (docs/discovery.md); one-action accuracy is the "
        "share of them that get their true class when every group takes its majority class",
        ("Method", "Trials", "Rows", "Classes", "Groups", "NMI", "ARI", "One-action acc.", "Ungrouped"),
    )
    for _, r in frame.iterrows():
        lines.append(
            f"| {r['method']} | {r['trials']} | {r['rows_mean']:.0f} | {r['classes_mean']:.1f} | "
            f"{r['groups_mean']:.1f} | {_ms(r['nmi_mean'], r['nmi_std'])} | {_ms(r['ari_mean'], r['ari_std'])} | "
            f"{_ms(r['one_action_accuracy_mean'], r['one_action_accuracy_std'])} | {_f(r['ungrouped_mean'])} |"
        )
    return lines
