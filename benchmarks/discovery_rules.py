"""How the grouping of the "none" pool chooses its number of groups, against other ways of choosing it.

    python benchmarks/discovery_rules.py                       # every set of benchmarks/discovery.py
    python benchmarks/discovery_rules.py --sets 20ng,dbpedia   # some of them

The pools are the ones ``benchmarks/discovery.py`` groups (its "unseen" part: the unseen classes' evaluation
rows that heuristic 2's threshold routes to "none", 3 trials per set, the control head, ``fast`` preset).
Every rule sees the same silhouette curve (:func:`embaug_core.discovery.grouping.cut_curve`: the cuts of
one Ward tree, 2 to ``sample / 20`` groups) and only chooses a different cut; the placement that follows
is the same (:func:`~embaug_core.discovery.grouping.place`). The rules:

* ``highest`` (the shipped rule): the cut with the highest silhouette;
* ``within D``: the fewest groups whose silhouette is within D of the highest;
* ``first peak W``: the first cut with a positive silhouette that is the highest of its W neighbours on
  each side (a local maximum; the last W cuts, which lack neighbours after them, are not peaks), else the
  highest.

Two variants change the curve itself, not only the choice on it (added 2026-12-07, after the rules above
left 20NG with about 90 groups for its 5 classes):

* ``centred``: the pool's mean (of its unit rows) is removed before rows are scaled to unit length, as
  anisotropic sentence embeddings share one direction that cosine similarity otherwise counts; then the
  highest silhouette;
* ``null-corrected``: the cut whose silhouette most exceeds that of the same number of groups on a null
  pool (each coordinate permuted across the rows on its own: the same values, no groups), in the spirit
  of the gap statistic: a silhouette that rises only because groups shrink rises on the null pool too.

One more rule, added 2026-12-08, weighs each cut's stability under subsampling (Ben-Hur et al. 2002): the
Ward tree is built again on ``B`` seeded subsamples of 80 % of the sample's rows, and a cut's stability is the
mean adjusted Rand index between it and the subsample tree's cut into as many groups, on the subsample's rows.
A group structure that is only the silhouette's slow rise as groups shrink splits differently every time:

* ``stable F (B)``: the highest silhouette among the cuts whose stability is at least F, else the highest.

Prints, per rule, each set's mean NMI / one-action accuracy / groups found, their means over the sets,
and on how many sets each of issue 27's two targets on these rows is met (NMI >= 0.85, one-action
accuracy >= 0.85). BANKING77, HWU64 and Fashion-MNIST are never used here.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import discovery  # noqa: E402  (the sets, the experiment and the pools of benchmarks/discovery.py)

from embaug_core.discovery import MIN_POOL_ROWS, grouping_scores, none_pool  # noqa: E402
from embaug_core.discovery.grouping import cut_curve, highest, place, unit_rows  # noqa: E402
from embaug_core.evaluation.metrics import NONE  # noqa: E402

TARGET = 0.85


def within(d: float) -> Callable:
    def rule(curve) -> int:
        top = max(s for _, s in curve)
        return min(k for k, s in curve if s >= top - d)

    return rule


def first_peak(w: int) -> Callable:
    def rule(curve) -> int:
        s = np.array([v for _, v in curve])
        for i in range(len(s) - w):  # a peak needs w cuts after it
            if s[i] > 0 and s[i] >= s[max(0, i - w) : i + w + 1].max():
                return curve[i][0]
        return highest(curve)

    return rule


RULES = {
    "highest (shipped)": highest,
    "within 0.005": within(0.005),
    "within 0.01": within(0.01),
    "within 0.02": within(0.02),
    "first peak 3": first_peak(3),
    "first peak 5": first_peak(5),
}


def stability(z: np.ndarray, curve, seed: int, subsamples: int) -> dict:
    """{groups: stability} of every cut of ``curve`` (a :func:`cut_curve` of unit rows ``z``): the mean adjusted Rand
    index between the cut and the cut into as many groups of a Ward tree built on a seeded subsample of 80 % of
    the sample's rows, on those rows, over ``subsamples`` subsamples."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(seed + 1)
    rows = z[curve.sample]
    out = {k: [] for k in curve.cuts}
    for _ in range(subsamples):
        sub = np.sort(rng.choice(len(rows), int(0.8 * len(rows)), replace=False))
        tree = linkage(rows[sub], method="ward")
        for k, cut in curve.cuts.items():
            out[k].append(adjusted_rand_score(cut[sub], fcluster(tree, k, criterion="maxclust")))
    return {k: float(np.mean(v)) for k, v in out.items()}


def stable(curve, stab: dict, floor: float) -> int:
    """The cut of ``curve`` with the highest silhouette among those whose stability is at least ``floor``, else
    the highest."""
    kept = [c for c in curve if stab[c[0]] >= floor]
    return highest(kept) if kept else highest(curve)


