"""The Experiment page's settings: the form's fields start from the settings in use (the last training,
or a run opened on the Runs page), and pressing Train gives an :class:`ExperimentConfig` checked
against the data before any training starts."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from embaug_core.data.splits import NoneProtocol, threshold_validation_split, trial_split
from embaug_core.data.table import EmbeddingSet
from embaug_core.errors import EmbaugError
from embaug_core.experiment.config import AUTO_METHOD, BASELINES, ExperimentConfig
from embaug_core.training.augment import AUTO_METHODS, METHOD_NAMES
from embaug_core.training.config import PRESET_NAMES, PRESETS, TrainConfig

from . import state, widgets

AUTO_LABEL = "auto (chosen on the validation split)"
PRESET_TITLES = {"auto": AUTO_LABEL, **{k: f"{k} ({v} epochs)" for k, v in PRESETS.items()}, "custom": "custom"}


@dataclass(frozen=True)
class Defaults:
    """What the form shows before it is changed."""

    methods: tuple[str, ...] = ("control", "e_stitchup", "soft_e_stitchup")
    baselines: tuple[str, ...] = ()
    alpha: float = 0.4
    softness: float = 0.1
    preset: str = "auto"
    custom_epochs: int = 24
    trials: int = 1
    seed: int = 0

    @classmethod
    def of(cls, config: ExperimentConfig | None) -> Defaults:
        """The form of ``config`` (the last training's, or an opened run's); the standard one without."""
        if config is None:
            return cls()
        train = config.train
        preset = train.preset_name
        methods = config.auto_methods if config.methods == (AUTO_METHOD,) else config.methods
        return cls(
            methods=tuple(m for m in methods if m in METHOD_NAMES),
            baselines=tuple(b for b in config.baselines if b in BASELINES),
            alpha=float(train.alpha),
            softness=float(train.softness),
            preset=preset,
            custom_epochs=int(train.epochs) if preset == "custom" else cls.custom_epochs,
            trials=int(config.n_trials),
            seed=int(config.seed),
        )


def defaults() -> Defaults:
    last = st.session_state.get(state.LAST_SETTINGS)
    return Defaults.of(last[0] if last else None)


def preset_choice(d: Defaults) -> tuple[str, int | None]:
    """The schedule (outside the form, so that the epochs box shows only for a custom one)."""
    c1, c2 = st.columns(2)
    preset = c1.selectbox(
        "Epochs",
        [*PRESET_NAMES, "custom"],
        index=[*PRESET_NAMES, "custom"].index(d.preset),
        format_func=PRESET_TITLES.get,
        key="train_preset",
        help="auto (default): batch size, learning rate, number of epochs and a temperature chosen on the "
        "validation split, in a fraction of the paper's time (docs/method.md, 'Fast and good by default'); "
        "fast and paper: fixed schedules, paper exactly as in the paper; custom: the paper's schedule for "
        "the epochs you give.",
    )
    if preset != "custom":
        return preset, None
    return preset, int(c2.number_input("custom epochs", 1, 5000, d.custom_epochs, key="train_custom_epochs"))


# long: one form, its fields in the order they show
def settings_form(d: Defaults, preset: str, epochs: int | None, protocol: NoneProtocol) -> ExperimentConfig | None:
    """The form; when Train or Train the best head is pressed, the experiment it asks for (None before,
    or when the settings cannot train: then the reason is shown)."""
    with st.form("train_form"):
        methods = st.multiselect(
            "Methods",
            list(METHOD_NAMES),
            default=list(d.methods),
            format_func=widgets.method_title,
            key="train_methods",
        )
        baselines = st.multiselect(
            "Baselines on the same splits",
            list(BASELINES),
            default=list(d.baselines),
            format_func=BASELINES.get,
            key="train_baselines",
            help="Control + TS: the control's validation head, temperature-scaled on the validation "
            "split it never trained on; LogReg: scikit-learn logistic regression "
            "(± temperature scaling, the same rule).",
        )
        c1, c2, c3, c4 = st.columns(4)
        alpha = c1.number_input("alpha (mixing methods)", 0.01, 10.0, d.alpha, 0.05, key="train_alpha")
        softness = c2.number_input("label softness (soft methods)", 0.0, 1.0, d.softness, 0.01, key="train_softness")
        trials = c3.number_input("trials (different splits)", 1, 10, d.trials, key="train_trials")
        seed = c4.number_input("seed", 0, 2**31 - 1, d.seed, key="train_seed")
        b1, b2 = st.columns([1, 3])
        submitted = b1.form_submit_button("Train", type="primary", key="train_submit")
        best = b2.form_submit_button(
            "Train the best head (auto)",
            key="train_best",
            help=f"Trains {', '.join(widgets.method_title(m) for m in AUTO_METHODS)} with alpha in (0.2, 0.4, 1.0) "
            "on part of the training rows, keeps the one whose confidences fit the rest best (the lowest "
            "validation log loss after a temperature; near-ties go to the higher AUROC), trains it again on all "
            "training rows, and shows why, with the runners-up. "
            "LogReg + TS runs on the same splits for comparison. Uses the Epochs setting above.",
        )
    if not (submitted or best):
        return None
    try:
        if not methods and not best:
            raise EmbaugError("choose at least one method, or press 'Train the best head (auto)'.")
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
        check_splits(state.dataset(), config)
    except EmbaugError as exc:
        widgets.show_error(exc)
        return None
    return config


def check_splits(ds: EmbeddingSet, config: ExperimentConfig) -> None:
    """Make the first trial's splits before training: a protocol that does not fit the data (say 10 unseen
    classes of a 6-class table) is refused here, in the page's words, not by a failed run."""
    try:
        split = trial_split(
            ds.labels,
            train_fraction=config.train_fraction,
            unseen_classes=config.unseen_classes,
            none_label=config.none_label,
            seed=config.seed,
        )
        threshold_validation_split(
            ds.labels,
            split.train_idx,
            val_fraction=config.val_fraction,
            n_removed_classes=config.n_removed_classes,
            seed=config.seed,
        )
    except EmbaugError as exc:
        raise EmbaugError(
            f"these settings cannot train on this data: {exc} Change the protocol on the Data page."
        ) from None
