"""Labelling queue: what the head routes to "none" or is least sure about; label it and retrain."""

import streamlit as st

from dashboard import queue_panels, state, widgets
from embaug_core.errors import EmbaugError
from embaug_core.experiment.display import fmt_threshold
from embaug_core.labelling import QUEUE_LABEL_COLUMN, labelling_queue, read_queue_labels

st.title("Labelling queue")
result = state.require_result()
st.caption(
    "Rows the head never trained on (evaluation rows and unlabelled rows), least confident first. "
    f"Download the CSV, fill in **{QUEUE_LABEL_COLUMN}** for some rows, upload it, and those rows join training."
)

c1, c2, c3 = st.columns(3)
heads = [m for m in result.methods if result.artifacts[(m, 0)].head is not None]
method = c1.selectbox("Method", heads, format_func=widgets.method_title, key="queue_method")
trial = c2.selectbox(
    "Trial", list(range(result.config.n_trials)), format_func=lambda t: f"trial {t + 1}", key="queue_trial"
)
art = result.artifacts[(method, trial)]
chosen = state.ThresholdState(method, trial)  # the threshold chosen for this head on the Threshold page
h = art.validation.heuristics.get("ratio")
default = chosen.value() if chosen.is_set() else h.threshold if h else 0.5
threshold = c3.number_input(
    "Threshold",
    0.0,
    1.0,
    float(default),
    0.001,
    format="%.3f",
    key=f"queue_threshold|{chosen.slider_key}",
    help=f"From the Threshold page for this head ({chosen.source()}); heuristic 2 when none was chosen there.",
)
view = st.radio(
    "View",
    ["List", "Groups"],
    horizontal=True,
    key="queue_view",
    help='Groups: the rows routed to "none", grouped so that one name labels a whole group.',
)
if view == "Groups":
    st.subheader('The "none" pool, grouped')
    queue_panels.show_retrained()
    queue_panels.groups_view(result, art, method, trial, threshold)
    state.end_page()

only_none = st.toggle('Only rows routed to "none"', value=False)
limit = st.number_input("Rows in the queue", 10, 100_000, 200, 10)

labelled = st.session_state[state.ALWAYS_TRAIN]  # labelled here already: they train from now on
queue = labelling_queue(
    state.dataset(),
    art.head,
    threshold=threshold,
    rows=art.eval_idx,
    only_none=only_none,
    limit=int(limit),
    labelled_ids=labelled,
)
n_none = int((queue["routed_to"] == "none").sum())
st.write(f'{len(queue)} rows, {n_none} routed to "none" at threshold {fmt_threshold(threshold)}.')
st.dataframe(queue, hide_index=True, key="queue_table")
st.download_button(
    "Download the queue as CSV",
    queue.to_csv(index=False),
    f"labelling_queue_{method}.csv",
    "text/csv",
    key="download_queue",
    on_click="ignore",
)

st.subheader("Add labelled rows and retrain")
queue_panels.show_retrained()
filled = st.file_uploader("Filled-in queue CSV", type=["csv"], key="queue_upload")
if filled is not None and st.button("Add these labels and retrain", type="primary"):
    try:
        labels = read_queue_labels(filled.getvalue(), state.dataset(), name=filled.name)
        queue_panels.retrain_with(labels, result, method, trial)
    except EmbaugError as exc:
        widgets.show_error(exc)
