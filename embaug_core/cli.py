"""The ``embaug`` command.

    embaug split DATA --label-col COL [--train-fraction 0.1] [--unseen-classes N|names] --out DIR
    embaug train DATA --label-col COL [--method M] [--alpha A] [--softness S] [--epochs E] [--seed N] --out MODEL_DIR
    embaug evaluate MODEL_DIR DATA --label-col COL --out DIR
    embaug predict MODEL_DIR DATA --threshold FILE_OR_NUMBER --out PREDS.csv
    embaug experiment DATA --label-col COL [--methods all|m1,m2] [--trials 5] [--epochs E] --out DIR
    embaug embed text DATA --text-col COL [--text-col COL2 ...] [--label-col COL] [--model M] [--recipe paper|mean] --out FILE
    embaug embed images ZIP_OR_DIR [--labels CSV] [--model NAME] [--weights FILE] --out FILE
    embaug dashboard [--port P]

Bad input exits with status 2 and one line on stderr; no traceback.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from .errors import EmbaugError

EPILOG = """\
DATA is an embedding table (CSV, Parquet or NPZ): a label column, optionally an id
column, and the embedding as numeric columns (emb_0, emb_1, ...) or one vector column.
Other columns are kept and ignored. Name the embedding with --embedding-cols PREFIX
(or a comma-separated list) or --vector-col COL when detection is ambiguous.

