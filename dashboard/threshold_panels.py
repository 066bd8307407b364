"""The Threshold page's panels: heuristic 3's inputs, loading a threshold file, the tables at the
slider's threshold, and the export of the threshold and the head. The page (dashboard/pages/threshold.py)
draws the selectors, the figures and the slider's fragment, and calls these; heuristic 4 and the live check
are in dashboard/risk_panels.py."""

from __future__ import annotations

import streamlit as st

from embaug_core.errors import EmbaugError
from embaug_core.evaluation.guarantee import GuaranteedThreshold, percent, split_check
from embaug_core.evaluation.live_check import CalibrationRecord
from embaug_core.evaluation.risk_control import RiskControlledThreshold
from embaug_core.evaluation.scores import SCORE_TITLES
from embaug_core.evaluation.threshold_file import ThresholdDocument, load_threshold
from embaug_core.evaluation.thresholds import DEFAULT_GRID, HeuristicResult, OperatingPoint
from embaug_core.experiment.display import fmt, fmt_threshold
from embaug_core.experiment.results import ExperimentResult, TrialArtifacts
from embaug_core.plots import HEURISTIC_STYLE, marker_label

from . import widgets
from .state import THRESHOLD_FILE_ERROR, THRESHOLD_FILE_LOADED, ThresholdState, kept

#: Where each heuristic chose its threshold, for the heuristics table.
CHOSEN_ON = {"guaranteed": "half of the known evaluation rows", "risk": "half of the evaluation rows"}


def guarantee_panel(art: TrialArtifacts, score: str, trial: int) -> GuaranteedThreshold:
    """Heuristic 3's inputs and its guarantee in words, computed on a random half of the known evaluation
    rows (rows the head never trained on); the other half plays tomorrow's known items."""
    with st.expander("Heuristic 3: a guaranteed false-rejection rate"):
        g1, g2 = st.columns(2)
        alpha = g1.number_input("Max. false rejection", 0.001, 0.5, 0.05, 0.01, format="%.3f", key="guarantee_alpha")
        level = g2.number_input("Confidence level", 0.5, 0.999, 0.9, 0.01, format="%.3f", key="guarantee_level")
        guarantee, realised = split_check(art.eval_confidence(score), art.y_eval >= 0, alpha, 1 - level, seed=trial)
        others = int((art.y_eval >= 0).sum()) - guarantee.n
        share = percent(realised) if realised == realised else "–"
        st.write(
            f"{guarantee.sentence()} Checked on the other {others} known evaluation rows: heuristic 3's threshold, "
            f'{fmt_threshold(guarantee.threshold)}, answered {share} of them "none" (the slider\'s own threshold is '
            "in the tables below)."
        )
    return guarantee


def threshold_file_panel(art: TrialArtifacts, score: str, chosen: ThresholdState) -> None:
    """Load a threshold file exported earlier: it must belong to this head and this score."""

    def load_file() -> None:
        upload = st.session_state.get("threshold_file")
        st.session_state[THRESHOLD_FILE_LOADED] = None
        if upload is None:
            return
        try:
            if art.head is None:
                raise EmbaugError("a threshold file belongs to an embaug head; choose a method, not a baseline.")
            doc = load_threshold(upload.getvalue())
            doc.check_model(art.head)
            if doc.score != score:
                title = SCORE_TITLES[doc.score]
                raise EmbaugError(f'this file\'s threshold is on the {title!r} score; choose it under "Score" first.')
        except EmbaugError as exc:
            st.session_state[THRESHOLD_FILE_ERROR] = f"{upload.name}: {exc}"
        else:
            source = f"file {upload.name}"
            chosen.set(doc.threshold, source)
            st.session_state[THRESHOLD_FILE_ERROR] = None
            origin = HEURISTIC_STYLE[doc.source][1] if doc.source in HEURISTIC_STYLE else "hand"
            st.session_state[THRESHOLD_FILE_LOADED] = (
                chosen.slider_key,
                source,
                f"Loaded {upload.name}: {SCORE_TITLES[doc.score]} threshold {doc.threshold:.6g} (set by {origin}, "
                f"exported {doc.created}) for this head; the slider shows it rounded to "
                f"{round(doc.threshold, 3):.3f}.",
            )

    with st.expander("Load a threshold file exported earlier"):
        st.file_uploader("Threshold JSON", type=["json"], key="threshold_file", on_change=load_file)
        loaded = st.session_state.get(THRESHOLD_FILE_LOADED)
        if st.session_state.get(THRESHOLD_FILE_ERROR):
            widgets.show_error(EmbaugError(st.session_state[THRESHOLD_FILE_ERROR]))
        elif loaded and loaded[:2] == (chosen.slider_key, chosen.source()):  # this head's, not moved since
            st.success(loaded[2], icon=":material/check_circle:")


#: What the slider's component prints per threshold (its metrics, in this order).
SLIDER_METRICS = ["Threshold", "ID accuracy", '"none" accuracy', "Overall accuracy"]
#: The export's download made with the server's threshold: held while the slider's value is not it (the page
#: adds its figures' downloads, whose keys it names).
HELD_WHILE_MOVING = ["download_threshold"]


