"""A dashboard training as a Ray task, for when one machine is not enough.

With ``EMBAUG_RAY_ADDRESS`` set (``embaug dashboard --ray-address ADDRESS``: ``auto`` on a cluster node,
``ray://HEAD:10001`` from outside, ``local`` for a Ray started on this machine), the dashboard hands each
training to :func:`run_experiment_on_ray` instead of a worker process
(:func:`~embaug_core.runs.worker.run_experiment_in_worker`); it has the same arguments and answers the
same way, so the queue, the progress, the runs and what a lost training leaves behind stay the same:

1. The run is recorded "running" in the store with this process's pid (the dashboard's server: if it
   dies, the run list marks the run failed, as for a worker process that dies).
2. One Ray task trains (:func:`~embaug_core.experiment.run.run_experiment` with its heads kept), sending
   its progress through a Ray queue; this process relays it to ``progress`` and, about every
   ``report_s`` seconds, into the run's ``run.json``.
3. The task returns the result with its heads and arrays; this process saves the run (complete or
   absent), so the store stays on the dashboard's machine and the cluster needs no shared disk.

If the task raises, the run is recorded failed and the error raised again (an :class:`EmbaugError` keeps
its words); if its worker dies or the cluster drops it, the run is recorded failed and
:class:`~embaug_core.runs.worker.TrainingFailed` is raised, naming what Ray said. The experiment's own
Ray backend (``run_experiment(backend="ray")``) spreads the trials of one experiment over the cluster
instead, and keeps no heads.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict

from ..errors import EmbaugError
from .worker import LISTED_FAILED, TrainingFailed, training_error

_LOG = logging.getLogger(__name__)

__all__ = ["run_experiment_on_ray", "ray_address"]


def ray_address() -> str | None:
    """The Ray cluster the dashboard's trainings go to (``EMBAUG_RAY_ADDRESS``), or None: worker processes."""
    return os.environ.get("EMBAUG_RAY_ADDRESS") or None


def _train_task(dataset, config, always_train, none_examples, threads, queue):
    """The Ray task: the experiment with its heads, its progress sent through ``queue`` (at most 5 a second)."""
    import torch

    from ..experiment.run import run_experiment

    torch.set_num_threads(threads)
    sent = [0.0]

    def progress(p) -> None:
        now = time.monotonic()
        if now - sent[0] >= 0.2 or p.done >= p.total:
            sent[0] = now
            queue.put_nowait(asdict(p))

    return run_experiment(
        dataset, config, progress=progress, keep_artifacts=True, always_train=always_train, none_examples=none_examples
    )


# long: one supervision loop, its outcomes spelled out in order (as run_experiment_in_worker's)
def run_experiment_on_ray(
    dataset,
    config,
    *,
    store,
    name: str,
    always_train: Sequence[int] = (),
    none_examples=None,
    progress: Callable | None = None,
    on_begin: Callable[[str], None] | None = None,
    report_s: float = 2.0,
    address: str | None = None,
    threads: int = 1,
):
    """Train ``config`` on ``dataset`` as one Ray task and save it in ``store``; see the module docstring.
    Arguments as :func:`~embaug_core.runs.worker.run_experiment_in_worker`, and ``address`` (None or
    ``"local"``: a Ray on this machine, unless one is running) and ``threads`` (torch threads and Ray CPUs
    of the task). Returns the saved run's RunInfo."""
    from ..experiment.config import ExperimentProgress
    from ..experiment.run import connect_ray

    ray, _ = connect_ray(address)
    from ray.util.queue import Queue

    running = store.begin(name=name, config=config, source=dataset.source)
    if on_begin is not None:
        on_begin(running.id)
    ref = queue = None
    reported = 0.0
    try:
        queue = Queue()
        task = ray.remote(_train_task).options(num_cpus=threads, max_retries=0)
        ref = task.remote(dataset, config, tuple(always_train), none_examples, threads, queue)
        while True:
            ready, _ = ray.wait([ref], timeout=0.2)
            for p in queue.get_nowait_batch(queue.qsize()):
                p = ExperimentProgress(**p)
                if progress is not None:
                    progress(p)
                if time.monotonic() - reported >= report_s:
                    reported = time.monotonic()
                    try:
                        store.report(running.id, p)
                    except (OSError, EmbaugError):  # the record was removed meanwhile: progress is only shown
                        pass
            if ready:
                break
        result = ray.get(ref)
    except ray.exceptions.RayTaskError as exc:  # the training raised: its words, a failed run
        cause = exc.cause if isinstance(exc.cause, BaseException) else exc
        error, said = training_error(store, type(cause).__name__, str(cause), isinstance(cause, EmbaugError))
        _fail(store, running.id, said)
        raise error from None
    except ray.exceptions.RayError as exc:  # its worker died, or the cluster dropped it
        error = f"the training's Ray task was lost before the run was saved ({type(exc).__name__})"
        _fail(store, running.id, error)
        raise TrainingFailed(f"{error}. {LISTED_FAILED}") from None
    except BaseException as exc:  # this side stopped (a callback raised): stop the task, record why
        if ref is not None:
            ray.cancel(ref, force=True)
        _fail(store, running.id, f"the training was stopped ({type(exc).__name__})")
        raise
    finally:
        if queue is not None:
            ray.kill(queue.actor)
    return store.save(result, name=name, dataset=dataset, replaces=running.id)


def _fail(store, run_id: str, error: str) -> None:
    try:
        store.fail(run_id, error)
    except (OSError, EmbaugError):  # the record was removed meanwhile
        pass
