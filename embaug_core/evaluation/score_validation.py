"""Rows a head did not train on, for its none scores: :class:`ScoreValidation` chooses kNN's k and the
fused score's weight and z scale on them, and gives the head's part of the percentile scale
(:mod:`embaug_core.evaluation.scores` says how each score uses it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .detection import energy_none_score, separation_auroc
from .distances import knn_distance
from .metrics import sigmoid
from .scores import KNN_CANDIDATES, ScoreBank, ScoreConfig, best_fused_weight

__all__ = ["ScoreValidation"]


@dataclass(frozen=True)
class ScoreValidation:
    """Rows the head did not train on, to choose k and the fused weight.

    Attributes
    ----------
    bank_x : (m, D) the validation split's training rows (the kNN bank while choosing k)
    known_x, known_max_prob : (a, D), (a,) known-class rows held out of that bank, and their
        max-prob none scores under a head that did not train on them
    none_x, none_max_prob : (b, D), (b,) "none" rows and theirs
    none_source : "none examples" or "removed classes"
    known_scores : {"energy": (a,)} none scores of ``known_x`` from a head that did not train on them; with
        ``held_out`` they and ``known_max_prob`` make the head's part of the percentile scale
    held_out : whether ``known_x`` are rows the scored head and its bank never saw (False when the known
        side is the training rows themselves: they then choose k and w but not the scale)
    near_x, near_max_prob : (c, D), (c,) rows of classes held out of training (the removed classes) and their
        max-prob none scores, when ``none_x`` are other rows (none examples): the fused weight must not cost
        them max-prob's catch rate (:func:`~embaug_core.evaluation.scores.best_fused_weight`); None: the
        ``none_x`` rows themselves constrain it when they are removed classes
    choose_k : whether these rows choose kNN's k (False: the bank's default k stays; a single head's split
        has too few removed classes to choose it: on the golden slice, none-AUROC 0.885 for kNN against 0.930
        with the default k)
    """

    bank_x: np.ndarray
    known_x: np.ndarray
    known_max_prob: np.ndarray
    none_x: np.ndarray
    none_max_prob: np.ndarray
    none_source: str = "removed classes"
    known_scores: dict = field(default_factory=dict)
    held_out: bool = True
    near_x: np.ndarray | None = None
    near_max_prob: np.ndarray | None = None
    choose_k: bool = True

    def with_none_examples(self, none_x, none_logits) -> ScoreValidation:
        """The same rows with the user's out-of-scope rows ``none_x`` (b, D) as the "none" side, scored by the
        same head (logits (b, C)); the removed classes' rows (the current "none" side) stay, as the rows that
        choose the fused weight."""
        from dataclasses import replace

        near = (self.none_x, self.none_max_prob) if self.none_source == "removed classes" else (None, None)
        return replace(
            self,
            none_x=np.asarray(none_x),
            none_max_prob=_max_prob(none_logits),
            none_source="none examples",
            near_x=near[0],
            near_max_prob=near[1],
        )

    @classmethod
    def from_split(cls, bank_x, known_x, known_logits, none_x, none_logits) -> ScoreValidation:
        """The validation of a split: a head that trained on the bank rows ``bank_x`` (m, D), scoring known
        rows (a, D) and "none" rows (b, D) it never saw with logits (a, C) and (b, C). The known rows'
        max-prob and energy make the percentile scale (:meth:`reference`)."""
        known_logits = np.asarray(known_logits)
        max_prob = [_max_prob(z) for z in (known_logits, none_logits)]
        energy = {"energy": energy_none_score(known_logits, kind="sigmoid")}
        return cls(
            np.asarray(bank_x), np.asarray(known_x), max_prob[0], np.asarray(none_x), max_prob[1], known_scores=energy
        )

    def reference(self, config: ScoreConfig) -> dict:
        """The held-out known rows' raw max-prob (and energy, when given) none scores: the head's part of the
        percentile scale. Empty when they are not held out or too few (``min_none_rows``)."""
        if not self.held_out or len(self.known_x) < config.min_none_rows:
            return {}
        out = {"max_prob": np.asarray(self.known_max_prob, dtype=np.float64)}
        if "energy" in self.known_scores:
            out["energy"] = np.asarray(self.known_scores["energy"], dtype=np.float64)
        return out

    def choose(self, sb: ScoreBank) -> dict:
        """k by none-AUROC over :data:`KNN_CANDIDATES`; then the z-scoring of the fused score's two
        halves on these held-out known rows, and its weight w on that scale. Returns the
        :class:`ScoreBank` fields to set ({} when there are too few rows)."""
        cfg = sb.config
        if min(len(self.known_x), len(self.none_x)) < cfg.min_none_rows:
            return {}
        known_d = {k: knn_distance(self.bank_x, self.known_x, k) for k in KNN_CANDIDATES}
        none_d = {k: knn_distance(self.bank_x, self.none_x, k) for k in KNN_CANDIDATES}
        aucs = {k: separation_auroc(known_d[k], none_d[k]) for k in KNN_CANDIDATES if k <= len(self.bank_x)}
        k = max(aucs, key=lambda c: (aucs[c], -c)) if self.choose_k or sb.knn_k not in known_d else sb.knn_k
        if cfg.fused_distance == "knn":
            kd, nd = known_d[k], none_d[k]
        else:
            kd, nd = sb._raw("mahalanobis", self.known_x, None), sb._raw("mahalanobis", self.none_x, None)
        zp = (float(self.known_max_prob.mean()), float(max(self.known_max_prob.std(), 1e-12)))
        zd = (float(kd.mean()), float(max(kd.std(), 1e-12)))

        def z(v, mean_std):
            return (v - mean_std[0]) / mean_std[1]

        near = None
        if self.none_source == "removed classes":
            near = (z(self.none_max_prob, zp), z(nd, zd))
        elif self.near_x is not None and len(self.near_x) >= cfg.min_none_rows:  # fewer: a handful would decide w
            near_d = (
                knn_distance(self.bank_x, self.near_x, k)
                if cfg.fused_distance == "knn"
                else sb._raw("mahalanobis", self.near_x, None)
            )
            near = (z(self.near_max_prob, zp), z(near_d, zd))
        w = best_fused_weight((z(self.known_max_prob, zp), z(kd, zd)), (z(self.none_max_prob, zp), z(nd, zd)), near)
        return {
            "knn_k": int(k),
            "knn_k_source": "validation" if self.choose_k else sb.knn_k_source,
            "fused_weight": w,
            "fused_weight_source": self.none_source,
            "fused_z": (zp, zd),
            "z_source": "held-out known rows",
        }


def _max_prob(logits) -> np.ndarray:
    """Max-prob none scores (n,) of sigmoid logits (n, C): 1 - the top probability."""
    z = np.asarray(logits)
    return 1.0 - sigmoid(z).max(1) if len(z) else np.empty(0)
