"""The paper's evaluation protocol as index splits.

* :func:`trial_split` — a random ``train_fraction`` (10 %) of the labelled rows trains,
  the rest evaluates; classes with no training row become the "none" category.
  Optionally ``unseen_classes`` (a number of random classes, or a list of names) are
  held out of training completely first: on balanced data a 10 % split rarely leaves a
  class unseen, so this guarantees "none" rows. A ``none_label`` (a label value that
  already means "none") is never trained on.
* :func:`threshold_validation_split` — the training rows of a trial split 70/30; then
  ``n_removed_classes`` (5) random classes are removed from the 70 % part and their
  rows moved to the 30 % part, which therefore always holds "none" rows. (The paper
  says the classes are "fully removed from the training set"; moving rather than
  dropping them is our choice, so no labelled row is wasted.)
* :func:`make_trials` — N trial splits with seeds ``seed, seed + 1, ...``.
* :class:`NoneProtocol` — how "none" is simulated (random unseen classes, named
  held-out classes, or a label that already means "none"), as the dashboard's Data page
  sets it, turned into :func:`trial_split` arguments.

Every random draw uses a ``torch.Generator`` seeded from the given seed. Unlabelled
rows (label ``None``) are never part of any split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ConfigError

__all__ = [
    "Split",
    "SplitInfo",
    "NoneProtocol",
    "trial_split",
    "threshold_validation_split",
    "make_trials",
    "stratified_subsample",
]


@dataclass(frozen=True)
class NoneProtocol:
    """How "none" is simulated; :meth:`split_kwargs` gives the matching :func:`trial_split` arguments.

    Attributes
    ----------
    kind : "random" (``unseen_classes`` random classes held out per trial), "holdout"
        (the classes ``held_out``) or "none_label" (rows labelled ``none_label``)
    train_fraction : share of labelled rows that trains
    """

    kind: str = "random"
    train_fraction: float = 0.1
    unseen_classes: int = 10
    held_out: tuple[str, ...] = ()
    none_label: str | None = None

    def __post_init__(self):
        if self.kind not in ("random", "holdout", "none_label"):
            raise ConfigError(f"protocol kind must be random, holdout or none_label; got {self.kind!r}.")
        object.__setattr__(self, "held_out", tuple(self.held_out))

    def describe(self) -> str:
        if self.kind == "holdout":
            return f"{self.train_fraction:.0%} of rows train; held out: {', '.join(self.held_out)}"
        if self.kind == "none_label":
            return f"{self.train_fraction:.0%} of rows train; label {self.none_label!r} means 'none'"
        plural = "class" if self.unseen_classes == 1 else "classes"
        return f"{self.train_fraction:.0%} of rows train; {self.unseen_classes} random {plural} unseen per trial"

    @staticmethod
    def default_unseen(n_classes: int) -> int:
        """Random classes held out per trial by default: the paper's 10, at most a quarter of the classes,
        at least 1 while 2 classes still train: 10 of CLINC150's 150 intents, 1 of a 6-class table (10 of 6
        cannot train), 0 of a 2-class one."""
        return max(min(1, n_classes - 2), min(10, n_classes // 4))

    def fitted(self, classes, *, chosen: bool) -> tuple[NoneProtocol, str | None]:
        """This protocol for data with ``classes``: (the protocol to use, why it changed or None).

        An untouched default (``chosen`` False) follows the data: :meth:`default_unseen` random classes.
        A chosen protocol is kept when it fits the data; otherwise the default replaces it and the reason
        says what did not fit (more unseen classes than the data can spare, held-out classes or a "none"
        label the data does not have)."""
        classes = [str(c) for c in classes]
        default = NoneProtocol(train_fraction=self.train_fraction, unseen_classes=self.default_unseen(len(classes)))
        if not chosen:
            k = default.unseen_classes
            capped = (
                f"The paper holds out 10 random classes per trial; this data has {len(classes)} classes, so "
                f"{k} {'is' if k == 1 else 'are'} held out by default (at most a quarter, and 2 must train)."
            )
            return default, capped if k < NoneProtocol.unseen_classes else None
        why = None
        if self.kind == "random" and self.unseen_classes > len(classes) - 2:
            why = (
                f"{self.unseen_classes} random classes cannot be unseen per trial: the data has {len(classes)} "
                "classes and at least 2 must train"
            )
        elif self.kind == "holdout" and (missing := [c for c in self.held_out if c not in classes]):
            why = f"the data has no class {missing[0]!r} to hold out"
        elif self.kind == "holdout" and len(classes) - len(self.held_out) < 2:
            why = f"holding out {len(self.held_out)} of its {len(classes)} classes leaves fewer than 2 to train"
        elif self.kind == "none_label" and self.none_label not in classes:
            why = f'the data has no label {self.none_label!r} meaning "none"'
        if why is None:
            return self, None
        return default, f"The protocol you chose does not fit the new data: {why}; now: {default.describe()}."

    @classmethod
    def of_split(cls, *, train_fraction: float, unseen_classes, none_label: str | None) -> NoneProtocol:
        """The protocol that :meth:`split_kwargs` turns into these :func:`trial_split` arguments (an
        experiment's config keeps them): how "none" was simulated for a saved run."""
        if none_label is not None:
            return cls(kind="none_label", train_fraction=train_fraction, unseen_classes=0, none_label=none_label)
        if isinstance(unseen_classes, (tuple, list)):
            return cls(kind="holdout", train_fraction=train_fraction, unseen_classes=0, held_out=tuple(unseen_classes))
        return cls(kind="random", train_fraction=train_fraction, unseen_classes=int(unseen_classes))

    def split_kwargs(self) -> dict:
        if self.kind == "holdout":
            return {"unseen_classes": tuple(self.held_out), "none_label": None}
        if self.kind == "none_label":
            return {"unseen_classes": 0, "none_label": self.none_label}
        return {"unseen_classes": int(self.unseen_classes), "none_label": None}

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "train_fraction": self.train_fraction,
            "unseen_classes": self.unseen_classes,
            "held_out": list(self.held_out),
            "none_label": self.none_label,
        }


