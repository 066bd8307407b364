"""The benchmark and results scripts read experiments the way the library writes them: a smoke test on
the golden experiment (tests/golden/), so that a change of the records cannot break a run of hours at
its last step."""

import json
import sys
from pathlib import Path

import numpy as np

from embaug_core.experiment.results import ExperimentResult

ROOT = Path(__file__).resolve().parent.parent


def test_the_recipe_benchmark_summarises_typed_records():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import recipe
    finally:
        sys.path.pop(0)
    result = ExperimentResult.from_dict(json.loads((ROOT / "tests" / "golden" / "experiment_results.json").read_text()))
    for method in ("auto", "e_stitchup", "logreg"):
        s = recipe.summary(result, method)
        assert s["trials"] == 1 and all(np.isfinite(s[k]) for k in ("auroc", "ece", "corr", "none_auroc"))
        record = result.by_method(method)[0]
        assert s["ece"] == record.calibration.ece and s["none_auroc"] == record.none_scores["max_prob"].auroc