def _row(at_eval: OperatingPoint, at_validation: OperatingPoint) -> dict:
    """What the page prints at one threshold, formatted as everywhere else on the page."""
    c = at_eval.confusion()
    return {
        "threshold": fmt_threshold(at_eval.threshold),
        "exact": f"{at_eval.threshold:.6g}",
        "id": fmt(at_eval.id_accuracy),
        "none": fmt(at_eval.none_accuracy),
        "overall": fmt(at_eval.overall_accuracy),
        "confusion": [str(c["ID"][k]) for k in c["ID"]] + [str(c["none"][k]) for k in list(c["none"])[1:]],
        "vid": fmt(at_validation.id_accuracy),
        "vnone": fmt(at_validation.none_accuracy),
        "voverall": fmt(at_validation.overall_accuracy),
        "marker": marker_label(at_eval.threshold),
    }


def slider_data(
    evaluation, validation, *, label: str, method: str, chosen: ThresholdState, charts: list[str], held: list[str]
) -> dict:
    """The browser-side slider's data (:func:`dashboard.components.threshold_slider`): the rows of all 1,001
    positions (0 to 1 by 0.001, exactly the slider's values), computed once per head and score and kept in the
    session, and the row of the exact threshold the server holds."""

    def rows() -> dict:
        on_eval, on_validation = evaluation.sweep.curve(DEFAULT_GRID), validation.sweep.curve(DEFAULT_GRID)
        rows = [_row(on_eval.point(i), on_validation.point(i)) for i in range(DEFAULT_GRID.size)]
        return {k: [r[k] for r in rows] for k in rows[0]}  # about 120 KB a head and score

    grid = kept("slider_rows", chosen.slider_key, rows)
    threshold = chosen.value()
    return {
        "label": label,
        "metrics": SLIDER_METRICS,
        "method": widgets.method_title(method),
        "charts": charts,
        "hold": HELD_WHILE_MOVING + held,
        "grid": grid,
        "server": {
            "gen": chosen.generation(),
            "value": threshold,
            "source": chosen.source(),
            "row": _row(evaluation.sweep.at(threshold), validation.sweep.at(threshold)),
        },
    }


def heuristics_table(evaluation, heuristics: dict[str, HeuristicResult]) -> None:
    """Every heuristic's threshold and the accuracies there (the slider's own are in its component)."""
    at_heuristic = {name: evaluation.sweep.at(h.threshold) for name, h in heuristics.items()}
    rows = [
        {
            "heuristic": HEURISTIC_STYLE[name][1],
            "threshold": fmt_threshold(h.threshold),
            "chosen on": CHOSEN_ON.get(name, "validation split"),
            "ID acc.": fmt(at_heuristic[name].id_accuracy),
            '"none" acc.': fmt(at_heuristic[name].none_accuracy),
            "overall acc.": fmt(at_heuristic[name].overall_accuracy),
        }
        for name, h in heuristics.items()
    ]
    st.dataframe(rows, hide_index=True, key="heuristics_table")


# long: the export's caption, file and buttons read together; split, each part would need all of it
def export_panel(
    result: ExperimentResult,
    art: TrialArtifacts,
    method: str,
    score: str,
    chosen: ThresholdState,
    heuristics: dict[str, HeuristicResult],
    validation,
    guarantee: GuaranteedThreshold,
    *,
    risk: RiskControlledThreshold | None,
    trial: int,
) -> None:
    """Download the threshold (a file that belongs to this head and score, with heuristic 3's or 4's record
    when one of them set it, and the evaluation rows' confidences for the live check) and the trained head."""
    threshold = chosen.value()
    st.subheader("Export")
    if art.head is None:
        st.info(
            f"{widgets.method_title(method)} is a baseline, not an embaug head: "
            "choose a method to export a threshold and a head."
        )
        return
    source = chosen.source()
    if source not in heuristics:
        source = "manual"  # moved by hand or loaded from a file
    at_validation = validation.sweep.at(threshold)
    MEASURED_ON = (
        "threshold-validation split: the selected validation head (trained on 70 % of this trial's training rows) "
        f'on the other 30 %, where {result.config.n_removed_classes} removed classes count as "none"'
    )

    def threshold_json() -> str:  # built when the button is pressed, not on every slider step
        return ThresholdDocument.create(
            threshold=threshold,
            source=source,
            head=art.head,
            validation_point=at_validation,
            measured_on=MEASURED_ON,
            score=score,
            guarantee=guarantee if source == "guaranteed" else None,
            risk=risk if source == "risk" else None,
            calibration=CalibrationRecord.of(
                art.eval_confidence(score), threshold, f"the evaluation rows of trial {trial + 1}"
            ),
        ).to_json()

    st.caption(
        f"The file holds the slider's threshold and records the accuracies there on the {MEASURED_ON} (the "
        "second row of the Table 3 row above); the first row is the exported head on the evaluation rows."
    )
    e1, e2 = st.columns(2)
    e1.download_button(
        "Download threshold JSON",
        threshold_json,
        f"threshold_{method}.json",
        "application/json",
        key="download_threshold",
        on_click="ignore",
    )
    head = art.head
    e2.download_button(
        "Download the trained head (safetensors + JSON, zipped)",
        lambda: widgets.head_zip(head),
        f"embaug_head_{method}.zip",
        "application/zip",
        key="download_head",
        on_click="ignore",
    )