STABLE = {"stable 0.5 (3)": (0.5, 3), "stable 0.6 (3)": (0.6, 3), "stable 0.6 (5)": (0.6, 5)}


def centred_rows(x) -> np.ndarray:
    """Unit rows of ``x`` (n, D) less their mean, scaled to unit length again."""
    z = unit_rows(x)
    return unit_rows(z - z.mean(axis=0))


def null_rows(z: np.ndarray, seed: int) -> np.ndarray:
    """The null pool of ``z`` (n, D): each column permuted on its own (seeded), rows scaled to unit length."""
    rng = np.random.default_rng(seed)
    return unit_rows(np.stack([rng.permutation(column) for column in z.T], axis=1))


def null_corrected(curve, null_curve) -> int:
    """The cut of ``curve`` whose silhouette most exceeds the null curve's at the same number of groups (a
    number the null curve lacks counts as 0); the first of equal ones."""
    null = dict(null_curve)
    return max(curve, key=lambda c: c[1] - null.get(c[0], 0.0))[0]


def variants(z, curve, seed: int) -> dict:
    """name -> (rows, cut curve, chosen number of groups) of the variants that change the curve, on the unit
    rows ``z`` whose :func:`~embaug_core.discovery.grouping.cut_curve` is ``curve`` (the shipped rule's)."""
    c = centred_rows(z)
    centred, null = cut_curve(c, seed=seed), cut_curve(null_rows(z, seed), seed=seed)
    return {
        "centred": (c, centred, highest(centred.curve)),
        "null-corrected": (z, curve, null_corrected(curve.curve, null.curve)),
    }


def pools(name: str) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(embeddings, true classes, seed) of each trial's unseen pool, as the experiment groups it."""
    ds, config, result = discovery.trained(name)
    out = []
    for record in result.records:
        art = result.artifacts[(record.method, record.trial)]
        # the refused unseen rows in the order the experiment groups them (least confident first,
        # embaug_core.experiment.protocol.pool_grouping): a pool over 2,000 rows is sampled by position
        unseen = art.y_eval == NONE
        pool = none_pool(art.probs.max(1)[unseen], threshold=record.thresholds["ratio"].threshold)
        unseen = art.eval_idx[unseen][pool]
        truth = ds.labels[unseen].astype(str)
        if len(unseen) >= MIN_POOL_ROWS and len(np.unique(truth)) >= 2:
            out.append((ds.embeddings[unseen], truth, config.seed + record.trial))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sets", default=",".join(discovery.SETS), help="comma-separated, of " + ", ".join(discovery.SETS)
    )
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    sets = [n.strip() for n in args.sets.split(",") if n.strip()]
    unknown = sorted(set(sets) - set(discovery.SETS))
    if unknown:
        parser.error(f"--sets: {', '.join(unknown)} not among {', '.join(discovery.SETS)}")
    scores = {rule: {} for rule in [*RULES, "centred", "null-corrected", *STABLE]}  # {set: [(nmi, one-action, groups)]}

    def score(rule, name, truth, g) -> None:
        s = grouping_scores(truth, g.labels, ungrouped=-1)
        scores[rule].setdefault(name, []).append((s.nmi, s.one_action_accuracy, g.n_groups))

    for name in sets:
        for x, truth, seed in pools(name):
            z = unit_rows(x)
            curve = cut_curve(z, seed=seed)
            for rule, choose in RULES.items():
                score(rule, name, truth, place(z, curve, choose(curve.curve), seed=seed))
            for rule, (rows, own_curve, groups) in variants(z, curve, seed).items():
                score(rule, name, truth, place(rows, own_curve, groups, seed=seed))
            stab = {b: stability(z, curve, seed, b) for b in {b for _, b in STABLE.values()}}
            for rule, (floor, b) in STABLE.items():
                score(rule, name, truth, place(z, curve, stable(curve.curve, stab[b], floor), seed=seed))
        print(f"  {name}: {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    shown = [n for n in sets if n in scores["highest (shipped)"]]
    print("| rule | " + " | ".join(shown) + " | mean NMI | mean one-action | NMI met | one-action met |")
    print("|---" * (len(shown) + 5) + "|")
    for rule in scores:
        means = np.array([np.mean(scores[rule][n], axis=0) for n in shown])
        cells = [f"{m[0]:.3f} / {m[1]:.3f} / {m[2]:.0f}" for m in means]
        met = (means[:, 0] >= TARGET).sum(), (means[:, 1] >= TARGET).sum()
        mean = means.mean(axis=0)
        print(f"| {rule} | " + " | ".join(cells) + f" | {mean[0]:.3f} | {mean[1]:.3f} | {met[0]} | {met[1]} |")
    print(f"total {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
