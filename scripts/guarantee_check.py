"""Heuristic 3 on real data, over many draws of the held-out rows.

    python scripts/guarantee_check.py [--draws 400] [--alpha 0.05] [--confidence-level 0.9]

One head (control, fast preset) trains on 10 % of the bundled CLINC150 sample's rows (seed 0); its
evaluation rows are the known items. Each draw splits them at random in two halves: heuristic 3 is
computed on one (``split_check``), the share of the other half it rejects is compared with alpha.
The guarantee says: violations in at most delta of the draws, for the long-run form about the
population and for the batch form about the other half itself. Prints both, for every score.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--confidence-level", type=float, default=0.9)
    args = ap.parse_args()
    from embaug_core.data.table import load_embeddings
    from embaug_core.evaluation.guarantee import split_check
    from embaug_core.evaluation.scores import SCORE_NAMES
    from embaug_core.training.config import PRESETS, TrainConfig
    from embaug_core.training.trained_head import TrainedHead

    t0 = time.perf_counter()
    ds = load_embeddings(ROOT / "sample_data" / "clinc150_minilm.npz", label_col="intent", id_col="id")
    rng = np.random.default_rng(0)
    train = rng.random(ds.n_samples) < 0.1
    head = TrainedHead.train(ds.embeddings[train], ds.labels[train], TrainConfig(epochs=PRESETS["fast"], seed=0))
    x = ds.embeddings[~train]
    known = np.ones(len(x), dtype=bool)
    delta = 1 - args.confidence_level
    print(f"{args.draws} draws, {len(x)} known rows split in halves, alpha {args.alpha}, delta {delta:.2f}")
    print("| score | violations, long-run form | violations, batch form | mean realised rate (batch) |")
    print("|---|---|---|---|")
    for name in SCORE_NAMES:
        conf = head.confidence(x, name)
        long_run, batch, rates = 0, 0, []
        for d in range(args.draws):
            _, realised = split_check(conf, known, args.alpha, delta, seed=d)
            long_run += realised > args.alpha
            _, realised = split_check(conf, known, args.alpha, delta, seed=d, batch=True)
            batch += realised > args.alpha
            rates.append(realised)
        print(
            f"| {name} | {long_run} ({long_run / args.draws:.1%}) | {batch} ({batch / args.draws:.1%}) | "
            f"{np.mean(rates):.4f} |"
        )
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
