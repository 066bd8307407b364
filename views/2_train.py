"""Train: methods x trials on the current data, with progress; per-epoch curves (the paper's Fig. 5)."""

import streamlit as st

import ui
from embaug_core.augment import METHOD_NAMES
from embaug_core.errors import EmbaugError
from embaug_core.experiment import BASELINES, ExperimentConfig
from embaug_core.plots import history_figure
from embaug_core.results import for_display
from embaug_core.train import PRESETS, TrainConfig

st.title("Train")
ds = ui.dataset()
protocol = st.session_state[ui.PROTOCOL]
st.caption(f"Data: {st.session_state[ui.DATASET_NAME]} · {protocol.describe()}")
if ui.none_examples() is not None:
    name, rows = st.session_state[ui.NONE_EXAMPLES]
    st.caption(f"Out-of-scope examples: {len(rows):,} rows from {name} weigh the fused none score (Data page).")

with st.form("train_form"):
    methods = st.multiselect(
        "Methods",
        list(METHOD_NAMES),
        default=["control", "e_stitchup", "soft_e_stitchup"],
        format_func=ui.method_title,
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
        "Epochs", [f"fast ({PRESETS['fast']})", f"paper ({PRESETS['paper']})", "custom"], key="train_preset"
    )
    c4, c5, c6 = st.columns(3)
    custom = c4.number_input("custom epochs", 1, 5000, 24, key="train_custom_epochs")
    trials = c5.number_input("trials (different splits)", 1, 10, 1, key="train_trials")
    seed = c6.number_input("seed", 0, 2**31 - 1, 0, key="train_seed")
    submitted = st.form_submit_button("Train", type="primary")

if submitted:
    epochs = (
        PRESETS["fast"]
        if preset.startswith("fast")
        else PRESETS["paper"]
        if preset.startswith("paper")
        else int(custom)
    )
    try:
        if not methods:
            raise EmbaugError("choose at least one method.")
        config = ExperimentConfig(
            methods=tuple(methods),
            baselines=tuple(baselines),
            n_trials=int(trials),
            train_fraction=protocol.train_fraction,
            alphas=(float(alpha),),
            softnesses=(float(softness),),
            train=TrainConfig(epochs=epochs, alpha=float(alpha), softness=float(softness)),
            seed=int(seed),
            **protocol.split_kwargs(),
        )
        bar = st.progress(0.0, text="starting…")

        def progress(p):
            eta = "" if p.eta_s != p.eta_s else f" · ETA {p.eta_s:.0f}s"
            epoch = f" · epoch {p.epoch}/{p.epochs}" if p.epochs else ""
            bar.progress(p.fraction, text=f"{p.message}{epoch}{eta}")

        def waiting(position, eta_s):
            start = "estimating when it starts…" if eta_s is None else f"starts in about {eta_s:.0f} s"
            bar.progress(
                0.0,
                text=f"Waiting for a training slot: position {position} in the queue, {start} "
                "(other sessions are training)",
            )

        st.session_state[ui.LAST_SETTINGS] = (config, protocol)
        timing = ui.train(config, protocol, progress=progress, on_wait=waiting)
        bar.progress(1.0, text=timing.describe())
    except EmbaugError as exc:
        ui.show_error(exc)

result = ui.current_result()
if result is None:
    st.info(
        "Nothing trained yet for this data: choose methods and press **Train**. "
        f"The fast preset ({PRESETS['fast']} epochs) takes seconds on the bundled sample."
    )
    st.stop()

st.subheader("Results")
st.caption(
    f"{len(result.records)} heads · {result.config.n_trials} trial(s) · {result.config.train.epochs} epochs · "
    f"{result.wall_seconds:.1f}s"
)
t1 = result.table1()[["method", "auroc_mean", "aupr_mean"]].merge(
    result.table2()[["method", "correlation_mean", "ece_mean"]], on="method"
)
st.dataframe(for_display(t1), hide_index=True, key="results_table")

st.subheader("Accuracy per epoch")
c1, c2 = st.columns(2)
method = c1.selectbox("Method", result.methods, format_func=ui.method_title, key="history_method")
trial = c2.selectbox(
    "Trial", list(range(result.config.n_trials)), format_func=lambda t: f"trial {t + 1}", key="history_trial"
)
record = next(r for r in result.records if r.method == method and r.trial == trial)
st.plotly_chart(
    history_figure(
        record.history,
        title=f"{ui.method_title(method)}: evaluation-set accuracy at threshold "
        f"{result.config.train.reference_threshold} per epoch",
    ),
    width="stretch",
)
