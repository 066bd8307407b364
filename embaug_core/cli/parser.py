"""The grammar of the ``embaug`` command: every sub-command's arguments (argparse).

What each command does is in :mod:`embaug_core.cli`.
"""

from __future__ import annotations

import argparse

from ..errors import ConfigError, EmbaugError
from ..training.augment import AUTO_METHODS, METHOD_NAMES, PAPER_METHODS, get_method

__all__ = ["build_parser", "parse_floats", "parse_methods", "parse_unseen"]

EPILOG = """\
DATA is an embedding table (CSV, Parquet or NPZ): a label column, optionally an id
column, and the embedding as numeric columns (emb_0, emb_1, ...) or one vector column.
Other columns are kept and ignored. Name the embedding with --embedding-cols PREFIX
(or a comma-separated list) or --vector-col COL when detection is ambiguous.

Methods ({n}): {methods}.
A prediction is the top class when its confidence >= the threshold, else "none"; the
confidence is the top sigmoid probability (--score max_prob) or another score's percentile.
"""


def _data_args(p: argparse.ArgumentParser, *, label_required: bool) -> None:
    p.add_argument("data", help="embedding table: .csv, .parquet or .npz")
    p.add_argument("--label-col", required=label_required, help="column holding the class labels (empty = unlabelled)")
    p.add_argument("--id-col", help="column of unique row ids (default: row numbers)")
    p.add_argument("--embedding-cols", help="embedding columns: a prefix (emb_) or a comma-separated list")
    p.add_argument("--vector-col", help="one column holding a whole vector per row (or the 2-D array of an NPZ)")


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--preset",
        choices=["auto", "paper", "fast"],
        help="auto (the default) = batch, learning rate, length and a temperature chosen on a validation split "
        "of the training rows (docs/method.md, 'Fast and good by default'); paper = 576 epochs at batch 64 as in "
        "the paper; fast = 48 epochs. --epochs or --batch-size without --preset train the paper's schedule "
        "with those values",
    )
    p.add_argument("--epochs", type=int, help="training epochs of a fixed schedule (default: the preset's)")
    p.add_argument("--batch-size", type=int, help="batch size of a fixed schedule (default 64)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--ensemble",
        type=int,
        default=1,
        metavar="K",
        help="train K heads of the method (seeds --seed .. --seed+K-1) together and average their outputs",
    )
    p.add_argument(
        "--regmixup",
        action="store_true",
        help="each step's loss is the clean batch's plus the augmented batch's (RegMixup), not the augmented alone",
    )
    p.add_argument(
        "--outlier-exposure",
        action="store_true",
        help="train on the --none-examples rows too, with an all-zero target (outlier exposure)",
    )
    p.add_argument(
        "--precision",
        choices=["auto", "float32", "bfloat16"],
        default="auto",
        help="the training step's matrix products: auto = bfloat16 under the auto preset where the CPU or GPU "
        "multiplies it natively (faster at its large batches), else float32; float32 for results that do "
        "not depend on the machine's bfloat16 support",
    )


def _score_args(p: argparse.ArgumentParser, *, default: str | None = "max_prob") -> None:
    from ..evaluation.scores import SCORE_NAMES

    p.add_argument(
        "--score",
        choices=SCORE_NAMES,
        default=default,
        help="the 'none' score the threshold applies to: max_prob is the top probability; the others are "
        "percentiles of the known training rows (docs/none-scores.md)"
        + ("" if default else "; default: the threshold file's score, else max_prob"),
    )


def _none_examples_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--none-examples",
        metavar="FILE",
        help=f"an embedding table of rows known to be out of scope (labels ignored; never evaluation rows): {what}",
    )


