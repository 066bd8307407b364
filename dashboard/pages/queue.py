"""Labelling queue: what the head routes to "none" or is least sure about; label it and retrain."""

import streamlit as st

from dashboard import state, training, widgets
from embaug_core.errors import EmbaugError
from embaug_core.experiment.display import fmt_threshold, for_display
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
if (done := st.session_state.pop(state.QUEUE_RETRAINED, None)) is not None:  # shown after the retrain's rerun
    st.success(done["message"])
    if done["new_classes"]:
        st.info(f"New class(es) learned: {', '.join(done['new_classes'])}")
    st.dataframe(for_display(done["compare"]), hide_index=True, key="retrain_compare")
settings = st.session_state.get(state.LAST_SETTINGS)
filled = st.file_uploader("Filled-in queue CSV", type=["csv"], key="queue_upload")
if filled is not None and st.button("Add these labels and retrain", type="primary"):
    try:
        if settings is None:
            raise EmbaugError("train once on the Experiment page first; retraining reuses those settings.")
        labels = read_queue_labels(filled.getvalue(), state.dataset(), name=filled.name)
        before = result
        ds = state.dataset().with_labels(labels)
        st.session_state[state.DATASET] = ds
        st.session_state[state.ALWAYS_TRAIN] = tuple(dict.fromkeys([*st.session_state[state.ALWAYS_TRAIN], *labels]))
        config, protocol = settings
        bar = st.progress(0.0, text="retraining…")
        n_labelled = len(st.session_state[state.ALWAYS_TRAIN])
        training.train(
            config,
            protocol,
            progress=training.describe_progress(bar),
            on_wait=training.describe_wait(bar),
            note=f"retrained with {n_labelled} queue label{'s' if n_labelled != 1 else ''}",
        )
        after = state.current_result()
        compare = before.table1()[["method", "auroc_mean"]].merge(
            after.table1()[["method", "auroc_mean"]], on="method", suffixes=("", "_after")
        )
        st.session_state[state.QUEUE_RETRAINED] = {
            "message": f"Added {len(labels)} labelled row(s) to training and retrained ({n_labelled} queue rows in "
            "training now): the queue above is the new head's, without the rows labelled.",
            "new_classes": sorted(set(labels.values()) - set(before.artifacts[(method, trial)].head.class_names)),
            "compare": compare.rename(columns={"auroc_mean": "AUROC before", "auroc_mean_after": "AUROC after"}),
        }
        st.rerun()  # the queue and the selectors above, of the new head
    except EmbaugError as exc:
        widgets.show_error(exc)
