"""Threshold: accuracy and ratio curves, one slider, both heuristics, export of the threshold and the head."""

import streamlit as st

import ui
from embaug_core.errors import EmbaugError
from embaug_core.plots import figure_html, ratio_figure, threshold_figure
from embaug_core.threshold_doc import ThresholdDocument, load_threshold

st.title("Threshold")
result = ui.require_result()
st.caption(
    'A row is answered with its top class when its confidence ≥ the threshold, and "none" below it. '
    "Curves are on the evaluation rows; the heuristics' thresholds were chosen on the validation split."
)

c1, c2 = st.columns(2)
method = c1.selectbox("Method", result.methods, format_func=ui.method_title, key="threshold_method")
trial = c2.selectbox(
    "Trial", list(range(result.config.n_trials)), format_func=lambda t: f"trial {t + 1}", key="threshold_trial"
)
art = result.artifacts[(method, trial)]
curve = art.evaluation.curve  # precomputed once; the slider only reads it
heuristics = art.validation.heuristics
for note in art.validation.notes:
    st.warning(note)

SOURCE = "threshold_source"
EXACT = ui.THRESHOLD_EXACT


def set_threshold(value: float, source: str) -> None:
    st.session_state[ui.THRESHOLD] = round(value, 3)
    st.session_state[EXACT] = value
    st.session_state[SOURCE] = source


if ui.THRESHOLD not in st.session_state:
    first = heuristics.get("ratio") or heuristics.get("intersection")
    set_threshold(first.threshold if first else 0.5, first.name if first else "manual")


def snap(name: str) -> None:
    set_threshold(heuristics[name].threshold, name)


def moved() -> None:
    st.session_state[SOURCE] = "manual"
    st.session_state[EXACT] = st.session_state[ui.THRESHOLD]


def load_file() -> None:
    upload = st.session_state.get("threshold_file")
    if upload is None:
        return
    try:
        if art.head is None:
            raise EmbaugError("a threshold file belongs to an embaug head; choose a method, not a baseline.")
        doc = load_threshold(upload.getvalue())
        doc.check_model(art.head)
    except EmbaugError as exc:
        st.session_state["threshold_file_error"] = f"{upload.name}: {exc}"
    else:
        set_threshold(doc.threshold, "manual")
        st.session_state["threshold_file_error"] = None


with st.expander("Load a threshold file exported earlier"):
    st.file_uploader("Threshold JSON", type=["json"], key="threshold_file", on_change=load_file)
    if st.session_state.get("threshold_file_error"):
        ui.show_error(EmbaugError(st.session_state["threshold_file_error"]))

b1, b2, _ = st.columns([1, 1, 2])
b1.button(
    "Snap to heuristic 1 (intersection)",
    on_click=snap,
    args=("intersection",),
    disabled="intersection" not in heuristics,
    key="snap_intersection",
)
b2.button(
    "Snap to heuristic 2 (ratio)", on_click=snap, args=("ratio",), disabled="ratio" not in heuristics, key="snap_ratio"
)
st.slider("Confidence threshold", 0.0, 1.0, step=0.001, format="%.3f", key=ui.THRESHOLD, on_change=moved)
threshold = st.session_state.get(EXACT, st.session_state[ui.THRESHOLD])  # exact: exported as is, shown rounded
point = art.evaluation.sweep.at(threshold)

m = st.columns(4)
m[0].metric(
    "Threshold",
    f"{threshold:.3f}",
    help=f"set by: {st.session_state.get(SOURCE, 'manual')}; exact value {threshold:.6g}",
)
m[1].metric("ID accuracy", f"{point.id_accuracy:.3f}")
m[2].metric('"none" accuracy', "–" if point.none_accuracy != point.none_accuracy else f"{point.none_accuracy:.3f}")
m[3].metric("Overall accuracy", f"{point.overall_accuracy:.3f}")

left, right = st.columns(2)
fig3 = threshold_figure(curve, heuristics=heuristics, marker=point.threshold)
fig6 = ratio_figure(curve, heuristics=heuristics, marker=point.threshold)
with left:
    st.plotly_chart(fig3, width="stretch", key="fig3")
    st.download_button(
        "Figure as HTML",
        lambda: figure_html(fig3),
        f"accuracy_vs_threshold_{method}.html",
        "text/html",
        key="html_fig3",
        on_click="ignore",
    )
with right:
    st.plotly_chart(fig6, width="stretch", key="fig6")
    st.download_button(
        "Figure as HTML",
        lambda: figure_html(fig6),
        f"ratio_vs_threshold_{method}.html",
        "text/html",
        key="html_fig6",
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
                "threshold": round(point.threshold, 3),
                "ID acc.": round(point.id_accuracy, 4),
                "none acc.": round(point.none_accuracy, 4),
                "acc.": round(point.overall_accuracy, 4),
            }
        ],
        hide_index=True,
        key="table3_row",
    )
    at_heuristic = {name: art.evaluation.sweep.at(h.threshold) for name, h in heuristics.items()}
    rows = [
        {
            "heuristic": name,
            "threshold (validation)": round(h.threshold, 4),
            "ID acc.": round(at_heuristic[name].id_accuracy, 4),
            "none acc.": round(at_heuristic[name].none_accuracy, 4),
            "acc.": round(at_heuristic[name].overall_accuracy, 4),
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
    st.stop()
source = st.session_state.get(SOURCE, "manual")
if source not in heuristics:
    source = "manual"  # moved by hand or loaded from a file
doc = ThresholdDocument.create(
    threshold=threshold, source=source, head=art.head, validation_point=art.validation.sweep.at(threshold)
)
e1, e2 = st.columns(2)
e1.download_button(
    "Download threshold JSON",
    doc.to_json(),
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
