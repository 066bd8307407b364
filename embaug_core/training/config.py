"""What determines a trained head: :class:`TrainConfig`, its presets, and the auto method's :class:`SearchGrid`.

Choices where the paper is silent (all parameters of :class:`TrainConfig`):

* optimiser: AdamW (decoupled weight decay 1e-4); ``optimizer="adam"`` or ``"sgd"``
  (momentum 0.9) are available;
* batch size 64; the rows are reshuffled every epoch; a last batch of a single row is
  merged into the previous one so that every batch can be mixed;
* the learning rate follows ``torch.optim.lr_scheduler.CyclicLR`` in ``triangular``
  mode between 3e-4 and 3e-3, one full cycle (up and down) every 12 epochs, stepped
  after every batch;
* loss: binary cross-entropy of the sigmoid outputs against the (soft) targets, mean
  over classes and rows (``BCEWithLogitsLoss``);
* presets: ``"paper"`` trains 576 epochs (48 cycles); ``"fast"`` trains 48 epochs (4
  whole cycles, 1/12 of the paper).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, replace

from ..device import resolve_device
from ..errors import ConfigError
from .augment import AUTO_METHODS, get_method
from .heads import HeadConfig

__all__ = ["TrainConfig", "SearchGrid", "PresetError", "PRESETS", "PRESET_NAMES", "DEFAULT_PRESET"]

#: Epochs of the fixed presets.
PRESETS = {"paper": 576, "fast": 48}
#: Every preset; "auto" (the default) chooses batch, learning rate, length and temperature from the
#: data and its validation split (:mod:`embaug_core.training.recipe`).
PRESET_NAMES = ("auto", "fast", "paper")
DEFAULT_PRESET = "auto"
#: The "auto" recipe's budget: its one-cycle schedule spans this many epochs; heads stop at their best.
AUTO_MAX_EPOCHS = 96


class PresetError(ConfigError):
    """Schedule settings given with the auto preset, which chooses them from the data.

    ``settings`` names them (``"epochs"``, ``"batch_size"``); each surface says how to fix it in its own
    words (the CLI names its flags).
    """

    def __init__(self, settings: tuple[str, ...]):
        super().__init__(
            f"{' and '.join(settings)} set the fixed presets; the auto preset (the default) chooses them from "
            "the data. Choose the paper or fast preset to set them yourself."
        )
        self.settings = settings


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained head. Validated on construction.

    Attributes
    ----------
    method : one of ``control, soft_control, e_mixup, e_stitchup, soft_e_mixup, soft_e_stitchup``
    alpha : float > 0, Beta(alpha, alpha) parameter of the mixing methods (default 0.4)
    softness : float in [0, 1], label softness of the soft methods (default 0.1)
    soft_mass : float in [0, 1], total target mass spread over zero-target classes (paper: 1.0);
        at most 1 so that no target exceeds 1
    epochs : int >= 1 (paper: 576)
    batch_size : int >= 2
    lr_min, lr_max : learning-rate cycle bounds (paper: 3e-4, 3e-3)
    lr_cycle_epochs : epochs per full triangular cycle (paper: 12)
    weight_decay : float >= 0 (paper: 1e-4)
    optimizer : "adamw", "adam" or "sgd"
    fused : take torch's fused AdamW / Adam step (default; the same update up to rounding,
        1.6x faster per step on the paper head at batch 64 on a CPU); False: the for-each one
    lr_schedule : "cyclic" (the paper's triangular cycle), "one_cycle" (up over 30 % of the
        steps, then down to lr_min / 100) or "linear_decay" (lr_max falling to 0); see
        :func:`embaug_core.training.optim.optimizer_and_schedule`
    stop_epoch : end training after this epoch of the ``epochs``-long schedule (0: at its end);
        heads trained together may stop at different epochs
    recipe : "fixed" (these settings as they are) or "auto" (batch size, learning rates, schedule
        and length chosen from the data, and a temperature, by :mod:`embaug_core.training.recipe`; the
        epoch, batch and learning-rate fields are then replaced)
    patience : with monitor rows, stop once this many epochs pass without a lower monitor NLL
        (0: train every epoch; the best epoch's weights are kept either way)
    hidden, dropout : the head's shape (paper: (250, 250), 0.3)
    seed : int
    device : "auto" (CUDA when available), "cpu", "cuda" or "cuda:N"
    reference_threshold : threshold for the per-epoch validation accuracies (default 0.5)
    kernel_tau_max, kernel_tau_std : similarity-kernel mixup parameters (see augment.kernel_warp)
    stitch_mask : "per_row" (B x D draws, exact) or "shared" (one draw per coordinate per batch,
        same per-row distribution, much cheaper on a CPU); see augment.e_stitchup
    model : "mlp" (the paper's head) or "logreg" (multinomial logistic regression, the peer, saved and
        used like a head; ``method`` and the schedule fields are then unused; see
        :mod:`embaug_core.training.models`)
    C : logistic regression's inverse regularisation strength (``model="logreg"``)
    ensemble : K >= 1 MLP heads of ``method`` with seeds ``seed .. seed + K - 1``, trained together,
        their sigmoid outputs averaged (a deep ensemble; 1: one head)
    blend_C : 0 (default), or a blend of the head and the peer: the MLP head or ensemble's sigmoid outputs
        averaged, half and half, with those of logistic regression at this C trained on the same rows
        (``model="mlp"`` only; see :mod:`embaug_core.training.models`)
    regmixup : every step's batch holds the clean rows and the augmented ones, and its loss is the mean
        over both (RegMixup, Pinto et al. 2022: mixup as a regulariser beside the plain loss; half their
        sum, the same step for Adam), not the augmented batch's alone
    outlier_exposure : with ``none_examples`` given to training, train on them too with an all-zero
        sigmoid target (outlier exposure, Hendrycks et al. 2019)
    precision : "auto" (default), "float32" or "bfloat16": "bfloat16" runs the training step's matrix
        products in bfloat16 under ``torch.autocast`` (weights, optimiser and loss stay float32; predictions
        are float32 either way). "auto" is "bfloat16" under the auto recipe where the device multiplies it
        natively (:func:`~embaug_core.device.fast_bfloat16`; 1.7x faster per step at the recipe's batch 512
        on an AVX512-BF16 CPU), else "float32" (the fixed presets, whose batch 64 it does not speed up)
    """

    method: str = "control"
    alpha: float = 0.4
    softness: float = 0.1
    soft_mass: float = 1.0
    epochs: int = 576
    batch_size: int = 64
    lr_min: float = 3e-4
    lr_max: float = 3e-3
    lr_cycle_epochs: int = 12
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    fused: bool = True
    lr_schedule: str = "cyclic"
    patience: int = 0
    stop_epoch: int = 0
    recipe: str = "fixed"
    hidden: tuple[int, ...] = (250, 250)
    dropout: float = 0.3
    seed: int = 0
    device: str = "auto"
    reference_threshold: float = 0.5
    kernel_tau_max: float = 1.0
    kernel_tau_std: float = 0.5
    stitch_mask: str = "per_row"
    model: str = "mlp"
    C: float = 1.0
    ensemble: int = 1
    blend_C: float = 0.0
    regmixup: bool = False
    outlier_exposure: bool = False
    precision: str = "auto"

    def __post_init__(self):
        get_method(self.method)
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        checks = [
            (self.alpha > 0 and math.isfinite(self.alpha), f"alpha must be a finite number > 0; got {self.alpha}."),
            (0.0 <= self.softness <= 1.0, f"softness must be in [0, 1]; got {self.softness}."),
            (0.0 <= self.soft_mass <= 1.0, f"soft_mass must be in [0, 1]; got {self.soft_mass}."),
            (
                int(self.epochs) == self.epochs and self.epochs >= 1,
                f"epochs must be a whole number >= 1; got {self.epochs}.",
            ),
            (
                int(self.batch_size) == self.batch_size and self.batch_size >= 2,
                f"batch_size must be >= 2; got {self.batch_size}.",
            ),
            (0 < self.lr_min <= self.lr_max, f"need 0 < lr_min <= lr_max; got {self.lr_min}, {self.lr_max}."),
            (
                int(self.lr_cycle_epochs) == self.lr_cycle_epochs and self.lr_cycle_epochs >= 1,
                f"lr_cycle_epochs must be >= 1; got {self.lr_cycle_epochs}.",
            ),
            (self.weight_decay >= 0, f"weight_decay must be >= 0; got {self.weight_decay}."),
            (
                self.lr_schedule in ("cyclic", "one_cycle", "linear_decay"),
                f"lr_schedule must be cyclic, one_cycle or linear_decay; got {self.lr_schedule!r}.",
            ),
            (
                int(self.stop_epoch) == self.stop_epoch and 0 <= self.stop_epoch <= self.epochs,
                f"stop_epoch must be a whole number in [0, epochs]; got {self.stop_epoch}.",
            ),
            (self.recipe in ("fixed", "auto"), f"recipe must be fixed or auto; got {self.recipe!r}."),
            (
                int(self.patience) == self.patience and self.patience >= 0,
                f"patience must be a whole number >= 0; got {self.patience}.",
            ),
            (
                self.optimizer in ("adamw", "adam", "sgd"),
                f"optimizer must be adamw, adam or sgd; got {self.optimizer!r}.",
            ),
            (
                0.0 <= self.reference_threshold <= 1.0,
                f"reference_threshold must be in [0, 1]; got {self.reference_threshold}.",
            ),
            (isinstance(self.seed, int) and self.seed >= 0, f"seed must be a whole number >= 0; got {self.seed!r}."),
            (self.kernel_tau_max > 0 and self.kernel_tau_std > 0, "kernel_tau_max and kernel_tau_std must be > 0."),
            (
                self.precision in ("auto", "float32", "bfloat16"),
                f"precision must be auto, float32 or bfloat16; got {self.precision!r}.",
            ),
            (
                self.stitch_mask in ("per_row", "shared"),
                f"stitch_mask must be per_row or shared; got {self.stitch_mask!r}.",
            ),
        ]
        for ok, message in checks + self._model_checks():
            if not ok:
                raise ConfigError(message)
        HeadConfig(self.hidden, self.dropout)  # validates the head shape
        resolve_device(self.device, check_only=True)

    def _model_checks(self) -> list[tuple[bool, str]]:
        return [
            (self.model in ("mlp", "logreg"), f"model must be mlp or logreg; got {self.model!r}."),
            (
                isinstance(self.C, (int, float))
                and not isinstance(self.C, bool)
                and self.C > 0
                and math.isfinite(self.C),
                f"C must be a finite number > 0; got {self.C!r}.",
            ),
            (
                isinstance(self.ensemble, int) and not isinstance(self.ensemble, bool) and self.ensemble >= 1,
                f"ensemble must be a whole number >= 1; got {self.ensemble!r}.",
            ),
            (
                isinstance(self.regmixup, bool) and isinstance(self.outlier_exposure, bool),
                "regmixup and outlier_exposure must be True or False.",
            ),
            (self.model == "mlp" or self.ensemble == 1, "an ensemble is made of MLP heads; use model='mlp'."),
            (
                isinstance(self.blend_C, (int, float))
                and not isinstance(self.blend_C, bool)
                and self.blend_C >= 0
                and math.isfinite(self.blend_C),
                f"blend_C must be a finite number >= 0 (0: no blend); got {self.blend_C!r}.",
            ),
            (self.model == "mlp" or self.blend_C == 0, "a blend averages an MLP head with logreg; use model='mlp'."),
        ]

    @classmethod
    def preset(
        cls, name: str | None = None, *, epochs: int | None = None, batch_size: int | None = None, **settings
    ) -> TrainConfig:
        """The config of a preset: the one place where a preset's name becomes settings, for the CLI
        (``--preset``, ``--epochs``, ``--batch-size``), the Experiment page's *Epochs* box and the library.

        Parameters
        ----------
        name : ``"auto"`` (batch size, learning rates, length and a temperature chosen from the data by
            :mod:`embaug_core.training.recipe`), ``"paper"`` (576 epochs, the paper exactly), ``"fast"``
            (48 epochs), ``"custom"`` (the paper's schedule for ``epochs`` epochs), or None: ``"paper"``
            when ``epochs`` or ``batch_size`` is given (that schedule with those values), else ``"auto"``
        epochs, batch_size : replace the fixed presets' values; the auto preset chooses them itself, so
            giving either with it raises :class:`PresetError`
        settings : any other :class:`TrainConfig` field (method, alpha, seed, device, ...)
        """
        given = {k: v for k, v in (("epochs", epochs), ("batch_size", batch_size)) if v is not None}
        name = name or ("paper" if given else DEFAULT_PRESET)
        if name == "custom":
            if epochs is None:
                raise ConfigError("the custom preset needs a number of epochs.")
            name = "paper"
        if name not in PRESET_NAMES:
            raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESET_NAMES)}.")
        if name == "auto":
            if given:
                raise PresetError(tuple(given))
            return cls(**{"recipe": "auto", "epochs": AUTO_MAX_EPOCHS, **settings})
        return cls(**{"epochs": PRESETS[name], **given, **settings})

    @property
    def preset_name(self) -> str:
        """ "auto", "paper" or "fast" when this config is that preset's schedule, else "custom"."""
        if self.recipe == "auto":
            return "auto"
        paper = TrainConfig()
        same = all(getattr(self, f) == getattr(paper, f) for f in ("batch_size", "lr_min", "lr_max", "lr_schedule"))
        names = {v: k for k, v in PRESETS.items()}
        return names.get(self.epochs, "custom") if same and self.stop_epoch == 0 else "custom"

    @property
    def candidate(self) -> str:
        """What this config trains, as the auto method names its candidates: "logreg", the method, or
        the method with its ensemble size ("e_stitchup x5"), followed by " + logreg" for a blend."""
        if self.model == "logreg":
            return "logreg"
        name = self.method if self.ensemble == 1 else f"{self.method} x{self.ensemble}"
        return f"{name} + logreg" if self.blend_C > 0 else name

    def with_(self, **changes) -> TrainConfig:
        return replace(self, **changes)

    @property
    def head_config(self) -> HeadConfig:
        return HeadConfig(self.hidden, self.dropout)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown training setting(s): {', '.join(sorted(unknown))}.")
        d = dict(d)
        if "hidden" in d:
            d["hidden"] = tuple(d["hidden"])
        return cls(**d)