def _command(sub, name: str, help: str) -> argparse.ArgumentParser:
    """A sub-command whose --help shows every default."""
    return sub.add_parser(name, help=help, formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def _add_split(sub) -> None:
    p = _command(sub, "split", "split a table with the paper's protocol (train / evaluation with unseen classes)")
    _data_args(p, label_required=True)
    p.add_argument("--train-fraction", type=float, default=0.1, help="share of labelled rows that trains")
    p.add_argument(
        "--unseen-classes",
        default="0",
        help="hold N random classes (or a comma-separated list) out of training; they become 'none'",
    )
    p.add_argument("--none-label", help="a label value that already means 'none' (never trained on)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=["csv", "parquet", "npz"], default="parquet", help="format of the written files")
    p.add_argument("--out", required=True, help="folder for train.* and eval.* (and split.json)")


def _auto_methods_arg(p) -> None:
    p.add_argument(
        "--auto-methods",
        default=",".join(AUTO_METHODS),
        help="the methods 'auto' chooses from, comma-separated (default: the ones without label softening; "
        "with them, 'auto' picked softened heads whose temperature did not carry over to the final head; "
        "docs/method.md, 'The auto method')",
    )


def _add_train(sub) -> None:
    p = _command(sub, "train", "train one head on all labelled rows and save it (safetensors + JSON)")
    _data_args(p, label_required=True)
    p.add_argument(
        "--method",
        default="control",
        help=f"one of the {len(METHOD_NAMES)} methods: {', '.join(METHOD_NAMES)}; or auto: the --auto-methods "
        "and their --alphas/--softnesses grid trained together on a validation split, the one with the "
        "lowest validation NLL retrained (head.json says why, with the runners-up)",
    )
    _auto_methods_arg(p)
    p.add_argument("--alphas", default="0.2,0.4,1.0", help="with --method auto: the alpha grid")
    p.add_argument("--softnesses", default="0.05,0.1,0.2", help="with --method auto: the softness grid")
    p.add_argument("--alpha", type=float, default=0.4, help="Beta(alpha, alpha) of the mixing methods")
    p.add_argument("--softness", type=float, default=0.1, help="label softness of the soft methods")
    _train_args(p)
    _none_examples_arg(p, "they set the fused score's weight (known side: the training rows)")
    p.add_argument("--out", required=True, help="model folder to write")


def _add_evaluate(sub) -> None:
    p = _command(sub, "evaluate", "metrics.json, curves and both heuristics' thresholds on labelled data")
    p.add_argument("model", help="model folder written by 'embaug train'")
    _data_args(p, label_required=True)
    p.add_argument("--bins", type=int, default=10, help="reliability-diagram bins")
    _score_args(p)
    p.add_argument(
        "--max-false-rejection",
        type=float,
        metavar="ALPHA",
        help="heuristic 3: a threshold that answers 'none' to at most this share of known items (e.g. 0.05), "
        "computed on DATA's known-class rows; writes threshold_guaranteed.json",
    )
    p.add_argument(
        "--max-error-rate",
        type=float,
        metavar="EPS",
        help="heuristic 4: a threshold such that at most this share of the items it answers are wrong (e.g. 0.1): "
        "a known item given another class, or a 'none' item given any class; computed on DATA's rows (rows whose "
        "label is not one of the model's classes are 'none') and --none-examples; with --max-false-rejection, both "
        "at once; writes threshold_risk.json",
    )
    p.add_argument(
        "--confidence-level",
        type=float,
        default=0.9,
        metavar="1-DELTA",
        help="with --max-false-rejection or --max-error-rate: the probability that the guarantee holds "
        "(over the draw of DATA's rows)",
    )
    _none_examples_arg(
        p, "they refit the fused score's weight against DATA's known rows, and are 'none' rows for --max-error-rate"
    )
    p.add_argument("--out", required=True, help="folder for metrics.json, curves/*.csv and threshold files")


def _add_predict(sub) -> None:
    p = _command(sub, "predict", "predict a class or 'none' per row")
    p.add_argument("model", help="model folder written by 'embaug train'")
    _data_args(p, label_required=False)
    p.add_argument("--threshold", required=True, help="a number in [0, 1] or a threshold JSON file")
    _score_args(p, default=None)
    p.add_argument("--top-k", type=int, default=3, help="top classes to list per row")
    p.add_argument("--out", required=True, help="CSV file to write")


def _add_discover(sub) -> None:
    p = _command(sub, "discover", "group the rows a head routes to 'none', so that a person names a group at once")
    p.add_argument("model", help="model folder written by 'embaug train'")
    _data_args(p, label_required=False)
    pool = p.add_mutually_exclusive_group(required=True)
    pool.add_argument("--threshold", help="a number in [0, 1] or a threshold JSON file: the rows below it are grouped")
    pool.add_argument("--least-confident", type=int, metavar="N", help="group the N least confident rows instead")
    _score_args(p, default=None)
    p.add_argument("--text-col", help="column of texts, for each group's keywords and typical texts (default: text)")
    p.add_argument(
        "--min-group-size", type=int, default=5, help="smaller groups are dissolved: their rows ungrouped (group 0)"
    )
    p.add_argument("--seed", type=int, default=0, help="the grouping's seed (the same seed, the same groups)")
    p.add_argument("--out", required=True, help="folder for groups.csv and groups.md")


def _add_experiment(sub) -> None:
    p = _command(sub, "experiment", "the paper's protocol: methods x trials -> Tables 1-3")
    _data_args(p, label_required=True)
    p.add_argument(
        "--methods",
        default="paper",
        help=f"paper (the paper's {len(PAPER_METHODS)}), all (all {len(METHOD_NAMES)}: adds "
        f"{', '.join(m for m in METHOD_NAMES if m not in PAPER_METHODS)}), or a comma-separated list; "
        "'auto' in it is the best of --auto-methods by validation NLL",
    )
    p.add_argument(
        "--baselines",
        default="control_ts,logreg,logreg_ts",
        help="peers on the same splits: control_ts, logreg, logreg_ts, or none",
    )
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--train-fraction", type=float, default=0.1)
    p.add_argument(
        "--unseen-classes",
        default="0",
        help="hold out N random classes per trial, or a comma-separated list of class names",
    )
    p.add_argument("--none-label", help="a label value that already means 'none'")
    _auto_methods_arg(p)
    p.add_argument("--alphas", default="0.2,0.4,1.0", help="alpha grid chosen on the validation split")
    p.add_argument("--softnesses", default="0.05,0.1,0.2", help="softness grid chosen on the validation split")
    p.add_argument("--removed-classes", type=int, default=5, help="classes removed in the threshold-validation split")
    p.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="local: trials one after another here; ray: one Ray task per trial (pip install 'embaug[ray]')",
    )
    p.add_argument("--ray-address", help="Ray cluster to use (e.g. ray://head:10001 or auto); default: a local Ray")
    p.add_argument("--threads", type=int, help="torch threads per trial (default: all cores locally, 1 per Ray task)")
    _train_args(p)
    _none_examples_arg(p, "they set the fused score's weight; with --outlier-exposure the heads train on them")
    p.add_argument(
        "--out", required=True, help="folder for results.json, table*.csv, comparison.csv, tables.md, report.html"
    )
    p.add_argument(
        "--save-run",
        metavar="NAME",
        help="also save it as a run under $EMBAUG_HOME/runs (heads included), to reopen in the dashboard's Runs page",
    )


def _add_embed(sub) -> None:
    p = sub.add_parser("embed", help="raw text or images -> an embedding table (offline models)")
    esub = p.add_subparsers(dest="embed_kind", metavar="KIND", required=True)
    t = _command(esub, "text", "embed text columns of a CSV/Parquet with a transformer encoder")
    t.add_argument("data", help="CSV or Parquet with text columns")
    t.add_argument(
        "--text-col",
        action="append",
        required=True,
        help="a text column; repeat for several (embedded separately, then concatenated)",
    )
    t.add_argument("--label-col", help="label column to keep")
    t.add_argument("--id-col", help="id column to keep")
    t.add_argument(
        "--model", default="all-MiniLM-L6-v2", help="the bundled all-MiniLM-L6-v2, or a local Hugging Face model folder"
    )
    t.add_argument(
        "--recipe",
        choices=["mean", "paper"],
        default="mean",
        help="mean = sentence-transformers mean pooling; paper = mean of the last two layers, concatenated",
    )
    t.add_argument("--max-length", type=int, default=128, help="tokens kept per text")
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--images", help="ZIP or folder of images: add image embeddings of the same items (product setting)")
    t.add_argument("--image-col", help="with --images: column naming each row's image file")
    t.add_argument("--image-model", default="tf_efficientnet_lite0", help="timm model for --images")
    t.add_argument("--weights", help="weights file for --image-model (the default model's are bundled)")
    t.add_argument("--device", default="auto")
    t.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    t.add_argument("--out", required=True, help="output table: .csv, .parquet or .npz")
    i = _command(esub, "images", "embed a ZIP or folder of images (one sub-folder per class) with a timm model")
    i.add_argument("source", help="ZIP file or folder")
    i.add_argument("--labels", help="CSV mapping file names to labels (columns file,label)")
    i.add_argument("--model", default="tf_efficientnet_lite0", help="a timm model name")
    i.add_argument("--weights", help="weights file (.safetensors/.pth); the default model's are bundled")
    i.add_argument("--batch-size", type=int, default=32)
    i.add_argument("--device", default="auto")
    i.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    i.add_argument("--out", required=True, help="output table: .csv, .parquet or .npz")


def _add_runs(sub) -> None:
    p = sub.add_parser("runs", help="saved runs under $EMBAUG_HOME/runs (default ~/.embaug/runs)")
    rsub = p.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    ls = rsub.add_parser("list", help="one run per line, its id first (every user's: this is the machine owner's tool)")
    ls.add_argument("--owner", help="only the runs of this signed-in user (the dashboard's user name, e.g. an email)")
    show = rsub.add_parser("show", help="a run's metadata and metrics")
    show.add_argument("id")
    exp = rsub.add_parser("export", help="a run folder as one ZIP file")
    exp.add_argument("id")
    exp.add_argument("--out", required=True, help="ZIP file to write")
    rm = rsub.add_parser("delete", help="delete a run")
    rm.add_argument("id")


def _add_dashboard(sub) -> None:
    p = sub.add_parser("dashboard", help="start the Streamlit dashboard")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument(
        "--address",
        help="the address to listen on (default: server.address of .streamlit/config.toml, localhost: this machine "
        "only). 0.0.0.0 serves everyone who can reach the machine: turn sign-in on first (docs/serving.md)",
    )
    p.add_argument(
        "--ray-address",
        help="train the dashboard's trainings as Ray tasks on this cluster (auto, ray://HEAD:10001, or local for a "
        "Ray on this machine) instead of worker processes; sets EMBAUG_RAY_ADDRESS",
    )
    p.add_argument("--headless", action="store_true", help="do not open a browser")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embaug",
        description="Train small, calibrated classifier heads on pre-trained embeddings with E-Mixup / E-Stitchup, "
        "and choose the confidence threshold below which an item is answered 'none'.",
        epilog=EPILOG.format(n=len(METHOD_NAMES), methods=", ".join(METHOD_NAMES)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_split(sub)
    _add_train(sub)
    _add_evaluate(sub)
    _add_predict(sub)
    _add_discover(sub)
    _add_experiment(sub)
    _add_embed(sub)
    _add_runs(sub)
    _add_dashboard(sub)
    return parser


# ----------------------------------------------------------------------------- values of flags


def parse_floats(text: str, what: str) -> tuple[float, ...]:
    """Numbers of a comma-separated flag ``--what``."""
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise EmbaugError(f"--{what} must be comma-separated numbers; got {text!r}.") from None


def parse_methods(text: str, flag: str) -> tuple[str, ...]:
    """Method names of a comma-separated flag, each checked (the error names the flag)."""
    names = tuple(v.strip() for v in text.split(",") if v.strip())
    if not names:
        raise EmbaugError(f"{flag} needs at least one method name.")
    for name in names:
        try:
            get_method(name)
        except ConfigError as e:
            raise EmbaugError(f"{flag}: {e}") from None
    return names


def parse_unseen(text: str):
    """--unseen-classes: a count, or class names."""
    text = text.strip()
    return int(text) if text.isdigit() else tuple(u.strip() for u in text.split(",") if u.strip())
