"""Runs: trainings kept on disk, the server-wide training queue, and trainings in worker processes.

* :mod:`~embaug_core.runs.store` — :class:`RunStore`: every run under ``$EMBAUG_HOME/runs``, written
  atomically, reopened without retraining;
* :mod:`~embaug_core.runs.jobs` — :class:`WorkQueue` (slots shared by every session) and :class:`Job`
  (a training owned by the server, not by a page);
* :mod:`~embaug_core.runs.worker` — :func:`run_experiment_in_worker`: an experiment trained and saved in
  its own process.
"""

from .._lazy import attach

__all__, __getattr__, __dir__ = attach(
    __name__,
    {
        "RunStore": ".store",
        "RunInfo": ".store",
        "home": ".store",
        "load_stored_dataset": ".store",
        "read_dataset_npz": ".store",
        "write_dataset_npz": ".store",
        "WorkQueue": ".jobs",
        "Job": ".jobs",
        "default_slots": ".jobs",
        "run_experiment_in_worker": ".worker",
        "TrainingFailed": ".worker",
    },
)
