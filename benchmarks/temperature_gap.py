"""How far the auto recipe's temperature is from the one its final head would want (a diagnostic).

    python benchmarks/temperature_gap.py 20ng:10 trec:30 dbpedia:30

For each SET:PERCENT of the suite (benchmarks/suite.py, its cached sets, its `auto` stage's command and
splits: E-Stitchup, the default recipe, 3 trials), per trial:

* the ECE of the final head as shipped: divided by the temperature fitted on the validation split's
  head (all-class sigmoid NLL, "none" rows weighing ``AutoRecipe.none_share``);
* the ECE of the same head after a further temperature fitted on the *evaluation* rows themselves (the
  top-label NLL, confidence against "the top class is right", "none" rows never right), an oracle no user
  has: how much any temperature could still give;
* that further temperature, and the one the validation head would want on its own held-out rows by the
  same top-label fit. Equal, the gap is in the kind of fit; larger on the evaluation rows, in the switch
  from the validation head to the final one (what cross-fitting addresses).

A temperature moves neither AUROC nor none-AUROC (it keeps every row's top class and their order), so
ECE is the only figure here. Nothing is shipped from this; it says where a remedy would act.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def gap(name: str, pct: int) -> list[tuple[float, float, float, float]]:
    """(shipped ECE, oracle ECE, further T on the evaluation rows, further T on the validation rows) per trial."""
    import suite
    from scipy.special import logit

    from embaug_core.cli.common import load_data
    from embaug_core.cli.experiment import experiment_config
    from embaug_core.cli.parser import build_parser
    from embaug_core.evaluation.summary import evaluate
    from embaug_core.evaluation.temperature import apply_temperature, fit_temperature
    from embaug_core.experiment.run import run_experiment

    data = suite.build(name, verbose=False)
    cmd = suite.command(name, data, suite._n_classes(data), pct, "auto", Path("unused"))[3:]
    args = build_parser().parse_args(cmd)  # the suite's own `embaug experiment` command, without --out's files
    result = run_experiment(load_data(args), experiment_config(args), keep_artifacts=True)
    out = []
    for _, art in sorted(result.artifacts.items()):
        z, y = logit(np.clip(art.probs, 1e-7, 1 - 1e-7)), art.y_eval
        t_eval = fit_temperature(z, y, kind="top_label")
        t_val = fit_temperature(logit(np.clip(art.val_probs, 1e-7, 1 - 1e-7)), art.y_val, kind="top_label")
        shipped = evaluate(art.probs, y).calibration.ece
        oracle = evaluate(apply_temperature(z, t_eval), y).calibration.ece
        out.append((shipped, oracle, t_eval, t_val))
    return out


def main(argv: list[str]) -> int:
    for spec in argv:
        name, pct = spec.split(":")
        rows = np.array(gap(name, int(pct)))
        for t, r in enumerate(rows):
            print(
                f"{name} {pct} % trial {t}: ECE {r[0]:.3f}, oracle {r[1]:.3f}; "
                f"further T eval {r[2]:.2f}, val {r[3]:.2f}"
            )
        m = rows.mean(axis=0)
        print(f"{name} {pct} % mean: ECE {m[0]:.3f}, oracle {m[1]:.3f}; further T eval {m[2]:.2f}, val {m[3]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:] or ["20ng:10", "trec:30", "dbpedia:30"]))
