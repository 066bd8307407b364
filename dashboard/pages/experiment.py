"""Experiment: methods x trials on the current data under the paper's protocol (what `embaug experiment`
runs), with progress; the results, why the auto method chose its head, per-epoch curves (Fig. 5)."""

import streamlit as st

from dashboard import experiment_form, state, training, widgets
from embaug_core.errors import EmbaugError
from embaug_core.experiment.config import AUTO_METHOD
from embaug_core.experiment.display import for_display
from embaug_core.experiment.explain import auto_choice, describe_length
from embaug_core.plots import history_figure

st.title("Experiment")
ds = state.dataset()
protocol = st.session_state[state.PROTOCOL]
st.caption(
    f"Data: {st.session_state[state.DATASET_NAME]} · {protocol.describe()}. Each method trains on every trial's "
    "split and peers run on the same splits: what `embaug experiment` runs."
)
if state.none_examples() is not None:
    name, rows = st.session_state[state.NONE_EXAMPLES]
    st.caption(f"Out-of-scope examples: {len(rows):,} rows from {name} weigh the fused none score (Data page).")

d = experiment_form.defaults()
preset, epochs = experiment_form.preset_choice(d)
config = experiment_form.settings_form(d, preset, epochs, protocol)
if config is not None:
    try:
        st.session_state[state.LAST_SETTINGS] = (config, protocol)
        training.start_training(config, protocol)
        if training.pending_training() is None:  # these settings were trained in this session: shown again
            st.progress(1.0, text=training.TrainingTime(0.0, 0.0).describe())
    except EmbaugError as exc:
        widgets.show_error(exc)

# started now, or before this page was left or rerun (it trained on regardless); oldest first
while (pending := training.pending_training()) is not None:
    bar = st.progress(0.0, text="starting a training process…")
    try:
        timing = training.wait_for_training(
            pending, progress=training.describe_progress(bar), on_wait=training.describe_wait(bar)
        )
        bar.progress(1.0, text=timing.describe())
    except EmbaugError as exc:
        bar.empty()
        widgets.show_error(exc)

result = state.current_result()
if result is None:
    st.info(
        "Nothing trained yet for this data: choose methods and press **Train**. A progress bar shows each "
        "step, and how long is left once it has timed a few epochs of it."
    )
    state.end_page()

st.subheader("Results")
shown, hidden = training.session_results()  # every result on these rows: a new one does not replace the last
if len(shown) > 1 or hidden:
    keys, current = list(shown), st.session_state[state.CURRENT]
    picked = st.selectbox(
        "Results of",
        keys,
        index=keys.index(current),
        format_func=shown.get,
        key=f"results_of|{current}|{hash(tuple(shown.values()))}",  # a new widget when a run is renamed
        help="The other pages (Calibration, Threshold, Queue) work on the results chosen here.",
    )
    other = f" {hidden} more on other data are on the Runs page." if hidden else ""
    st.caption(
        f"This session has {len(shown)} result(s) on this data; a new training adds to them and replaces none. "
        f"Each is also a saved run that the Runs page lists, renames and reopens.{other}"
    )
    st.page_link("dashboard/pages/runs.py", label="Open the Runs page", icon=":material/history:")
    if picked != current:
        st.session_state[state.CURRENT] = picked
        st.rerun()
st.caption(
    f"{len(result.records)} heads · {result.config.n_trials} trial(s) · {describe_length(result)} · "
    f"{result.wall_seconds:.1f}s"
)
t1 = result.table1()[["method", "auroc_mean", "aupr_mean"]].merge(
    result.table2()[["method", "correlation_mean", "ece_mean"]], on="method"
)
st.dataframe(for_display(t1, trials=result.config.n_trials), hide_index=True, key="results_table")

if AUTO_METHOD in result.methods:
    st.subheader("Why this head")
    trial = st.selectbox(
        "Trial", list(range(result.config.n_trials)), format_func=lambda t: f"trial {t + 1}", key="auto_trial"
    )
    summary, ranking = auto_choice(result, trial)
    st.markdown(summary)
    st.dataframe(for_display(ranking, digits=4), hide_index=True, key="auto_ranking")

st.subheader("Accuracy per epoch")
c1, c2 = st.columns(2)
method = c1.selectbox("Method", result.methods, format_func=widgets.method_title, key="history_method")
trial = c2.selectbox(
    "Trial", list(range(result.config.n_trials)), format_func=lambda t: f"trial {t + 1}", key="history_trial"
)
record = next(r for r in result.records if r.method == method and r.trial == trial)
st.plotly_chart(
    history_figure(
        record.history,
        title=f"{widgets.method_title(method)}: evaluation-set accuracy at threshold "
        f"{result.config.train.reference_threshold} per epoch{record.history_note()}",
    ),
    width="stretch",
)
