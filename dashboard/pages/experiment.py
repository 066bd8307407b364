"""Experiment: methods x trials on the current data under the paper's protocol (what `embaug experiment`
runs), with progress; the results, why the auto method chose its head, per-epoch curves (Fig. 5)."""

import streamlit as st

from dashboard import state, training, widgets
from embaug_core.errors import EmbaugError
from embaug_core.experiment.config import AUTO_METHOD, BASELINES, ExperimentConfig
from embaug_core.experiment.display import for_display
from embaug_core.experiment.explain import auto_choice, describe_length
from embaug_core.plots import history_figure
from embaug_core.training.augment import METHOD_NAMES
from embaug_core.training.config import PRESET_NAMES, PRESETS, TrainConfig

AUTO_LABEL = "auto (chosen on the validation split)"

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

with st.form("train_form"):
    methods = st.multiselect(
        "Methods",
        list(METHOD_NAMES),
        default=["control", "e_stitchup", "soft_e_stitchup"],
        format_func=widgets.method_title,
        key="train_methods",
    )
    baselines = st.multiselect(
        "Baselines on the same splits",
        list(BASELINES),
        default=[],
        format_func=BASELINES.get,
        key="train_baselines",
        help="Control + TS: the control's validation head, temperature-scaled on the validation "
        "split it never trained on; LogReg: scikit-learn logistic regression "
        "(± temperature scaling, the same rule).",
    )
    c1, c2, c3 = st.columns(3)
    alpha = c1.number_input(
        "alpha (Beta(alpha, alpha) of the mixing methods)", 0.01, 10.0, 0.4, 0.05, key="train_alpha"
    )
    softness = c2.number_input("label softness (soft methods)", 0.0, 1.0, 0.1, 0.01, key="train_softness")
    preset = c3.selectbox(
        "Epochs",
        [*PRESET_NAMES, "custom"],
        format_func=lambda name: (
            AUTO_LABEL if name == "auto" else f"{name} ({PRESETS[name]})" if name in PRESETS else name
        ),
        key="train_preset",
        help="auto (default): batch size, learning rate, number of epochs and a temperature chosen on the "
        "validation split, in a fraction of the paper's time (docs/method.md, 'Fast and good by default'); "
        "fast and paper: fixed schedules, paper exactly as in the paper.",
    )
    c4, c5, c6 = st.columns(3)
    custom = c4.number_input("custom epochs", 1, 5000, 24, key="train_custom_epochs")
    trials = c5.number_input("trials (different splits)", 1, 10, 1, key="train_trials")
    seed = c6.number_input("seed", 0, 2**31 - 1, 0, key="train_seed")
    b1, b2 = st.columns([1, 3])
    submitted = b1.form_submit_button("Train", type="primary", key="train_submit")
    best = b2.form_submit_button(
        "Train the best head (auto)",
        key="train_best",
        help="Trains control, E-Mixup and E-Stitchup with alpha in (0.2, 0.4, 1.0) "
        "together on the validation split, keeps the one with the lowest validation NLL after its "
        "temperature (ties: AUROC), retrains it on all training rows, and shows why, with the runners-up. "
        "LogReg + TS runs on the same splits for comparison. Uses the Epochs setting above.",
    )

if submitted or best:
    try:
        if not methods and not best:
            raise EmbaugError("choose at least one method, or press 'Train the best head (auto)'.")
        epochs = int(custom) if preset == "custom" else None
        train = TrainConfig.preset(preset, epochs=epochs, alpha=float(alpha), softness=float(softness))
        grid = {} if best else {"alphas": (float(alpha),), "softnesses": (float(softness),)}
        config = ExperimentConfig(
            methods=(AUTO_METHOD,) if best else tuple(methods),
            baselines=("logreg_ts",) if best else tuple(baselines),
            n_trials=int(trials),
            train_fraction=protocol.train_fraction,
            train=train,
            seed=int(seed),
            **grid,
            **protocol.split_kwargs(),
        )
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
        "Nothing trained yet for this data: choose methods and press **Train**. "
        f"The fast preset ({PRESETS['fast']} epochs) takes seconds on the bundled sample."
    )
    st.stop()

st.subheader("Results")
st.caption(
    f"{len(result.records)} heads · {result.config.n_trials} trial(s) · {describe_length(result)} · "
    f"{result.wall_seconds:.1f}s"
)
t1 = result.table1()[["method", "auroc_mean", "aupr_mean"]].merge(
    result.table2()[["method", "correlation_mean", "ece_mean"]], on="method"
)
st.dataframe(for_display(t1), hide_index=True, key="results_table")

if AUTO_METHOD in result.methods:
    st.subheader("Why this head")
    trial = st.selectbox(
        "Trial", list(range(result.config.n_trials)), format_func=lambda t: f"trial {t + 1}", key="auto_trial"
    )
    summary, ranking = auto_choice(result, trial)
    st.markdown(summary)
    st.dataframe(ranking, hide_index=True, key="auto_ranking")

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
        f"{result.config.train.reference_threshold} per epoch",
    ),
    width="stretch",
)
