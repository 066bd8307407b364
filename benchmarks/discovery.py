"""Grouping the "none" pool (issue 27): how well the groups match the unseen classes, on many sets.

    python benchmarks/discovery.py                       # every set below, 3 trials
    python benchmarks/discovery.py --sets sample,trec    # some of them

**Sets**: the bundled sample (CLINC150 intents) and StackOverflow titles (``sample_data/``), and the
benchmark suite's sets (``benchmarks/suite.py``: clinc, stackovf, 20ng, trec, yahoo, dbpedia, digits;
built and cached by it). BANKING77, HWU64 and Fashion-MNIST are kept aside and never used here.

**Per trial** (the paper's protocol, seed = trial): 10 % of the rows train, a quarter of the classes are
unseen; a head (control, ``fast`` preset) is trained by ``run_experiment``; heuristic 2's threshold is
chosen on its validation split. Then:

* **unseen**: the unseen classes' evaluation rows that the threshold routes to "none" are grouped without
  their number (what the experiment's "From none to new classes" table reports): NMI, ARI, one-action
  accuracy (every group takes its majority class), ungrouped share, groups found against true classes;
  beside them **k-means told the true number** (scikit-learn, 3 inits): an oracle users do not have;
* **mixed**: the same rows and the known classes' evaluation rows refused at the threshold, sampled to
  be 20 % of the pool (fewer when fewer are refused: the share is printed): NMI over every row (the
  known rows' true classes too), and the "looks like a known class" flag: *precision* (of the known rows
  flagged, the share flagged with their own class), *recall* (the share of known rows flagged with their
  own class) and the share of unseen rows flagged (each a wrong flag);
* **time**: grouping and describing 5,000 rows x 384 dims of the clinc set (warm: imports done), the page's target.

Prints one table of each set's means over its trials, and the total time; ``--out FILE`` writes every
trial's numbers as CSV.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from embaug_core.data.table import load_embeddings  # noqa: E402
from embaug_core.discovery import MIN_POOL_ROWS, discover, discover_groups, grouping_scores, none_pool  # noqa: E402
from embaug_core.evaluation.metrics import NONE  # noqa: E402
from embaug_core.experiment.config import ExperimentConfig  # noqa: E402
from embaug_core.experiment.run import run_experiment  # noqa: E402
from embaug_core.training.config import TrainConfig  # noqa: E402

TRIALS = 3
KNOWN_SHARE = 0.2
SETS = ("sample", "stackoverflow", "clinc", "stackovf", "20ng", "trec", "yahoo", "dbpedia", "digits")
BUNDLED = {
    "sample": ("sample_data/clinc150_minilm.npz", "intent"),
    "stackoverflow": ("sample_data/stackoverflow_minilm.npz", "topic"),
}


def load(name: str):
    if name in BUNDLED:
        path, label = BUNDLED[name]
        return load_embeddings(ROOT / path, label_col=label, id_col="id")
    import suite

    return load_embeddings(suite.build(name), label_col="label", id_col="id", vector_col="embeddings")


def oracle(x, truth, seed: int) -> dict:
    from sklearn.cluster import KMeans

    from embaug_core.discovery.grouping import unit_rows

    k = len(np.unique(truth))
    labels = KMeans(k, n_init=3, random_state=seed).fit_predict(unit_rows(x)) + 1
    s = grouping_scores(truth, labels)
    return {"oracle_nmi": s.nmi, "oracle_one_action": s.one_action_accuracy}


def flags(found, truth, known) -> dict:
    """The "looks like" flag against the rows' true classes (``known``: rows of a known class)."""
    looks = found.rows["looks_like"].to_numpy()
    flagged = looks != ""
    right = flagged & (looks == truth)
    return {
        "flag_precision": right[known].sum() / flagged[known].sum() if flagged[known].any() else float("nan"),
        "flag_recall": right[known].mean() if known.any() else float("nan"),
        "unseen_flagged": flagged[~known].mean(),
    }


def refused_rows(art, record) -> tuple[np.ndarray, np.ndarray]:
    """(unseen, known): the rows of the data set among a trial's evaluation rows that heuristic 2's
    threshold routes to "none", of the unseen classes and of the known ones."""
    refused = np.zeros(len(art.eval_idx), dtype=bool)
    refused[none_pool(art.probs.max(1), threshold=record.thresholds["ratio"].threshold)] = True
    return art.eval_idx[refused & (art.y_eval == NONE)], art.eval_idx[refused & (art.y_eval != NONE)]


def trained(name: str):
    """The set ``name`` (labelled rows) and its experiment: the control head, ``fast`` preset, TRIALS trials."""
    import suite

    ds = load(name)
    ds = ds.subset(ds.labeled_mask)
    config = ExperimentConfig(
        methods=("control",),
        n_trials=TRIALS,
        unseen_classes=suite.unseen_classes(len(ds.classes)),
        train=TrainConfig.preset("fast"),
    )
    return ds, config, run_experiment(ds, config, keep_artifacts=True)


