"""Evaluation: what a set of predictions is worth, and where to put the threshold.

* :mod:`~embaug_core.evaluation.metrics` — one binning engine behind ECE, MCE, the reliability diagram,
  the histogram and the confidence–accuracy correlation; AUROC / AUPR; Brier; NLL;
* :mod:`~embaug_core.evaluation.thresholds` — the accept rule (:func:`route`, the only place it is
  written), threshold sweeps and heuristics 1 and 2;
* :mod:`~embaug_core.evaluation.summary` — :func:`evaluate`: everything about one set of predictions;
* :mod:`~embaug_core.evaluation.detection` — scores higher for "none" and how well they detect it;
* :mod:`~embaug_core.evaluation.scores` — the none-score family fitted and saved with a head;
* :mod:`~embaug_core.evaluation.temperature` — post-hoc temperature scaling;
* :mod:`~embaug_core.evaluation.guarantee` — heuristic 3, a threshold with a guaranteed false-rejection rate;
* :mod:`~embaug_core.evaluation.risk_control` — heuristic 4, a threshold with a guaranteed error rate among the
  answered items (Learn-then-Test, with MAPIE);
* :mod:`~embaug_core.evaluation.live_check` — is a new, unlabelled batch like a threshold's calibration rows?
* :mod:`~embaug_core.evaluation.selective` — risk–coverage, AURC, E-AURC;
* :mod:`~embaug_core.evaluation.threshold_file` — the versioned threshold JSON and its validating loader.

Nothing here trains: every function takes probabilities, logits or confidences.
"""

from .._lazy import attach

__all__, __getattr__, __dir__ = attach(
    __name__,
    {
        "NONE": ".metrics",
        "encode_labels": ".metrics",
        "sigmoid": ".metrics",
        "Bins": ".metrics",
        "bin_confidences": ".metrics",
        "CalibrationSummary": ".metrics",
        "calibration_summary": ".metrics",
        "auroc_aupr": ".metrics",
        "NONE_ANSWER": ".thresholds",
        "is_accepted": ".thresholds",
        "route": ".thresholds",
        "ThresholdSweep": ".thresholds",
        "OperatingPoint": ".thresholds",
        "HeuristicResult": ".thresholds",
        "HEURISTICS": ".thresholds",
        "Evaluation": ".summary",
        "evaluate": ".summary",
        "none_score_report": ".summary",
        "none_detection": ".detection",
        "SCORE_NAMES": ".scores",
        "SCORE_TITLES": ".scores",
        "ScoreBank": ".scores",
        "ScoreConfig": ".scores",
        "fit_temperature": ".temperature",
        "apply_temperature": ".temperature",
        "GuaranteedThreshold": ".guarantee",
        "guaranteed_threshold": ".guarantee",
        "split_check": ".guarantee",
        "RiskControlledThreshold": ".risk_control",
        "risk_controlled_threshold": ".risk_control",
        "split_risk_check": ".risk_control",
        "CalibrationRecord": ".live_check",
        "ShiftCheck": ".live_check",
        "check_batch": ".live_check",
        "RiskCoverage": ".selective",
        "risk_coverage": ".selective",
        "ThresholdDocument": ".threshold_file",
        "load_threshold": ".threshold_file",
    },
)
