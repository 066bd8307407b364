"""Run the paper's protocol over trials: :func:`run_experiment` -> :class:`ExperimentResult`.

What one trial does is in :mod:`embaug_core.experiment.protocol`; the results and their tables in
:mod:`embaug_core.experiment.results`; the HTML report in :mod:`embaug_core.experiment.report`. Trials run one
after another in this process (``backend="local"``) or as Ray tasks (``backend="ray"``),
with bit-identical numbers for the same seeds and threads.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from ..data.table import EmbeddingSet
from ..errors import ConfigError
from .config import ExperimentConfig, ExperimentProgress
from .protocol import run_trial
from .results import ExperimentResult
from .trial import Reporter

__all__ = ["run_experiment"]


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
    none_examples=None,
) -> ExperimentResult:
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
    none_examples : (b, D) embeddings of rows known to be out of scope (never evaluation rows):
        they fit the fused score's weight instead of the validation split's removed classes
    """
    none_examples = _checked_none_examples(none_examples, dataset)
    if backend not in ("local", "ray"):
        raise ConfigError(f"backend must be 'local' or 'ray'; got {backend!r}.")
    if backend == "ray":
        if keep_artifacts:
            raise ConfigError("keep_artifacts needs the local backend (trained heads stay in this process).")
        kw = dict(always_train=always_train, address=ray_address, threads=threads, none_examples=none_examples)
        return _run_with_ray(dataset, config, progress=progress, **kw)
    start = time.perf_counter()
    total = config.n_trials * config.trainings_per_trial()
    report = Reporter(progress, total, start)
    records, splits, artifacts = [], [], {}
    for t in range(config.n_trials):
        kw = dict(
            always_train=always_train, keep_artifacts=keep_artifacts, threads=threads, none_examples=none_examples
        )
        recs, split_info, arts = run_trial(dataset, config, t, report=report, **kw)
        records += recs
        splits.append(split_info)
        artifacts.update(arts)
    if progress is not None:
        progress(ExperimentProgress(total, total, "done", time.perf_counter() - start))
    return _result(dataset, config, records, splits, time.perf_counter() - start, artifacts)


def _checked_none_examples(none_examples, dataset: EmbeddingSet):
    """The out-of-scope examples as float32 (b, D), refused unless D is the data's dimension."""
    if none_examples is None:
        return None
    out = np.asarray(none_examples, dtype=np.float32)
    if out.ndim != 2 or out.shape[1] != dataset.dim:
        raise ConfigError(
            f"the out-of-scope examples have shape {out.shape}; they need {dataset.dim} "
            "dimensions, like the data (embed them with the same model)."
        )
    return out


def _result(dataset, config, records, splits, seconds, artifacts) -> ExperimentResult:
    return ExperimentResult(
        config=config,
        records=records,
        splits=splits,
        dataset={
            "source": dataset.source,
            "rows": dataset.n_samples,
            "dim": dataset.dim,
            "classes": len(dataset.classes),
        },
        wall_seconds=seconds,
        artifacts=artifacts,
    )


_RAY_LOCK = threading.Lock()


def connect_ray(address: str | None):
    """Ray, connected to ``address`` (None or "local": a Ray started on this machine) unless this process is
    connected already; returns (the ray module, whether this call connected it). One connection at a time:
    the dashboard's trainings start from several threads."""
    try:
        import ray
    except ImportError:
        raise ConfigError("Ray is not installed: pip install 'embaug[ray]'.") from None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with _RAY_LOCK:
        if ray.is_initialized():
            return ray, False
        where = None if address in (None, "local") else address
        ray.init(address=where, include_dashboard=False, log_to_driver=False, configure_logging=False)
        return ray, True


def _run_with_ray(dataset, config, *, progress, always_train, address, threads, none_examples) -> ExperimentResult:
    ray, started_here = connect_ray(address)
    start = time.perf_counter()
    total = config.n_trials * config.trainings_per_trial()
    try:
        remote = ray.remote(_trial_task)
        data_ref = ray.put(dataset)
        threads = threads or 1
        pending = {
            remote.options(num_cpus=threads).remote(data_ref, config, t, tuple(always_train), threads, none_examples): t
            for t in range(config.n_trials)
        }
        outputs = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            t = pending.pop(ready[0])
            outputs[t] = ray.get(ready[0])
            if progress is not None:
                done = len(outputs) * total // config.n_trials
                progress(
                    ExperimentProgress(
                        done, total, f"trial {t + 1}/{config.n_trials} finished on Ray", time.perf_counter() - start
                    )
                )
    finally:
        if started_here:
            ray.shutdown()
    records, splits = [], []
    for t in range(config.n_trials):
        recs, split_info = outputs[t]
        records += recs
        splits.append(split_info)
    return _result(dataset, config, records, splits, time.perf_counter() - start, {})


def _trial_task(dataset, config, t, always_train, threads, none_examples=None):
    """One trial in a Ray worker: plain records, no trained heads."""
    report = Reporter(None, config.trainings_per_trial(), time.perf_counter())
    recs, split_info, _ = run_trial(
        dataset, config, t, always_train=always_train, report=report, threads=threads, none_examples=none_examples
    )
    return recs, split_info
