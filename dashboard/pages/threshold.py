"""Threshold: accuracy and ratio curves, one slider, the heuristics, a live check of a new batch, export of the
threshold and the head."""

import streamlit as st

from dashboard import components, risk_panels, state, threshold_panels, widgets
from embaug_core.evaluation.scores import SCORE_TITLES
from embaug_core.evaluation.thresholds import HeuristicResult
from embaug_core.experiment.display import fmt_threshold
from embaug_core.plots import HEURISTIC_STYLE, figure_html, ratio_figure, threshold_figure

st.title("Threshold")
result = state.require_result()
st.caption(
    'A row is answered with its top class when its confidence ≥ the threshold, and "none" below it. '
    "Curves are on the evaluation rows; heuristics 1 and 2 chose their thresholds on the validation split, "
    "heuristic 3 on half of the known evaluation rows, heuristic 4 on half of all evaluation rows."
)

c1, c2, c3 = st.columns(3)
method = c1.selectbox("Method", result.methods, format_func=widgets.method_title, key="threshold_method")
trial = c2.selectbox(
    "Trial", list(range(result.config.n_trials)), format_func=lambda t: f"trial {t + 1}", key="threshold_trial"
)
art = result.artifacts[(method, trial)]
score = c3.selectbox(
    "Score",
    art.scores(),
    format_func=SCORE_TITLES.get,
    key="threshold_score",
    help='What the threshold applies to. "max probability" is the paper\'s; the others are percentiles of '
    'known rows the head did not train on (0.05 = answer "none" when a row looks less known than 95 % of them).',
)
score = score if score in art.scores() else "max_prob"  # a peer has max-probability only
if art.head is not None and art.head.scores is not None:
    st.caption(f"Score: {art.head.scores.describe(score)}.")
validation, evaluation = art.for_score(score)  # computed once per head and score; the slider only reads them
curve = evaluation.curve
heuristics = dict(validation.heuristics)
for note in validation.notes:
    st.warning(note)

chosen = state.ThresholdState(method, trial, score)  # this head's own threshold on this score
guarantee = threshold_panels.guarantee_panel(art, score, trial)
if guarantee.holds:
    heuristics["guaranteed"] = HeuristicResult("guaranteed", guarantee.threshold, True)
risk = risk_panels.risk_panel(art, score, chosen.head)  # None when these rows cannot calibrate heuristic 4
if risk is not None and risk.holds:
    heuristics["risk"] = HeuristicResult("risk", risk.threshold, True)

if not chosen.is_set():
    first = heuristics.get("ratio") or heuristics.get("intersection")
    chosen.set(first.threshold if first else 0.5, first.name if first else "manual")


def snap(name: str) -> None:
    chosen.set(heuristics[name].threshold, name)


threshold_panels.threshold_file_panel(art, score, chosen)


# Drawn outside the slider's fragment: a slider step moves their marker in the browser
# (components.threshold_slider) instead of re-sending and redrawing both figures.
FIGURES = {  # element key: (builder, file stem, what the download button says)
    "fig3": (threshold_figure, "accuracy_vs_threshold", "Accuracy figure as HTML"),
    "fig6": (ratio_figure, "ratio_vs_threshold", "Ratio figure as HTML"),
}
# A changed figure is a new chart to Streamlit, and drawing one anew takes Plotly ~150 ms: so every score
# this head has shown keeps its figures on the page, hidden unless it is the Score chosen, and switching
# back to it only shows them again. Each pair is redrawn when its heuristics move; the marker is drawn
# where it was then and moved in the browser to the slider's value.
drawn = state.kept("threshold_figures", chosen.head, dict, keep=4)
heuristic_lines = tuple((name, h.threshold) for name, h in heuristics.items())
if drawn.get(score, (None,))[0] != heuristic_lines:
    drawn[score] = (
        heuristic_lines,
        {k: b(curve, heuristics=heuristics, marker=chosen.value()) for k, (b, _, _) in FIGURES.items()},
    )
hidden = ", ".join(f".st-key-threshold_figures_{other}" for other in drawn if other != score)
st.html(
    "<style>.st-key-threshold_figures { position: relative; }"
    + (f"{hidden} {{ position: absolute; top: 0; left: 0; width: 100%; visibility: hidden; }}" if hidden else "")
    + "</style>"
)
with st.container(key="threshold_figures"):
    for shown, (_, figures) in drawn.items():
        with st.container(key=f"threshold_figures_{shown}"):
            for col, (key, figure) in zip(st.columns(2), figures.items(), strict=True):
                col.plotly_chart(figure, width="stretch", key=f"{key}_{shown}")
CHARTS = [f"{key}_{score}" for key in FIGURES]  # the charts the slider moves the marker of


@st.fragment
def threshold_view() -> None:
    """Everything the slider changes. A fragment: a snap, or the value the slider settled on, reruns this
    part only. The slider's numbers, tables and markers change in the browser, with no server round trip."""
    for col, name in zip(st.columns(4), ("intersection", "ratio", "guaranteed", "risk"), strict=True):
        col.button(
            f"Snap to {HEURISTIC_STYLE[name][1]}",
            on_click=snap,
            args=(name,),
            disabled=name not in heuristics,
            key=f"snap_{name}",
        )
    # The slider is drawn here but sent last: it releases the downloads it holds while the server does not
    # have the value shown once its new data arrives, and by then the downloads below carry that value.
    slider_slot = st.container()
    st.caption(f"Heuristic 3 at {fmt_threshold(guarantee.threshold)}: {guarantee.sentence()}")
    if risk is not None:
        where = f" at {fmt_threshold(risk.threshold)}" if risk.holds else ""
        st.caption(f"Heuristic 4{where}: {risk.sentence()}")
    threshold_panels.heuristics_table(evaluation, heuristics)
    for col, (key, (build, stem, label)) in zip(st.columns(2), FIGURES.items(), strict=True):
        col.download_button(
            label,
            lambda build=build: figure_html(build(curve, heuristics=heuristics, marker=chosen.value())),
            f"{stem}_{method}.html",
            "text/html",
            key=f"html_{key}",
            on_click="ignore",
        )

    risk_panels.live_check_panel(art, score, chosen, trial)
    threshold_panels.export_panel(
        result, art, method, score, chosen, heuristics, validation, guarantee, risk=risk, trial=trial
    )
    label = "Confidence threshold" if score == "max_prob" else "Percentile threshold"
    data = threshold_panels.slider_data(
        evaluation,
        validation,
        label=label,
        method=method,
        chosen=chosen,
        charts=CHARTS,
        held=[f"html_{key}" for key in FIGURES],
    )
    with slider_slot:
        components.threshold_slider(key=chosen.slider_key, data=data, on_moved=chosen.moved_to)


threshold_view()
