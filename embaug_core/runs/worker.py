"""Training in a worker process, so that a training that dies never takes its caller with it.

The dashboard serves every browser session from one process. A training run in one of its threads
shares that process: a kill -9 of the training, or the kernel's out-of-memory killer choosing it,
ends the server and every session with it, and the memory the training used stays in the server
(glibc keeps freed heap; benchmarks/soak.py). :func:`run_experiment_in_worker` runs one experiment in a child
process instead (``python -m embaug_core.runs.worker``) and saves it in the run store from there:

1. The child reads its inputs (the table as NPZ, :func:`~embaug_core.runs.tables.write_dataset_npz`, and
   the config as JSON; no pickles), checks the table's fingerprint, and records the run as
   "running" with **its own** pid (:meth:`RunStore.begin`): a run list read by any process marks
   the run failed once that pid is gone.
2. It trains, reporting every epoch's progress to the parent (one JSON line each), and about every
   ``report_s`` seconds into the run's ``run.json`` too (the Runs page of another session, or
   after a reload, shows how far it is).
3. It saves the run (complete or absent, :meth:`RunStore.save`) and reports its id.

The parent relays progress and waits. If the child raises, the run is recorded failed with the
error, and the parent raises it again (an :class:`EmbaugError` keeps its words). If the child is
killed by any signal, the parent marks the run failed, naming the signal, and raises
:class:`TrainingFailed`: the store stays readable and the caller goes on. If the parent stops
waiting (it is interrupted, or the server restarts), the child finishes and saves the run on its
own: the run is on the Runs page afterwards.

A plain subprocess, not :mod:`multiprocessing`: ``spawn`` and ``forkserver`` re-import the caller's
``__main__`` in the child (a script without an ``if __name__ == "__main__"`` guard would start
again), and ``fork`` copies a multi-threaded server. The price is the imports, about 1.7 s per
training on the 2-core CI machine.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import EmbaugError

__all__ = ["TrainingFailed", "run_experiment_in_worker", "training_error", "unexpected_error", "LISTED_FAILED"]

_LOG = logging.getLogger(__name__)

_INPUTS, _JOB, _STDERR = "inputs.npz", "job.json", "stderr.txt"


class TrainingFailed(EmbaugError):
    """The training's process raised something other than an :class:`EmbaugError`, or was killed."""


def unexpected_error(store, details: str, kind: str) -> str:
    """What a failed training records and says for an error that is not embaug's own words: ``details`` for
    the machine owner's store; for a signed-in user's, only its ``kind``, since the details (a traceback,
    a file's name) may name the server's paths: they go to the server's log."""
    if store.user is None:
        return details
    _LOG.error("a training of %s failed: %s", store.user, details)
    return f"{kind} (the details are in the server's log)"


#: What a caller is told after a training was lost: where its failed run is, and what to do.
LISTED_FAILED = "It is listed as failed on the Runs page ('embaug runs list'); train again to retry."


def training_error(store, kind: str, text: str, is_embaug: bool) -> tuple[EmbaugError, str]:
    """What a training that raised raises to its caller, whichever runner ran it (this module's worker process,
    :mod:`~embaug_core.runs.ray_worker`'s Ray task), and the words its failed run records: an
    :class:`EmbaugError` keeps its words; anything else (``kind``: its type's name) is a :class:`TrainingFailed`
    that says only what :func:`unexpected_error` lets this store's user see."""
    if is_embaug:
        return EmbaugError(text), text
    said = unexpected_error(store, f"{kind}: {text}", kind)
    return TrainingFailed(f"training failed: {said}"), said


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return f"exit code {code}"
    try:
        return f"signal {-code}, {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"


def _write_job(folder: Path, dataset, config, name, always_train, none_examples, report_s, user) -> None:
    from .tables import write_dataset_npz

    extra = {"always_train": np.asarray(list(always_train), dtype=np.int64)}
    if none_examples is not None:
        extra["none_examples"] = np.asarray(none_examples, dtype=np.float32)
    write_dataset_npz(folder / _INPUTS, dataset, **extra)
    job = {"config": config.to_dict(), "name": name, "fingerprint": dataset.fingerprint, "report_s": report_s}
    job["user"] = user  # the store's user: the child's runs and stored table are theirs
    (folder / _JOB).write_text(json.dumps(job))


