"""Off-domain "none": the bundled intents head, with the shipped StackOverflow titles as "none".

    python scripts/off_domain.py [--trials 5] [--train-fraction 0.3] [--method e_stitchup] [--out runs/off_domain.json]

Per trial (seed t): a stratified ``--train-fraction`` of the CLINC150 sample's rows trains the head
(fast preset); the threshold-validation split of those rows (70/30, 5 classes removed from the 70 %
part, trained as a validation head) chooses kNN's k and the fused weight, exactly as in
``embaug experiment``. The other CLINC rows are known items: a random half is the held-out set
heuristic 3 is computed on (and the known side of the "fused, 1,000 examples" variant), the other
half is tested. StackOverflow: 1,000 titles are the user's "none" examples for that variant
(``--none-examples``), the other 4,000 are the off-domain test rows. Every number below is on the
test rows: the known test half against the 4,000 titles.

Columns: none-AUROC; recall of the titles at a 5 % false-rejection rate (the threshold that rejects
5 % of the known test rows); and heuristic 3 (alpha 5 %, delta 10 %, from the held-out half): its
realised false-rejection rate on the known test half and the share of titles it catches.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _auroc(known, none) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.r_[np.zeros(len(known)), np.ones(len(none))], -np.r_[known, none]))


def trial(t: int, x, labels, so, args) -> dict:
    from embaug_core.data.splits import threshold_validation_split
    from embaug_core.evaluation.guarantee import guaranteed_threshold
    from embaug_core.evaluation.metrics import encode_labels, sigmoid
    from embaug_core.evaluation.score_validation import ScoreValidation
    from embaug_core.evaluation.scores import SCORE_NAMES, ScoreConfig
    from embaug_core.training.config import PRESETS, TrainConfig
    from embaug_core.training.trained_head import TrainedHead

    rng = np.random.default_rng(t)
    train = np.sort(
        np.concatenate(
            [
                rng.permutation(np.flatnonzero(labels == c))[: round(args.train_fraction * (labels == c).sum())]
                for c in np.unique(labels)
            ]
        )
    )
    rest = rng.permutation(np.setdiff1d(np.arange(len(x)), train))
    calib, test = rest[: len(rest) // 2], rest[len(rest) // 2 :]
    so_order = rng.permutation(len(so))
    examples, so_test = so[so_order[:1000]], so[so_order[1000:]]
    cfg = TrainConfig(method=args.method, alpha=0.4, epochs=PRESETS["fast"], seed=t)

    vs = threshold_validation_split(labels, train, val_fraction=0.3, n_removed_classes=5, seed=t)
    vhead = TrainedHead.train(x[vs.train_idx], labels[vs.train_idx], cfg)
    y_val = encode_labels(labels[vs.eval_idx], vhead.class_names)
    val_mp = 1.0 - sigmoid(vhead.predict_logits(x[vs.eval_idx])).max(1)
    known = y_val >= 0
    check = ScoreValidation(
        x[vs.train_idx], x[vs.eval_idx][known], val_mp[known], x[vs.eval_idx][~known], val_mp[~known]
    )
    head = TrainedHead.train(x[train], labels[train], cfg)
    head.fit_scores(x[train], encode_labels(labels[train], head.class_names), check=check, config=ScoreConfig(seed=t))
    with_examples = head.scores.refit_weight(head, x[calib], examples)

    out = {"k": head.scores.knn_k, "weight": head.scores.fused_weight, "weight_examples": with_examples.fused_weight}
    variants = [(name, head.scores, name) for name in SCORE_NAMES] + [("fused, 1,000 examples", with_examples, "fused")]
    for label, bank, name in variants:
        head.scores = bank
        c_cal, c_test, c_so = (head.confidence(r, name) for r in (x[calib], x[test], so_test))
        t5 = np.quantile(c_test, 0.05)  # rejects 5 % of the known test rows
        g = guaranteed_threshold(c_cal, 0.05, 0.1)
        out[label] = {
            "auroc": _auroc(c_test, c_so),
            "recall_at_5pct": float((c_so < t5).mean()),
            "guaranteed_false_rejection": float((c_test < g.threshold).mean()),
            "guaranteed_recall": float((c_so < g.threshold).mean()),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--train-fraction", type=float, default=0.3)
    ap.add_argument("--method", default="e_stitchup")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "off_domain.json")
    args = ap.parse_args()
    from embaug_core.data.table import load_embeddings

    clinc = load_embeddings(ROOT / "sample_data" / "clinc150_minilm.npz", label_col="intent", id_col="id")
    so = load_embeddings(ROOT / "sample_data" / "stackoverflow_minilm.npz", label_col="topic", id_col="id")
    labels = np.asarray(clinc.labels, dtype=object)
    t0 = time.perf_counter()
    trials = [trial(t, clinc.embeddings, labels, so.embeddings, args) for t in range(args.trials)]
    seconds = time.perf_counter() - t0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"trials": trials, "seconds": seconds, "args": vars(args)}, indent=2, default=str))
    names = [k for k in trials[0] if isinstance(trials[0][k], dict)]
    print(f"{args.trials} trials, {args.method}, {args.train_fraction:.0%} of the intents' rows train, {seconds:.0f} s")
    print("| score | none-AUROC | recall at 5 % FR | heuristic 3: realised FR | heuristic 3: recall |")
    print("|---|---|---|---|---|")
    for n in names:
        cells = [
            f"{np.mean([tr[n][k] for tr in trials]):.3f} ({np.std([tr[n][k] for tr in trials], ddof=1):.3f})"
            for k in ("auroc", "recall_at_5pct", "guaranteed_false_rejection", "guaranteed_recall")
        ]
        print(f"| {n} | " + " | ".join(cells) + " |")
    print(
        f"k chosen: {[tr['k'] for tr in trials]}; fused weight (removed classes): {[tr['weight'] for tr in trials]}; "
        f"with 1,000 examples: {[tr['weight_examples'] for tr in trials]}"
    )


if __name__ == "__main__":
    main()
