"""Methods x trials x (alpha, softness) grid -> the paper's Tables 1-3 and figure data.

Per trial ``t`` (seed ``seed + t``):

1. :func:`~embaug_core.splits.trial_split` gives training rows (10 %) and evaluation
   rows (the rest; unseen classes are "none").
2. :func:`~embaug_core.splits.threshold_validation_split` splits the training rows
   70/30 with 5 classes removed from the 70 % part.
3. For each method, each grid point (alphas for mixing methods, softnesses for soft
   methods, both for the soft mixing methods) trains on the 70 % part and is scored on
   the 30 % part by ``selection_metric`` (weighted AUROC by default). The best grid
   point wins; ties go to the first in grid order.
4. Both heuristics' thresholds are taken from the winner's validation predictions
   (the only predictions with "none" rows the head never saw).
5. The method is retrained on all training rows of the trial with the chosen
   hyper-parameters and evaluated on the evaluation rows: AUROC/AUPR, calibration,
   threshold curves, and the accuracies at the validation-chosen thresholds.

Table 1 reports the control's AUROC/AUPR and every other method's difference to the
control *in the same trial* (mean and std over trials), as in the paper. Table 2 is the
confidence–accuracy correlation; Table 3 the thresholds and ID / none / overall
accuracy at them, per heuristic.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .augment import PAPER_METHODS, get_method
from .baselines import (LogisticRegressionBaseline, apply_temperature, energy_none_score, fit_temperature,
                        knn_none_score, max_prob_none_score, none_detection)
from .data import EmbeddingSet
from .errors import ConfigError, EmbaugError
from .evaluation import evaluate
from .metrics import encode_labels
from .splits import threshold_validation_split, trial_split
from .jsonio import jsonable, write_json_atomic
from .train import PRESETS, TrainConfig, TrainedHead, fit_stacked

__all__ = ["ExperimentConfig", "ExperimentProgress", "TrialArtifacts", "MethodTrial", "ExperimentResult", "run_experiment", "CURVE_GRID"]

#: Peers run beside the methods: post-hoc temperature scaling of the control head, and
#: scikit-learn logistic regression with and without temperature scaling.
BASELINES = {"control_ts": "Control + TS", "logreg": "LogReg", "logreg_ts": "LogReg + TS"}


def entry_title(name: str) -> str:
    """Display name of a method or a baseline."""
    return BASELINES[name] if name in BASELINES else get_method(name).title


#: Threshold grid stored with every result (step 0.01) for the figures.
CURVE_GRID = np.round(np.linspace(0.0, 1.0, 101), 10)
RESULTS_SCHEMA = "embaug.experiment"


@dataclass(frozen=True)
class ExperimentConfig:
    """What to run. Validated on construction.

    Attributes
    ----------
    methods : method names (default the paper's six)
    baselines : peers from :data:`BASELINES` run on the same splits ("control_ts" needs "control")
    n_trials : trials on different splits (paper: 5)
    train_fraction : share of labelled rows that trains (paper: 0.1)
    unseen_classes : extra classes held out of training per trial (int, or names)
    none_label : a label value that already means "none" (never trained on)
    alphas, softnesses : the hyper-parameter grid chosen on the validation split
    val_fraction, n_removed_classes : the threshold-validation split (paper: 0.3, 5)
    selection_metric : "auroc" or "aupr" on the validation split
    train : TrainConfig for everything else (epochs, batch size, learning rate, ...);
        its method/alpha/softness/seed are overridden per run
    n_bins : reliability-diagram bins
    stack : train the heads of a trial together (one batched run for the validation grid, one
        for the final heads; :func:`~embaug_core.train.fit_stacked`): the same heads up to
        summation order, about twice as fast on a CPU. False trains them one by one.
    logreg_Cs : inverse regularisation strengths tried for the logistic-regression baseline
    knn_k : neighbours for the k-NN "none" score
    seed : base seed; trial t uses seed + t
    """

    methods: tuple[str, ...] = PAPER_METHODS
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
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=PRESETS["paper"]))
    n_bins: int = 10
    stack: bool = True
    logreg_Cs: tuple[float, ...] = (0.1, 1.0, 10.0)
    knn_k: int = 10
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "methods", tuple(self.methods))
        object.__setattr__(self, "baselines", tuple(self.baselines))
        object.__setattr__(self, "logreg_Cs", tuple(float(c) for c in self.logreg_Cs))
        unknown = [b for b in self.baselines if b not in BASELINES]
        if unknown:
            raise ConfigError(f"unknown baseline {unknown[0]!r}; choose from {', '.join(BASELINES)}.")
        if "control_ts" in self.baselines and "control" not in self.methods:
            raise ConfigError("the baseline control_ts scales the control head: include 'control' in the methods.")
        if not self.logreg_Cs or any(c <= 0 for c in self.logreg_Cs):
            raise ConfigError("logreg_Cs must be numbers > 0.")
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))
        object.__setattr__(self, "softnesses", tuple(float(s) for s in self.softnesses))
        if not isinstance(self.unseen_classes, int):
            object.__setattr__(self, "unseen_classes", tuple(self.unseen_classes))
        if not self.methods:
            raise ConfigError("choose at least one method.")
        for m in self.methods:
            get_method(m)
        if len(set(self.methods)) != len(self.methods):
            raise ConfigError("a method is listed twice.")
        if self.n_trials < 1:
            raise ConfigError(f"n_trials must be >= 1; got {self.n_trials}.")
        if not self.alphas or any(not (a > 0 and math.isfinite(a)) for a in self.alphas):
            raise ConfigError(f"alphas must be numbers > 0; got {self.alphas}.")
        if not self.softnesses or any(not 0 <= s <= 1 for s in self.softnesses):
            raise ConfigError(f"softnesses must be numbers in [0, 1]; got {self.softnesses}.")
        if self.selection_metric not in ("auroc", "aupr"):
            raise ConfigError(f"selection_metric must be auroc or aupr; got {self.selection_metric!r}.")

    def grid(self, method: str) -> list[tuple[float, float]]:
        """(alpha, softness) pairs tried for ``method``; unused ones take the train defaults."""
        m = get_method(method)
        alphas = self.alphas if m.uses_alpha else (self.train.alpha,)
        softs = self.softnesses if m.uses_softness else (self.train.softness,)
        return list(itertools.product(alphas, softs))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        d["unseen_classes"] = self.unseen_classes if isinstance(self.unseen_classes, int) else list(self.unseen_classes)
        for k in ("methods", "baselines", "alphas", "softnesses", "logreg_Cs"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentConfig":
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

    ``epoch`` / ``epochs`` locate the current training (0 / 0 between trainings);
    :attr:`fraction` counts finished epochs over all trainings and :attr:`eta_s`
    extrapolates the elapsed time linearly from it.
    """

    done: int
    total: int
    message: str
    elapsed_s: float
    epoch: int = 0
    epochs: int = 0

    @property
    def fraction(self) -> float:
        part = self.epoch / self.epochs if self.epochs else 0.0
        return min(1.0, (self.done + part) / self.total) if self.total else 1.0

    @property
    def eta_s(self) -> float:
        f = self.fraction
        return self.elapsed_s * (1 - f) / f if f > 0 else float("nan")


@dataclass(eq=False)
class TrialArtifacts:
    """In-memory products of one method in one trial (not saved to JSON).

    Attributes
    ----------
    head : the final TrainedHead (trained on the trial's training rows); None for baselines
        and temperature-scaled entries, which are not embaug heads and cannot be exported
    validation : Evaluation of the selected validation head on the threshold-validation rows
    evaluation : Evaluation of ``head`` on the trial's evaluation rows
    eval_idx : dataset rows of the evaluation set, aligned with ``probs``
    probs : (n_eval, C) sigmoid outputs of ``head`` on those rows
    """

    head: object
    validation: object
    evaluation: object
    eval_idx: np.ndarray
    probs: np.ndarray


@dataclass
class MethodTrial:
    """Result of one method in one trial (plain Python values, JSON-ready)."""

    method: str
    trial: int
    alpha: float
    softness: float
    selection: list  # [{"alpha", "softness", "score"}] on the validation split
    auroc: float
    aupr: float
    calibration: dict  # CalibrationSummary.to_dict()
    thresholds: dict  # heuristic -> {"threshold", "exact", "note", "validation": point, "evaluation": point}
    curve: dict  # evaluation curve on CURVE_GRID: overall/id/none accuracy
    validation_curve: dict  # validation curve on CURVE_GRID incl. ratios (Fig. 6)
    history: list  # EpochRecord dicts (Fig. 5)
    train_seconds: float  # final training; with stacked training the run's time / number of heads
    split: dict
    none_scores: dict = field(default_factory=dict)  # score -> {"auroc", "aupr"} for detecting "none"
    id_top1_accuracy: float | None = None  # top-1 accuracy on ID evaluation rows, no threshold

    def to_dict(self) -> dict:
        return asdict(self)


def _curve_dict(ev, keys) -> dict:
    c = ev.sweep.curve(CURVE_GRID)
    out = {"thresholds": CURVE_GRID.tolist()}
    for k in keys:
        out[k] = [None if np.isnan(v) else float(v) for v in getattr(c, k)]
    return out


def run_experiment(
    dataset: EmbeddingSet,
    config: ExperimentConfig,
    *,
    progress: Callable[[ExperimentProgress], None] | None = None,
    always_train: Sequence[int] = (),
    keep_artifacts: bool = False,
    backend: str = "local",
    ray_address: str | None = None,
    threads: int | None = None,
) -> "ExperimentResult":
    """Run the protocol of the module docstring on ``dataset``.

    Parameters
    ----------
    dataset : EmbeddingSet
    config : ExperimentConfig
    progress : callable(ExperimentProgress), optional; called after every epoch (local) or
        after every trial (ray)
    always_train : dataset rows that train in every trial (e.g. newly labelled rows)
    keep_artifacts : keep the trained heads and evaluations in ``result.artifacts`` (local only)
    backend : "local" (trials one after another in this process) or "ray" (one Ray task
        per trial; ``pip install embaug[ray]``)
    ray_address : Ray cluster address for ``ray.init`` (None starts a local Ray)
    threads : torch threads per trial (None: this process's setting); fixing it makes the
        two backends give bit-identical numbers
    """
    if backend not in ("local", "ray"):
        raise ConfigError(f"backend must be 'local' or 'ray'; got {backend!r}.")
    if backend == "ray":
        if keep_artifacts:
            raise ConfigError("keep_artifacts needs the local backend (trained heads stay in this process).")
        return _run_with_ray(dataset, config, progress=progress, always_train=always_train, address=ray_address,
                             threads=threads)
    start = time.perf_counter()
    total = _total_trainings(config)
    records, splits, artifacts = [], [], {}
    for t in range(config.n_trials):
        recs, split_info, arts = _run_trial(dataset, config, t, always_train=always_train, progress=progress,
                                            keep_artifacts=keep_artifacts, threads=threads, total=total,
                                            start=start, done_before=t * total // config.n_trials)
        records += recs
        splits.append(split_info)
        artifacts.update(arts)
    if progress is not None:
        progress(ExperimentProgress(total, total, "done", time.perf_counter() - start))
    return _result(dataset, config, records, splits, time.perf_counter() - start, artifacts)


def _total_trainings(config: ExperimentConfig) -> int:
    per_trial = (sum(len(config.grid(m)) + 1 for m in config.methods) + ("control_ts" in config.baselines)
                 + bool({"logreg", "logreg_ts"} & set(config.baselines)))
    return config.n_trials * per_trial


def _result(dataset, config, records, splits, seconds, artifacts) -> "ExperimentResult":
    return ExperimentResult(
        config=config, records=records, splits=splits,
        dataset={"source": dataset.source, "rows": dataset.n_samples, "dim": dataset.dim, "classes": len(dataset.classes)},
        wall_seconds=seconds, artifacts=artifacts,
    )


def _run_with_ray(dataset, config, *, progress, always_train, address, threads) -> "ExperimentResult":
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray backend needs Ray: pip install 'embaug[ray]'.") from None
    import os as _os

    _os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    start = time.perf_counter()
    total = _total_trainings(config)
    try:
        remote = ray.remote(_trial_task)
        data_ref = ray.put(dataset)
        threads = threads or 1
        pending = {remote.options(num_cpus=threads).remote(data_ref, config, t, tuple(always_train), threads): t
                   for t in range(config.n_trials)}
        outputs = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            t = pending.pop(ready[0])
            outputs[t] = ray.get(ready[0])
            if progress is not None:
                done = len(outputs) * total // config.n_trials
                progress(ExperimentProgress(done, total, f"trial {t + 1}/{config.n_trials} finished on Ray",
                                            time.perf_counter() - start))
    finally:
        if started_here:
            ray.shutdown()
    records, splits = [], []
    for t in range(config.n_trials):
        recs, split_info = outputs[t]
        records += recs
        splits.append(split_info)
    return _result(dataset, config, records, splits, time.perf_counter() - start, {})


def _trial_task(dataset, config, t, always_train, threads):
    """One trial in a Ray worker: plain records, no trained heads."""
    recs, split_info, _ = _run_trial(dataset, config, t, always_train=always_train, threads=threads)
    return recs, split_info


def _run_trial(dataset, config, t, *, always_train=(), progress=None, keep_artifacts=False, threads=None,
               total=0, start=None, done_before=0):
    """Everything of trial ``t``: (records, split description, artifacts)."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    start = time.perf_counter() if start is None else start
    labels = dataset.labels
    x = dataset.embeddings
    done = done_before

    def report(msg: str, epoch: int = 0, epochs: int = 0):
        if progress is not None:
            progress(ExperimentProgress(done, total, msg, time.perf_counter() - start, epoch, epochs))

    def epoch_reporter(msg: str):
        return lambda r: report(msg, r.epoch, r.epochs)

    artifacts = {}
    records: list[MethodTrial] = []
    seed = config.seed + t
    split = trial_split(labels, train_fraction=config.train_fraction, unseen_classes=config.unseen_classes,
                        none_label=config.none_label, always_train=always_train, seed=seed)
    vsplit = threshold_validation_split(labels, split.train_idx, val_fraction=config.val_fraction,
                                        n_removed_classes=config.n_removed_classes, seed=seed)
    split_info = {"trial": t, "evaluation": split.to_dict(), "validation": vsplit.to_dict()}
    y_val = encode_labels(labels[vsplit.eval_idx], vsplit.train_classes)
    y_eval = encode_labels(labels[split.eval_idx], split.train_classes)
    y_vtrain = encode_labels(labels[vsplit.train_idx], vsplit.train_classes)
    y_train = encode_labels(labels[split.train_idx], split.train_classes)
    x_val, x_eval = x[vsplit.eval_idx], x[split.eval_idx]
    knn = none_detection(y_eval, knn_none_score(x[split.train_idx], x_eval, k=config.knn_k))

    def add(name, *, alpha, soft, selection, probs, logits, val_probs, history, seconds, head=None):
        ev = evaluate(probs, y_eval, n_bins=config.n_bins)
        val_ev = evaluate(val_probs, y_val, n_bins=config.n_bins)
        thresholds = {h: {**r.to_dict(), "validation": val_ev.operating_points[h].to_dict(),
                          "evaluation": ev.at(r.threshold).to_dict()} for h, r in val_ev.heuristics.items()}
        known = y_eval != -1
        top1 = float((probs[known].argmax(1) == y_eval[known]).mean()) if known.any() else None
        records.append(MethodTrial(
            method=name, trial=t, alpha=alpha, softness=soft, selection=selection, auroc=ev.auroc, aupr=ev.aupr,
            calibration=ev.calibration.to_dict(), thresholds=thresholds,
            curve=_curve_dict(ev, ("overall_accuracy", "id_accuracy", "none_accuracy")),
            validation_curve=_curve_dict(val_ev, ("overall_accuracy", "id_accuracy", "none_accuracy",
                                                  "id_ratio", "none_ratio", "mean_ratio")),
            history=history, train_seconds=seconds, split=split.to_dict(),
            none_scores={"max_prob": none_detection(y_eval, max_prob_none_score(probs)),
                         "energy": none_detection(y_eval, energy_none_score(logits)), "knn": knn},
            id_top1_accuracy=top1,
        ))
        if keep_artifacts:
            artifacts[(name, t)] = TrialArtifacts(head, val_ev, ev, split.eval_idx, probs)

    control_parts = None
    # stage 1: a validation head for every (method, alpha, softness) of the grid
    grid = [(m, a, sf) for m in config.methods for a, sf in config.grid(m)]
    vcfgs = [replace(config.train, method=m, alpha=a, softness=sf, seed=seed) for m, a, sf in grid]
    n_vclasses = len(vsplit.train_classes)
    if config.stack:
        msg = f"trial {t + 1}/{config.n_trials} · {len(grid)} validation heads trained together"
        report(msg)
        vheads, _ = fit_stacked(x[vsplit.train_idx], y_vtrain, n_vclasses, vcfgs, progress=lambda e, n: report(msg, e, n))
        vlogits_all = [TrainedHead(model=h, class_names=vsplit.train_classes, config=c, input_dim=x.shape[1])
                       .predict_logits(x_val) for h, c in zip(vheads, vcfgs)]
        done += len(grid)
    else:
        vlogits_all = []
        for (m, a, sf), c in zip(grid, vcfgs):
            msg = f"trial {t + 1}/{config.n_trials} · {m} · alpha={a:g} softness={sf:g} (validation)"
            report(msg)
            vhead = TrainedHead.train(x[vsplit.train_idx], labels[vsplit.train_idx], c,
                                      class_names=vsplit.train_classes, progress=epoch_reporter(msg))
            vlogits_all.append(vhead.predict_logits(x_val))
            done += 1
    best: dict = {}
    selections: dict = {m: [] for m in config.methods}
    for (m, a, sf), vlogits in zip(grid, vlogits_all):
        ev = evaluate(apply_temperature(vlogits, 1.0), y_val, n_bins=config.n_bins)
        score = ev.auroc if config.selection_metric == "auroc" else ev.aupr
        selections[m].append({"alpha": a, "softness": sf, "score": None if np.isnan(score) else score})
        if m not in best or (not np.isnan(score) and (np.isnan(best[m][0]) or score > best[m][0])):
            best[m] = (score, a, sf, vlogits)
    # stage 2: each method retrained with its chosen hyper-parameters on all training rows
    fcfgs = [replace(config.train, method=m, alpha=best[m][1], softness=best[m][2], seed=seed) for m in config.methods]
    n_classes = len(split.train_classes)
    if config.stack:
        msg = f"trial {t + 1}/{config.n_trials} · final training of {len(fcfgs)} heads together"
        report(msg)
        t0 = time.perf_counter()
        fheads, histories = fit_stacked(x[split.train_idx], y_train, n_classes, fcfgs, validation=(x_eval, y_eval),
                                        progress=lambda e, n: report(msg, e, n))
        per_head = (time.perf_counter() - t0) / len(fcfgs)
        finals = [(TrainedHead(model=h, class_names=split.train_classes, config=c, input_dim=x.shape[1], history=hist),
                   per_head) for h, c, hist in zip(fheads, fcfgs, histories)]
        done += len(fcfgs)
    else:
        finals = []
        for c in fcfgs:
            msg = f"trial {t + 1}/{config.n_trials} · {c.method} · final training"
            report(msg)
            t0 = time.perf_counter()
            head = TrainedHead.train(x[split.train_idx], labels[split.train_idx], c, class_names=split.train_classes,
                                     validation=(x_eval, labels[split.eval_idx]), progress=epoch_reporter(msg))
            finals.append((head, time.perf_counter() - t0))
            done += 1
    for m, (head, seconds) in zip(config.methods, finals):
        _, alpha, soft, vlogits = best[m]
        logits = head.predict_logits(x_eval)
        history = [r.to_dict() for r in head.history]
        add(m, alpha=alpha, soft=soft, selection=selections[m], probs=apply_temperature(logits, 1.0), logits=logits,
            val_probs=apply_temperature(vlogits, 1.0), history=history, seconds=seconds, head=head)
        if m == "control":
            control_parts = (alpha, soft, vlogits, logits, history, seconds)

    if "control_ts" in config.baselines:
        report(f"trial {t + 1}/{config.n_trials} · control_ts")
        alpha, soft, vlogits, logits, history, seconds = control_parts
        t0 = time.perf_counter()
        temp = fit_temperature(vlogits, y_val, kind="sigmoid")
        add("control_ts", alpha=alpha, soft=soft, selection=[{"temperature": temp}],
            probs=apply_temperature(logits, temp), logits=logits / temp, val_probs=apply_temperature(vlogits, temp),
            history=history, seconds=seconds + time.perf_counter() - t0)
        done += 1
    if {"logreg", "logreg_ts"} & set(config.baselines):
        report(f"trial {t + 1}/{config.n_trials} · logistic regression")
        best = None
        selection = []
        for c in config.logreg_Cs:
            lr = LogisticRegressionBaseline(C=c).fit(x[vsplit.train_idx], y_vtrain, len(vsplit.train_classes))
            vlogits = lr.predict_logits(x_val)
            score = evaluate(apply_temperature(vlogits, 1.0, kind="softmax"), y_val, n_bins=config.n_bins).auroc
            selection.append({"C": c, "score": None if np.isnan(score) else score})
            if best is None or (not np.isnan(score) and (np.isnan(best[0]) or score > best[0])):
                best = (score, c, vlogits)
        _, c, vlogits = best
        t0 = time.perf_counter()
        lr = LogisticRegressionBaseline(C=c).fit(x[split.train_idx], y_train, len(split.train_classes))
        seconds = time.perf_counter() - t0
        logits = lr.predict_logits(x_eval)
        if "logreg" in config.baselines:
            add("logreg", alpha=float("nan"), soft=float("nan"), selection=selection,
                probs=apply_temperature(logits, 1.0, kind="softmax"), logits=logits,
                val_probs=apply_temperature(vlogits, 1.0, kind="softmax"), history=[], seconds=seconds)
        if "logreg_ts" in config.baselines:
            t0 = time.perf_counter()
            temp = fit_temperature(vlogits, y_val, kind="softmax")
            add("logreg_ts", alpha=float("nan"), soft=float("nan"), selection=[*selection, {"temperature": temp}],
                probs=apply_temperature(logits, temp, kind="softmax"), logits=logits / temp,
                val_probs=apply_temperature(vlogits, temp, kind="softmax"), history=[],
                seconds=seconds + time.perf_counter() - t0)
        done += 1
    return records, split_info, artifacts


def _mean_std(values) -> tuple[float, float]:
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    v = v[~np.isnan(v)]
    if not v.size:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


@dataclass
class ExperimentResult:
    """All records of an experiment plus the tables built from them."""

    config: ExperimentConfig
    records: list[MethodTrial]
    splits: list
    dataset: dict
    wall_seconds: float
    artifacts: dict = field(default_factory=dict, repr=False)  # (method, trial) -> TrialArtifacts

    @property
    def methods(self) -> tuple[str, ...]:
        """Methods and baselines with results, in configuration order."""
        return tuple(m for m in self.config.entries if any(r.method == m for r in self.records))

    def by_method(self, method: str) -> list[MethodTrial]:
        return sorted((r for r in self.records if r.method == method), key=lambda r: r.trial)

    # ------------------------------------------------------------------ tables

    def table1(self) -> pd.DataFrame:
        """AUROC / AUPR: control absolute, others relative to the control of the same trial."""
        control = {r.trial: r for r in self.by_method("control")}
        rows = []
        for m in self.methods:
            recs = self.by_method(m)
            row = {"method": entry_title(m)}
            for key in ("auroc", "aupr"):
                mean, std = _mean_std([getattr(r, key) for r in recs])
                row[f"{key}_mean"], row[f"{key}_std"] = mean, std
                if control and m != "control":
                    d_mean, d_std = _mean_std([getattr(r, key) - getattr(control[r.trial], key)
                                               for r in recs if r.trial in control])
                    row[f"{key}_delta_mean"], row[f"{key}_delta_std"] = d_mean, d_std
                else:
                    row[f"{key}_delta_mean"] = row[f"{key}_delta_std"] = float("nan")
            rows.append(row)
        return pd.DataFrame(rows)

    def table2(self) -> pd.DataFrame:
        """Confidence–accuracy correlation (and ECE, MCE, Brier, NLL) per method."""
        rows = []
        for m in self.methods:
            recs = self.by_method(m)
            row = {"method": entry_title(m)}
            for key, src in (("correlation", "confidence_accuracy_correlation"), ("ece", "ece"), ("mce", "mce"),
                             ("brier", "brier"), ("nll", "nll")):
                row[f"{key}_mean"], row[f"{key}_std"] = _mean_std([r.calibration[src] for r in recs])
            rows.append(row)
        return pd.DataFrame(rows)

    def table3(self) -> pd.DataFrame:
        """Threshold per heuristic and the evaluation accuracies at it."""
        rows = []
        for m in self.methods:
            recs = self.by_method(m)
            for h in ("intersection", "ratio"):
                got = [r.thresholds[h] for r in recs if h in r.thresholds]
                if not got:
                    continue
                row = {"method": entry_title(m), "heuristic": h, "trials": len(got)}
                row["threshold_mean"], row["threshold_std"] = _mean_std([g["threshold"] for g in got])
                for k in ("id_accuracy", "none_accuracy", "overall_accuracy"):
                    row[f"{k}_mean"], row[f"{k}_std"] = _mean_std([g["evaluation"][k] for g in got])
                rows.append(row)
        return pd.DataFrame(rows)

    def table_compare(self) -> pd.DataFrame:
        """Every method and baseline on ECE, "none" detection by three scores, ID accuracy and time."""
        rows = []
        for m in self.methods:
            recs = self.by_method(m)
            row = {"method": entry_title(m)}
            row["ece_mean"], row["ece_std"] = _mean_std([r.calibration["ece"] for r in recs])
            for score in ("max_prob", "energy", "knn"):
                row[f"none_auroc_{score}"], _ = _mean_std([(r.none_scores.get(score) or {}).get("auroc") for r in recs])
            row["id_top1_accuracy"], _ = _mean_std([r.id_top1_accuracy for r in recs])
            row["auroc_mean"], _ = _mean_std([r.auroc for r in recs])
            row["train_seconds"], _ = _mean_std([r.train_seconds for r in recs])
            rows.append(row)
        return pd.DataFrame(rows)

    def mean_curve(self, method: str, key: str, *, validation: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std over trials of a curve (e.g. ``"none_accuracy"``) on :data:`CURVE_GRID`."""
        src = "validation_curve" if validation else "curve"
        arr = np.array([[np.nan if v is None else v for v in getattr(r, src)[key]] for r in self.by_method(method)], dtype=float)
        if not len(arr):
            raise EmbaugError(f"no results for method {method!r}.")
        with np.errstate(invalid="ignore"):
            return np.nanmean(arr, axis=0), np.nanstd(arr, axis=0)

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict:
        def table(df):
            return json.loads(df.to_json(orient="records"))

        return {
            "schema": RESULTS_SCHEMA,
            "version": 1,
            "config": self.config.to_dict(),
            "dataset": self.dataset,
            "wall_seconds": self.wall_seconds,
            "splits": self.splits,
            "tables": {"table1": table(self.table1()), "table2": table(self.table2()), "table3": table(self.table3())},
            "records": [jsonable(r.to_dict()) for r in self.records],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentResult":
        if d.get("schema") != RESULTS_SCHEMA:
            raise EmbaugError(f"not an embaug experiment result (schema {RESULTS_SCHEMA!r} expected).")
        return cls(
            config=ExperimentConfig.from_dict(d["config"]),
            records=[MethodTrial(**r) for r in d["records"]],
            splits=d["splits"],
            dataset=d["dataset"],
            wall_seconds=d["wall_seconds"],
        )

    def save(self, directory: str | Path) -> Path:
        """Write ``results.json``, ``table{1,2,3}.csv``, ``comparison.csv`` and ``tables.md`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_json_atomic(directory / "results.json", self.to_dict())
        for i, df in enumerate((self.table1(), self.table2(), self.table3()), start=1):
            df.to_csv(directory / f"table{i}.csv", index=False)
        self.table_compare().to_csv(directory / "comparison.csv", index=False)
        (directory / "tables.md").write_text(self.markdown())
        return directory

    @classmethod
    def load(cls, path: str | Path) -> "ExperimentResult":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def markdown(self) -> str:
        """The three tables as Markdown, formatted like the paper (mean (std))."""
        def ms(mean, std, signed=False):
            if mean is None or np.isnan(mean):
                return "–"
            return f"{mean:+.4f} ({std:.4f})" if signed else f"{mean:.4f} ({std:.4f})"

        lines = [f"Trials: {self.config.n_trials}; epochs: {self.config.train.epochs}; "
                 f"data: {self.dataset['source']} ({self.dataset['rows']} rows, {self.dataset['classes']} classes).", ""]
        t1 = self.table1()
        lines += ["**Table 1** – weighted one-vs-rest AUROC / AUPR incl. \"none\" (control absolute, others relative to "
                  "the control of the same trial; mean (std) over trials)", "",
                  "| Method | AUROC | AUPR |", "|---|---|---|"]
        for _, r in t1.iterrows():
            if r["method"] == "Control" or np.isnan(r["auroc_delta_mean"]):
                lines.append(f"| {r['method']} | {ms(r['auroc_mean'], r['auroc_std'])} | {ms(r['aupr_mean'], r['aupr_std'])} |")
            else:
                lines.append(f"| {r['method']} | {ms(r['auroc_delta_mean'], r['auroc_delta_std'], True)} | "
                             f"{ms(r['aupr_delta_mean'], r['aupr_delta_std'], True)} |")
        t2 = self.table2()
        lines += ["", "**Table 2** – confidence–accuracy correlation (reliability diagram, "
                  f"{self.config.n_bins} equal-width bins) and ECE", "",
                  "| Method | Conf.-Acc. correlation | ECE |", "|---|---|---|"]
        for _, r in t2.iterrows():
            lines.append(f"| {r['method']} | {ms(r['correlation_mean'], r['correlation_std'])} | {ms(r['ece_mean'], r['ece_std'])} |")
        t3 = self.table3()
        lines += ["", "**Table 3** – threshold chosen on the validation split and accuracies on the evaluation rows", "",
                  "| Method | Heuristic | Thresh. | ID Acc. | None Acc. | Acc. |", "|---|---|---|---|---|---|"]
        for _, r in t3.iterrows():
            lines.append(f"| {r['method']} | {r['heuristic']} | {r['threshold_mean']:.2f} | "
                         f"{ms(r['id_accuracy_mean'], r['id_accuracy_std'])} | {ms(r['none_accuracy_mean'], r['none_accuracy_std'])} | "
                         f"{ms(r['overall_accuracy_mean'], r['overall_accuracy_std'])} |")
        tc = self.table_compare()
        lines += ["", "**Comparison** – every method and baseline: ECE, AUROC of three \"none\" scores "
                  "(1 − max probability, energy of the logits, k-NN cosine distance in the embedding space), top-1 ID "
                  "accuracy without threshold, seconds per final training", "",
                  "| Method | ECE | none-AUROC max-prob | none-AUROC energy | none-AUROC k-NN | ID acc. | s/training |",
                  "|---|---|---|---|---|---|---|"]

        def f(v, d=4):
            return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{d}f}"

        for _, r in tc.iterrows():
            lines.append(f"| {r['method']} | {f(r['ece_mean'])} | {f(r['none_auroc_max_prob'])} | {f(r['none_auroc_energy'])} | "
                         f"{f(r['none_auroc_knn'])} | {f(r['id_top1_accuracy'])} | {f(r['train_seconds'], 1)} |")
        return "\n".join(lines) + "\n"
