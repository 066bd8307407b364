"""A self-contained HTML report of an experiment: the tables and the figures behind Figs. 3-7.

Built only from an :class:`~embaug_core.experiment.results.ExperimentResult` (so also from a
saved ``results.json``): accuracy against the threshold per method (Fig. 3, mean ± std
over trials), reliability diagrams (Fig. 4, bins summed over trials), accuracy per epoch
(Fig. 5, trial 1; on at most 3,000 evaluation rows, its title says when), the TP/(FP+FN)
curves on the validation split with both heuristics (Fig. 6, mean over trials) and confidence
histograms (Fig. 7). plotly.js is embedded once, so the file opens offline.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from ..evaluation.metrics import Bins
from ..jsonio import write_text_atomic
from ..plots import histogram_figure, history_figure, mean_curve_figure, reliability_figure
from .config import entry_title
from .records import CURVE_GRID
from .results import ExperimentResult

__all__ = ["summed_bins", "build_report", "write_report"]


def summed_bins(result: ExperimentResult, method: str) -> Bins:
    """Reliability bins of ``method`` summed over trials (equal-width bins share edges)."""
    rel = [r.calibration.bins for r in result.by_method(method)]
    edges = np.asarray(rel[0].edges, dtype=float)
    counts = np.zeros(len(edges) - 1)
    conf = np.zeros_like(counts)
    corr = np.zeros_like(counts)
    for b in rel:  # per-bin means x counts, as the per-trial diagrams show them
        n = np.asarray(b.counts, dtype=float)
        counts += n
        conf += np.nan_to_num(b.mean_confidence) * n
        corr += np.nan_to_num(b.accuracy) * n
    return Bins(edges=edges, counts=counts.astype(int), confidence_sum=conf, correct_sum=corr, strategy="uniform")


def _ratio_figure(result: ExperimentResult, method: str) -> go.Figure:
    curves = {
        name: result.mean_curve(method, key, validation=True)
        for name, key in (("mean ratio", "mean_ratio"), ("ID ratio", "id_ratio"), ('"none" ratio', "none_ratio"))
    }
    fig = mean_curve_figure(
        CURVE_GRID, curves, title=f"{entry_title(method)}: TP/(FP+FN) on the validation split", yaxis="TP / (FP + FN)"
    )
    for h, dash in (("intersection", "dash"), ("ratio", "dot")):
        ts = [r.thresholds[h].threshold for r in result.by_method(method) if h in r.thresholds]
        if ts:
            fig.add_vline(
                x=float(np.mean(ts)),
                line_dash=dash,
                line_color="#555",
                annotation_text=f"{h}: {np.mean(ts):.3f}",
                annotation_font_size=10,
            )
    return fig


def build_report(result: ExperimentResult, *, title: str = "embaug experiment") -> str:
    """The report as one HTML string."""
    figures: list[tuple[str, go.Figure]] = []
    for m in result.methods:
        curves = {
            name: result.mean_curve(m, key)
            for name, key in (
                ("overall accuracy", "overall_accuracy"),
                ("ID accuracy", "id_accuracy"),
                ('"none" accuracy', "none_accuracy"),
            )
        }
        figures.append(
            (
                "Fig. 3 – accuracy against the threshold",
                mean_curve_figure(CURVE_GRID, curves, title=f"{entry_title(m)}: accuracy vs threshold (mean ± std)"),
            )
        )
    for m in result.methods:
        figures.append(
            ("Fig. 4 – reliability diagrams", reliability_figure(summed_bins(result, m), title=entry_title(m)))
        )
    for m in result.methods:
        first = result.by_method(m)[0]
        if first.history:
            title = f"{entry_title(m)} (trial 1){first.history_note()}"
            figures.append(("Fig. 5 – accuracy per epoch", history_figure(first.history, title=title)))
    for m in result.methods:
        figures.append(("Fig. 6 – threshold heuristics", _ratio_figure(result, m)))
    for m in result.methods:
        figures.append(
            ("Fig. 7 – confidence histograms", histogram_figure(summed_bins(result, m), title=entry_title(m)))
        )

    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px}"
        "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "th:first-child,td:first-child{text-align:left}.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:1rem}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Data: {html.escape(str(result.dataset['source']))} ({result.dataset['rows']} rows, "
        f"{result.dataset['classes']} classes, {result.dataset['dim']} dims). Trials: {result.config.n_trials}; "
        f"epochs: {result.config.train.epochs}; wall time {result.wall_seconds:.0f}s.</p>",
        "<h2>Tables</h2><pre>",
        html.escape(result.markdown()),
        "</pre>",
    ]
    section = None
    first = True
    for name, fig in figures:
        if name != section:
            if section is not None:
                parts.append("</div>")
            parts.append(f"<h2>{html.escape(name)}</h2><div class='grid'>")
            section = name
        parts.append("<div>" + fig.to_html(full_html=False, include_plotlyjs=True if first else False) + "</div>")
        first = False
    parts.append("</div></body></html>")
    return "".join(parts)


def write_report(result: ExperimentResult, path: str | Path, **kwargs) -> Path:
    """Write :func:`build_report` to ``path`` atomically."""
    return write_text_atomic(path, build_report(result, **kwargs))