def trial_rows(ds, art, record, seed: int) -> dict:
    """Every number of one trial (see the module docstring)."""
    rng = np.random.default_rng(seed)
    unseen, known_refused = refused_rows(art, record)
    want = int(round(len(unseen) * KNOWN_SHARE / (1 - KNOWN_SHARE)))
    known = np.sort(rng.choice(known_refused, min(want, len(known_refused)), replace=False))
    out = {"pool_unseen": len(unseen), "classes": len(np.unique(ds.labels[unseen]))}
    g = record.discovery  # the experiment's own grouping of the unseen pool (None when too small)
    if g is None or len(unseen) < MIN_POOL_ROWS:
        return out
    out.update(groups=g.groups, nmi=g.nmi, ari=g.ari, one_action=g.one_action_accuracy, ungrouped=g.ungrouped)
    out.update(oracle(ds.embeddings[unseen], ds.labels[unseen], seed))
    # the mixed pool: every one of these rows is in it (least_confident = all of them), as discover groups it
    rows = np.r_[unseen, known]
    found, pool = discover(art.head, ds, rows=rows, least_confident=len(rows), seed=seed)
    truth = ds.labels[pool].astype(str)
    mixed = grouping_scores(truth, found.rows["group"].to_numpy())
    out.update(known_share=len(known) / len(rows), mixed_nmi=mixed.nmi, **flags(found, truth, np.isin(pool, known)))
    return out


def run_set(name: str) -> list[dict]:
    t0 = time.perf_counter()
    ds, config, result = trained(name)
    rows = []
    for record in result.records:
        art = result.artifacts[(record.method, record.trial)]
        rows.append({"set": name, "trial": record.trial + 1, **trial_rows(ds, art, record, config.seed + record.trial)})
    print(f"  {name}: {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return rows


def timing() -> float:
    """Seconds to group and describe 5,000 rows x 384 dims of the clinc set (the best of 3, warm)."""
    import suite

    with np.load(suite.build("clinc", verbose=False), allow_pickle=False) as z:
        x, ids, texts = z["embeddings"][:5000], z["id"][:5000], z["text"][:5000]
    discover_groups(x[:200], ids[:200], texts=texts[:200])  # imports and first calls
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        discover_groups(x, ids, texts=texts)
        best = min(best, time.perf_counter() - t)
    return best


COLUMNS = {
    "pool_unseen": ("unseen rows", "{:.0f}"),
    "classes": ("classes", "{:.1f}"),
    "groups": ("groups", "{:.1f}"),
    "nmi": ("NMI", "{:.3f}"),
    "ari": ("ARI", "{:.3f}"),
    "one_action": ("one-action acc.", "{:.3f}"),
    "ungrouped": ("ungrouped", "{:.3f}"),
    "oracle_nmi": ("k-means (true k) NMI", "{:.3f}"),
    "oracle_one_action": ("k-means one-action", "{:.3f}"),
    "known_share": ("known share", "{:.2f}"),
    "mixed_nmi": ("mixed NMI", "{:.3f}"),
    "flag_precision": ("flag precision", "{:.3f}"),
    "flag_recall": ("flag recall", "{:.3f}"),
    "unseen_flagged": ("unseen flagged", "{:.3f}"),
}


def table(frame: pd.DataFrame) -> str:
    means = frame.groupby("set", sort=False)[[c for c in COLUMNS if c in frame]].mean()
    head = "| set | " + " | ".join(COLUMNS[c][0] for c in means.columns) + " |"
    lines = [head, "|---|" + "---:|" * len(means.columns)]
    for name, row in means.iterrows():
        cells = ["–" if pd.isna(v) else COLUMNS[c][1].format(v) for c, v in row.items()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--out", help="CSV file for every trial's numbers")
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    import suite

    rows, start = [], time.perf_counter()
    for name in names:
        if name in suite.KEPT_ASIDE:
            print(f"{name} is kept aside for acceptance checks", file=sys.stderr)
            return 2
        try:
            rows += run_set(name)
        except suite.SuiteError as e:
            print(f"{name}: {e}", file=sys.stderr)
            return 2
    frame = pd.DataFrame(rows)
    if args.out:
        frame.to_csv(args.out, index=False)
    print(f"Means over {TRIALS} trials (control head, fast preset, 10 % training, a quarter of the classes unseen, "
          "heuristic 2's threshold):\n")  # fmt: skip
    print(table(frame))
    if not args.no_timing:
        print(f"\nGrouping 5,000 rows x 384 dims (clinc), best of 3: {timing():.2f} s")
    print(f"\n{len(names)} sets in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
