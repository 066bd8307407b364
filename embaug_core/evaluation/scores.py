"""The "none" score family: one interface for max-probability, energy, kNN, Mahalanobis and fused.

Every score is a **none score**: higher = more likely "none" (out of scope). Each is fitted on
the head's *training* rows only (:meth:`ScoreBank.fit`) and saved with the head.

=============  =================================================================================
name           none score of a row with embedding x (D,) and logits z (C,)
=============  =================================================================================
max_prob       ``1 - max_c sigmoid(z_c)`` (the paper's; the default)
energy         ``-sum_c softplus(z_c)``: the joint energy of C independent binary (sigmoid)
               outputs (Wang et al. 2021). A sigmoid head has no softmax partition function, so
               the softmax form ``-logsumexp(z)`` would score a row as if its classes competed.
knn            cosine distance to the k-th nearest training embedding (L2-normalised; Sun et
               al. 2022). The bank holds the training embeddings, subsampled to ``knn_bank_cap``
               rows (seeded). k is chosen on a validation split when one is given (the value of
               ``knn_k`` otherwise).
mahalanobis    relative Mahalanobis (Ren et al. 2021): ``min_c MD_c(x) - MD_0(x)``, MD_c with
               the class means and one shared covariance, MD_0 with the background Gaussian of
               all training rows; both covariances Ledoit-Wolf shrunk.
fused          ``(1 - w) z(max_prob) + w z(distance)`` (distance = ``fused_distance``, kNN by
               default). Each half is z-scored on known rows: held-out known rows when a
               validation split is given (a head is over-confident on the rows it trained on,
               so their max-prob scores would make a degenerate scale), else the training rows.
               w is fitted (maximum none-AUROC on a 0.05 grid, on that z scale) on "none"
               examples the user supplies, else on the threshold-validation split's removed
               classes; ``default_fused_weight`` (0.5: equal weights) when either group has
               fewer than ``min_none_rows`` rows.
=============  =================================================================================

**One threshold rule for every score.** The threshold machinery (sweeps, heuristics, the
slider, threshold files) works on a *confidence* in [0, 1], accepted when ``confidence >=
threshold`` (:mod:`embaug_core.evaluation.thresholds`). For ``max_prob`` the confidence is the top
probability itself. The other scores are unbounded, so their confidence is a **percentile**: the
share of *reference* known rows whose none score is at least this row's (interpolated between
stored quantiles, with hyperbolic tails beyond them so that it stays strictly monotone). A
threshold of 0.05 on ``knn`` therefore means "answer "none" when the row is farther from the
training data than 95 % of known rows are".

**The reference rows are held out**, so that known rows the head never saw get percentiles spread
over (0, 1). A head is far more confident on the rows it trained on than on any new row, and a bank
fits its own rows closer than new ones: a scale taken from the training rows as they are put every
new row's energy or fused percentile near 0 (the Threshold page's heuristics all read 0.000).

* kNN: each reference training row's distance to the bank without itself (leave-one-out);
* Mahalanobis: each reference training row scored by class means and covariances fitted on the other
  four fifths of the training rows (out of fold);
* max-prob and energy (and so the fused score): the held-out known rows of a validation split
  (:class:`ScoreValidation`), scored by a head that did not train on them (in an experiment the
  validation head; with the auto recipe the chosen candidate's validation head). Without one they
  come from the training rows, and ``reference_source`` says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import ConfigError
from .detection import energy_none_score, separation_auroc
from .distances import knn_distance, mahalanobis_terms, normalise, out_of_fold_mahalanobis, shrunk_precision
from .metrics import sigmoid

__all__ = ["SCORE_NAMES", "SCORE_TITLES", "DEFAULT_SCORE", "ScoreConfig", "ScoreBank", "best_fused_weight"]

SCORE_NAMES = ("max_prob", "energy", "knn", "mahalanobis", "fused")
DEFAULT_SCORE = "max_prob"
SCORE_TITLES = {
    "max_prob": "max probability",
    "energy": "energy (percentile)",
    "knn": "kNN distance (percentile)",
    "mahalanobis": "relative Mahalanobis (percentile)",
    "fused": "max-prob + kNN fused (percentile)",
}
BOUNDED = ("max_prob",)  # scores whose confidence is a probability, not a percentile
KNN_CANDIDATES = (1, 3, 5, 10, 20, 50)
N_QUANTILES = 1001
WEIGHT_GRID = np.arange(21) / 20


@dataclass(frozen=True)
class ScoreConfig:
    """How the scores are fitted (see the module docstring).

    Attributes
    ----------
    knn_k : neighbours when k is not chosen on validation (and the first candidate on ties)
    knn_bank_cap : at most this many training embeddings are kept for kNN (seeded subsample)
    reference_rows : training rows (of the bank) whose scores define the percentile scale
    fused_distance : "knn" or "mahalanobis", the distance half of the fused score
    default_fused_weight : w when there are too few "none" rows to fit it
    min_none_rows : "none" rows (and known rows) needed to fit w or choose k
    seed : for the bank's subsample
    """

    knn_k: int = 1
    knn_bank_cap: int = 20_000
    reference_rows: int = 2_000
    fused_distance: str = "knn"
    default_fused_weight: float = 0.5
    min_none_rows: int = 20
    seed: int = 0

    def __post_init__(self):
        if not (isinstance(self.knn_k, int) and self.knn_k >= 1):
            raise ConfigError(f"knn_k must be a whole number >= 1; got {self.knn_k!r}.")
        if not (isinstance(self.knn_bank_cap, int) and self.knn_bank_cap >= 2):
            raise ConfigError(f"knn_bank_cap must be a whole number >= 2; got {self.knn_bank_cap!r}.")
        if self.fused_distance not in ("knn", "mahalanobis"):
            raise ConfigError(f"fused_distance must be 'knn' or 'mahalanobis'; got {self.fused_distance!r}.")
        if not 0.0 <= self.default_fused_weight <= 1.0:
            raise ConfigError(f"default_fused_weight must be in [0, 1]; got {self.default_fused_weight!r}.")


def check_score_name(name: str, *, where: str = "--score") -> str:
    if name not in SCORE_NAMES:
        raise ConfigError(f"{where} must be one of {', '.join(SCORE_NAMES)}; got {name!r}.")
    return name


#: Weights whose near-AUROC is within this of the best one count as tied, and the none examples decide.
NEAR_AUROC_TIE = 0.001


def best_fused_weight(
    known: tuple[np.ndarray, np.ndarray],
    none: tuple[np.ndarray, np.ndarray],
    near: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """The fused score's weight w on the grid 0, 0.05, ..., 1 (``(1 - w) a + w b``). ``known``, ``none`` and
    ``near`` are (a, b) pairs of z-scored max-prob and distance scores of held-out known rows, rows known to
    be out of scope, and rows of classes held out of training.

    With ``near`` (the validation split's removed classes, or labelled rows outside the head's classes: the
    "none" items closest to the known ones) w is the weight that best tells them from the known rows
    (near-AUROC); weights within :data:`NEAR_AUROC_TIE` of the best are tied, and among them the one that best
    tells ``none`` from known wins (none-AUROC; the smallest w on ties). Without ``near``, the weight with the
    best none-AUROC.

    Why: a weight fitted on off-domain "none" examples alone leans on the distance, which catches far rows
    and misses new intents of the same domain (issue 24: 0.173 of unseen intents caught against max-prob's
    0.206). Rules were compared on 9 sets x 3 trials (benchmarks/README.md, "The fused score"): a cap on the
    loss in catch rate at 5 % false rejection, measured on the validation split, was too noisy (a few removed
    classes, a quantile of a few hundred rows) and lost more than 0.01 of the unseen classes' catch on 7 of 27
    runs (up to 0.21); this rule on 1 (0.019). On 27 other splits it lost more than 0.01 on none (worst 0.003),
    the unconstrained weight on 10 (worst 0.103)."""

    def fuse(pair, w):
        return (1 - w) * pair[0] + w * pair[1]

    candidates = WEIGHT_GRID
    if near is not None and len(near[0]):
        near_auc = np.array([separation_auroc(fuse(known, w), fuse(near, w)) for w in WEIGHT_GRID])
        candidates = WEIGHT_GRID[near_auc >= near_auc.max() - NEAR_AUROC_TIE]
    if len(none[0]) == 0:
        return float(candidates[0])
    aucs = [separation_auroc(fuse(known, w), fuse(none, w)) for w in candidates]
    return float(candidates[int(np.argmax(aucs))])


@dataclass(eq=False)
class ScoreBank:
    """Everything the scores of one head need, fitted on its training rows (see the module docstring).

    Use :meth:`fit`, then :meth:`none_score` / :meth:`confidence`; :meth:`arrays` and
    :meth:`meta` are what the head's files store, :meth:`from_saved` reads them back.
    """

    config: ScoreConfig
    knn_k: int
    knn_k_source: str  # "validation" or "default"
    bank: np.ndarray  # (m, D) float32, L2-normalised
    class_means: np.ndarray  # (C, D)
    precision: np.ndarray  # (D, D), shared within-class
    background_mean: np.ndarray  # (D,)
    background_precision: np.ndarray  # (D, D)
    ref_idx: np.ndarray | None = None  # (m,) bank rows whose scores are the percentile reference
    reference: dict = field(default_factory=dict)  # "max_prob" | "energy" | "mahalanobis" -> (m,) raw scores
    fused_z: tuple | None = None  # ((mean, std) of max_prob, (mean, std) of the distance) on known rows
    z_source: str = "training rows"  # or "held-out known rows" (a validation split)
    fused_weight: float = 0.5
    fused_weight_source: str = "default"  # "none examples", "removed classes" or "default"
    reference_source: str = "training rows"  # or "held-out known rows": the head's scores of the scale
    held_out_knn_k: int | None = None  # the k of reference["held_out_knn"] (the fused score's held-out pairs)

    # ------------------------------------------------------------------ fitting

    @classmethod
    def fit(cls, x, y, logits, *, config: ScoreConfig = ScoreConfig(), validation=None) -> ScoreBank:
        """Fit on training rows.

        Parameters
        ----------
        x : (n, D) training embeddings; y : (n,) class indices; logits : (n, C) the head's logits
        validation : optional :class:`ScoreValidation`, rows the head did not train on, used to
            choose k and the fused weight (see :func:`fit_choices`)
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y)
        n_classes = np.asarray(logits).shape[1]
        if len(x) < 2:
            raise ConfigError("the scores need at least 2 training rows.")
        rng = np.random.default_rng(config.seed)
        keep = np.sort(rng.choice(len(x), config.knn_bank_cap, replace=False)) if len(x) > config.knn_bank_cap else None
        keep = np.arange(len(x)) if keep is None else keep
        means = np.stack([x[y == c].mean(0) if (y == c).any() else x.mean(0) for c in range(n_classes)])
        bg_mean = x.mean(0)
        sb = cls(
            config=config,
            knn_k=config.knn_k,
            knn_k_source="default",
            bank=normalise(x[keep]),
            class_means=means,
            precision=shrunk_precision(x - means[y]),
            background_mean=bg_mean,
            background_precision=shrunk_precision(x - bg_mean),
            fused_weight=config.default_fused_weight,
        )
        for key, value in (validation.choose(sb) if validation is not None else {}).items():
            setattr(sb, key, value)
        m = min(len(keep), config.reference_rows)
        sb.ref_idx = np.sort(rng.choice(len(keep), m, replace=False))  # (m,) into the bank
        rows = keep[sb.ref_idx]  # the same rows of x
        logits = np.asarray(logits)[rows]
        sb.reference = {name: sb._raw(name, x[rows], logits) for name in ("max_prob", "energy")}
        sb.reference["mahalanobis"] = out_of_fold_mahalanobis(x, y, n_classes, rows, rng)
        held_out = validation.reference(config) if validation is not None else {}
        if held_out:
            sb.reference_source = "held-out known rows"
            sb.reference["energy"] = held_out.get("energy", sb.reference["energy"])
            if config.fused_distance == "knn":  # the fused score's pairs: the head's max-prob, the bank's distance
                sb.reference["held_out_max_prob"] = held_out["max_prob"]
                sb.reference["held_out_knn"] = knn_distance(sb.bank, validation.known_x, sb.knn_k, skip_identical=True)
                sb.held_out_knn_k = sb.knn_k
        if sb.fused_z is None:
            d = sb._reference_raw(config.fused_distance)
            sb.fused_z = tuple((float(v.mean()), float(max(v.std(), 1e-12))) for v in (sb.reference["max_prob"], d))
        return sb

    def with_params(self, *, knn_k=None, fused_weight=None, fused_z=None) -> ScoreBank:
        """The same bank with another k, fused weight or fused z scale (as a threshold file records them)."""
        from dataclasses import replace

        out = replace(self)
        if fused_z is not None:
            out.fused_z = tuple((float(m), float(sd)) for m, sd in fused_z)
        out.__dict__.pop("_knn_reference", None)
        if knn_k is not None and knn_k != self.knn_k:
            out.knn_k, out.knn_k_source = int(knn_k), "given"
        if fused_weight is not None and fused_weight != self.fused_weight:
            if not 0.0 <= fused_weight <= 1.0:
                raise ConfigError(f"the fused weight must be in [0, 1]; got {fused_weight!r}.")
            out.fused_weight, out.fused_weight_source = float(fused_weight), "given"
        return out

    def params(self) -> dict:
        """What a threshold file records of the score's fitted parameters."""
        return {"knn_k": self.knn_k, "fused_weight": self.fused_weight, "fused_z": [list(v) for v in self.fused_z]}

    def refit_weight(self, head, known_x, none_x, near_x=None) -> ScoreBank:
        """The fused weight (and its z scale) fitted again on held-out known rows ``known_x`` (a, D)
        of ``head`` and rows known to be out of scope ``none_x`` (b, D); ``near_x`` (c, D), rows of classes
        the head did not train on, choose it (:func:`best_fused_weight`) when there are at least ``min_none_rows``."""
        from dataclasses import replace

        if min(len(known_x), len(none_x)) < self.config.min_none_rows:
            raise ConfigError(
                f"fitting the fused weight needs at least {self.config.min_none_rows} known and "
                f"{self.config.min_none_rows} out-of-scope rows; got {len(known_x)} and {len(none_x)}."
            )
        d = self.config.fused_distance
        known = (1.0 - head.predict_proba(known_x).max(1), self._raw(d, known_x, None))
        none = (1.0 - head.predict_proba(none_x).max(1), self._raw(d, none_x, None))
        z = tuple((float(v.mean()), float(max(v.std(), 1e-12))) for v in known)
        pairs = [known, none]
        if near_x is not None and len(near_x) >= self.config.min_none_rows:  # fewer: a handful would decide w
            pairs.append((1.0 - head.predict_proba(near_x).max(1), self._raw(d, near_x, None)))
        w = best_fused_weight(*[tuple((v - m) / sd for v, (m, sd) in zip(pair, z, strict=True)) for pair in pairs])
        return replace(
            self, fused_weight=w, fused_weight_source="none examples", fused_z=z, z_source="held-out known rows"
        )

    def _reference_raw(self, name: str) -> np.ndarray:
        """Raw none scores (m,) of the reference known rows (see the module docstring; kNN leave-one-out)."""
        if name == "knn":
            cached = self.__dict__.get("_knn_reference")
            if cached is None or cached[0] != self.knn_k:
                d = knn_distance(self.bank, self.bank[self.ref_idx], self.knn_k, skip_self=True)
                cached = self.__dict__["_knn_reference"] = (self.knn_k, d)
            return cached[1]
        if name == "fused" and "held_out_knn" in self.reference and self.held_out_knn_k == self.knn_k:
            return self._fuse(self.reference["held_out_max_prob"], self.reference["held_out_knn"])
        if name == "fused":
            return self._fuse(self.reference["max_prob"], self._reference_raw(self.config.fused_distance))
        return self.reference[name]

    # ------------------------------------------------------------------ scoring

    def _raw(self, name: str, x, logits) -> np.ndarray:
        if name == "max_prob":
            return 1.0 - sigmoid(logits).max(1)
        if name == "energy":
            return energy_none_score(logits, kind="sigmoid")
        if name == "knn":
            return knn_distance(self.bank, x, self.knn_k)
        if name == "mahalanobis":
            x = np.asarray(x, dtype=np.float64)
            within = mahalanobis_terms(x, self.class_means, self.precision).min(1)
            background = mahalanobis_terms(x, self.background_mean[None, :], self.background_precision)[:, 0]
            return within - background
        raise ConfigError(f"unknown score {name!r}")

    def _fuse(self, max_prob: np.ndarray, distance: np.ndarray, weight: float | None = None) -> np.ndarray:
        w = self.fused_weight if weight is None else weight
        (m0, s0), (m1, s1) = self.fused_z
        return (1 - w) * (max_prob - m0) / s0 + w * (distance - m1) / s1

    def none_score(self, name: str, x, logits) -> np.ndarray:
        """None scores (n,) of rows x (n, D) whose head logits are ``logits`` (n, C); higher = more "none"."""
        check_score_name(name)
        if name == "fused":
            return self._fuse(self._raw("max_prob", x, logits), self._raw(self.config.fused_distance, x, logits))
        return self._raw(name, x, logits)

    def confidence(self, name: str, x, logits) -> np.ndarray:
        """Confidence (n,) in [0, 1], higher = known, for the accept rule (see the module docstring)."""
        return self.to_confidence(name, self.none_score(name, x, logits))

    def to_confidence(self, name: str, none_score) -> np.ndarray:
        """Map none scores of ``name`` to confidences: ``1 - score`` for max_prob, else the
        percentile (share of known training rows scoring at least as high), strictly decreasing."""
        s = np.asarray(none_score, dtype=np.float64)
        if name in BOUNDED:
            return np.clip(1.0 - s, 0.0, 1.0)
        q, u = _strict_quantiles(np.quantile(self._reference_raw(name), np.linspace(0.0, 1.0, N_QUANTILES)))
        scale = max(float(q[-1] - q[0]), 1e-12)
        out = np.interp(s, q, u)  # (n,) share of known training rows scoring below s
        hi, lo = s > q[-1], s < q[0]
        # hyperbolic tails: strictly monotone and, on the "none" side, never rounding to exactly 0
        out[hi] = 1.0 - (1.0 - u[-1]) / (1.0 + (s[hi] - q[-1]) / scale)
        out[lo] = u[0] / (1.0 + (q[0] - s[lo]) / scale)
        return 1.0 - out

    def describe(self, name: str) -> str:
        """One line on what the score is and how it was fitted, for pages and files."""
        check_score_name(name)
        if name == "knn":
            return f"kNN cosine distance, k = {self.knn_k} ({self.knn_k_source}), bank of {len(self.bank)} rows"
        if name == "fused":
            return (
                f"max-prob + {self.config.fused_distance} fused, weight {self.fused_weight:.2f} on the distance "
                f"({self.fused_weight_source})"
            )
        return {
            "max_prob": "1 - max probability",
            "energy": "sigmoid joint energy",
            "mahalanobis": "relative Mahalanobis",
        }[name]

    # ------------------------------------------------------------------ persistence

    def arrays(self) -> dict[str, np.ndarray]:
        out = {
            "scores.bank": self.bank.astype(np.float32),
            "scores.class_means": self.class_means,
            "scores.precision": self.precision,
            "scores.background_mean": self.background_mean,
            "scores.background_precision": self.background_precision,
        }
        out["scores.ref_idx"] = self.ref_idx.astype(np.int64)
        out.update({f"scores.reference.{k}": v for k, v in self.reference.items()})
        return out

    def meta(self) -> dict:
        return {
            "config": asdict(self.config),
            "knn_k": self.knn_k,
            "knn_k_source": self.knn_k_source,
            "fused_z": [list(v) for v in self.fused_z],
            "z_source": self.z_source,
            "fused_weight": self.fused_weight,
            "fused_weight_source": self.fused_weight_source,
            "reference_source": self.reference_source,
            "held_out_knn_k": self.held_out_knn_k,
        }

    @classmethod
    def from_saved(cls, arrays: dict, meta: dict) -> ScoreBank:
        return cls(
            config=ScoreConfig(**meta["config"]),
            knn_k=int(meta["knn_k"]),
            knn_k_source=str(meta["knn_k_source"]),
            bank=np.asarray(arrays["scores.bank"], dtype=np.float32),
            class_means=np.asarray(arrays["scores.class_means"], dtype=np.float64),
            precision=np.asarray(arrays["scores.precision"], dtype=np.float64),
            background_mean=np.asarray(arrays["scores.background_mean"], dtype=np.float64),
            background_precision=np.asarray(arrays["scores.background_precision"], dtype=np.float64),
            ref_idx=np.asarray(arrays["scores.ref_idx"], dtype=np.int64),
            reference={
                k.removeprefix("scores.reference."): np.asarray(v, dtype=np.float64)
                for k, v in arrays.items()
                if k.startswith("scores.reference.")
            },
            fused_z=tuple((float(m), float(sd)) for m, sd in meta["fused_z"]),
            z_source=str(meta["z_source"]),
            fused_weight=float(meta["fused_weight"]),
            fused_weight_source=str(meta["fused_weight_source"]),
            reference_source=str(meta.get("reference_source", "training rows")),  # heads saved before 2026-11-30
            held_out_knn_k=meta.get("held_out_knn_k"),
        )


def _strict_quantiles(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stored quantiles q (N,) at levels 0..1 as a strictly increasing (score, level) table: a run
    of equal quantiles keeps one point at the run's middle level. Levels run from 0.5/N to
    1 - 0.5/N (not 0 and 1), so that both tails beyond the stored range stay strictly monotone."""
    levels = (np.arange(len(q)) + 0.5) / len(q)
    uq, inverse = np.unique(q, return_inverse=True)
    mid = np.bincount(inverse, weights=levels) / np.bincount(inverse)
    if len(uq) == 1:  # a constant score: a tiny step around it
        return np.array([uq[0] - 1e-12, uq[0] + 1e-12]), np.array([levels[0], levels[-1]])
    return uq, mid
