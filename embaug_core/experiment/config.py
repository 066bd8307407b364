"""What an experiment runs: :class:`ExperimentConfig`, the peers (:data:`BASELINES`), progress reports.

The protocol itself is in :mod:`embaug_core.experiment.protocol`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import ConfigError
from ..training.augment import AUTO_METHODS, PAPER_METHODS, get_method
from ..training.config import DEFAULT_PRESET, SearchGrid, TrainConfig

__all__ = ["AUTO_METHOD", "BASELINES", "entry_title", "ExperimentConfig", "ExperimentProgress"]

#: The "auto" method: every method of ``ExperimentConfig.auto_methods`` and its grid trained on the
#: validation split, the one with the lowest validation NLL (after temperature) retrained
#: (:mod:`embaug_core.training.recipe`).
AUTO_METHOD = "auto"

#: Peers run beside the methods: post-hoc temperature scaling of the control head, and
#: scikit-learn logistic regression with and without temperature scaling.
BASELINES = {"control_ts": "Control + TS", "logreg": "LogReg", "logreg_ts": "LogReg + TS"}


def entry_title(name: str) -> str:
    """Display name of a method or a baseline."""
    if name == AUTO_METHOD:
        return "Auto (best on validation)"
    return BASELINES[name] if name in BASELINES else get_method(name).title


@dataclass(frozen=True)
class ExperimentConfig:
    """What to run. Validated on construction.

    Attributes
    ----------
    methods : method names (default :data:`~embaug_core.training.augment.PAPER_METHODS`); "auto" is the
        best of ``auto_methods`` and their grids by validation NLL (see :mod:`embaug_core.training.recipe`)
    auto_methods : the methods "auto" chooses from (default :data:`~embaug_core.training.augment.AUTO_METHODS`:
        control, E-Mixup, E-Stitchup; why the softened ones are left out is said there)
    baselines : peers from :data:`BASELINES` run on the same splits (see the module docstring)
    n_trials : trials on different splits (paper: 5)
    train_fraction : share of labelled rows that trains (paper: 0.1)
    unseen_classes : extra classes held out of training per trial (int, or names)
    none_label : a label value that already means "none" (never trained on)
    alphas, softnesses : the hyper-parameter grid chosen on the validation split
    val_fraction, n_removed_classes : the threshold-validation split (paper: 0.3, 5)
    selection_metric : "auroc" or "aupr" on the validation split; also chooses LogReg's C
    train : TrainConfig for everything else (default: the "auto" preset; ``TrainConfig.preset("paper")``
        is the paper's 576 epochs); its method/alpha/softness/seed are overridden per run
    n_bins : reliability-diagram bins
    stack : train the heads of a trial together (one batched run for the validation grid, one
        for the final heads; :func:`~embaug_core.training.engine.fit_stacked`): the same heads up to
        summation order, about twice as fast on a CPU. False trains them one by one.
    logreg_Cs : inverse regularisation strengths tried for the logistic-regression baseline
    knn_k : neighbours for the k-NN "none" score of peers, and of heads when the validation split
        is too small to choose k (embaug_core.evaluation.scores)
    guarantee_alpha, guarantee_delta : heuristic 3's false-rejection rate and risk, checked per
        trial on the evaluation rows (embaug_core.experiment.trial_scores.guarantee_check)
    seed : base seed; trial t uses seed + t
    """

    methods: tuple[str, ...] = PAPER_METHODS
    auto_methods: tuple[str, ...] = AUTO_METHODS
    baselines: tuple[str, ...] = ()
    n_trials: int = 5
    train_fraction: float = 0.1
    unseen_classes: int | tuple[str, ...] = 0
    none_label: str | None = None
    alphas: tuple[float, ...] = (0.2, 0.4, 1.0)
    softnesses: tuple[float, ...] = (0.05, 0.1, 0.2)
    val_fraction: float = 0.3
    n_removed_classes: int = 5
    selection_metric: str = "auroc"
    train: TrainConfig = field(default_factory=lambda: TrainConfig.preset(DEFAULT_PRESET))
    n_bins: int = 10
    stack: bool = True
    logreg_Cs: tuple[float, ...] = (0.1, 1.0, 10.0)
    knn_k: int = 10
    guarantee_alpha: float = 0.05
    guarantee_delta: float = 0.1
    seed: int = 0

    def __post_init__(self):
        for name in ("methods", "auto_methods", "baselines"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("logreg_Cs", "alphas", "softnesses"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        if not isinstance(self.unseen_classes, int):
            object.__setattr__(self, "unseen_classes", tuple(self.unseen_classes))
        unknown = [b for b in self.baselines if b not in BASELINES]
        checks = [
            (not unknown, f"unknown baseline {unknown[0]!r}; choose from {', '.join(BASELINES)}." if unknown else ""),
            (bool(self.logreg_Cs) and all(c > 0 for c in self.logreg_Cs), "logreg_Cs must be numbers > 0."),
            (bool(self.methods), "choose at least one method."),
            (len(set(self.methods)) == len(self.methods), "a method is listed twice."),
            (self.n_trials >= 1, f"n_trials must be >= 1; got {self.n_trials}."),
            (
                self.train.blend_C == 0,
                "blend_C is not a setting of an experiment's heads; the auto method tries a blend with "
                "logistic regression itself when its recipe says so (AutoRecipe.blend).",
            ),
            (
                self.selection_metric in ("auroc", "aupr"),
                f"selection_metric must be auroc or aupr; got {self.selection_metric!r}.",
            ),
            (
                0 < self.guarantee_alpha < 1 and 0 < self.guarantee_delta < 1,
                "guarantee_alpha and guarantee_delta must be strictly between 0 and 1.",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        for m in (*self.methods, *self.auto_methods):
            if m != AUTO_METHOD:
                get_method(m)  # an unknown name: a clear error listing the methods
        if AUTO_METHOD in self.auto_methods or not self.auto_methods:
            raise ConfigError("auto_methods must list real methods (not auto).")
        SearchGrid(self.auto_methods, self.alphas, self.softnesses)  # validates the grid

    @property
    def search(self) -> SearchGrid:
        """The grid the validation split chooses from: "auto" chooses among ``auto_methods``, every other
        method among its own alphas / softnesses."""
        return SearchGrid(self.auto_methods, self.alphas, self.softnesses)

    def grid(self, method: str) -> list[tuple[float, float]]:
        """(alpha, softness) pairs tried for ``method``; unused ones take the train defaults."""
        return self.search.points(method, self.train)

    def candidates(self, method: str) -> list[tuple[str, float, float]]:
        """(method, alpha, softness) validation heads that ``method`` chooses from ("auto": every
        grid point of every ``auto_methods``)."""
        if method == AUTO_METHOD:
            return self.search.candidates(self.train)
        return [(method, a, sf) for a, sf in self.grid(method)]

    def validation_grid(self) -> list[tuple[str, float, float]]:
        """Every validation head of a trial, each once (methods and "auto" share grid points)."""
        return list(dict.fromkeys(k for m in self.validation_methods for k in self.candidates(m)))

    @property
    def validation_methods(self) -> tuple[str, ...]:
        """Methods whose validation heads are trained: the methods, plus the control for "control_ts"."""
        extra = ("control",) if "control_ts" in self.baselines and "control" not in self.methods else ()
        return self.methods + extra

    def trainings_per_trial(self) -> int:
        """Trainings (heads, temperature fits, logistic regressions) one trial runs; for progress."""
        heads = len(self.validation_grid()) + len(self.methods)
        # the auto method's ensemble and logistic regressions beside its grid (experiment.heads._auto_peers)
        from ..training.recipe import DEFAULT_RECIPE

        peers = (1 + len(self.logreg_Cs) + DEFAULT_RECIPE.blend) if AUTO_METHOD in self.methods else 0
        return heads + peers + ("control_ts" in self.baselines) + bool({"logreg", "logreg_ts"} & set(self.baselines))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        d["unseen_classes"] = self.unseen_classes if isinstance(self.unseen_classes, int) else list(self.unseen_classes)
        for k in ("methods", "auto_methods", "baselines", "alphas", "softnesses", "logreg_Cs"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ExperimentConfig:
        d = dict(d)
        d["train"] = TrainConfig.from_dict(d["train"])
        if isinstance(d.get("unseen_classes"), list):
            d["unseen_classes"] = tuple(d["unseen_classes"])
        return cls(**d)

    @property
    def entries(self) -> tuple[str, ...]:
        return self.methods + self.baselines


@dataclass(frozen=True)
class ExperimentProgress:
    """Progress report: ``done`` of ``total`` trainings finished, and what runs now.

    ``epoch`` / ``epochs`` locate the current training (0 / 0 between trainings), and
    ``running`` says how many trainings that epoch count applies to (the heads trained
    together); ``stage_elapsed_s`` is the time since this step (``message``) began. While the auto
    recipe probes learning rates, ``probe`` of ``probes`` says which probe runs. :attr:`fraction`
    counts finished epochs over all trainings; :attr:`eta_s` is the time left, estimated from the
    measured epochs of the current step only (see there).
    """

    done: int
    total: int
    message: str
    elapsed_s: float
    epoch: int = 0
    epochs: int = 0
    running: int = 1
    stage_elapsed_s: float = float("nan")
    probe: int = 0
    probes: int = 0

    @property
    def fraction(self) -> float:
        part = self.running * self.epoch / self.epochs if self.epochs else 0.0
        return min(1.0, (self.done + part) / self.total) if self.total else 1.0

    @property
    def eta_s(self) -> float:
        """Seconds left: NaN until two epochs of the current step are measured (the first also pays for
        start-up). While learning rates are probed, the probes' own time left (a probe trains one head;
        the steps after it train many together, at another cost per head). Otherwise the rest of this
        step, plus the trainings still to come at this step's measured time per head and epoch."""
        if not self.epochs or self.epoch < 2 or not self.stage_elapsed_s >= 0:
            return float("nan")
        per_epoch = self.stage_elapsed_s / self.epoch
        left = per_epoch * (self.epochs - self.epoch)
        if self.probes:
            return left + per_epoch * self.epochs * (self.probes - self.probe)
        later = max(self.total - self.done - self.running, 0) * self.epochs
        return left + later * per_epoch / max(self.running, 1)

    @property
    def eta_scope(self) -> str:
        """What :attr:`eta_s` covers: "the learning-rate probes" or "the training"."""
        return "the learning-rate probes" if self.probes else "the training"
