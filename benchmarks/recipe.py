"""The "auto" recipe against the fixed presets, on the same splits: every quality and time target of
issue 12, printed from one set of experiments.

    python benchmarks/recipe.py --run                 # the 12 experiments, then the verdicts (~2 h on 2 cores)
    python benchmarks/recipe.py --dir runs/recipe     # the verdicts of experiments already run

Experiments (``embaug experiment``, 5 trials each, the same seeds, hence the same splits, for every
preset): the bundled sample (CLINC150 intents, 15 intents held out) and the shipped StackOverflow
titles (5 topics held out), with 10 % and 30 % of the known rows training. At 10 % the paper's six
methods run with the three peers (and "auto", the best head, in the auto run); at 30 % control and
E-Stitchup with LogReg + TS. Each preset writes ``DIR/<set><pct>_<preset>/results.json``;
``--run`` skips experiments whose results exist.

Targets (E-Stitchup, the new default against the better of fast and paper on each set and split):
weighted AUROC within 0.002, ECE no worse, confidence-accuracy correlation >= 0.98, wall time
<= 1/8 of paper's (the whole experiment, the same methods and splits). The auto method: its head
against LogReg + TS on ECE and none-AUROC (1 - max probability), on the same splits.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETS = {
    "clinc": ("sample_data/clinc150_minilm.npz", "intent", 15),
    "so": ("sample_data/stackoverflow_minilm.npz", "topic", 5),
}
PAPER_SIX = "control,soft_control,e_mixup,e_stitchup,soft_e_mixup,soft_e_stitchup"
PRESETS = ("fast", "paper", "auto")


def command(name: str, pct: int, preset: str, out: Path) -> list[str]:
    data, label, unseen = SETS[name]
    methods = PAPER_SIX + (",auto" if preset == "auto" else "") if pct == 10 else "control,e_stitchup"
    cmd = [
        "embaug", "experiment", str(ROOT / data), "--label-col", label, "--id-col", "id", "--preset", preset,
        "--methods", methods, "--trials", "5", "--unseen-classes", str(unseen), "--train-fraction", str(pct / 100),
        "--out", str(out),
    ]  # fmt: skip
    return cmd + (["--baselines", "logreg_ts"] if pct == 30 else [])


def run_all(directory: Path) -> None:
    for name in SETS:
        for pct in (10, 30):
            for preset in PRESETS:
                out = directory / f"{name}{pct}_{preset}"
                if (out / "results.json").exists():
                    continue
                print("running", " ".join(command(name, pct, preset, out)), flush=True)
                subprocess.run(command(name, pct, preset, out), check=True, stderr=subprocess.DEVNULL)


def summary(result, method: str) -> dict:
    """Mean over trials of one entry's AUROC, ECE, correlation, none-AUROC (1 - max p)."""
    rows = [r for r in result.records if r.method == method]
    if not rows:
        return {}

    def mean(values):
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else float("nan")

    return {
        "auroc": mean(r.auroc for r in rows),
        "ece": mean(r.calibration["ece"] for r in rows),
        "corr": mean(r.calibration["confidence_accuracy_correlation"] for r in rows),
        "none_auroc": mean((r.none_scores.get("max_prob") or {}).get("auroc") for r in rows),
        "trials": len(rows),
    }


def verdicts(directory: Path) -> list[str]:
    from embaug_core.results import ExperimentResult

    lines, met = [], []
    for name in SETS:
        for pct in (10, 30):
            paths = {p: directory / f"{name}{pct}_{p}" / "results.json" for p in PRESETS}
            if not all(path.exists() for path in paths.values()):
                lines.append(f"{name} {pct} %: missing {[p for p, path in paths.items() if not path.exists()]}")
                continue
            results = {p: ExperimentResult.load(path) for p, path in paths.items()}
            s = {p: summary(r, "e_stitchup") for p, r in results.items()}
            best_auroc = max(s["fast"]["auroc"], s["paper"]["auroc"])
            best_ece = min(s["fast"]["ece"], s["paper"]["ece"])
            ratio = results["auto"].wall_seconds / results["paper"].wall_seconds
            checks = {
                "AUROC within 0.002": s["auto"]["auroc"] >= best_auroc - 0.002,
                "ECE no worse": s["auto"]["ece"] <= best_ece,
                "corr >= 0.98": s["auto"]["corr"] >= 0.98,
                "wall <= 1/8 paper": ratio <= 1 / 8,
            }
            met += list(checks.values())
            lines.append(f"{name} {pct} % (E-Stitchup, mean of {s['auto']['trials']} trials):")
            for p in PRESETS:
                lines.append(
                    f"  {p:<6} AUROC {s[p]['auroc']:.4f}  ECE {s[p]['ece']:.3f}  corr {s[p]['corr']:.3f}  "
                    f"none-AUROC {s[p]['none_auroc']:.3f}  wall {results[p].wall_seconds:7.1f} s"
                )
            d_auroc, d_ece = s["auto"]["auroc"] - best_auroc, s["auto"]["ece"] - best_ece
            lines.append(
                f"  auto - better preset: AUROC {d_auroc:+.4f}, ECE {d_ece:+.3f}; wall auto / paper = 1/{1 / ratio:.1f}"
            )
            lines.append("  " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in checks.items()))
            auto = results["auto"]
            if any(r.method == "auto" for r in auto.records):
                a, lr = summary(auto, "auto"), summary(auto, "logreg_ts")
                lines.append(
                    f"  auto method vs LogReg + TS: ECE {a['ece']:.3f} vs {lr['ece']:.3f} "
                    f"({'better' if a['ece'] < lr['ece'] else 'WORSE'}), none-AUROC {a['none_auroc']:.3f} vs "
                    f"{lr['none_auroc']:.3f} ({'better' if a['none_auroc'] > lr['none_auroc'] else 'WORSE'}), "
                    f"AUROC {a['auroc']:.4f} vs {lr['auroc']:.4f}"
                )
    lines.append(f"targets met: {sum(met)} of {len(met)}")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", type=Path, default=ROOT / "runs" / "recipe")
    p.add_argument("--run", action="store_true", help="run the experiments that are missing first")
    args = p.parse_args()
    if args.run:
        run_all(args.dir)
    print("\n".join(verdicts(args.dir)))


if __name__ == "__main__":
    main()
