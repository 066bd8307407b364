"""Threshold: accuracy and ratio curves, one slider, both heuristics, export of the threshold and the head."""

import streamlit as st

import ui
from embaug_core.errors import EmbaugError
from embaug_core.evaluation.guarantee import split_check
from embaug_core.evaluation.scores import SCORE_TITLES
from embaug_core.evaluation.threshold_file import ThresholdDocument, load_threshold
from embaug_core.evaluation.thresholds import HeuristicResult
from embaug_core.experiment.display import fmt
from embaug_core.plots import HEURISTIC_STYLE, figure_html, ratio_figure, threshold_figure

st.title("Threshold")
result = ui.require_result()
st.caption(
    'A row is answered with its top class when its confidence ≥ the threshold, and "none" below it. '
    "Curves are on the evaluation rows; heuristics 1 and 2 chose their thresholds on the validation split, "
    "heuristic 3 on half of the known evaluation rows."
)

c1, c2, c3 = st.columns(3)
method = c1.selectbox("Method", result.methods, format_func=ui.method_title, key="threshold_method")
trial = c2.selectbox(
    "Trial", list(range(result.config.n_trials)), format_func=lambda t: f"trial {t + 1}", key="threshold_trial"
)
art = result.artifacts[(method, trial)]
score = c3.selectbox(
    "Score",
    art.scores(),
    format_func=SCORE_TITLES.get,
    key="threshold_score",
    help='What the threshold applies to. "max probability" is the paper\'s; the others are percentiles of the '
    'known training rows (0.05 = answer "none" when a row looks less known than 95 % of them).',
)
score = score if score in art.scores() else "max_prob"  # a peer has max-probability only
if art.head is not None and art.head.scores is not None:
    st.caption(f"Score: {art.head.scores.describe(score)}.")
validation, evaluation = art.for_score(score)  # computed once per head and score; the slider only reads them
curve = evaluation.curve
heuristics = dict(validation.heuristics)
for note in validation.notes:
    st.warning(note)

with st.expander("Heuristic 3: a guaranteed false-rejection rate"):
    g1, g2 = st.columns(2)
    alpha = g1.number_input("Max. false rejection", 0.001, 0.5, 0.05, 0.01, format="%.3f", key="guarantee_alpha")
    level = g2.number_input("Confidence level", 0.5, 0.999, 0.9, 0.01, format="%.3f", key="guarantee_level")
    # computed on a random half of the known evaluation rows (rows the head never trained on); the other
    # half plays tomorrow's known items
    guarantee, realised = split_check(art.eval_confidence(score), art.y_eval >= 0, alpha, 1 - level, seed=trial)
    st.write(
        guarantee.sentence() + f" On the other {int((art.y_eval >= 0).sum()) - guarantee.n} known evaluation rows, "
        f"{fmt(realised)} were rejected at this threshold."
    )
if guarantee.holds:
    heuristics["guaranteed"] = HeuristicResult("guaranteed", guarantee.threshold, True)

state = ui.ThresholdState(method, trial, score)  # this head's own threshold on this score
if not state.is_set():
    first = heuristics.get("ratio") or heuristics.get("intersection")
    state.set(first.threshold if first else 0.5, first.name if first else "manual")
state.restore_slider()


def snap(name: str) -> None:
    state.set(heuristics[name].threshold, name)


def load_file() -> None:
    upload = st.session_state.get("threshold_file")
    if upload is None:
        return
    try:
        if art.head is None:
            raise EmbaugError("a threshold file belongs to an embaug head; choose a method, not a baseline.")
        doc = load_threshold(upload.getvalue())
        doc.check_model(art.head)
        if doc.score != score:
            raise EmbaugError(
                f'this file\'s threshold is on the {SCORE_TITLES[doc.score]!r} score; choose it under "Score" first.'
            )
    except EmbaugError as exc:
        st.session_state["threshold_file_error"] = f"{upload.name}: {exc}"
    else:
        state.set(doc.threshold, "manual")
        st.session_state["threshold_file_error"] = None


with st.expander("Load a threshold file exported earlier"):
    st.file_uploader("Threshold JSON", type=["json"], key="threshold_file", on_change=load_file)
    if st.session_state.get("threshold_file_error"):
        ui.show_error(EmbaugError(st.session_state["threshold_file_error"]))