Methods: control, soft_control, e_mixup, e_stitchup, soft_e_mixup, soft_e_stitchup.
A prediction is the top class when its sigmoid probability >= the threshold, else "none".
"""


def _data_args(p: argparse.ArgumentParser, *, label_required: bool) -> None:
    p.add_argument("data", help="embedding table: .csv, .parquet or .npz")
    p.add_argument("--label-col", required=label_required, help="column holding the class labels (empty = unlabelled)")
    p.add_argument("--id-col", help="column of unique row ids (default: row numbers)")
    p.add_argument("--embedding-cols", help="embedding columns: a prefix (emb_) or a comma-separated list")
    p.add_argument("--vector-col", help="one column holding a whole vector per row (or the 2-D array of an NPZ)")


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, help="training epochs (default: the preset's)")
    p.add_argument("--preset", choices=["paper", "fast"], default="paper",
                   help="paper = 576 epochs as in the paper; fast = 48 epochs (4 learning-rate cycles). Default: paper")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    p.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embaug",
        description="Train small, calibrated classifier heads on pre-trained embeddings with E-Mixup / E-Stitchup, "
                    "and choose the confidence threshold below which an item is answered 'none'.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("split", help="split a table with the paper's protocol (train / evaluation with unseen classes)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _data_args(p, label_required=True)
    p.add_argument("--train-fraction", type=float, default=0.1, help="share of labelled rows that trains")
    p.add_argument("--unseen-classes", default="0",
                   help="hold N random classes (or a comma-separated list) out of training; they become 'none'")
    p.add_argument("--none-label", help="a label value that already means 'none' (never trained on)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=["csv", "parquet", "npz"], default="parquet", help="format of the written files")
    p.add_argument("--out", required=True, help="folder for train.* and eval.* (and split.json)")

    p = sub.add_parser("train", help="train one head on all labelled rows and save it (safetensors + JSON)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _data_args(p, label_required=True)
    p.add_argument("--method", default="control", help="one of the six methods")
    p.add_argument("--alpha", type=float, default=0.4, help="Beta(alpha, alpha) of the mixing methods")
    p.add_argument("--softness", type=float, default=0.1, help="label softness of the soft methods")
    _train_args(p)
    p.add_argument("--out", required=True, help="model folder to write")

    p = sub.add_parser("evaluate", help="metrics.json, curves and both heuristics' thresholds on labelled data",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model", help="model folder written by 'embaug train'")
    _data_args(p, label_required=True)
    p.add_argument("--bins", type=int, default=10, help="reliability-diagram bins")
    p.add_argument("--out", required=True, help="folder for metrics.json, curves/*.csv and threshold files")

    p = sub.add_parser("predict", help="predict a class or 'none' per row",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model", help="model folder written by 'embaug train'")
    _data_args(p, label_required=False)
    p.add_argument("--threshold", required=True, help="a number in [0, 1] or a threshold JSON file")
    p.add_argument("--top-k", type=int, default=3, help="top classes to list per row")
    p.add_argument("--out", required=True, help="CSV file to write")

    p = sub.add_parser("experiment", help="the paper's protocol: methods x trials -> Tables 1-3",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _data_args(p, label_required=True)
    p.add_argument("--methods", default="paper",
                   help="paper (the six of the paper), all (adds sk_mixup, soft_sk_mixup), or a comma-separated list")
    p.add_argument("--baselines", default="control_ts,logreg,logreg_ts",
                   help="peers on the same splits: control_ts, logreg, logreg_ts, or none")
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--train-fraction", type=float, default=0.1)
    p.add_argument("--unseen-classes", default="0",
                   help="hold out N random classes per trial, or a comma-separated list of class names")
    p.add_argument("--none-label", help="a label value that already means 'none'")
    p.add_argument("--alphas", default="0.2,0.4,1.0", help="alpha grid chosen on the validation split")
    p.add_argument("--softnesses", default="0.05,0.1,0.2", help="softness grid chosen on the validation split")
    p.add_argument("--removed-classes", type=int, default=5, help="classes removed in the threshold-validation split")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local: trials one after another here; ray: one Ray task per trial (pip install 'embaug[ray]')")
    p.add_argument("--ray-address", help="Ray cluster to use (e.g. ray://head:10001 or auto); default: a local Ray")
    p.add_argument("--threads", type=int, help="torch threads per trial (default: all cores locally, 1 per Ray task)")
    _train_args(p)
    p.add_argument("--out", required=True, help="folder for results.json, table*.csv, comparison.csv, tables.md, report.html")

    p = sub.add_parser("embed", help="raw text or images -> an embedding table (offline models)")
    esub = p.add_subparsers(dest="embed_kind", metavar="KIND", required=True)
    t = esub.add_parser("text", help="embed text columns of a CSV/Parquet with a transformer encoder",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("data", help="CSV or Parquet with text columns")
    t.add_argument("--text-col", action="append", required=True,
                   help="a text column; repeat for several (embedded separately, then concatenated)")
    t.add_argument("--label-col", help="label column to keep")
    t.add_argument("--id-col", help="id column to keep")
    t.add_argument("--model", default="all-MiniLM-L6-v2",
                   help="the bundled all-MiniLM-L6-v2, or a local Hugging Face model folder")
    t.add_argument("--recipe", choices=["mean", "paper"], default="mean",
                   help="mean = sentence-transformers mean pooling; paper = mean of the last two layers, concatenated")
    t.add_argument("--max-length", type=int, default=128, help="tokens kept per text")
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--images", help="ZIP or folder of images: add image embeddings of the same items (product setting)")
    t.add_argument("--image-col", help="with --images: column naming each row's image file")
    t.add_argument("--image-model", default="tf_efficientnet_lite0", help="timm model for --images")
    t.add_argument("--weights", help="weights file for --image-model (the default model's are bundled)")
    t.add_argument("--device", default="auto")
    t.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    t.add_argument("--out", required=True, help="output table: .csv, .parquet or .npz")
    i = esub.add_parser("images", help="embed a ZIP or folder of images (one sub-folder per class) with a timm model",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    i.add_argument("source", help="ZIP file or folder")
    i.add_argument("--labels", help="CSV mapping file names to labels (columns file,label)")
    i.add_argument("--model", default="tf_efficientnet_lite0", help="a timm model name")
    i.add_argument("--weights", help="weights file (.safetensors/.pth); the default model's are bundled")
    i.add_argument("--batch-size", type=int, default=32)
    i.add_argument("--device", default="auto")
    i.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    i.add_argument("--out", required=True, help="output table: .csv, .parquet or .npz")

    p = sub.add_parser("dashboard", help="start the Streamlit dashboard")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    return parser


class _Progress:
    """One updating line on a terminal, a line every few seconds otherwise."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0

    def __call__(self, text: str, *, final: bool = False) -> None:
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
            self.stream.flush()
        elif final or now - self.last > 5:
            self.stream.write(text + "\n")
            self.stream.flush()
            self.last = now


