"""The Threshold page's heuristic 4 panel (a guaranteed error rate among answered items) and its live check
(is an uploaded, unlabelled batch like the evaluation rows?). The page (dashboard/pages/threshold.py) calls
them beside heuristic 3's panel (dashboard/threshold_panels.py)."""

from __future__ import annotations

import math

import streamlit as st

from embaug_core.data.table import load_embeddings
from embaug_core.errors import EmbaugError
from embaug_core.evaluation.guarantee import percent
from embaug_core.evaluation.live_check import MIN_BATCH_ROWS, CalibrationRecord, ShiftCheck, check_batch
from embaug_core.evaluation.metrics import bin_confidences, correct_top1
from embaug_core.evaluation.risk_control import RiskControlledThreshold, split_risk_check
from embaug_core.experiment.display import fmt_threshold
from embaug_core.experiment.results import TrialArtifacts
from embaug_core.plots import shift_figure

from . import widgets
from .state import LIVE_CHECK_BATCH, ThresholdState, kept

#: Bins of the live check's figure (equal width on [0, 1], the same for both histograms).
SHIFT_BINS = 20


def risk_panel(art: TrialArtifacts, score: str, head: tuple) -> RiskControlledThreshold | None:
    """Heuristic 4's inputs and its guarantee in words, calibrated on a random half of the evaluation rows
    (known and "none" alike; rows the head never trained on), seeded by the trial; the other half plays
    tomorrow's items. ``head``: (run key, method, trial), :attr:`dashboard.state.ThresholdState.head`.
    None, with the reason on screen, when these rows cannot calibrate it (no "none" rows, too few rows)."""
    with st.expander("Heuristic 4: a guaranteed error rate among answered items"):
        r1, r2, r3 = st.columns(3)
        eps = r1.number_input("Max. error rate among answered", 0.001, 0.999, 0.1, 0.01, format="%.3f", key="risk_eps")
        level = r2.number_input("Confidence level", 0.5, 0.999, 0.9, 0.01, format="%.3f", key="risk_level")
        joint = r3.checkbox("Also at most this false rejection", key="risk_joint")
        alpha = r3.number_input(
            "Max. false rejection (heuristic 4)",
            0.001,
            0.999,
            0.05,
            0.01,
            format="%.3f",
            key="risk_alpha",
            disabled=not joint,
            label_visibility="collapsed",
        )
        try:
            risk, realised, coverage = _risk_check(art, score, head, eps, 1 - level, alpha if joint else None)
        except EmbaugError as exc:
            widgets.show_error(exc)
            return None
        known = art.y_eval >= 0
        others = len(known) - risk.n_known - risk.n_none
        if not risk.holds:
            st.write(f"{risk.sentence()} So heuristic 4 has no threshold to snap to here.")
            return risk
        measured = (
            "answered none of them (no error to measure)"
            if math.isnan(realised)
            else f"answered {percent(coverage)} of them, and {percent(realised)} of those answers were wrong"
        )
        st.write(
            f"{risk.sentence()} Checked on the other {others} evaluation rows: heuristic 4's threshold, "
            f"{fmt_threshold(risk.threshold)}, {measured} (the slider's own threshold is in the tables below)."
        )
    return risk


def _risk_check(art: TrialArtifacts, score: str, head: tuple, eps: float, delta: float, alpha):
    """split_risk_check on the evaluation rows, kept for the last few inputs (heads, scores, settings): the page
    reruns on every widget change and on every switch of the Score, and a calibration that holds nothing
    runs about ten more to find the smallest error rate. Kept by the head's key, not by the result object's
    ``id()``, which Python may give to another result once this one is dropped from the session."""

    def compute():
        correct = correct_top1(art.probs.argmax(1), art.y_eval)
        conf = art.eval_confidence(score)
        return split_risk_check(conf, correct, art.y_eval >= 0, eps, delta, max_false_rejection=alpha, seed=head[2])

    return kept("risk_check", (head, score, eps, delta, alpha), compute)


