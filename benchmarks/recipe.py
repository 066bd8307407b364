"""The "auto" recipe against the fixed presets, on the same splits: every quality and time target of
issue 12, printed from one set of experiments.

    python benchmarks/recipe.py --run                 # the 12 experiments, then the verdicts (~2 h on 2 cores)
    python benchmarks/recipe.py --dir runs/recipe     # the verdicts of experiments already run
    python benchmarks/recipe.py --run --time          # also the wall-time runs (~15 min on 2 cores)

Experiments (``embaug experiment``, 5 trials each, the same seeds, hence the same splits, for every
preset): the bundled sample (CLINC150 intents, 15 intents held out) and the shipped StackOverflow
titles (5 topics held out), with 10 % and 30 % of the known rows training. At 10 % the paper's six
methods run with the three peers; at 30 % control and E-Stitchup with LogReg + TS. Each preset
writes ``DIR/<set><pct>_<preset>/results.json``. The auto method (the best head, ``--methods auto``)
runs on the same 10 % splits with LogReg and LogReg + TS in ``DIR/<set>10_method``. ``--run`` skips
experiments whose results exist.

Targets (E-Stitchup, the new default against the better of fast and paper on each set and split):
weighted AUROC within 0.002, ECE no worse, confidence-accuracy correlation >= 0.98, wall time
<= 1/8 of paper's. The wall-time ratio is taken from ``--time`` runs where they exist: E-Stitchup
alone, one trial, every preset on the same split, run one after another on an otherwise idle
machine (``DIR/time/<set><pct>_<preset>``); else from the whole experiments, which also train the
other methods (and "auto", the extra method, in the auto run) and may have shared the machine. The auto method: its head
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


def command(name: str, pct: int, preset: str, out: Path, timing: bool = False) -> list[str]:
    data, label, unseen = SETS[name]
    methods = {10: PAPER_SIX, 30: "control,e_stitchup", 0: "auto"}[pct]
    fraction = pct or 10
    if timing:
        return [
            "embaug", "experiment", str(ROOT / data), "--label-col", label, "--id-col", "id", "--preset", preset,
            "--methods", "e_stitchup", "--baselines", "none", "--trials", "1", "--unseen-classes", str(unseen),
            "--train-fraction", str(fraction / 100), "--out", str(out),
        ]  # fmt: skip
    cmd = [
        "embaug", "experiment", str(ROOT / data), "--label-col", label, "--id-col", "id", "--preset", preset,
        "--methods", methods, "--trials", "5", "--unseen-classes", str(unseen), "--train-fraction", str(fraction / 100),
        "--out", str(out),
    ]  # fmt: skip
    return cmd + {10: [], 30: ["--baselines", "logreg_ts"], 0: ["--baselines", "logreg,logreg_ts"]}[pct]


def run_all(directory: Path, timing: bool = False) -> None:
    for name in SETS:
        for pct in (10, 30):
            for preset in PRESETS:
                out = directory / ("time" if timing else "") / f"{name}{pct}_{preset}"
                if (out / "results.json").exists():
                    continue
                cmd = command(name, pct, preset, out, timing)
                print("running", " ".join(cmd), flush=True)
                subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
        out = directory / f"{name}10_method"
        if not timing and not (out / "results.json").exists():
            cmd = command(name, 0, "auto", out)
            print("running", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)


def summary(result, method: str) -> dict:
    """Mean over trials of one entry's AUROC, ECE, correlation, none-AUROC (1 - max p)."""
    rows = [r for r in result.records if r.method == method]
    if not rows:
        return {}

    def mean(values):
        values = [v for v in values if v is not None and not np.isnan(v)]
        return float(np.mean(values)) if values else float("nan")

    return {
        "auroc": mean(r.auroc for r in rows),
        "ece": mean(r.calibration.ece for r in rows),
        "corr": mean(r.calibration.correlation for r in rows),
        "none_auroc": mean(r.none_scores["max_prob"].auroc for r in rows if "max_prob" in r.none_scores),
        "trials": len(rows),
    }


def verdicts(directory: Path) -> list[str]:
    from embaug_core.experiment.results import ExperimentResult

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
            timed = {p: directory / "time" / f"{name}{pct}_{p}" / "results.json" for p in PRESETS}
            alone = all(path.exists() for path in timed.values())
            walls = {p: ExperimentResult.load(timed[p] if alone else paths[p]).wall_seconds for p in PRESETS}
            ratio = walls["auto"] / walls["paper"]
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
                    + (f"  E-Stitchup alone, 1 trial {walls[p]:6.1f} s" if alone else "")
                )
            d_auroc, d_ece = s["auto"]["auroc"] - best_auroc, s["auto"]["ece"] - best_ece
            lines.append(
                f"  auto - better preset: AUROC {d_auroc:+.4f}, ECE {d_ece:+.3f}; wall auto / paper = 1/{1 / ratio:.1f}"
            )
            lines.append("  " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in checks.items()))
            method = directory / f"{name}10_method" / "results.json"
            if pct == 10 and method.exists():
                lines += auto_method(ExperimentResult.load(method))
    lines.append(f"targets met: {sum(met)} of {len(met)}")
    return lines


def auto_method(result) -> list[str]:
    """The auto method's head against LogReg + TS (the target) and plain LogReg, same splits."""
    a = summary(result, "auto")
    per_trial = result.wall_seconds / max(1, a["trials"])
    lines = [f"  auto method ({a['trials']} trials, {per_trial:.0f} s a trial with its two peers):"]
    for peer, title in (("logreg_ts", "LogReg + TS"), ("logreg", "LogReg")):
        b = summary(result, peer)
        lines.append(
            f"    vs {title}: ECE {a['ece']:.3f} vs {b['ece']:.3f} ({'better' if a['ece'] < b['ece'] else 'WORSE'}), "
            f"none-AUROC {a['none_auroc']:.3f} vs {b['none_auroc']:.3f} "
            f"({'better' if a['none_auroc'] > b['none_auroc'] else 'WORSE'}), "
            f"AUROC {a['auroc']:.4f} vs {b['auroc']:.4f}"
        )
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", type=Path, default=ROOT / "runs" / "recipe")
    p.add_argument("--run", action="store_true", help="run the experiments that are missing first")
    p.add_argument("--time", action="store_true", help="with --run: also the wall-time runs (E-Stitchup, 1 trial)")
    args = p.parse_args()
    if args.run:
        run_all(args.dir)
        if args.time:
            run_all(args.dir, timing=True)
    print("\n".join(verdicts(args.dir)))


if __name__ == "__main__":
    main()
