"""The Threshold page's heuristic 4 (a guaranteed error rate among answered items), its export, and the live
check of an uploaded batch, under AppTest with asserted values: every number on screen is compared with
the library called directly on the same rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import blob_frame, move_slider, slider_data, slider_shown
from streamlit.testing.v1 import AppTest
from test_pages import trained, ui_result

from dashboard import state
from embaug_core.data.table import from_dataframe, load_embeddings
from embaug_core.evaluation.guarantee import percent
from embaug_core.evaluation.live_check import CalibrationRecord, check_batch
from embaug_core.evaluation.risk_control import split_risk_check
from embaug_core.experiment.display import fmt_threshold

PAGE = "dashboard/pages/threshold.py"


@pytest.fixture(scope="module")
def app():
    """Six blob classes of 200 rows, two of them removed: 400 "none" evaluation rows, enough for a
    batch of them (the live check tests batches of at least 200 rows)."""
    frame = blob_frame(n_classes=6, per_class=200, dim=16, spread=2.0)
    at = trained(methods=("control",), dataset=from_dataframe(frame, label_col="label", id_col="item"))
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def control(app):
    return ui_result(app).artifacts[("control", 0)]


def reference(art, eps=0.1, level=0.9, alpha=None):
    """Heuristic 4 called directly, on the inputs the page is meant to give it."""
    known = art.y_eval >= 0
    correct = (art.probs.argmax(1) == art.y_eval) & known
    return split_risk_check(
        art.eval_confidence("max_prob"), correct, known, eps, 1 - level, max_false_rejection=alpha, seed=0
    )


def keys(app):
    return state.threshold_keys(app.session_state[state.CURRENT], "control", 0)


def words(app) -> str:
    return " ".join(m.value for m in app.markdown)


def test_heuristic_4_states_its_guarantee_and_the_other_half_and_snaps_to_it(app):
    art = control(app)
    risk, realised, coverage = reference(art)
    assert risk.holds and 0 < risk.threshold < 1 and 0 < coverage <= 1  # the fixture is one where it holds
    others = len(art.y_eval) - risk.n_known - risk.n_none
    text = words(app)
    assert risk.sentence() in text
    assert f"Checked on the other {others} evaluation rows" in text
    assert f"answered {percent(coverage)} of them, and {percent(realised)} of those answers were wrong" in text
    assert f"heuristic 4's threshold, {fmt_threshold(risk.threshold)}" in text
    assert f"Heuristic 4 at {fmt_threshold(risk.threshold)}: {risk.sentence()}" in [c.value for c in app.caption]
    accuracy_figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert f"heuristic 4 (selective risk): {risk.threshold:.3f}" in [t["name"] for t in accuracy_figure["data"]]
    assert app.button(key="snap_risk").label == "Snap to heuristic 4 (selective risk)"

    app.button(key="snap_risk").click().run()
    assert not app.exception
    slider, exact, source = keys(app)
    assert app.session_state[exact] == risk.threshold and app.session_state[source] == "risk"
    assert slider_data(app)["server"]["value"] == risk.threshold  # the browser's slider jumps there
    assert slider_shown(app)[0] == fmt_threshold(risk.threshold)
    table = next(t.value for t in app.dataframe if "heuristic" in t.value.columns)
    row = table[table["heuristic"] == "heuristic 4 (selective risk)"].iloc[0]
    assert row["threshold"] == fmt_threshold(risk.threshold) and row["chosen on"] == "half of the evaluation rows"
    p = art.evaluation.sweep.at(risk.threshold)
    assert row["overall acc."] == f"{p.overall_accuracy:.3f}"


def test_heuristic_4_that_cannot_hold_says_so_and_cannot_be_snapped_to(app):
    art = control(app)
    app.number_input(key="risk_eps").set_value(0.03).run()  # 3 % wrong among answered: more than these rows can show
    risk, _, _ = reference(art, eps=0.03)
    assert not risk.holds and risk.smallest_error_rate == 0.038
    assert f"{risk.sentence()} So heuristic 4 has no threshold to snap to here." in words(app)
    assert "the smallest that could be is 3.8%" in words(app)
    assert f"Heuristic 4: {risk.sentence()}" in [c.value for c in app.caption]
    assert app.button(key="snap_risk").disabled
    heuristics = next(t.value for t in app.dataframe if "heuristic" in t.value.columns)
    assert "heuristic 4 (selective risk)" not in set(heuristics["heuristic"])
    # the joint form: at most 2 % false rejection as well needs 377 known calibration rows; half of these has 200
    app.number_input(key="risk_eps").set_value(0.1).run()
    assert not app.button(key="snap_risk").disabled
    app.checkbox(key="risk_joint").check().run()
    app.number_input(key="risk_alpha").set_value(0.02).run()
    assert not app.exception
    assert any("200 known calibration rows are too few" in e.value and "377 are needed" in e.value for e in app.error)
    assert app.button(key="snap_risk").disabled
    app.checkbox(key="risk_joint").uncheck().run()
    # too few rows for the asked guarantee: a readable error, not a traceback
    app.number_input(key="risk_eps").set_value(0.001).run()
    assert not app.exception
    assert any("too few to guarantee at most 0.1% wrong answers" in e.value for e in app.error)
    assert app.button(key="snap_risk").disabled
    app.number_input(key="risk_eps").set_value(0.1).run()
    assert not app.button(key="snap_risk").disabled


@pytest.fixture
def downloads(monkeypatch):
    """The data of the page's download buttons, by file name: the deferred callables Streamlit registers."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    found = {}
    original = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        found[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return found


def test_the_exported_threshold_carries_heuristic_4_and_the_calibration_record(app, downloads):
    art = control(app)
    risk, _, _ = reference(art)
    app.button(key="snap_risk").click().run()
    doc = json.loads(downloads["threshold_control.json"]())
    assert doc["source"] == "risk" and doc["threshold"] == risk.threshold and "guarantee" not in doc
    assert doc["risk"] == json.loads(json.dumps(risk.to_dict()))
    conf = art.eval_confidence("max_prob")
    assert doc["calibration"]["n"] == len(conf) == len(art.y_eval)
    assert doc["calibration"]["refused"] == int((conf < risk.threshold).sum())
    assert doc["calibration"]["rows"] == "the evaluation rows of trial 1"
    # a threshold moved by hand is exported as "manual", without heuristic 4's record, with the live check's
    move_slider(app, keys(app), 0.5)
    doc = json.loads(downloads["threshold_control.json"]())
    assert doc["source"] == "manual" and "risk" not in doc
    assert doc["calibration"]["refused"] == int((conf < 0.5).sum())


def batch_csv(rows: np.ndarray) -> bytes:
    frame = pd.DataFrame(rows, columns=[f"emb_{i}" for i in range(rows.shape[1])])
    frame.insert(0, "label", "unknown")  # a label column is ignored
    return frame.to_csv(index=False).encode()


def expected_check(art, data: bytes, threshold: float):
    """The live check called directly on the uploaded bytes, as the page should."""
    table = load_embeddings(data, label_col=None, min_classes=0, name="batch.csv")
    conf = art.head.confidence(table.embeddings, "max_prob")
    record = CalibrationRecord.of(art.eval_confidence("max_prob"), threshold, "evaluation rows")
    return check_batch(record, conf, threshold)


def upload(app, name: str, data: bytes):
    move_slider(app, keys(app), 0.5)
    app.file_uploader(key="live_check_file").set_value((name, data, "text/csv")).run()
    assert not app.exception, app.exception


def shown(app) -> dict[str, str]:
    names = ("Batch rows", "Refused: batch / evaluation rows", "p, share refused", "p, distribution")
    return {m.label: m.value for m in app.metric if m.label in names}


def test_the_live_check_warns_on_a_batch_of_none_rows_and_not_on_evaluation_rows(app):
    art = control(app)
    x = app.session_state[state.DATASET].embeddings[art.eval_idx]
    none_rows = x[art.y_eval < 0]
    assert len(none_rows) >= 250
    shifted = batch_csv(none_rows[:250])
    upload(app, "shifted.csv", shifted)
    check = expected_check(art, shifted, 0.5)
    assert check.tested and check.shifted and check.share_refused_batch > check.share_refused_calibration
    assert [w.value for w in app.warning if w.value.startswith("warning:")] == [check.warning()]
    assert shown(app) == {
        "Batch rows": "250",
        "Refused: batch / evaluation rows": f"{percent(check.share_refused_batch)} / "
        f"{percent(check.share_refused_calibration)}",
        "p, share refused": f"{check.p_refused:.2g}",
        "p, distribution": f"{check.p_distribution:.2g}",
    }
    figure = json.loads(app.get("plotly_chart")[-1].proto.spec)
    assert [t["name"] for t in figure["data"]] == [f"evaluation rows ({len(x)} rows)", "shifted.csv (250 rows)"]
    assert figure["data"][0]["x"] == figure["data"][1]["x"] and figure["layout"]["shapes"][0]["x0"] == 0.5
    # the batch's confidences are kept: a slider step re-tests them at the new threshold without reading the file
    kept = app.session_state[state.LIVE_CHECK_BATCH]
    move_slider(app, keys(app), 0.6)
    assert app.session_state[state.LIVE_CHECK_BATCH] is kept
    assert shown(app)["p, share refused"] == f"{expected_check(art, shifted, 0.6).p_refused:.2g}"

    alike = batch_csv(x[np.random.default_rng(1).choice(len(x), 250, replace=False)])
    upload(app, "alike.csv", alike)
    check = expected_check(art, alike, 0.5)
    assert check.tested and not check.shifted
    assert not [w for w in app.warning if w.value.startswith("warning:")]
    assert any("looks like the evaluation rows" in s.value and "not a proof" in s.value for s in app.success)
    assert shown(app)["p, distribution"] == f"{check.p_distribution:.2g}"


def test_the_live_check_says_why_it_cannot_test_a_batch(app):
    art = control(app)
    x = app.session_state[state.DATASET].embeddings[art.eval_idx]
    upload(app, "narrow.csv", batch_csv(x[:300, :8]))
    assert any(
        "New batch narrow.csv: its rows have 8 dimensions, the data this head was trained on has 16" in e.value
        for e in app.error
    )
    assert not shown(app)
    upload(app, "small.csv", batch_csv(x[:50]))
    assert shown(app)["Batch rows"] == "50" and shown(app)["p, share refused"] == "–"
    assert any("too small to test" in i.value for i in app.info)
    upload(app, "broken.csv", b"not,a\ntable")
    assert any(e.value.startswith("New batch broken.csv:") for e in app.error)


def test_the_shift_figure_draws_both_histograms_on_the_same_bins():
    from embaug_core.evaluation.metrics import bin_confidences
    from embaug_core.plots import shift_figure

    a, b = bin_confidences([0.1, 0.2, 0.9, 0.95], n_bins=10), bin_confidences([0.1, 0.15], n_bins=10)
    fig = shift_figure(a, b, 0.4)
    assert list(fig.data[0].y) == pytest.approx(a.fraction) and list(fig.data[1].y)[1] == pytest.approx(1.0)
    assert fig.layout.shapes[0].x0 == 0.4
    with pytest.raises(ValueError, match="share their bins"):
        shift_figure(a, bin_confidences([0.1], n_bins=5), 0.4)


def _moves():
    # AppTest runs this function's source alone: its imports are its own
    import streamlit as st

    from dashboard.state import ThresholdState

    chosen = ThresholdState("control", 0)
    chosen.set(0.5, "ratio")
    before = chosen.generation()
    chosen.set(0.7, "file threshold.json")  # a file loaded while the slider's move was on its way
    chosen.moved_to(0.1, before)
    st.session_state["after_stale"] = (chosen.value(), chosen.source())
    chosen.moved_to(0.2, chosen.generation())
    st.session_state["after_fresh"] = (chosen.value(), chosen.source())


def test_a_slider_move_from_before_a_snap_or_a_file_does_not_undo_it():
    at = AppTest.from_function(_moves).run()
    assert at.session_state["after_stale"] == (0.7, "file threshold.json")
    assert at.session_state["after_fresh"] == (0.2, "manual")