@dataclass(frozen=True)
class SearchGrid:
    """What a validation split chooses among: methods and their alpha / softness values.

    The "auto" method of an experiment and :meth:`~embaug_core.training.trained_head.TrainedHead.train_best`
    both train every :meth:`candidates` point on a validation split and keep the best, so a single head
    and an experiment try the same heads. Validated on construction.

    Attributes
    ----------
    methods : the methods to choose from (default :data:`~embaug_core.training.augment.AUTO_METHODS`)
    alphas : Beta(alpha, alpha) values tried for the mixing methods
    softnesses : label softnesses tried for the soft methods
    """

    methods: tuple[str, ...] = AUTO_METHODS
    alphas: tuple[float, ...] = (0.2, 0.4, 1.0)
    softnesses: tuple[float, ...] = (0.05, 0.1, 0.2)

    def __post_init__(self):
        object.__setattr__(self, "methods", tuple(self.methods))
        for name in ("alphas", "softnesses"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        if not (self.alphas and all(a > 0 and math.isfinite(a) for a in self.alphas)):
            raise ConfigError(f"alphas must be finite numbers > 0; got {self.alphas}.")
        if not (self.softnesses and all(0 <= s <= 1 for s in self.softnesses)):
            raise ConfigError(f"softnesses must be numbers in [0, 1]; got {self.softnesses}.")
        for m in self.methods:
            get_method(m)  # an unknown name: a clear error listing the methods

    def points(self, method: str, base: TrainConfig) -> list[tuple[float, float]]:
        """(alpha, softness) pairs tried for ``method``: its alphas if it mixes, its softnesses if it
        softens labels; a setting the method does not use keeps ``base``'s value."""
        m = get_method(method)
        alphas = self.alphas if m.uses_alpha else (base.alpha,)
        softs = self.softnesses if m.uses_softness else (base.softness,)
        return list(itertools.product(alphas, softs))

    def candidates(self, base: TrainConfig) -> list[tuple[str, float, float]]:
        """(method, alpha, softness) of every head trained on the validation split, in order."""
        return [(m, a, sf) for m in self.methods for a, sf in self.points(m, base)]
