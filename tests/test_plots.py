"""The figures show the numbers the tables show: values are read back out of the Plotly figures."""

from dataclasses import replace

import numpy as np
import pytest
from conftest import blob_frame

from embaug_core.data.table import from_dataframe
from embaug_core.experiment.config import ExperimentConfig
from embaug_core.experiment.report import summed_bins
from embaug_core.experiment.run import run_experiment
from embaug_core.plots import ratio_figure, reliability_figure, threshold_figure
from embaug_core.training.config import TrainConfig


@pytest.fixture(scope="module")
def result():
    frame = blob_frame(n_classes=8, per_class=40, dim=10, spread=2.5, seed=6)  # the shared test table
    config = ExperimentConfig(methods=("control", "e_stitchup"), n_trials=1, train_fraction=0.4, unseen_classes=2)
    config = replace(config, alphas=(0.4,), n_removed_classes=2, train=TrainConfig(epochs=5), seed=2)
    return run_experiment(from_dataframe(frame, label_col="label", id_col="item"), config, keep_artifacts=True)


def _trace(fig, name):
    return next(t for t in fig.data if t.name == name)


@pytest.mark.parametrize("method", ["control", "e_stitchup"])
def test_reliability_figure_gives_back_table2s_ece(result, method):
    fig = reliability_figure(summed_bins(result, method))
    bars = _trace(fig, "accuracy")
    accuracy = np.asarray(bars.y, dtype=float)
    mean_conf, counts = np.asarray(bars.customdata, dtype=float).T
    ece_from_figure = float((counts * np.abs(accuracy - mean_conf)).sum() / counts.sum())
    t2 = result.table2().set_index("method")
    title = {"control": "Control", "e_stitchup": "E-Stitchup"}[method]
    assert ece_from_figure == pytest.approx(t2.loc[title, "ece_mean"], abs=1e-12)
    share = np.asarray(_trace(fig, "share of rows").y, dtype=float)
    assert share.sum() == pytest.approx(1.0) and share[share > 0].size == counts.size


def test_threshold_figures_mark_table3s_thresholds_and_draw_its_curves(result):
    art = result.artifacts[("e_stitchup", 0)]
    heuristics = art.validation.heuristics
    t3 = result.table3().set_index(["method", "heuristic"])
    fig = threshold_figure(art.evaluation.curve, heuristics=heuristics)
    for name in heuristics:
        mark = next(
            t for t in fig.data if t.name and t.name.startswith(("heuristic 1", "heuristic 2")) and name in t.name
        )
        assert mark.x[0] == pytest.approx(t3.loc[("E-Stitchup", name), "threshold_mean"], abs=1e-12)
    # the drawn line at t = 0.5 is the sweep's value there (0.5 is a kept grid point, or the
    # middle of a flat run the figure drew as one straight segment)
    overall = _trace(fig, "overall accuracy")
    drawn = np.interp(0.5, np.asarray(overall.x, dtype=float), np.asarray(overall.y, dtype=float))
    assert drawn == pytest.approx(art.evaluation.at(0.5).overall_accuracy, abs=1e-6)
    ratio = ratio_figure(art.validation.curve, heuristics=heuristics)
    mean = _trace(ratio, "mean")
    assert max(mean.y) == pytest.approx(float(art.validation.curve.mean_ratio.max()))


def test_threshold_figures_stay_small_and_draw_the_same_line():
    from embaug_core.evaluation.thresholds import ThresholdSweep

    rng = np.random.default_rng(0)
    n = 13_000  # the size of a user's upload; the page re-sends both figures on every slider step
    none = rng.random(n) < 0.2
    sweep = ThresholdSweep(rng.random(n), (rng.random(n) < 0.7) & ~none, none)
    curve = sweep.curve()
    figs = [threshold_figure(curve, marker=0.5), ratio_figure(curve, marker=0.5)]
    assert sum(len(f.to_json()) for f in figs) < 60_000  # was 177 KB with every grid point as float64
    line = _trace(figs[0], "overall accuracy")
    grid = curve.thresholds[::2]  # the drawn resolution: 0.002
    drawn = np.interp(grid, np.asarray(line.x, dtype=float), np.asarray(line.y, dtype=float))
    np.testing.assert_allclose(drawn, curve.overall_accuracy[::2], atol=1e-6)


def test_the_threshold_marker_is_the_one_shape_the_page_moves():
    """The Threshold page relayouts ``shapes[0]`` in the browser (components.move_chart_markers): it must be
    the marker, at the threshold, with the legend entry the page's benchmark and users read."""
    from embaug_core.evaluation.thresholds import HeuristicResult, ThresholdSweep
    from embaug_core.plots import marker_label

    rng = np.random.default_rng(1)
    none = rng.random(200) < 0.2
    curve = ThresholdSweep(rng.random(200), (rng.random(200) < 0.6) & ~none, none).curve()
    heuristics = {"ratio": HeuristicResult("ratio", 0.25, True)}
    for fig in (threshold_figure(curve, heuristics=heuristics, marker=0.4205), ratio_figure(curve, marker=0.4205)):
        (shape,) = fig.layout.shapes
        assert (shape.x0, shape.x1, shape.name, shape.showlegend) == (0.4205, 0.4205, "threshold 0.420", True)
        assert shape.name == marker_label(0.4205)
    assert threshold_figure(curve).layout.shapes == ()


def test_defect_28_8_the_loss_axis_has_no_negative_ticks(result):
    """The per-epoch figure's loss axis was autoscaled with padding below its lowest loss, so it ticked
    below 0; a loss is never negative."""
    from embaug_core.plots import history_figure

    history = result.records[0].history
    fig = history_figure(history)
    low, high = fig.layout.yaxis2.range
    assert low == 0 and high >= max(r.train_loss for r in history)
    assert list(_trace(fig, "training loss").y) == [r.train_loss for r in history]
