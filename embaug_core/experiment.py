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

from .augment import METHOD_NAMES, get_method
from .data import EmbeddingSet
from .errors import ConfigError, EmbaugError
from .evaluation import evaluate
from .metrics import encode_labels
from .splits import threshold_validation_split, trial_split
from .jsonio import jsonable, write_json_atomic
from .train import PRESETS, TrainConfig, TrainedHead

__all__ = ["ExperimentConfig", "ExperimentProgress", "TrialArtifacts", "MethodTrial", "ExperimentResult", "run_experiment", "CURVE_GRID"]

#: Threshold grid stored with every result (step 0.01) for the figures.
CURVE_GRID = np.round(np.linspace(0.0, 1.0, 101), 10)
RESULTS_SCHEMA = "embaug.experiment"


@dataclass(frozen=True)
class ExperimentConfig:
    """What to run. Validated on construction.

    Attributes
    ----------
    methods : method names (default all six)
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
    seed : base seed; trial t uses seed + t
    """

    methods: tuple[str, ...] = METHOD_NAMES
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
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "methods", tuple(self.methods))
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
        for k in ("methods", "alphas", "softnesses"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentConfig":
        d = dict(d)
        d["train"] = TrainConfig.from_dict(d["train"])
        if isinstance(d.get("unseen_classes"), list):
            d["unseen_classes"] = tuple(d["unseen_classes"])
        return cls(**d)


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
    head : the final TrainedHead (trained on the trial's training rows)
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
    train_seconds: float
    split: dict

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
) -> "ExperimentResult":
    """Run the protocol of the module docstring on ``dataset``.

    Parameters
    ----------
    dataset : EmbeddingSet
    config : ExperimentConfig
    progress : callable(ExperimentProgress), optional; called after every epoch
    always_train : dataset rows that train in every trial (e.g. newly labelled rows)
    keep_artifacts : keep the trained heads and evaluations in ``result.artifacts``
    """
    labels = dataset.labels
    x = dataset.embeddings
    total = config.n_trials * sum(len(config.grid(m)) + 1 for m in config.methods)
    done = 0
    start = time.perf_counter()

    def report(msg: str, epoch: int = 0, epochs: int = 0):
        if progress is not None:
            progress(ExperimentProgress(done, total, msg, time.perf_counter() - start, epoch, epochs))

    def epoch_reporter(msg: str):
        return lambda r: report(msg, r.epoch, r.epochs)

    artifacts = {}

    records: list[MethodTrial] = []
    splits = []
    for t in range(config.n_trials):
        seed = config.seed + t
        split = trial_split(labels, train_fraction=config.train_fraction, unseen_classes=config.unseen_classes,
                            none_label=config.none_label, always_train=always_train, seed=seed)
        vsplit = threshold_validation_split(labels, split.train_idx, val_fraction=config.val_fraction,
                                            n_removed_classes=config.n_removed_classes, seed=seed)
        splits.append({"trial": t, "evaluation": split.to_dict(), "validation": vsplit.to_dict()})
        y_val = encode_labels(labels[vsplit.eval_idx], vsplit.train_classes)
        y_eval = encode_labels(labels[split.eval_idx], split.train_classes)
        for method in config.methods:
            best = None
            selection = []
            for alpha, soft in config.grid(method):
                msg = f"trial {t + 1}/{config.n_trials} · {method} · alpha={alpha:g} softness={soft:g} (validation)"
                report(msg)
                cfg = replace(config.train, method=method, alpha=alpha, softness=soft, seed=seed)
                head = TrainedHead.train(x[vsplit.train_idx], labels[vsplit.train_idx], cfg,
                                         class_names=vsplit.train_classes, progress=epoch_reporter(msg))
                ev = evaluate(head.predict_proba(x[vsplit.eval_idx]), y_val, n_bins=config.n_bins)
                score = ev.auroc if config.selection_metric == "auroc" else ev.aupr
                selection.append({"alpha": alpha, "softness": soft, "score": None if np.isnan(score) else score})
                if best is None or (not np.isnan(score) and (np.isnan(best[0]) or score > best[0])):
                    best = (score, alpha, soft, ev)
                done += 1
            _, alpha, soft, val_ev = best
            msg = f"trial {t + 1}/{config.n_trials} · {method} · final training"
            report(msg)
            cfg = replace(config.train, method=method, alpha=alpha, softness=soft, seed=seed)
            t0 = time.perf_counter()
            head = TrainedHead.train(x[split.train_idx], labels[split.train_idx], cfg, class_names=split.train_classes,
                                     validation=(x[split.eval_idx], labels[split.eval_idx]),
                                     progress=epoch_reporter(msg))
            seconds = time.perf_counter() - t0
            probs = head.predict_proba(x[split.eval_idx])
            ev = evaluate(probs, y_eval, n_bins=config.n_bins)
            if keep_artifacts:
                artifacts[(method, t)] = TrialArtifacts(head, val_ev, ev, split.eval_idx, probs)
            thresholds = {}
            for name, h in val_ev.heuristics.items():
                thresholds[name] = {
                    **h.to_dict(),
                    "validation": val_ev.operating_points[name].to_dict(),
                    "evaluation": ev.at(h.threshold).to_dict(),
                }
            records.append(MethodTrial(
                method=method, trial=t, alpha=alpha, softness=soft, selection=selection,
                auroc=ev.auroc, aupr=ev.aupr, calibration=ev.calibration.to_dict(), thresholds=thresholds,
                curve=_curve_dict(ev, ("overall_accuracy", "id_accuracy", "none_accuracy")),
                validation_curve=_curve_dict(val_ev, ("overall_accuracy", "id_accuracy", "none_accuracy",
                                                      "id_ratio", "none_ratio", "mean_ratio")),
                history=[r.to_dict() for r in head.history], train_seconds=seconds, split=split.to_dict(),
            ))
            done += 1
    report("done")
    return ExperimentResult(
        config=config,
        records=records,
        splits=splits,
        dataset={"source": dataset.source, "rows": dataset.n_samples, "dim": dataset.dim,
                 "classes": len(dataset.classes)},
        wall_seconds=time.perf_counter() - start,
        artifacts=artifacts,
    )


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
        return tuple(m for m in self.config.methods if any(r.method == m for r in self.records))

    def by_method(self, method: str) -> list[MethodTrial]:
        return sorted((r for r in self.records if r.method == method), key=lambda r: r.trial)

    # ------------------------------------------------------------------ tables

    def table1(self) -> pd.DataFrame:
        """AUROC / AUPR: control absolute, others relative to the control of the same trial."""
        control = {r.trial: r for r in self.by_method("control")}
        rows = []
        for m in self.methods:
            recs = self.by_method(m)
            row = {"method": get_method(m).title}
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
            row = {"method": get_method(m).title}
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
                row = {"method": get_method(m).title, "heuristic": h, "trials": len(got)}
                row["threshold_mean"], row["threshold_std"] = _mean_std([g["threshold"] for g in got])
                for k in ("id_accuracy", "none_accuracy", "overall_accuracy"):
                    row[f"{k}_mean"], row[f"{k}_std"] = _mean_std([g["evaluation"][k] for g in got])
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
        """Write ``results.json``, ``table{1,2,3}.csv`` and ``tables.md`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_json_atomic(directory / "results.json", self.to_dict())
        for i, df in enumerate((self.table1(), self.table2(), self.table3()), start=1):
            df.to_csv(directory / f"table{i}.csv", index=False)
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
        return "\n".join(lines) + "\n"