@dataclass(frozen=True, eq=False)
class Split:
    """Index split of a dataset.

    Attributes
    ----------
    train_idx, eval_idx : int arrays of row positions (sorted)
    train_classes : classes with at least one training row (the head's classes, sorted)
    none_classes : classes present in ``eval_idx`` but not in training (sorted)
    seed : int
    """

    train_idx: np.ndarray
    eval_idx: np.ndarray
    train_classes: tuple[str, ...]
    none_classes: tuple[str, ...]
    seed: int

    def info(self) -> SplitInfo:
        """What a split was, without its row indices (what results keep)."""
        return SplitInfo(self.seed, len(self.train_idx), len(self.eval_idx), self.train_classes, self.none_classes)

    def to_dict(self) -> dict:
        return self.info().to_dict()


@dataclass(frozen=True)
class SplitInfo:
    """A :class:`Split` as results keep it: its seed, sizes and classes, without its row indices
    (which the seed and the data give back)."""

    seed: int
    n_train: int
    n_eval: int
    train_classes: tuple[str, ...]
    none_classes: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            "seed": self.seed,
            "n_train": int(self.n_train),
            "n_eval": int(self.n_eval),
            "train_classes": list(self.train_classes),
            "none_classes": list(self.none_classes),
        }

    @classmethod
    def from_dict(cls, d: dict) -> SplitInfo:
        keys = ("seed", "n_train", "n_eval")
        return cls(*(d[k] for k in keys), tuple(d["train_classes"]), tuple(d["none_classes"]))


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _permute(values: np.ndarray, gen: torch.Generator) -> np.ndarray:
    return values[torch.randperm(len(values), generator=gen).numpy()]


def _finish(labels: np.ndarray, train_idx: np.ndarray, eval_idx: np.ndarray, seed: int) -> Split:
    train_idx, eval_idx = np.sort(train_idx), np.sort(eval_idx)
    train_classes = tuple(sorted({labels[i] for i in train_idx}))
    none_classes = tuple(sorted({labels[i] for i in eval_idx} - set(train_classes)))
    if len(train_classes) < 2:
        raise ConfigError(
            f"the split leaves {len(train_classes)} class(es) in training; at least 2 are needed. "
            "Increase the train fraction or hold out fewer classes."
        )
    return Split(train_idx, eval_idx, train_classes, none_classes, seed)


def _resolve_unseen(classes: list[str], unseen, gen: torch.Generator) -> set[str]:
    if unseen is None or (isinstance(unseen, int) and unseen == 0):
        return set()
    if isinstance(unseen, (int, np.integer)):
        if unseen < 0 or unseen > len(classes) - 2:
            raise ConfigError(
                f"cannot hold out {unseen} classes: the data has {len(classes)} and at least 2 must stay for training."
            )
        return set(_permute(np.array(classes, dtype=object), gen)[: int(unseen)].tolist())
    names = [str(u) for u in unseen]
    missing = [u for u in names if u not in classes]
    if missing:
        raise ConfigError(f"held-out class(es) not found in the labels: {', '.join(map(repr, missing))}.")
    if len(classes) - len(set(names)) < 2:
        raise ConfigError("holding out these classes leaves fewer than 2 classes for training.")
    return set(names)


