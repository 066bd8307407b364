"""Trainings started from the dashboard: a server-wide queue, jobs that belong to the server rather
than to a page, and the waiting with progress.

A training runs in a worker process (:func:`embaug_core.runs.worker.run_experiment_in_worker`), or as a
Ray task when ``EMBAUG_RAY_ADDRESS`` is set (:func:`embaug_core.runs.ray_worker.run_experiment_on_ray`), and
is saved in the run store when it ends; leaving, rerunning or reloading the page stops only the waiting.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
import streamlit as st

from embaug_core.data.splits import NoneProtocol
from embaug_core.data.table import EmbeddingSet
from embaug_core.errors import EmbaugError
from embaug_core.experiment.config import ExperimentConfig
from embaug_core.runs.jobs import WorkQueue

from . import auth
from .state import (
    ALWAYS_TRAIN,
    CURRENT,
    DATASET_NAME,
    JOBS,
    RESULT_ROWS,
    RESULTS,
    RUN_IDS,
    dataset,
    init_state,
    none_examples,
    run_store,
)
from .widgets import method_title


@st.cache_resource
def training_queue() -> WorkQueue:
    """One queue for the whole server: at most ``EMBAUG_TRAINING_SLOTS`` trainings at once, by
    default what this machine can hold (:func:`embaug_core.runs.jobs.default_slots`: 1 on a 2-core
    machine, where one training already uses both cores). With sign-in on, the users take turns and each
    holds at most ``[embaug] trainings_per_user`` slots (:mod:`dashboard.auth`), read when the server
    starts its first training."""
    from embaug_core.runs.jobs import default_slots

    slots = max(1, int(os.environ.get("EMBAUG_TRAINING_SLOTS") or default_slots()))
    return WorkQueue(slots=slots, per_owner=auth.team().trainings_per_user)


def run_key(ds: EmbeddingSet, config: ExperimentConfig, protocol: NoneProtocol, always_train: tuple) -> str:
    ex = none_examples()
    examples = None if ex is None else hashlib.sha1(np.ascontiguousarray(ex).tobytes()).hexdigest()
    blob = json.dumps(
        [ds.fingerprint, config.to_dict(), protocol.to_dict(), list(always_train), examples],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrainingTime:
    """How long a press of Train took: waiting for a slot, then training (0, 0 for a cached result)."""

    waited_s: float
    trained_s: float

    def describe(self) -> str:
        total = self.waited_s + self.trained_s
        if total == 0:
            return "done (these settings were trained before in this session; shown from memory)"
        wait = f"{self.waited_s:.1f}s waiting for a training slot, " if self.waited_s >= 0.05 else ""
        return f"done in {total:.1f}s ({wait}{self.trained_s:.1f}s training)"


def start_training(config: ExperimentConfig, protocol: NoneProtocol, *, note: str = "") -> str:
    """Start training ``config`` on the current data (unless this session has its result already,
    or is training it now); returns its run key for :func:`wait_for_training`. The run is named after
    the data and the methods, then ``note`` (say, how it differs from the run it came from).

    The training is a server-side :class:`~embaug_core.runs.jobs.Job` in the server-wide
    :func:`training_queue`, run in a worker process (:func:`embaug_core.runs.worker.run_experiment_in_worker`) that
    saves it in the run store when it ends, or, with ``EMBAUG_RAY_ADDRESS`` set, as a Ray task on that cluster
    (:func:`embaug_core.runs.ray_worker.run_experiment_on_ray`). Leaving, rerunning or reloading the page stops only
    the waiting: the run is saved regardless, and a kill of the training leaves a failed run and
    the server as it was.
    """
    from embaug_core.runs.jobs import Job
    from embaug_core.runs.ray_worker import ray_address, run_experiment_on_ray
    from embaug_core.runs.worker import run_experiment_in_worker

    ds = dataset()
    always = tuple(st.session_state[ALWAYS_TRAIN])
    key = run_key(ds, config, protocol, always)
    jobs: dict = st.session_state[JOBS]
    if key in st.session_state[RESULTS]:
        st.session_state[CURRENT] = key
        return key
    if key in jobs and not jobs[key].done.is_set():
        return key
    index = {v: i for i, v in enumerate(ds.ids)}
    name = f"{st.session_state[DATASET_NAME]} · {', '.join(map(method_title, config.methods))}"
    name += f" · {note}" if note else ""
    rows, examples, store = [index[i] for i in always], none_examples(), run_store()

    address = ray_address()  # EMBAUG_RAY_ADDRESS: a Ray task on that cluster instead of a worker process

    def work(progress):
        kw = dict(store=store, name=name, always_train=rows, none_examples=examples, progress=progress)
        if address is not None:
            return run_experiment_on_ray(ds, config, address=address, **kw)
        return run_experiment_in_worker(ds, config, **kw)

    jobs[key] = Job(training_queue(), work, name="embaug-training", owner=auth.user())
    st.session_state[RESULT_ROWS][key] = ds.rows_fingerprint
    return key


def describe_progress(bar):
    """A ``progress(p)`` for :func:`wait_for_training` that shows the step, epoch and ETA on ``bar``."""

    def progress(p) -> None:
        eta = "" if p.eta_s != p.eta_s else f" · about {p.eta_s:.0f} s left" + (" for the probes" if p.probes else "")
        epoch = f" · epoch {p.epoch}/{p.epochs}" if p.epochs else ""
        bar.progress(p.fraction, text=f"{p.message}{epoch}{eta}")

    return progress


def describe_wait(bar):
    """An ``on_wait(position, eta_s)`` for :func:`wait_for_training` that shows the queue on ``bar``."""

    def waiting(position: int, eta_s: float | None) -> None:
        start = "estimating when it starts…" if eta_s is None else f"starts in about {eta_s:.0f} s"
        bar.progress(
            0.0,
            text=f"Waiting for a training slot: position {position} in the queue, {start} "
            "(other sessions are training)",
        )

    return waiting


def pending_training() -> str | None:
    """The run key of a training this session started and has not shown yet, or None."""
    init_state()
    return next(iter(st.session_state[JOBS]), None)


def wait_for_training(key: str, *, progress=None, on_wait=None) -> TrainingTime:
    """Wait for the training of :func:`start_training` (``on_wait(position, eta_s)`` while queued,
    ``progress(p)`` while training, every 0.25 s); then make it the current run, read back from the
    run store (saved before it is shown). Raises what the training raised."""
    results: dict = st.session_state[RESULTS]
    job = st.session_state[JOBS].get(key)
    if job is None:  # trained before in this session
        st.session_state[CURRENT] = key
        return TrainingTime(0.0, 0.0)
    while not job.done.wait(0.25):
        if job.waiting is not None and on_wait is not None:
            on_wait(*job.waiting)
        elif job.progress is not None and progress is not None:
            progress(job.progress)
    del st.session_state[JOBS][key]
    if job.error is not None:
        raise job.error
    results[key] = run_store().load(job.result.id)
    st.session_state[RUN_IDS][key] = job.result.id
    st.session_state[CURRENT] = key
    started = job.asked if job.started is None else job.started
    return TrainingTime(started - job.asked, job.ended - started)


def train(config: ExperimentConfig, protocol: NoneProtocol, *, progress=None, on_wait=None, note="") -> TrainingTime:
    """:func:`start_training`, then :func:`wait_for_training`: returns the time spent waiting and training."""
    return wait_for_training(start_training(config, protocol, note=note), progress=progress, on_wait=on_wait)


def session_results() -> tuple[dict[str, str], int]:
    """({run key: a title} of every result this session has on the rows in use, newest last; how many
    results of other data are left out). A result counts as on these rows when it was trained on the same
    embeddings and ids, whatever their labels (the Labelling queue relabels rows); the result shown counts
    always. Titles are the run's name in the store and the end of its id (two runs may share a name)."""
    store, names, hidden = run_store(), {}, 0
    rows, current = dataset().rows_fingerprint, st.session_state[CURRENT]
    for key in st.session_state[RESULTS]:
        if key != current and st.session_state[RESULT_ROWS].get(key) != rows:
            hidden += 1  # a result of other data: its rows are not these
            continue
        run_id = st.session_state[RUN_IDS].get(key)
        try:
            names[key] = f"{store.info(run_id).name} · {run_id[-6:]}" if run_id else key
        except EmbaugError:  # deleted from the Runs page meanwhile: still in this session
            names[key] = f"{run_id} (deleted from the run store)"
    return names, hidden
