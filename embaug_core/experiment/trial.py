"""One trial of the paper's protocol as data: its splits and arrays (:class:`TrialData`), the
models it compares (:class:`Candidate`), and its progress reports (:class:`Reporter`).

The stages that fill them are :mod:`~embaug_core.experiment.heads` (the validation grid, each method's
choice, the final heads), :mod:`~embaug_core.experiment.peers` (the baselines) and
:mod:`~embaug_core.experiment.protocol` (evaluation of every candidate).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..data.splits import Split, stratified_subsample, threshold_validation_split, trial_split
from ..data.table import EmbeddingSet
from ..evaluation.metrics import encode_labels
from ..evaluation.temperature import apply_temperature
from ..training.config import TrainConfig
from ..training.engine import EpochRecord
from ..training.recipe import Checkpoint, LearningRateProbe
from ..training.trained_head import TrainedHead
from .config import ExperimentConfig, ExperimentProgress
from .records import SelectionRow, TemperatureFit, TrialSplits

__all__ = ["Reporter", "TrialData", "Candidate", "to_trial_classes", "selection_value", "better", "CURVE_ROWS"]

#: at most this many evaluation rows (stratified by class, "none" a class of its own) give the final heads'
#: per-epoch accuracies (Fig. 5). Every row would cost a forward pass of every head over the whole
#: evaluation set each epoch: on CLINC150 with 10 % training (18,500 evaluation rows) that pass was 69 of
#: one trial's 154 s under cProfile, more than the training, and the suite's auto-method trial went from
#: 141 to 81 s without it (benchmarks/README.md). On 3,000 rows the overall per-epoch accuracy has a
#: standard error of at most 0.5 / sqrt(3000) = 0.0091, and the "none" accuracy one of at most 0.5 / sqrt(the
#: sample's "none" rows), larger where "none" rows are few. Every table and every other figure of the
#: evaluation rows uses them all.
CURVE_ROWS = 3000


class Reporter:
    """Counts finished trainings and forwards :class:`ExperimentProgress` to a callback."""

    def __init__(self, progress: Callable[[ExperimentProgress], None] | None, total: int, start: float, done: int = 0):
        self.progress, self.total, self.start, self.done = progress, total, start, done
        self.stage, self.stage_start = None, start

    def __call__(self, message: str, epoch: int = 0, epochs: int = 0, running: int = 1, **probing) -> None:
        """Report ``message`` (a step: a new one starts its own clock) at ``epoch`` of ``epochs``;
        ``probing``: ``probe`` and ``probes`` while learning rates are probed."""
        now = time.perf_counter()
        if message != self.stage:
            self.stage, self.stage_start = message, now
        if self.progress is not None:
            at = (epoch, epochs, running, now - self.stage_start)
            self.progress(ExperimentProgress(self.done, self.total, message, now - self.start, *at, **probing))


@dataclass(frozen=True, eq=False)
class TrialData:
    """The splits of one trial and the arrays they give (class indices, NONE for "none")."""

    t: int
    seed: int
    x: np.ndarray  # (n, D) all rows
    split: Split  # training / evaluation rows
    vsplit: Split  # threshold-validation split of the training rows
    y_train: np.ndarray
    y_vtrain: np.ndarray
    y_val: np.ndarray
    y_eval: np.ndarray
    none_examples: np.ndarray | None = None  # (b, D) rows the user marked out of scope
    labels: np.ndarray | None = None  # (n,) every row's label (the unseen classes' true names)

    @classmethod
    def make(
        cls, dataset: EmbeddingSet, config: ExperimentConfig, t: int, always_train=(), none_examples=None
    ) -> TrialData:
        labels, seed = dataset.labels, config.seed + t
        split = trial_split(
            labels,
            train_fraction=config.train_fraction,
            unseen_classes=config.unseen_classes,
            none_label=config.none_label,
            always_train=always_train,
            seed=seed,
        )
        vsplit = threshold_validation_split(
            labels,
            split.train_idx,
            val_fraction=config.val_fraction,
            n_removed_classes=config.n_removed_classes,
            seed=seed,
        )
        return cls(
            t=t,
            seed=seed,
            x=dataset.embeddings,
            split=split,
            vsplit=vsplit,
            y_train=encode_labels(labels[split.train_idx], split.train_classes),
            y_vtrain=encode_labels(labels[vsplit.train_idx], vsplit.train_classes),
            y_val=encode_labels(labels[vsplit.eval_idx], vsplit.train_classes),
            y_eval=encode_labels(labels[split.eval_idx], split.train_classes),
            none_examples=None if none_examples is None else np.asarray(none_examples, dtype=np.float32),
            labels=labels,
        )

    def rows(self, part: str) -> np.ndarray:
        """Embeddings of "train", "vtrain", "val" or "eval" rows."""
        idx = {
            "train": self.split.train_idx,
            "vtrain": self.vsplit.train_idx,
            "val": self.vsplit.eval_idx,
            "eval": self.split.eval_idx,
        }[part]
        return self.x[idx]

    def curve_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The evaluation rows that give the final heads' per-epoch accuracies, embeddings (m, D) and class
        indices (m,): at most :data:`CURVE_ROWS`, stratified by class ("none" one of them; the trial's seed)."""
        keep = stratified_subsample(self.y_eval, CURVE_ROWS, self.seed)
        return self.x[self.split.eval_idx[keep]], self.y_eval[keep]  # one copy of the kept rows only

    def info(self) -> TrialSplits:
        return TrialSplits(self.t, self.split.info(), self.vsplit.info())


