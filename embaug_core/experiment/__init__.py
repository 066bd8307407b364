"""Experiment: the paper's protocol over trials, its results, tables and report.

* :mod:`~embaug_core.experiment.config` — :class:`ExperimentConfig`, the peers, progress reports;
* :mod:`~embaug_core.experiment.trial` — one trial as data: its splits, candidates and progress;
* :mod:`~embaug_core.experiment.heads` — the validation grid, each method's choice, the final heads;
* :mod:`~embaug_core.experiment.peers` — the baselines on the same splits;
* :mod:`~embaug_core.experiment.trial_scores` — a trial's none scores, Table 3 per score, heuristic 3's check;
* :mod:`~embaug_core.experiment.protocol` — one trial from splits to records;
* :mod:`~embaug_core.experiment.run` — :func:`run_experiment`: trials here or on Ray;
* :mod:`~embaug_core.experiment.records` — what one method gave in one trial, as typed records;
* :mod:`~embaug_core.experiment.results` — all records of an experiment and the paper's tables;
* :mod:`~embaug_core.experiment.markdown`, :mod:`~embaug_core.experiment.report`,
  :mod:`~embaug_core.experiment.display`, :mod:`~embaug_core.experiment.explain` — the tables as
  Markdown, the HTML report, numbers for people, and why the auto method chose its head.
"""

from .._lazy import attach

__all__, __getattr__, __dir__ = attach(
    __name__,
    {
        "ExperimentConfig": ".config",
        "ExperimentProgress": ".config",
        "BASELINES": ".config",
        "AUTO_METHOD": ".config",
        "entry_title": ".config",
        "run_experiment": ".run",
        "ExperimentResult": ".results",
        "TrialArtifacts": ".results",
        "MethodTrial": ".records",
        "CURVE_GRID": ".records",
        "format_markdown": ".markdown",
        "build_report": ".report",
        "write_report": ".report",
        "fmt": ".display",
        "for_display": ".display",
    },
)
