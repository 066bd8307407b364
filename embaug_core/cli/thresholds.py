"""What ``embaug train``, ``evaluate`` and ``predict`` need of none scores and thresholds: the
--none-examples table, heuristic 3 from --max-false-rejection / --confidence-level, heuristic 4 from
--max-error-rate, the printed evaluation, --threshold with --score (a threshold file brings its own
score) and the live check of a predicted batch."""

from __future__ import annotations

import math
import sys

from ..errors import EmbaugError


def load_none_examples(args):
    """The --none-examples table's embeddings (b, D), or None."""
    from ..data.table import load_embeddings

    if not args.none_examples:
        return None
    cols = args.embedding_cols
    if cols and "," in cols:
        cols = [c.strip() for c in cols.split(",") if c.strip()]
    try:
        ds = load_embeddings(
            args.none_examples, label_col=None, embedding_cols=cols, vector_col=args.vector_col, min_classes=0
        )
    except EmbaugError as exc:
        raise EmbaugError(f"--none-examples: {exc}") from None
    if ds.n_samples == 0:
        raise EmbaugError(f"--none-examples {args.none_examples}: no rows.")
    return ds.embeddings


def _check_levels(args) -> None:
    level = args.confidence_level
    if not 0.0 < level < 1.0:
        raise EmbaugError(f"--confidence-level must be strictly between 0 and 1 (e.g. 0.9); got {level}.")
    if args.max_false_rejection is not None and not 0.0 < args.max_false_rejection < 1.0:
        raise EmbaugError(
            f"--max-false-rejection must be strictly between 0 and 1 (e.g. 0.05); got {args.max_false_rejection}."
        )
    if args.max_error_rate is not None and not 0.0 < args.max_error_rate < 1.0:
        raise EmbaugError(f"--max-error-rate must be strictly between 0 and 1 (e.g. 0.1); got {args.max_error_rate}.")


def guarantee_from_args(args, known_confidence):
    from ..evaluation.guarantee import guaranteed_threshold

    _check_levels(args)
    if args.max_false_rejection is None:
        return None
    level = args.confidence_level
    if len(known_confidence) == 0:
        raise EmbaugError("--max-false-rejection needs known-class rows in DATA; it has none.")
    return guaranteed_threshold(known_confidence, args.max_false_rejection, 1.0 - level)


def risk_from_args(args, confidence, correct, known):
    """Heuristic 4 from --max-error-rate (with --max-false-rejection: the joint form) on calibration rows'
    confidences, correct flags and known flags (n,); None without --max-error-rate."""
    from ..evaluation.risk_control import risk_controlled_threshold

    _check_levels(args)
    if args.max_error_rate is None:
        return None
    if not (~known).any():
        raise EmbaugError(
            f'--max-error-rate needs "none" rows to calibrate on, and {args.data} has none: give rows whose label is '
            "not one of the model's classes (e.g. classes left out of training), or rows known to be out of scope "
            "with --none-examples FILE. (In an experiment, the protocol's removed classes are such rows.)"
        )
    try:
        return risk_controlled_threshold(
            confidence,
            correct,
            known,
            args.max_error_rate,
            1.0 - args.confidence_level,
            max_false_rejection=args.max_false_rejection,
        )
    except EmbaugError as exc:
        flags = "--max-error-rate, --confidence-level" + (", --max-false-rejection" if args.max_false_rejection else "")
        raise EmbaugError(f"--max-error-rate: {exc} (the flags: {flags})") from None


def live_check(doc, confidence) -> None:
    """The live check of a predicted batch against the threshold file ``doc``'s calibration record: one line
    starting with "warning:" on standard error when the batch does not look like those rows."""
    from ..evaluation.live_check import MIN_BATCH_ROWS

    if doc is None or len(confidence) < MIN_BATCH_ROWS:
        return
    check = doc.check_batch(confidence)  # None: the file keeps no calibration rows
    if check is None:
        print(
            "note: the threshold file keeps no calibration rows (it was written by an older embaug, or by hand), "
            "so this batch was not checked against them; export it again with 'embaug evaluate' to have the check.",
            file=sys.stderr,
        )
    elif check.warning():
        print(check.warning(), file=sys.stderr)


def print_evaluation(ev, guarantee, score: str, risk=None) -> None:
    from ..experiment.display import fmt

    print(
        f"AUROC {ev.auroc:.4f}  AUPR {ev.aupr:.4f}  ECE {ev.calibration.ece:.4f}  "
        f"corr {ev.calibration.correlation:.4f}  ({ev.n_id} ID rows, {ev.n_none} none rows; score {score})"
    )
    points = {name: (h.threshold, ev.operating_points[name]) for name, h in ev.heuristics.items()}
    if guarantee is not None:
        points["guaranteed"] = (guarantee.threshold, ev.at(guarantee.threshold))
    for name, (t, p) in points.items():
        print(
            f"{name:>12}: threshold {t:.3f}  ID acc {fmt(p.id_accuracy)}  none acc {fmt(p.none_accuracy)}  "
            f"overall {fmt(p.overall_accuracy)}"
        )
    if guarantee is not None:
        print(f"  guaranteed: {guarantee.sentence()}")
    if risk is not None and risk.holds:
        p = ev.at(risk.threshold)
        print(
            f"{'risk':>12}: threshold {risk.threshold:.3f}  ID acc {fmt(p.id_accuracy)}  "
            f"none acc {fmt(p.none_accuracy)}  overall {fmt(p.overall_accuracy)}"
        )
    if risk is not None:
        print(f"  risk: {risk.sentence()}")
    for note in ev.notes:
        print(f"note: {note}", file=sys.stderr)


def threshold_from_args(args, head) -> tuple[float, str, object]:
    """(threshold, score, the threshold file's ThresholdDocument or None) from --threshold (a number or a
    threshold file) and --score."""
    from ..evaluation.threshold_file import load_threshold

    value = args.threshold
    try:
        t = float(value)
    except ValueError:
        doc = load_threshold(value)
        doc.check_model(head)
        if args.score is not None and args.score != doc.score:
            raise EmbaugError(
                f"--score {args.score} does not match the threshold file {value}, which is in {doc.score} units; "
                f"leave out --score (or pass --score {doc.score}), or export a threshold for {args.score}."
            ) from None
        if doc.score_params:
            head.scores = head.score_bank().with_params(**doc.score_params)
        return doc.threshold, doc.score, doc
    if not math.isfinite(t) or not 0.0 <= t <= 1.0:
        raise EmbaugError(f"--threshold must be a number in [0, 1] or a threshold JSON file; got {value!r}.")
    return t, args.score or "max_prob", None