@dataclass(eq=False)
class Candidate:
    """One model's logits on the validation and the evaluation rows, with how it was made."""

    name: str
    alpha: float
    softness: float
    selection: list[SelectionRow]
    val_logits: np.ndarray  # (n_val, C_val)
    eval_logits: np.ndarray | None  # (n_eval, C); None until a head to evaluate is settled
    kind: str = "sigmoid"  # output layer: "sigmoid" or "softmax"
    selection_score: float = float("nan")  # this model's selection_metric on the validation split
    temperature: float = 1.0
    history: list[EpochRecord] = field(default_factory=list)
    history_rows: int | None = None  # the evaluation rows the history's accuracies are on; None: all of them
    seconds: float = 0.0
    head: TrainedHead | None = None
    confidence: dict | None = None  # score -> (validation, evaluation) confidences; heads only
    train_method: str | None = None  # the method that trains it (for "auto": the winner's); None: ``name``
    checkpoint: Checkpoint | None = None  # best epoch and temperature from the validation split
    train_config: TrainConfig | None = None  # the settings its head trained with (resolved)
    lr_choice: list[LearningRateProbe] | None = None  # the "auto" recipe's learning-rate probes of this trial

    @property
    def method(self) -> str:
        return self.train_method or self.name

    def probs(self, part: str) -> np.ndarray:
        logits = self.val_logits if part == "val" else self.eval_logits
        return apply_temperature(logits, self.temperature, kind=self.kind)

    def scaled(self, name: str, temperature: float, seconds: float) -> Candidate:
        """The same model with its logits divided by ``temperature`` (no exportable head)."""
        selection = [*self.selection, TemperatureFit(temperature, "validation rows of this model")]
        return replace(
            self,
            name=name,
            temperature=temperature,
            selection=selection,
            seconds=self.seconds + seconds,
            head=None,
            confidence=None,
        )


def to_trial_classes(logits: np.ndarray, data: TrialData) -> np.ndarray:
    """Logits (n, C_val) of a validation model as (n, C) over the trial's classes.

    Classes removed from the validation model's training rows get a logit of -1e9
    (probability 0): the model cannot answer them.
    """
    index = {c: i for i, c in enumerate(data.split.train_classes)}
    out = np.full((len(logits), len(index)), -1e9)
    out[:, [index[c] for c in data.vsplit.train_classes]] = logits
    return out


def selection_value(ev, metric: str) -> float:
    """The selection score of an Evaluation: weighted AUROC or AUPR (NaN when undefined)."""
    return ev.auroc if metric == "auroc" else ev.aupr


def better(score: float, best: float | None) -> bool:
    """First wins ties; a NaN score never beats a number."""
    return best is None or (not np.isnan(score) and (np.isnan(best) or score > best))
