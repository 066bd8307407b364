"""Runs: trainings kept on disk, the server-wide training queue, and trainings in worker processes.

* :mod:`~embaug_core.runs.store` — :class:`RunStore`: every run under ``$EMBAUG_HOME/runs``, written
  atomically, reopened without retraining, each user's own once people sign in;
* :mod:`~embaug_core.runs.tables` — the tables runs were trained on, kept once per content hash with their
  owners;
* :mod:`~embaug_core.runs.jobs` — :class:`WorkQueue` (slots shared by every session) and :class:`Job`
  (a training owned by the server, not by a page);
* :mod:`~embaug_core.runs.worker` — :func:`run_experiment_in_worker`: an experiment trained and saved in
  its own process;
* :mod:`~embaug_core.runs.ray_worker` — :func:`run_experiment_on_ray`: the same as one Ray task on a cluster.
"""

from .._lazy import attach

__all__, __getattr__, __dir__ = attach(
    __name__,
    {
        "RunStore": ".store",
        "RunInfo": ".store",
        "home": ".tables",
        "load_stored_dataset": ".tables",
        "read_dataset_npz": ".tables",
        "write_dataset_npz": ".tables",
        "WorkQueue": ".jobs",
        "Job": ".jobs",
        "default_slots": ".jobs",
        "run_experiment_in_worker": ".worker",
        "TrainingFailed": ".worker",
        "run_experiment_on_ray": ".ray_worker",
    },
)
