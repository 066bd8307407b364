"""The ``embaug`` command.

    embaug split DATA --label-col COL [--train-fraction 0.1] [--unseen-classes N|names] --out DIR
    embaug train DATA --label-col COL [--method M] [--alpha A] [--softness S] [--epochs E] [--seed N] --out MODEL_DIR
    embaug evaluate MODEL_DIR DATA --label-col COL --out DIR
    embaug predict MODEL_DIR DATA --threshold FILE_OR_NUMBER --out PREDS.csv
    embaug experiment DATA --label-col COL [--methods all|m1,m2] [--trials 5] [--epochs E] --out DIR
    embaug embed text DATA --text-col COL [--text-col COL2 ...] [--label-col COL] [--model M]
                      [--recipe paper|mean] --out FILE
    embaug embed images ZIP_OR_DIR [--labels CSV] [--model NAME] [--weights FILE] --out FILE
    embaug dashboard [--port P]

Bad input exits with status 2 and one line on stderr; no traceback.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .cli_parser import build_parser, parse_floats, parse_methods, parse_unseen
from .cli_runs import cmd_runs
from .cli_scores import guarantee_from_args, load_none_examples, print_evaluation, threshold_from_args
from .errors import CLI_HINTS, ColumnChoiceError, EmbaugError


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
    return load_embeddings(
        args.data,
        label_col=args.label_col,
        id_col=args.id_col,
        embedding_cols=cols,
        vector_col=args.vector_col,
        min_classes=min_classes if label_required else 0,
    )


def _train_config(args, **kw):
    from .train import TrainConfig

    given = [f for f, v in (("--epochs", args.epochs), ("--batch-size", args.batch_size)) if v is not None]
    preset = args.preset or ("paper" if given else "auto")  # --epochs alone: that many epochs of the paper's cycle
    if preset == "auto":
        if given:
            raise EmbaugError(
                f"{' and '.join(given)} set the fixed presets; --preset auto (the default) chooses them from the "
                "data. Add --preset paper or --preset fast to set them yourself."
            )
        return TrainConfig.preset("auto", device=args.device, seed=args.seed, **kw)
    fixed = {"epochs": args.epochs, "batch_size": args.batch_size}
    return TrainConfig.preset(
        preset, device=args.device, seed=args.seed, **{k: v for k, v in fixed.items() if v is not None}, **kw
    )


def cmd_split(args) -> int:
    from .data import save_embeddings
    from .jsonio import write_json_atomic
    from .splits import trial_split

    ds = _load(args)
    split = trial_split(
        ds.labels,
        train_fraction=args.train_fraction,
        unseen_classes=parse_unseen(args.unseen_classes),
        none_label=args.none_label,
        seed=args.seed,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_embeddings(ds.subset(split.train_idx), out / f"train.{args.format}")
    save_embeddings(ds.subset(split.eval_idx), out / f"eval.{args.format}")
    write_json_atomic(out / "split.json", {"data": str(args.data), **split.to_dict()})
    print(
        f"train: {len(split.train_idx)} rows, {len(split.train_classes)} classes; eval: {len(split.eval_idx)} rows, "
        f"{len(split.none_classes)} classes unseen in training ('none')",
        file=sys.stderr,
    )
    print(f"wrote {out}/train.{args.format}, eval.{args.format}, split.json", file=sys.stderr)
    return 0


def cmd_train(args) -> int:
    from .train import TrainedHead, resolve_device

    best = args.method == "auto"
    config = _train_config(args, method="control" if best else args.method, alpha=args.alpha, softness=args.softness)
    ds = _load(args)
    labelled = ds.subset(ds.labeled_mask)
    bar = _Progress()
    length = "length chosen on a validation split" if config.recipe == "auto" else f"{config.epochs} epochs"
    print(
        f"training {args.method} on {labelled.n_samples} rows x {labelled.dim} dims, "
        f"{len(labelled.classes)} classes, preset {config.preset_name} ({length}), "
        f"device {resolve_device(config.device)}",
        file=sys.stderr,
    )
    meta = {"data": str(args.data), "label_col": args.label_col, "rows": labelled.n_samples}
    if best:

        def stage(name, epoch, epochs):
            bar(f"{name}: epoch {epoch}/{epochs}" if epochs else f"{name}…", final=name == "final" and epoch == epochs)

        head = TrainedHead.train_best(
            labelled.embeddings,
            labelled.labels,
            config,
            methods=parse_methods(args.auto_methods, "--auto-methods"),
            alphas=parse_floats(args.alphas, "alphas"),
            softnesses=parse_floats(args.softnesses, "softnesses"),
            progress=stage,
            metadata=meta,
            none_examples=load_none_examples(args),
        )
    else:

        def progress(r):
            bar(f"epoch {r.epoch}/{r.epochs}", final=r.epoch == r.epochs)

        head = TrainedHead.train(
            labelled.embeddings,
            labelled.labels,
            config,
            progress=progress,
            metadata=meta,
            none_examples=load_none_examples(args),
        )
    head.save(args.out)
    print(describe_training(head), file=sys.stderr)
    print(f"saved {args.out}/head.safetensors and head.json", file=sys.stderr)
    return 0


def describe_training(head) -> str:
    """What the "auto" recipe chose for a head, and why (empty for fixed presets)."""
    info = head.metadata.get("training")
    if not info:
        return f"trained {head.config.method} for {len(head.history)} epochs"
    chosen = info["chosen"]
    lines = [
        f"chosen: {chosen['method']} alpha={chosen['alpha']:g} softness={chosen['softness']:g}, "
        f"stopped at epoch {info['best_epoch']} of {head.config.epochs}, temperature {info['temperature']:.3f}, "
        f"batch {head.config.batch_size}, peak learning rate {head.config.lr_max:.3g} ({info['seconds']:.1f}s)"
    ]
    val = info["validation"]
    if isinstance(val, str):
        return "\n".join([*lines, f"validation split: {val}"])
    lines.append(
        f"validation split: {val['train_rows']} rows train, {val['held_out_rows']} held out "
        f"({len(val['removed_classes'])} classes removed as 'none'); criterion: {val['criterion']}"
    )
    if len(val["candidates"]) > 1:
        from .auto_report import candidates_frame

        table = candidates_frame(val["candidates"]).head(10).to_string(index=False, float_format=lambda v: f"{v:.4g}")
        lines += ["  " + line for line in table.splitlines()]
        if len(val["candidates"]) > 10:
            lines.append(f"  ... and {len(val['candidates']) - 10} more in head.json")
    return "\n".join(lines)


def cmd_evaluate(args) -> int:
    from .evaluation import evaluate, none_score_report
    from .jsonio import write_frame_atomic, write_json_atomic
    from .metrics import NONE, encode_labels
    from .threshold_doc import ThresholdDocument
    from .train import TrainedHead

    head = TrainedHead.load(args.model)
    ds = _load(args, min_classes=1)
    ds = ds.subset(ds.labeled_mask)
    if ds.n_samples == 0:
        raise EmbaugError(f"{args.data}: no labelled rows to evaluate.")
    y = encode_labels(ds.labels, head.class_names)
    none_x = load_none_examples(args)
    if none_x is not None:
        head.scores = head.score_bank().refit_weight(head, ds.embeddings[y != NONE], none_x)
    logits = head.predict_logits(ds.embeddings)
    confidence = head.confidence(ds.embeddings, args.score, logits=logits)
    ev = evaluate(head.predict_proba(ds.embeddings), y, n_bins=args.bins, confidence=confidence)
    out = Path(args.out)
    (out / "curves").mkdir(parents=True, exist_ok=True)
    measured_on = f"{args.data}: the rows evaluated here, with this head"
    guarantee = guarantee_from_args(args, confidence[y != NONE])
    metrics = {
        "model": str(args.model),
        "data": str(args.data),
        "method": head.method,
        "classes": list(head.class_names),
        "score": args.score,
        **ev.to_dict(),
        "none_scores": none_score_report(head, ds.embeddings, y, logits=logits),
        **({"guarantee": {**guarantee.to_dict(), "threshold": guarantee.threshold}} if guarantee else {}),
    }
    write_json_atomic(out / "metrics.json", metrics)
    write_frame_atomic(out / "curves" / "threshold_sweep.csv", ev.curve_frame())
    write_frame_atomic(out / "curves" / "reliability.csv", ev.reliability_frame())
    write_frame_atomic(out / "curves" / "reliability_equal_mass.csv", ev.reliability_frame(equal_mass=True))
    docs = {
        f"threshold_{name}.json": dict(threshold=h.threshold, source=name, validation_point=ev.operating_points[name])
        for name, h in ev.heuristics.items()
    }
    if guarantee is not None:
        docs["threshold_guaranteed.json"] = dict(
            threshold=guarantee.threshold,
            source="guaranteed",
            validation_point=ev.at(guarantee.threshold),
            guarantee=guarantee,
        )
    for file, kw in docs.items():
        ThresholdDocument.create(
            **kw, head=head, model_path=args.model, measured_on=measured_on, score=args.score
        ).save(out / file)
    print_evaluation(ev, guarantee, args.score)
    print(f"wrote {out}/metrics.json, curves/*.csv" + "".join(f", {f}" for f in docs), file=sys.stderr)
    return 0


def cmd_predict(args) -> int:
    import numpy as np
    import pandas as pd

    from .jsonio import write_frame_atomic
    from .metrics import top_k
    from .thresholds import NONE_ANSWER, route
    from .train import TrainedHead

    head = TrainedHead.load(args.model)
    threshold, score = threshold_from_args(args, head)
    ds = _load(args, label_required=False)
    logits = head.predict_logits(ds.embeddings)
    probs = head.predict_proba(ds.embeddings)  # (n, C) float64
    confidence = head.confidence(ds.embeddings, score, logits=logits)  # (n,)
    idx, top = top_k(probs, args.top_k)  # (n, k) each
    names = np.asarray(head.class_names, dtype=object)
    frame = pd.DataFrame(
        {
            "id": ds.ids,
            "prediction": route(probs, threshold, head.class_names, confidence=confidence),
            "confidence": confidence,
        }
    )
    for j in range(idx.shape[1]):
        frame[f"top{j + 1}_class"] = names[idx[:, j]]
        frame[f"top{j + 1}_prob"] = top[:, j]
    write_frame_atomic(args.out, frame)
    n_none = int((frame["prediction"] == NONE_ANSWER).sum())
    print(
        f"wrote {len(frame)} predictions to {args.out} (score {score}, threshold {threshold:.4g}; "
        f"{n_none} answered 'none')",
        file=sys.stderr,
    )
    return 0


def cmd_experiment(args) -> int:
    from .augment import METHOD_NAMES, PAPER_METHODS
    from .experiment import ExperimentConfig, run_experiment
    from .report import write_report

    named = {"all": METHOD_NAMES, "paper": PAPER_METHODS}
    methods = named.get(args.methods) or tuple(m.strip() for m in args.methods.split(",") if m.strip())
    baselines = (
        ()
        if args.baselines.strip() in ("", "none")
        else tuple(b.strip() for b in args.baselines.split(",") if b.strip())
    )
    config = ExperimentConfig(
        methods=methods,
        auto_methods=parse_methods(args.auto_methods, "--auto-methods"),
        baselines=baselines,
        n_trials=args.trials,
        train_fraction=args.train_fraction,
        unseen_classes=parse_unseen(args.unseen_classes),
        none_label=args.none_label,
        alphas=parse_floats(args.alphas, "alphas"),
        softnesses=parse_floats(args.softnesses, "softnesses"),
        n_removed_classes=args.removed_classes,
        train=_train_config(args),
        seed=args.seed,
    )
    ds = _load(args)
    bar = _Progress()
    from .train import resolve_device

    where = f"Ray ({args.ray_address or 'local'})" if args.backend == "ray" else "this machine"
    print(
        f"experiment on {where}: {len(methods)} methods + {len(baselines)} baselines x {args.trials} trials, "
        f"device {resolve_device(args.device)}",
        file=sys.stderr,
    )

    def progress(p):
        epoch = f" epoch {p.epoch}/{p.epochs}" if p.epochs else ""
        eta = "" if p.eta_s != p.eta_s else f"  eta {p.eta_s:.0f}s"
        bar(f"[{p.done}/{p.total}] {p.message}{epoch}  elapsed {p.elapsed_s:.0f}s{eta}", final=p.message == "done")

    keep = bool(args.save_run) and args.backend == "local"  # heads stay in this process only
    where_kw = dict(backend=args.backend, ray_address=args.ray_address, threads=args.threads)
    result = run_experiment(ds, config, progress=progress, keep_artifacts=keep, **where_kw)
    result.save(args.out)
    _save_run(args, result, ds)
    write_report(result, Path(args.out) / "report.html", title=f"embaug experiment on {Path(args.data).name}")
    print(result.markdown())
    print(
        f"wrote {args.out}/results.json, table1-3.csv, comparison.csv, tables.md, report.html "
        f"({result.wall_seconds:.0f}s)",
        file=sys.stderr,
    )
    return 0


def _save_run(args, result, ds) -> None:
    """``--save-run NAME``: the experiment as a run in the store, to reopen in the dashboard."""
    from .runs import RunStore

    if args.save_run:
        info = RunStore().save(result, name=args.save_run, dataset=ds)
        print(f"saved run {info.id} in {RunStore().root}", file=sys.stderr)


def _embed_text(args, progress, cache):
    """``embed text``: text columns, or text plus images of the same items (--images)."""
    from .embed import ImageEmbedConfig, TextEmbedConfig, embed_product_table, embed_text_table

    tcfg = TextEmbedConfig(**{k: getattr(args, k) for k in ("model", "recipe", "max_length", "batch_size", "device")})
    common = dict(text_cols=args.text_col, label_col=args.label_col, id_col=args.id_col, progress=progress, cache=cache)
    if not args.images:
        return embed_text_table(args.data, config=tcfg, **common)
    if not args.image_col:
        raise EmbaugError("--images needs --image-col, the column naming each row's image file.")
    icfg = ImageEmbedConfig(model=args.image_model, weights=args.weights, device=args.device)
    return embed_product_table(
        args.data, image_col=args.image_col, images=args.images, text_config=tcfg, image_config=icfg, **common
    )


def cmd_embed(args) -> int:
    from .data import save_embeddings
    from .embed import EmbeddingCache, ImageEmbedConfig, embed_image_source

    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet", ".npz"):
        raise EmbaugError(f"--out {out}: use a .csv, .parquet or .npz file name.")
    cache = None if args.no_cache else EmbeddingCache()
    bar = _Progress()

    def progress(done, total):
        bar(f"embedded {done}/{total}", final=done == total)

    if args.embed_kind == "text":
        ds, skipped = _embed_text(args, progress, cache), []
    else:
        icfg = ImageEmbedConfig(**{k: getattr(args, k) for k in ("model", "weights", "batch_size", "device")})
        ds, skipped = embed_image_source(
            args.source, labels_csv=args.labels, config=icfg, progress=progress, cache=cache
        )
    save_embeddings(ds, out)
    for name, reason in skipped[:20]:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    if len(skipped) > 20:
        print(f"... and {len(skipped) - 20} more skipped files", file=sys.stderr)
    extra = f" ({len(skipped)} files skipped)" if skipped else ""
    print(f"wrote {ds.n_samples} rows x {ds.dim} dims to {out}{extra}", file=sys.stderr)
    return 0


#: The dashboard server's environment unless the user sets it. glibc gives each allocating thread
#: its own arena (up to 8 per core) and Streamlit runs a thread per session; memory freed over many
#: arenas is rarely returned. benchmarks/soak.py (8 sessions, 1 round): RSS after they closed 1.44x
#: the start by default, 1.08x with 2 arenas. glibc fixes the limit early, so only the environment
#: works (a mallopt() from the app was tried: no change).
DASHBOARD_ENV = {"MALLOC_ARENA_MAX": "2"}


def cmd_dashboard(args) -> int:
    import subprocess

    app = Path(__file__).resolve().parent.parent / "app.py"
    if not app.exists():
        raise EmbaugError(f"{app} not found: the dashboard runs from a source checkout (pip install -e .).")
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port)]
    if args.headless:
        cmd += ["--server.headless", "true"]
    return subprocess.call(cmd, env={**DASHBOARD_ENV, **os.environ})


COMMANDS = {
    "split": cmd_split,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "experiment": cmd_experiment,
    "embed": cmd_embed,
    "runs": cmd_runs,
    "dashboard": cmd_dashboard,
}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except EmbaugError as exc:
        hint = f" {CLI_HINTS[exc.choice]}" if isinstance(exc, ColumnChoiceError) else ""
        print(f"embaug {args.command}: error: {exc}{hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"embaug {args.command}: interrupted; nothing was overwritten.", file=sys.stderr)
        return 130
    except OSError as exc:
        print(
            f"embaug {args.command}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
