"""Plotly figures drawn from result objects (never from raw data).

Each function takes what :mod:`~embaug_core.evaluation.metrics`, :mod:`~embaug_core.evaluation.thresholds`,
:mod:`~embaug_core.training.trained_head` or :mod:`~embaug_core.experiment.run` computed and only draws it,
so a figure always shows the same numbers as the tables beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .evaluation.metrics import Bins
from .evaluation.thresholds import HeuristicResult, SweepCurve

__all__ = [
    "class_counts_figure",
    "projection_figure",
    "reliability_figure",
    "histogram_figure",
    "threshold_figure",
    "ratio_figure",
    "history_figure",
    "mean_curve_figure",
    "shift_figure",
    "figure_html",
    "COLORS",
]

COLORS = {
    "overall": "#2ca02c",  # green, as in the paper's Fig. 6
    "none": "#d62728",  # red
    "id": "#1f77b4",
    "ratio_id": "#9467bd",
    "ratio_none": "#ff7f0e",
    "ratio_mean": "#17becf",
    "marker": "#444444",
}
HEURISTIC_STYLE = {
    "intersection": ("dash", "heuristic 1 (intersection)"),
    "ratio": ("dot", "heuristic 2 (ratio)"),
    "guaranteed": ("dashdot", "heuristic 3 (guaranteed)"),
    "risk": ("longdash", "heuristic 4 (selective risk)"),
}


def _layout(fig: go.Figure, title: str, *, height: int = 380) -> go.Figure:
    fig.update_layout(
        title=title,
        height=height + 90,
        margin=dict(l=50, r=20, t=50, b=120),
        template="plotly_white",
        legend=dict(orientation="h", yanchor="top", y=-0.22, x=0, font=dict(size=11)),
    )
    return fig


def class_counts_figure(counts: dict[str, int], *, title: str = "Rows per class", top: int | None = 60) -> go.Figure:
    """Bar chart of ``EmbeddingSet.class_counts()`` (largest first, at most ``top`` bars; None: all).

    When classes are left out the axis title says how many of how many are shown.
    """
    top = len(counts) if top is None else top
    items = list(counts.items())[:top]
    fig = go.Figure(go.Bar(x=[k for k, _ in items], y=[v for _, v in items], marker_color=COLORS["id"]))
    fig.update_xaxes(title_text="class" + (f" (largest {top} of {len(counts)})" if len(counts) > top else ""))
    fig.update_yaxes(title_text="rows")
    return _layout(fig, title, height=320)


def projection_figure(points, labels, *, title: str = "Embeddings, 2-D projection (PCA)") -> go.Figure:
    """Scatter of 2-D points (m, 2) coloured by label (``None`` = unlabelled)."""
    points = np.asarray(points)
    labels = np.array(["(unlabelled)" if v is None else str(v) for v in labels], dtype=object)
    fig = go.Figure()
    for lab in sorted(set(labels)):
        m = labels == lab
        fig.add_trace(
            go.Scattergl(
                x=points[m, 0],
                y=points[m, 1],
                mode="markers",
                name=lab,
                marker=dict(size=5, opacity=0.7),
                hovertemplate=lab + "<extra></extra>",
            )
        )
    fig.update_layout(showlegend=len(set(labels)) <= 30)
    fig.update_xaxes(title_text="PC 1")
    fig.update_yaxes(title_text="PC 2")
    return _layout(fig, title, height=420)


def reliability_figure(bins: Bins, *, title: str = "Reliability diagram") -> go.Figure:
    """Accuracy per confidence bin (bars) against the diagonal, with the histogram below.

    Bars sit at the bin centres with the bin width; empty bins are left blank.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.06)
    widths = np.diff(bins.edges)
    ok = bins.nonempty
    fig.add_trace(
        go.Bar(
            x=bins.centers[ok],
            y=bins.accuracy[ok],
            width=widths[ok],
            name="accuracy",
            marker_color=COLORS["id"],
            marker_line_color="white",
            marker_line_width=1,
            customdata=np.stack([bins.mean_confidence[ok], bins.counts[ok]], axis=1),
            hovertemplate="accuracy %{y:.3f}<br>mean confidence %{customdata[0]:.3f}<br>"
            "rows %{customdata[1]}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=bins.mean_confidence[ok],
            y=bins.accuracy[ok],
            mode="markers",
            name="mean confidence",
            marker=dict(color="black", size=6),
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration", line=dict(color="gray", dash="dash")),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=bins.centers,
            y=bins.fraction,
            width=widths,
            name="share of rows",
            marker_color="#aaaaaa",
            hovertemplate="share %{y:.3f}<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="accuracy", range=[0, 1], row=1, col=1)
    fig.update_yaxes(title_text="share", row=2, col=1)
    fig.update_xaxes(title_text="confidence", range=[0, 1], row=2, col=1)
    return _layout(fig, title, height=460)


def histogram_figure(bins: Bins, *, title: str = "Confidence histogram") -> go.Figure:
    """Share of rows per confidence bin (the paper's Fig. 7)."""
    fig = go.Figure(
        go.Bar(
            x=bins.centers,
            y=bins.fraction,
            width=np.diff(bins.edges),
            marker_color=COLORS["id"],
            customdata=bins.counts,
            hovertemplate="share %{y:.3f}<br>rows %{customdata}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="confidence", range=[0, 1])
    fig.update_yaxes(title_text="share of rows")
    return _layout(fig, title)


def marker_label(threshold: float) -> str:
    """The marker's legend entry, e.g. ``"threshold 0.420"``."""
    return f"threshold {threshold:.3f}"


def _marks(fig: go.Figure, heuristics: dict[str, HeuristicResult] | None, marker: float | None, y_range) -> None:
    """Vertical lines as legend entries (labels never overlap, even for close thresholds). The
    threshold marker is the figure's only shape (``layout.shapes[0]``): the Threshold page moves
    it in the browser with one relayout, which redraws no trace."""
    for name, h in (heuristics or {}).items():
        dash, label = HEURISTIC_STYLE.get(name, ("dash", name))
        fig.add_trace(
            go.Scatter(
                x=[h.threshold, h.threshold],
                y=list(y_range),
                mode="lines",
                name=f"{label}: {h.threshold:.3f}",
                line=dict(color="#555555", dash=dash, width=1.5),
                hoverinfo="name",
            )
        )
    if marker is not None:  # a shape, so that the page can move it without redrawing the traces
        fig.add_shape(
            type="line",
            xref="x",
            yref="y",
            x0=marker,
            x1=marker,
            y0=y_range[0],
            y1=y_range[1],
            name=marker_label(marker),
            showlegend=True,
            line=dict(color=COLORS["marker"], width=3),
        )


def _thin(x: np.ndarray, y: np.ndarray, *, max_points: int = 501) -> tuple[np.ndarray, np.ndarray]:
    """What a line needs on screen: at most ``max_points`` points (every k-th of the grid, the
    last kept), float32 (7 digits, far beyond what a screen or the 3-decimal hover shows), and
    no middle points of flat runs (a straight line through them is the same). The Threshold
    page re-sends its figures on every slider step, so this is most of that step's payload."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    step = max(1, -(-len(x) // max_points))
    keep = np.zeros(len(x), dtype=bool)
    keep[::step] = True
    keep[-1:] = True
    x, y = x[keep], y[keep]
    flat = np.zeros(len(y), dtype=bool)
    if len(y) > 2:
        mid, before, after = y[1:-1], y[:-2], y[2:]
        flat[1:-1] = ((mid == before) & (mid == after)) | (np.isnan(mid) & np.isnan(before) & np.isnan(after))
    return x[~flat].astype(np.float32), y[~flat].astype(np.float32)


def _curves_figure(curve: SweepCurve, series, *, heuristics, marker, y_title: str, y_top: float, title: str):
    """Lines of ``curve`` against the threshold: ``series`` is (attribute, name, colour, width)."""
    fig = go.Figure()
    for key, name, color, width in series:
        x, y = _thin(curve.thresholds, getattr(curve, key))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name=name,
                line=dict(color=color, width=width),
                hovertemplate="t=%{x:.3f}: %{y:.3f}<extra>" + name + "</extra>",
            )
        )
    _marks(fig, heuristics, marker, (0.0, y_top))
    fig.update_xaxes(title_text="confidence threshold", range=[0, 1])
    fig.update_yaxes(title_text=y_title, range=[0, y_top])
    return _layout(fig, title)


def threshold_figure(
    curve: SweepCurve,
    *,
    heuristics=None,
    marker: float | None = None,
    title: str = "Accuracy against the confidence threshold",
) -> go.Figure:
    """ID, "none" and overall accuracy against the threshold (Fig. 3 / Fig. 6 left)."""
    series = (
        ("overall_accuracy", "overall accuracy", COLORS["overall"], 2),
        ("id_accuracy", "ID accuracy", COLORS["id"], 2),
        ("none_accuracy", '"none" accuracy', COLORS["none"], 2),
    )
    return _curves_figure(
        curve, series, heuristics=heuristics, marker=marker, y_title="accuracy", y_top=1.02, title=title
    )


def ratio_figure(
    curve: SweepCurve,
    *,
    heuristics=None,
    marker: float | None = None,
    title: str = "TP / (FP + FN) against the threshold",
) -> go.Figure:
    """The ratio curves of heuristic 2 (Fig. 6 right): ID, "none" and their mean."""
    series = (
        ("id_ratio", "ID", COLORS["ratio_id"], 1.5),
        ("none_ratio", '"none"', COLORS["ratio_none"], 1.5),
        ("mean_ratio", "mean", COLORS["ratio_mean"], 3),
    )
    top = float(np.nanmax(curve.mean_ratio.tolist() + curve.id_ratio.tolist() + curve.none_ratio.tolist() + [0.0]))
    y_top = top * 1.05 if top > 0 else 1.0
    return _curves_figure(
        curve, series, heuristics=heuristics, marker=marker, y_title="TP / (FP + FN)", y_top=y_top, title=title
    )


def history_figure(history: Sequence, *, title: str = "Training history") -> go.Figure:
    """Per-epoch validation accuracies and training loss (the paper's Fig. 5).

    ``history`` is a list of :class:`~embaug_core.training.engine.EpochRecord`.
    """
    epochs = [r.epoch for r in history]

    def col(k):
        return np.array([getattr(r, k) for r in history], dtype=np.float64)

    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(
            x=epochs, y=col("val_overall_accuracy"), name="overall accuracy", line=dict(color=COLORS["overall"])
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(x=epochs, y=col("val_none_accuracy"), name='"none" accuracy', line=dict(color=COLORS["none"])),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(x=epochs, y=col("train_loss"), name="training loss", line=dict(color="gray", dash="dot")),
        secondary_y=True,
    )
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="accuracy (reference threshold)", range=[0, 1.02], secondary_y=False)
    loss = col("train_loss")
    finite = loss[np.isfinite(loss)]
    top = float(finite.max()) * 1.05 if finite.size else 1.0
    fig.update_yaxes(title_text="loss", range=[0, top or 1.0], secondary_y=True)  # a loss is never negative
    return _layout(fig, title)


def mean_curve_figure(
    thresholds,
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    title: str = "Mean over trials (± std)",
    yaxis: str = "accuracy",
) -> go.Figure:
    """Mean curves with ±std bands (dotted), e.g. from ExperimentResult.mean_curve."""
    fig = go.Figure()
    palette = [COLORS["overall"], COLORS["id"], COLORS["none"], COLORS["ratio_mean"], COLORS["ratio_none"]]
    for (name, (mean, std)), color in zip(curves.items(), palette, strict=False):  # palette may be longer
        fig.add_trace(go.Scatter(x=thresholds, y=mean, name=name, line=dict(color=color)))
        for sign in (1, -1):
            fig.add_trace(
                go.Scatter(
                    x=thresholds,
                    y=mean + sign * std,
                    showlegend=False,
                    hoverinfo="skip",
                    line=dict(color=color, dash="dot", width=1),
                )
            )
    fig.update_xaxes(title_text="confidence threshold", range=[0, 1])
    fig.update_yaxes(title_text=yaxis)
    return _layout(fig, title)


def risk_coverage_figure(curves: dict, *, title: str = "Risk against coverage") -> go.Figure:
    """Risk–coverage curves (:class:`~embaug_core.evaluation.selective.RiskCoverage`), one line per name,
    with AURC in the legend; lower is better."""
    fig = go.Figure()
    for name, rc in curves.items():
        x, y = _thin(rc.coverage, rc.risk)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name=f"{name} (AURC {rc.aurc:.3f})",
                hovertemplate="coverage %{x:.3f}: risk %{y:.3f}<extra>" + name + "</extra>",
            )
        )
    fig.update_xaxes(title_text="coverage (share of rows answered)", range=[0, 1])
    fig.update_yaxes(title_text="risk (share of answers wrong)", rangemode="tozero")
    return _layout(fig, title)


def shift_figure(
    calibration: Bins,
    batch: Bins,
    threshold: float,
    *,
    names: tuple[str, str] = ("evaluation rows", "new batch"),
    title: str = "Confidences: calibration rows and the new batch",
) -> go.Figure:
    """The live check's picture (:mod:`~embaug_core.evaluation.live_check`): the share of rows per confidence
    bin of the calibration rows and of a batch, overlaid on the same bins, with the threshold as a line.

    ``calibration`` and ``batch`` come from :func:`~embaug_core.evaluation.metrics.bin_confidences` with the
    same bins; ``names`` are their legend entries."""
    if calibration.edges.shape != batch.edges.shape or not np.array_equal(calibration.edges, batch.edges):
        raise ValueError("the two histograms must share their bins.")
    fig = go.Figure()
    for bins, name, color in ((calibration, names[0], COLORS["id"]), (batch, names[1], COLORS["none"])):
        fig.add_trace(
            go.Bar(
                x=bins.centers,
                y=bins.fraction,
                width=np.diff(bins.edges),
                name=f"{name} ({bins.n_total} rows)",
                marker_color=color,
                opacity=0.55,
                customdata=bins.counts,
                hovertemplate="share %{y:.3f}<br>rows %{customdata}<extra>" + name + "</extra>",
            )
        )
    top = float(max(calibration.fraction.max(initial=0.0), batch.fraction.max(initial=0.0)))
    y_top = top * 1.05 if top > 0 else 1.0
    _marks(fig, None, threshold, (0.0, y_top))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text="confidence", range=[0, 1])
    fig.update_yaxes(title_text="share of rows", range=[0, y_top])
    return _layout(fig, title)


def figure_html(fig: go.Figure) -> str:
    """A self-contained HTML file of ``fig`` (plotly.js embedded, so it opens offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True)