# long: one supervision loop, its outcomes spelled out in order
def run_experiment_in_worker(
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
):
    """Train ``config`` on ``dataset`` in a child process and save it in ``store``; see the module docstring.

    Parameters
    ----------
    dataset : EmbeddingSet (its embeddings, labels and ids go to the child; extra columns do not)
    config : ExperimentConfig
    store : RunStore the run is saved in (its user owns the run)
    name : the run's name
    always_train, none_examples : as in :func:`embaug_core.experiment.run.run_experiment`
    progress : callable(ExperimentProgress), called in this process after every epoch
    on_begin : callable(run_id), called once the child has recorded the running run
    report_s : how often the child writes its progress into ``run.json`` (seconds)

    Returns
    -------
    RunInfo of the saved run; :meth:`RunStore.load` reads its result.

    Raises
    ------
    EmbaugError : the training raised one (its message unchanged)
    TrainingFailed : the training raised anything else, or its process was killed; the run is
        recorded failed either way
    """
    from ..experiment.config import ExperimentProgress

    folder = Path(tempfile.mkdtemp(prefix="embaug-training-"))
    _write_job(folder, dataset, config, name, always_train, none_examples, report_s, store.user)
    with open(folder / _STDERR, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "embaug_core.runs.worker", str(folder), str(Path(store.root).resolve())],
            cwd=Path(__file__).resolve().parents[2],  # `-m` then imports this very embaug_core
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,  # a Ctrl-C meant for the caller does not reach the training
        )
    run_id = outcome = None
    try:
        for line in proc.stdout:  # ends when the child closes its stdout: it finished, or died
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "begin" in message:
                run_id = message["begin"]
                if on_begin is not None:
                    on_begin(run_id)
            elif "progress" in message and progress is not None:
                progress(ExperimentProgress(**message["progress"]))
            elif "done" in message or "error" in message:
                outcome = message
        code = proc.wait()
        stderr = (folder / _STDERR).read_text(errors="replace")[-2000:] if (folder / _STDERR).exists() else ""
    finally:  # also when a callback raised: the child has read its inputs by then, and trains on
        proc.stdout.close()  # its next message meets a closed pipe (ignored) instead of a full one (blocks)
        shutil.rmtree(folder, ignore_errors=True)
    if outcome is not None and "done" in outcome:
        return store.info(outcome["done"])
    if outcome is not None:
        raise training_error(store, *outcome["error"])[0]
    how = "killed" if code < 0 else "ended"
    error = f"the training process was {how} ({_signal_name(code)}) before the run was saved"
    if code >= 0 and stderr.strip():
        error += "; " + unexpected_error(store, f"its last output: {stderr.strip()[-500:]}", "its last output")
    if run_id is not None:
        try:
            if store.info(run_id).status == "running":
                store.fail(run_id, error)
        except (OSError, ValueError, EmbaugError):  # the record is being removed under us: leave it
            pass
    else:
        store.save_failed(name=name, error=error, config=config)
    raise TrainingFailed(f"{error}. {LISTED_FAILED}")


# long: the child's whole life, in order
def _main(folder: Path, store_root: str) -> int:
    from ..experiment.config import ExperimentConfig
    from ..experiment.run import run_experiment
    from .store import RunStore
    from .tables import read_dataset_npz

    out = os.fdopen(os.dup(1), "w", buffering=1)  # messages; anything printed goes to stderr instead
    os.dup2(2, 1)

    def send(message: dict) -> None:
        try:
            out.write(json.dumps(message) + "\n")
        except (BrokenPipeError, OSError):  # the parent is gone: train and save regardless
            pass

    job = json.loads((folder / _JOB).read_text())
    config = ExperimentConfig.from_dict(job["config"])
    dataset = read_dataset_npz(folder / _INPUTS)
    with np.load(folder / _INPUTS, allow_pickle=False) as z:
        always = [int(i) for i in z["always_train"]]
        none_examples = z["none_examples"] if "none_examples" in z.files else None
    store = RunStore(store_root, user=job.get("user"))
    running = store.begin(name=job["name"], config=config, source=dataset.source)
    send({"begin": running.id})
    last = [0.0]

    def progress(p) -> None:
        send({"progress": {k: getattr(p, k) for k in p.__dataclass_fields__}})
        now = time.monotonic()
        if now - last[0] >= job["report_s"]:
            last[0] = now
            try:
                store.report(running.id, p)
            except (OSError, EmbaugError):  # the record was removed meanwhile: progress is only shown
                pass

    try:
        if dataset.fingerprint != job["fingerprint"]:
            raise EmbaugError("the table handed to the training process changed on the way; train again.")
        result = run_experiment(
            dataset, config, progress=progress, keep_artifacts=True, always_train=always, none_examples=none_examples
        )
        saved = store.save(result, name=job["name"], dataset=dataset, replaces=running.id)
    except Exception as exc:  # recorded, then reported: the parent raises it again
        said = str(exc) if isinstance(exc, EmbaugError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, EmbaugError):
            import traceback

            traceback.print_exc()  # to the parent's log of this training
            said = unexpected_error(store, said, type(exc).__name__)
        store.fail(running.id, said)
        send({"error": [type(exc).__name__, str(exc), isinstance(exc, EmbaugError)]})
        return 1
    send({"done": saved.id})
    return 0


if __name__ == "__main__":
    sys.exit(_main(Path(sys.argv[1]), sys.argv[2]))
