"""One head on the command line: ``embaug train``, ``evaluate`` and ``predict``."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import EmbaugError
from .common import Progress, load_data, train_config
from .parser import parse_floats, parse_methods
from .thresholds import (
    guarantee_from_args,
    live_check,
    load_none_examples,
    print_evaluation,
    risk_from_args,
    threshold_from_args,
)

__all__ = ["cmd_train", "cmd_evaluate", "cmd_predict", "describe_training"]


def cmd_train(args) -> int:
    from ..device import resolve_device
    from ..training.trained_head import TrainedHead

    best = args.method == "auto"
    config = train_config(args, method="control" if best else args.method, alpha=args.alpha, softness=args.softness)
    ds = load_data(args)
    labelled = ds.subset(ds.labeled_mask)
    bar = Progress()
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
        if head.config.model == "logreg":
            return f"fitted logistic regression (C {head.config.C:g})"
        peer = f" (logistic regression C {head.config.blend_C:g})" if head.config.blend_C > 0 else ""
        return f"trained {head.method}{peer} for {len(head.history)} epochs"
    chosen = info["chosen"]
    if chosen["method"] == "logreg":
        what = f"chosen: logistic regression, C {chosen['C']:g}, temperature {info['temperature']:.3f}"
    else:
        peer = f" C={chosen['C']:g}" if "C" in chosen else ""  # a blend's logistic regression
        what = (
            f"chosen: {chosen['method']} alpha={chosen['alpha']:g} softness={chosen['softness']:g}{peer}, "
            f"stopped at epoch {info['best_epoch']} of {head.config.epochs}, temperature {info['temperature']:.3f}"
            f"{' (' + info['temperature_fit'] + ')' if 'temperature_fit' in info else ''}, "
            f"batch {head.config.batch_size}, peak learning rate {head.config.lr_max:.3g}"
        )
    lines = [f"{what} ({info['seconds']:.1f}s)"]
    val = info["validation"]
    if isinstance(val, str):
        return "\n".join([*lines, f"validation split: {val}"])
    lines.append(
        f"validation split: {val['train_rows']} rows train, {val['held_out_rows']} held out "
        f"({len(val['removed_classes'])} classes removed as 'none'); criterion: {val['criterion']}"
    )
    if len(val["candidates"]) > 1:
        from ..experiment.explain import candidates_frame

        table = candidates_frame(val["candidates"]).head(10).to_string(index=False, float_format=lambda v: f"{v:.4g}")
        lines += ["  " + line for line in table.splitlines()]
        if len(val["candidates"]) > 10:
            lines.append(f"  ... and {len(val['candidates']) - 10} more in head.json")
    return "\n".join(lines)


def cmd_evaluate(args) -> int:
    from ..evaluation.metrics import NONE, encode_labels
    from ..evaluation.summary import evaluate, none_score_report
    from ..jsonio import write_frame_atomic, write_json_atomic
    from ..training.trained_head import TrainedHead

    head = TrainedHead.load(args.model)
    ds = load_data(args, min_classes=1)
    ds = ds.subset(ds.labeled_mask)
    if ds.n_samples == 0:
        raise EmbaugError(f"{args.data}: no labelled rows to evaluate.")
    y = encode_labels(ds.labels, head.class_names)
    none_x = load_none_examples(args)
    cal = _refit_fused(args, head, ds.embeddings, y, none_x)  # the rows the guarantees may use
    logits = head.predict_logits(ds.embeddings)
    confidence = head.confidence(ds.embeddings, args.score, logits=logits)
    ev = evaluate(head.predict_proba(ds.embeddings), y, n_bins=args.bins, confidence=confidence)
    out = Path(args.out)
    (out / "curves").mkdir(parents=True, exist_ok=True)
    measured_on = f"{args.data}: the rows evaluated here, with this head"
    guarantee = guarantee_from_args(args, confidence[cal][y[cal] != NONE])
    half = cal.sum() < len(y)
    risk, risk_rows = _risk(args, head, logits[cal], confidence[cal], y[cal], None if half else none_x, half)
    metrics = {
        "model": str(args.model),
        "data": str(args.data),
        "method": head.method,
        "classes": list(head.class_names),
        "score": args.score,
        **ev.to_dict(),
        "none_scores": {s: d.to_dict() for s, d in none_score_report(head, ds.embeddings, y, logits=logits).items()},
        **({"guarantee": {**guarantee.to_dict(), "threshold": guarantee.threshold}} if guarantee else {}),
        **({"risk": {**risk.to_dict(), "threshold": risk.threshold if risk.holds else None}} if risk else {}),
    }
    write_json_atomic(out / "metrics.json", metrics)
    write_frame_atomic(out / "curves" / "threshold_sweep.csv", ev.curve_frame())
    write_frame_atomic(out / "curves" / "reliability.csv", ev.reliability_frame())
    write_frame_atomic(out / "curves" / "reliability_equal_mass.csv", ev.reliability_frame(equal_mass=True))
    docs = _threshold_files(args, head, ev, confidence, guarantee, risk, risk_rows, measured_on)
    print_evaluation(ev, guarantee, args.score, risk)
    print(f"wrote {out}/metrics.json, curves/*.csv" + "".join(f", {f}" for f in docs), file=sys.stderr)
    if risk is not None and not risk.holds:
        raise EmbaugError(f"--max-error-rate: {risk.sentence()} No threshold_risk.json was written.")
    return 0


def _threshold_files(args, head, ev, confidence, guarantee, risk, risk_rows, measured_on) -> list[str]:
    """Write every heuristic's threshold file into --out, each with the calibration record the live check of
    ``embaug predict`` needs (heuristic 4's: its calibration rows; the others': the rows evaluated)."""
    from ..evaluation.live_check import CalibrationRecord
    from ..evaluation.threshold_file import ThresholdDocument

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
    if risk is not None and risk.holds:
        docs["threshold_risk.json"] = dict(
            threshold=risk.threshold, source="risk", validation_point=ev.at(risk.threshold), risk=risk
        )
    for file, kw in docs.items():
        rows = (confidence, f"{args.data}: the rows evaluated")
        if file == "threshold_risk.json":
            rows = risk_rows
        calibration = CalibrationRecord.of(rows[0], kw["threshold"], rows[1])
        ThresholdDocument.create(
            **kw, head=head, model_path=args.model, measured_on=measured_on, score=args.score, calibration=calibration
        ).save(Path(args.out) / file)
    return list(docs)


def _refit_fused(args, head, x, y, none_x):
    """With --none-examples, the fused score's weight fitted again on DATA's known rows against them (DATA's
    rows outside the model's classes choosing it, :func:`~embaug_core.evaluation.scores.best_fused_weight`).
    Returns the rows (bool (n,)) heuristics 3 and 4 may be computed on: all of them, except with --score fused
    and a guarantee asked for, where the weight is fitted on a seeded half of DATA's rows and the guarantees on
    the other half (a guarantee holds only for a score fixed before its calibration rows are seen), and the
    none examples, which fitted it, are not calibration rows."""
    import numpy as np

    from ..evaluation.metrics import NONE
    from ..evaluation.risk_control import halves

    every = np.ones(len(y), dtype=bool)
    if none_x is None:
        return every
    fit = every
    if args.score == "fused" and (args.max_false_rejection is not None or args.max_error_rate is not None):
        fit = np.zeros(len(y), dtype=bool)
        fit[halves(y != NONE, 0)[0]] = True
        print(
            "note: --score fused with --none-examples: the fused weight is fitted on half of DATA's rows and the "
            "none examples, and the guaranteed thresholds are computed on the other half.",
            file=sys.stderr,
        )
    known, near = fit & (y != NONE), fit & (y == NONE)
    head.scores = head.score_bank().refit_weight(head, x[known], none_x, x[near])
    return every if fit is every else ~fit


def _risk(args, head, logits, confidence, y, none_x, half: bool = False):
    """Heuristic 4 on DATA's rows (labels outside the model's classes are "none") and the --none-examples rows:
    (RiskControlledThreshold or None, (its calibration rows' confidences, those rows in words))."""
    import numpy as np

    from ..evaluation.metrics import NONE

    if args.max_error_rate is None:
        return None, None
    known = y != NONE
    correct = known & (logits.argmax(1) == y)
    rows = f"{args.data}: " + (
        "the half of the rows evaluated that did not fit the fused weight" if half else "the rows evaluated"
    )
    if none_x is not None:
        confidence = np.r_[confidence, head.confidence(none_x, args.score)]
        known = np.r_[known, np.zeros(len(none_x), dtype=bool)]
        correct = np.r_[correct, np.zeros(len(none_x), dtype=bool)]
        rows += f", and the {len(none_x)} --none-examples rows"
    return risk_from_args(args, confidence, correct, known), (confidence, rows)


def cmd_predict(args) -> int:
    import numpy as np
    import pandas as pd

    from ..evaluation.metrics import top_k
    from ..evaluation.thresholds import NONE_ANSWER, route
    from ..jsonio import write_frame_atomic
    from ..training.trained_head import TrainedHead

    head = TrainedHead.load(args.model)
    threshold, score, doc = threshold_from_args(args, head)
    ds = load_data(args, label_required=False)
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
    live_check(doc, confidence)
    return 0