def _load(args, *, label_required: bool = True, min_classes: int = 2):
    from .data import load_embeddings

    cols = args.embedding_cols
    if cols and "," in cols:
        cols = [c.strip() for c in cols.split(",") if c.strip()]
    return load_embeddings(args.data, label_col=args.label_col, id_col=args.id_col, embedding_cols=cols,
                           vector_col=args.vector_col, min_classes=min_classes if label_required else 0)


def _train_config(args, **kw):
    from .train import PRESETS, TrainConfig

    epochs = args.epochs if args.epochs is not None else PRESETS[args.preset]
    return TrainConfig(epochs=epochs, batch_size=args.batch_size, device=args.device, seed=args.seed, **kw)


def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise EmbaugError(f"--{what} must be comma-separated numbers; got {text!r}.") from None


def _unseen(text: str):
    text = text.strip()
    return int(text) if text.isdigit() else tuple(u.strip() for u in text.split(",") if u.strip())


def cmd_split(args) -> int:
    from .data import save_embeddings
    from .jsonio import write_json_atomic
    from .splits import trial_split

    ds = _load(args)
    split = trial_split(ds.labels, train_fraction=args.train_fraction, unseen_classes=_unseen(args.unseen_classes),
                        none_label=args.none_label, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_embeddings(ds.subset(split.train_idx), out / f"train.{args.format}")
    save_embeddings(ds.subset(split.eval_idx), out / f"eval.{args.format}")
    write_json_atomic(out / "split.json", {"data": str(args.data), **split.to_dict()})
    print(f"train: {len(split.train_idx)} rows, {len(split.train_classes)} classes; eval: {len(split.eval_idx)} rows, "
          f"{len(split.none_classes)} classes unseen in training ('none')", file=sys.stderr)
    print(f"wrote {out}/train.{args.format}, eval.{args.format}, split.json", file=sys.stderr)
    return 0


def cmd_train(args) -> int:
    from .train import TrainedHead, resolve_device

    config = _train_config(args, method=args.method, alpha=args.alpha, softness=args.softness)
    ds = _load(args)
    labelled = ds.subset(ds.labeled_mask)
    bar = _Progress()
    print(f"training {config.method} on {labelled.n_samples} rows x {labelled.dim} dims, {len(labelled.classes)} classes, "
          f"{config.epochs} epochs, device {resolve_device(config.device)}", file=sys.stderr)

    def progress(r):
        eta = r.elapsed_s / r.epoch * (r.epochs - r.epoch)
        bar(f"epoch {r.epoch}/{r.epochs}  loss {r.train_loss:.4f}  lr {r.lr:.2e}  eta {eta:.0f}s", final=r.epoch == r.epochs)

    head = TrainedHead.train(labelled.embeddings, labelled.labels, config, progress=progress,
                             metadata={"data": str(args.data), "label_col": args.label_col, "rows": labelled.n_samples})
    head.save(args.out)
    print(f"saved {args.out}/head.safetensors and head.json", file=sys.stderr)
    return 0


def cmd_evaluate(args) -> int:
    from .evaluation import evaluate
    from .metrics import encode_labels
    from .jsonio import write_frame_atomic, write_json_atomic
    from .threshold_doc import ThresholdDocument
    from .train import TrainedHead

    head = TrainedHead.load(args.model)
    ds = _load(args, min_classes=1)
    ds = ds.subset(ds.labeled_mask)
    if ds.n_samples == 0:
        raise EmbaugError(f"{args.data}: no labelled rows to evaluate.")
    y = encode_labels(ds.labels, head.class_names)
    ev = evaluate(head.predict_proba(ds.embeddings), y, n_bins=args.bins)
    out = Path(args.out)
    (out / "curves").mkdir(parents=True, exist_ok=True)
    metrics = {"model": str(args.model), "data": str(args.data), "method": head.method,
               "classes": list(head.class_names), **ev.to_dict()}
    write_json_atomic(out / "metrics.json", metrics)
    write_frame_atomic(out / "curves" / "threshold_sweep.csv", ev.curve_frame())
    write_frame_atomic(out / "curves" / "reliability.csv", ev.reliability_frame())
    write_frame_atomic(out / "curves" / "reliability_equal_mass.csv", ev.reliability_frame(equal_mass=True))
    for name, h in ev.heuristics.items():
        doc = ThresholdDocument.create(threshold=h.threshold, source=name, head=head,
                                       validation_point=ev.operating_points[name], model_path=args.model)
        doc.save(out / f"threshold_{name}.json")
    print(f"AUROC {ev.auroc:.4f}  AUPR {ev.aupr:.4f}  ECE {ev.calibration.ece:.4f}  "
          f"corr {ev.calibration.correlation:.4f}  ({ev.n_id} ID rows, {ev.n_none} none rows)")
    for name, h in ev.heuristics.items():
        p = ev.operating_points[name]
        print(f"{name:>12}: threshold {h.threshold:.3f}  ID acc {p.id_accuracy:.3f}  none acc {p.none_accuracy:.3f}  "
              f"overall {p.overall_accuracy:.3f}")
    for note in ev.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {out}/metrics.json, curves/*.csv" + (", threshold_*.json" if ev.heuristics else ""), file=sys.stderr)
    return 0


def _threshold(value: str, head) -> float:
    from .threshold_doc import load_threshold

    try:
        t = float(value)
    except ValueError:
        doc = load_threshold(value)
        doc.check_model(head)
        return doc.threshold
    if not math.isfinite(t) or not 0.0 <= t <= 1.0:
        raise EmbaugError(f"--threshold must be a number in [0, 1] or a threshold JSON file; got {value!r}.")
    return t


def cmd_predict(args) -> int:
    import numpy as np
    import pandas as pd

    from .jsonio import write_frame_atomic
    from .metrics import top_k
    from .thresholds import NONE_ANSWER, route
    from .train import TrainedHead

    head = TrainedHead.load(args.model)
    threshold = _threshold(args.threshold, head)
    ds = _load(args, label_required=False)
    probs = head.predict_proba(ds.embeddings)  # (n, C) float64
    idx, top = top_k(probs, args.top_k)  # (n, k) each
    names = np.asarray(head.class_names, dtype=object)
    frame = pd.DataFrame({"id": ds.ids, "prediction": route(probs, threshold, head.class_names), "confidence": top[:, 0]})
    for j in range(idx.shape[1]):
        frame[f"top{j + 1}_class"] = names[idx[:, j]]
        frame[f"top{j + 1}_prob"] = top[:, j]
    write_frame_atomic(args.out, frame)
    n_none = int((frame["prediction"] == NONE_ANSWER).sum())
    print(f"wrote {len(frame)} predictions to {args.out} (threshold {threshold:.4g}; {n_none} answered 'none')",
          file=sys.stderr)
    return 0


def cmd_experiment(args) -> int:
    from .augment import METHOD_NAMES, PAPER_METHODS
    from .experiment import ExperimentConfig, run_experiment
    from .report import write_report

    named = {"all": METHOD_NAMES, "paper": PAPER_METHODS}
    methods = named.get(args.methods) or tuple(m.strip() for m in args.methods.split(",") if m.strip())
    baselines = () if args.baselines.strip() in ("", "none") else tuple(
        b.strip() for b in args.baselines.split(",") if b.strip())
    config = ExperimentConfig(
        methods=methods, baselines=baselines, n_trials=args.trials, train_fraction=args.train_fraction, unseen_classes=_unseen(args.unseen_classes),
        none_label=args.none_label, alphas=_floats(args.alphas, "alphas"), softnesses=_floats(args.softnesses, "softnesses"),
        n_removed_classes=args.removed_classes, train=_train_config(args), seed=args.seed,
    )
    ds = _load(args)
    bar = _Progress()
    from .train import resolve_device

    where = f"Ray ({args.ray_address or 'local'})" if args.backend == "ray" else "this machine"
    print(f"experiment on {where}: {len(methods)} methods + {len(baselines)} baselines x {args.trials} trials, "
          f"device {resolve_device(args.device)}", file=sys.stderr)

    def progress(p):
        epoch = f" epoch {p.epoch}/{p.epochs}" if p.epochs else ""
        eta = "" if p.eta_s != p.eta_s else f"  eta {p.eta_s:.0f}s"
        bar(f"[{p.done}/{p.total}] {p.message}{epoch}  elapsed {p.elapsed_s:.0f}s{eta}", final=p.message == "done")

    result = run_experiment(ds, config, progress=progress, backend=args.backend, ray_address=args.ray_address,
                            threads=args.threads)
    result.save(args.out)
    write_report(result, Path(args.out) / "report.html", title=f"embaug experiment on {Path(args.data).name}")
    print(result.markdown())
    print(f"wrote {args.out}/results.json, table1-3.csv, comparison.csv, tables.md, report.html "
          f"({result.wall_seconds:.0f}s)", file=sys.stderr)
    return 0


def cmd_embed(args) -> int:
    from .data import save_embeddings
    from .embed import (EmbeddingCache, ImageEmbedConfig, TextEmbedConfig, embed_image_source,
                        embed_product_table, embed_text_table)

    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet", ".npz"):
        raise EmbaugError(f"--out {out}: use a .csv, .parquet or .npz file name.")
    cache = None if args.no_cache else EmbeddingCache()
    bar = _Progress()

    def progress(done, total):
        bar(f"embedded {done}/{total}", final=done == total)

    if args.embed_kind == "text":
        tcfg = TextEmbedConfig(model=args.model, recipe=args.recipe, max_length=args.max_length,
                               batch_size=args.batch_size, device=args.device)
        if args.images:
            if not args.image_col:
                raise EmbaugError("--images needs --image-col, the column naming each row's image file.")
            ds = embed_product_table(args.data, text_cols=args.text_col, image_col=args.image_col, images=args.images,
                                     label_col=args.label_col, id_col=args.id_col, text_config=tcfg,
                                     image_config=ImageEmbedConfig(model=args.image_model, weights=args.weights,
                                                                   device=args.device),
                                     progress=progress, cache=cache)
        else:
            ds = embed_text_table(args.data, text_cols=args.text_col, label_col=args.label_col, id_col=args.id_col,
                                  config=tcfg, progress=progress, cache=cache)
        skipped = []
    else:
        icfg = ImageEmbedConfig(model=args.model, weights=args.weights, batch_size=args.batch_size, device=args.device)
        ds, skipped = embed_image_source(args.source, labels_csv=args.labels, config=icfg, progress=progress, cache=cache)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_embeddings(ds, out)
    for name, reason in skipped[:20]:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    if len(skipped) > 20:
        print(f"... and {len(skipped) - 20} more skipped files", file=sys.stderr)
    print(f"wrote {ds.n_samples} rows x {ds.dim} dims to {out}" + (f" ({len(skipped)} files skipped)" if skipped else ""),
          file=sys.stderr)
    return 0


def cmd_dashboard(args) -> int:
    import subprocess

    app = Path(__file__).resolve().parent.parent / "app.py"
    if not app.exists():
        raise EmbaugError(f"{app} not found: the dashboard runs from a source checkout (pip install -e .).")
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port)]
    if args.headless:
        cmd += ["--server.headless", "true"]
    return subprocess.call(cmd)


COMMANDS = {"split": cmd_split, "train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "experiment": cmd_experiment,
            "embed": cmd_embed, "dashboard": cmd_dashboard}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except EmbaugError as exc:
        print(f"embaug {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"embaug {args.command}: interrupted; nothing was overwritten.", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"embaug {args.command}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