def trial_split(
    labels: Sequence,
    *,
    train_fraction: float = 0.1,
    unseen_classes: int | Sequence[str] = 0,
    none_label: str | None = None,
    always_train: Sequence[int] = (),
    seed: int = 0,
) -> Split:
    """One trial of the paper's protocol.

    Parameters
    ----------
    labels : (n,) class names, ``None`` for unlabelled rows (left out)
    train_fraction : float in (0, 1), share of the eligible labelled rows that trains
    unseen_classes : int or list of str
        Classes held out of training entirely (random ones when an int).
    none_label : str, optional
        A label that already means "none": its rows only ever evaluate.
    always_train : sequence of int
        Rows that train in every trial on top of the random fraction (e.g. rows just
        labelled from the labelling queue).
    seed : int

    Returns
    -------
    Split
    """
    if not 0.0 < train_fraction < 1.0:
        raise ConfigError(f"train_fraction must be in (0, 1); got {train_fraction}.")
    labels = np.asarray(labels, dtype=object)
    gen = _generator(seed)
    labelled = np.flatnonzero(np.array([lab is not None for lab in labels], dtype=bool))
    classes = sorted({labels[i] for i in labelled if labels[i] != none_label})
    held = _resolve_unseen(classes, unseen_classes, gen)
    held_mask = np.array([labels[i] in held or labels[i] == none_label for i in labelled], dtype=bool)
    eligible, held_rows = labelled[~held_mask], labelled[held_mask]
    n_train = int(round(train_fraction * len(eligible)))
    if n_train < 2:
        raise ConfigError(
            f"a train fraction of {train_fraction} of {len(eligible)} rows gives {n_train} training rows; "
            "need at least 2."
        )
    forced = np.asarray(sorted(set(int(i) for i in always_train)), dtype=np.int64)
    if forced.size:
        if any(labels[i] is None for i in forced):
            raise ConfigError("a row to always train on has no label.")
        eligible = eligible[~np.isin(eligible, forced)]
        held_rows = held_rows[~np.isin(held_rows, forced)]
    shuffled = _permute(eligible, gen)
    train = np.concatenate([shuffled[:n_train], forced])
    return _finish(labels, train, np.concatenate([shuffled[n_train:], held_rows]), seed)


def threshold_validation_split(
    labels: Sequence,
    train_idx: np.ndarray,
    *,
    val_fraction: float = 0.3,
    n_removed_classes: int = 5,
    seed: int = 0,
) -> Split:
    """The paper's threshold-validation split of a trial's training rows (Sec. 4.3).

    Parameters
    ----------
    labels : (n,) all labels of the dataset
    train_idx : rows of the trial's training set
    val_fraction : share of ``train_idx`` that validates (0.3)
    n_removed_classes : classes removed from the 70 % part (5), capped so that at least
        two classes keep training rows; their rows move to the validation part
    seed : int

    Returns
    -------
    Split whose ``train_idx`` / ``eval_idx`` index ``labels`` (subsets of ``train_idx``)
    """
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1); got {val_fraction}.")
    if n_removed_classes < 0:
        raise ConfigError(f"n_removed_classes must be >= 0; got {n_removed_classes}.")
    labels = np.asarray(labels, dtype=object)
    gen = _generator(seed)
    rows = _permute(np.asarray(train_idx), gen)
    n_val = int(round(val_fraction * len(rows)))
    fit_rows, val_rows = rows[n_val:], rows[:n_val]
    fit_classes = sorted({labels[i] for i in fit_rows})
    k = min(int(n_removed_classes), max(len(fit_classes) - 2, 0))
    removed = set(_permute(np.array(fit_classes, dtype=object), gen)[:k].tolist())
    move = np.array([labels[i] in removed for i in fit_rows], dtype=bool)
    return _finish(labels, fit_rows[~move], np.concatenate([val_rows, fit_rows[move]]), seed)


def make_trials(labels: Sequence, n_trials: int = 5, *, seed: int = 0, **kwargs) -> list[Split]:
    """``n_trials`` trial splits with seeds ``seed, seed + 1, ...`` (kwargs: see :func:`trial_split`)."""
    if n_trials < 1:
        raise ConfigError(f"n_trials must be >= 1; got {n_trials}.")
    return [trial_split(labels, seed=seed + t, **kwargs) for t in range(n_trials)]


def stratified_subsample(labels: np.ndarray, max_rows: int, seed: int = 0) -> np.ndarray:
    """Sorted row indices of at most ``max_rows`` rows, each label keeping its share (largest
    remainders), at least one row per label; all rows when there are no more than ``max_rows``.

    The draw is numpy's ``default_rng(seed)``: the benchmark suite's cached sets were built with it, and
    the same seed gives the same rows."""
    labels = np.asarray(labels, dtype=object)
    if len(labels) <= max_rows:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    names, counts = np.unique(labels, return_counts=True)
    quota = counts * max_rows / len(labels)
    take = np.minimum(np.maximum(np.floor(quota).astype(int), 1), counts)
    while take.sum() > max_rows:  # labels raised to one row pushed the total over: the largest give one back
        take[int(np.argmax(take))] -= 1
    extra = max_rows - int(take.sum())
    if extra > 0:  # the largest remainders among labels with rows left get one more row each
        remainder = np.where(take < counts, np.clip(quota - take, 0, None), -np.inf)
        order = np.argsort(-remainder, kind="stable")[:extra]
        take[order[np.isfinite(remainder[order])]] += 1
    picks = [
        rng.choice(np.flatnonzero(labels == n), size=min(k, c), replace=False)
        for n, k, c in zip(names, take, counts, strict=True)
    ]
    return np.sort(np.concatenate(picks))