# Drawn once per head, outside the slider's fragment: a slider step moves their marker in the
# browser (ui.move_chart_markers) instead of re-sending and redrawing both figures.
FIGURES = {  # element key: (builder, file stem, what the download button says)
    "fig3": (threshold_figure, "accuracy_vs_threshold", "Accuracy figure as HTML"),
    "fig6": (ratio_figure, "ratio_vs_threshold", "Ratio figure as HTML"),
}
for col, (key, (build, _, _)) in zip(st.columns(2), FIGURES.items(), strict=True):
    col.plotly_chart(build(curve, heuristics=heuristics, marker=state.value()), width="stretch", key=key)


@st.fragment
def threshold_view() -> None:
    """Everything the slider changes. A fragment: moving the slider or snapping reruns this part
    only, not the page's selectors, file loader and the results they look up."""
    for col, name in zip(st.columns(3), ("intersection", "ratio", "guaranteed"), strict=True):
        col.button(
            f"Snap to {HEURISTIC_STYLE[name][1]}",
            on_click=snap,
            args=(name,),
            disabled=name not in heuristics,
            key=f"snap_{name}",
        )
    st.slider(
        "Confidence threshold" if score == "max_prob" else "Percentile threshold",
        0.0,
        1.0,
        step=0.001,
        format="%.3f",
        key=state.slider_key,
        on_change=state.moved,
    )
    threshold = state.value()  # exact: applied and exported as is, shown rounded
    point = evaluation.sweep.at(threshold)
    st.caption(f"Heuristic 3 at {fmt(guarantee.threshold)}: {guarantee.sentence()}")

    m = st.columns(4)
    m[0].metric(
        "Threshold",
        f"{threshold:.3f}",
        help=f"set by: {state.source()}; exact value {threshold:.6g}",
    )
    m[1].metric("ID accuracy", fmt(point.id_accuracy))
    m[2].metric('"none" accuracy', fmt(point.none_accuracy))
    m[3].metric("Overall accuracy", fmt(point.overall_accuracy))

    ui.move_chart_markers(list(FIGURES), threshold)  # the figures above, without re-sending them
    for col, (key, (build, stem, label)) in zip(st.columns(2), FIGURES.items(), strict=True):
        col.download_button(
            label,
            lambda build=build: figure_html(build(curve, heuristics=heuristics, marker=threshold)),
            f"{stem}_{method}.html",
            "text/html",
            key=f"html_{key}",
            on_click="ignore",
        )

    c1, c2 = st.columns(2)
    with c1:
        st.subheader("Where rows end up")
        st.dataframe(point.confusion(), key="confusion")
    with c2:
        st.subheader("Table 3 row at this threshold")
        st.dataframe(
            [
                {
                    "method": ui.method_title(method),
                    "threshold": fmt(point.threshold),
                    "ID acc.": fmt(point.id_accuracy),
                    '"none" acc.': fmt(point.none_accuracy),
                    "overall acc.": fmt(point.overall_accuracy),
                }
            ],
            hide_index=True,
            key="table3_row",
        )
        at_heuristic = {name: evaluation.sweep.at(h.threshold) for name, h in heuristics.items()}
        rows = [
            {
                "heuristic": HEURISTIC_STYLE[name][1],
                "threshold": fmt(h.threshold),
                "chosen on": "half of the known evaluation rows" if name == "guaranteed" else "validation split",
                "ID acc.": fmt(at_heuristic[name].id_accuracy),
                '"none" acc.': fmt(at_heuristic[name].none_accuracy),
                "overall acc.": fmt(at_heuristic[name].overall_accuracy),
            }
            for name, h in heuristics.items()
        ]
        st.dataframe(rows, hide_index=True, key="heuristics_table")

    st.subheader("Export")
    if art.head is None:
        st.info(
            f"{ui.method_title(method)} is a baseline, not an embaug head: "
            "choose a method to export a threshold and a head."
        )
        return
    source = state.source()
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
        ).to_json()

    st.caption(
        f"The file records the accuracies at this threshold on the {MEASURED_ON}: ID {fmt(at_validation.id_accuracy)}, "
        f'"none" {fmt(at_validation.none_accuracy)}, overall {fmt(at_validation.overall_accuracy)}. '
        f"The numbers above are the exported head on the evaluation rows: ID {fmt(point.id_accuracy)}, "
        f'"none" {fmt(point.none_accuracy)}, overall {fmt(point.overall_accuracy)}.'
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
        lambda: ui.head_zip(head),
        f"embaug_head_{method}.zip",
        "application/zip",
        key="download_head",
        on_click="ignore",
    )


threshold_view()
