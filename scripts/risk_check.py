"""Heuristic 4 on real data: does the error among answered items stay under eps in 1 - delta of the draws?

A head is trained as a user would (``embaug train``'s default, the auto preset) on 30 % of the known rows of
a shipped set, with a quarter of its classes unseen. Its evaluation rows (the other known rows, and every row
of the unseen classes as "none") are halved at random 300 times: heuristic 4 is computed on one half
(:func:`~embaug_core.evaluation.risk_control.split_risk_check`) and the realised error among answered is
measured on the other. For every none score it prints how often that error exceeded eps (the guarantee allows
delta of the draws), the mean coverage of the test half, and the coverage of an oracle: the lowest threshold
whose error among answered on the *test* half itself is <= eps (what a user cannot know).

    python scripts/risk_check.py                         # the bundled intents, eps 0.1, delta 0.1: ~2 min
    python scripts/risk_check.py --data stackoverflow --eps 0.2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = {
    "sample": (ROOT / "sample_data" / "clinc150_minilm.npz", "intent"),
    "stackoverflow": (ROOT / "sample_data" / "stackoverflow_minilm.npz", "topic"),
}


def oracle_coverage(conf: np.ndarray, correct: np.ndarray, eps: float) -> float:
    """The largest share answered by any threshold whose error among the answered rows is <= eps."""
    order = np.argsort(-conf, kind="stable")
    c, wrong = conf[order], np.cumsum(~correct[order])
    k = np.arange(1, len(c) + 1)
    ok = wrong / k <= eps
    last_of_tie = np.r_[c[1:] != c[:-1], True]  # a threshold answers a whole tie group or none of it
    ok &= last_of_tie
    return float(k[ok].max() / len(c)) if ok.any() else 0.0


def main(argv=None) -> int:
    from embaug_core.data.splits import trial_split
    from embaug_core.evaluation.risk_control import halves, split_risk_check
    from embaug_core.evaluation.scores import SCORE_NAMES
    from embaug_core.training.config import TrainConfig
    from embaug_core.training.trained_head import TrainedHead

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=sorted(DATA), default="sample")
    p.add_argument("--eps", type=float, default=0.1, help="the maximum error rate among answered items")
    p.add_argument("--delta", type=float, default=0.1, help="1 - the confidence level")
    p.add_argument("--draws", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    path, label_key = DATA[args.data]
    with np.load(path, allow_pickle=True) as z:
        x, labels = np.asarray(z["embeddings"], dtype=np.float32), np.asarray(z[label_key]).astype(str)
    n_classes = len(set(labels))
    split = trial_split(labels, train_fraction=0.3, unseen_classes=max(1, n_classes // 4), seed=args.seed)
    t0 = time.perf_counter()
    head = TrainedHead.train(x[split.train_idx], labels[split.train_idx], TrainConfig.preset("auto", seed=args.seed))
    ev, ev_labels = x[split.eval_idx], labels[split.eval_idx]
    known = np.isin(ev_labels, head.class_names)
    top = np.asarray(head.class_names, dtype=object)[head.predict_proba(ev).argmax(1)]
    correct = known & (top == ev_labels)
    print(
        f"{args.data}: head trained on {len(split.train_idx)} rows in {time.perf_counter() - t0:.0f} s; "
        f"{len(ev)} evaluation rows ({int(known.sum())} known, {int((~known).sum())} none); eps {args.eps}, "
        f"delta {args.delta}, {args.draws} random halvings",
        flush=True,
    )
    print("| score | draws with error > eps | allowed | mean error (test half) | coverage | oracle coverage |")
    print("|---|---|---|---|---|---|")
    for score in SCORE_NAMES:
        conf = head.confidence(ev, score)
        fails, errors, coverage, oracle = 0, [], [], []
        for draw in range(args.draws):
            r, realised, cov = split_risk_check(conf, correct, known, args.eps, args.delta, seed=draw)
            test = halves(known, draw)[1]  # the half split_risk_check tested on
            oracle.append(oracle_coverage(conf[test], correct[test], args.eps))
            if r.holds and realised == realised:
                errors.append(realised)
                fails += realised > args.eps
            coverage.append(cov)
        print(
            f"| {score} | {fails} ({fails / args.draws:.1%}) | {args.delta:.0%} | "
            f"{np.mean(errors) if errors else float('nan'):.3f} | {np.mean(coverage):.3f} | {np.mean(oracle):.3f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