def live_check_panel(art: TrialArtifacts, score: str, chosen: ThresholdState, trial: int) -> None:
    """Upload unlabelled embeddings and test, at the slider's threshold, whether their confidences look like
    the evaluation rows' (:func:`~embaug_core.evaluation.live_check.check_batch`); one figure of both."""
    with st.expander("Check a new batch against these rows"):
        st.caption(
            "Every guarantee above assumes new items are like the evaluation rows, including their share of "
            '"none" items. Upload embeddings of a new batch (CSV, Parquet or NPZ; labels are ignored) to test '
            "whether their confidences, and the share the slider's threshold refuses, still look like these rows'."
        )
        if art.head is None:
            st.info("The live check needs an embaug head: choose a method, not a baseline.")
            return
        upload = st.file_uploader("New batch of embeddings", type=["csv", "parquet", "npz"], key="live_check_file")
        if upload is None:
            st.session_state.pop(LIVE_CHECK_BATCH, None)  # the file was removed: let its confidences go
            return
        batch, error = batch_confidence(art, score, upload, chosen.slider_key)
        if error is not None:
            widgets.show_error(EmbaugError(error))
            return
        threshold = chosen.value()
        evaluation = art.eval_confidence(score)
        check = check_batch(
            CalibrationRecord.of(evaluation, threshold, f"the evaluation rows of trial {trial + 1}"), batch, threshold
        )
        show_check(check)
        bins = bin_confidences(evaluation, n_bins=SHIFT_BINS), bin_confidences(batch, n_bins=SHIFT_BINS)
        st.plotly_chart(
            shift_figure(*bins, threshold, names=("evaluation rows", upload.name)), width="stretch", key="shift_fig"
        )


def batch_confidence(art: TrialArtifacts, score: str, upload, head_key: str):
    """(confidences of the uploaded batch under this head and score, None), or (None, why not in the page's
    words). Kept in the session per file and head: a slider step or another rerun does not read the file again."""
    kept = st.session_state.get(LIVE_CHECK_BATCH)
    if kept is not None and kept[:2] == (upload.file_id, head_key):
        return kept[2], kept[3]
    batch, error = None, None
    try:
        table = load_embeddings(upload.getvalue(), label_col=None, min_classes=0, name=upload.name)
        if table.dim != art.head.input_dim:
            raise EmbaugError(
                f"its rows have {table.dim} dimensions, the data this head was trained on has "
                f"{art.head.input_dim}: embed them with the same model."
            )
        batch = art.head.confidence(table.embeddings, score)
    except EmbaugError as exc:
        error = f"New batch {upload.name}: {exc}"
    st.session_state[LIVE_CHECK_BATCH] = (upload.file_id, head_key, batch, error)
    return batch, error


def show_check(check: ShiftCheck) -> None:
    """The live check's numbers and its verdict."""
    m = st.columns(4)
    m[0].metric("Batch rows", f"{check.n_batch:,}")
    m[1].metric(
        "Refused: batch / evaluation rows",
        f"{percent(check.share_refused_batch)} / {percent(check.share_refused_calibration)}",
        help="Share of rows below the slider's threshold, in the batch and among the evaluation rows.",
    )
    p_refused, p_distribution = (f"{p:.2g}" if check.tested else "–" for p in (check.p_refused, check.p_distribution))
    m[2].metric("p, share refused", p_refused, help="Fisher's exact test: batch against the evaluation rows.")
    m[3].metric("p, distribution", p_distribution, help="Two-sample Kolmogorov–Smirnov test on the confidences.")
    if not check.tested:
        st.info(
            f"This batch has {check.n_batch} rows: too small to test (the live check needs at least "
            f"{MIN_BATCH_ROWS}, else a shift cannot be told from chance)."
        )
    elif check.shifted:
        st.warning(check.warning())
    else:
        st.success(
            f"This batch looks like the evaluation rows: neither its share refused nor its confidence distribution "
            f"differs from theirs at the {percent(check.level)} level. That is not a proof that they are alike: a "
            "shift that leaves the confidences alone goes unseen.",
            icon=":material/check_circle:",
        )
