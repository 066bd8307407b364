"""Training a head: :class:`TrainConfig`, :func:`fit`, :class:`TrainedHead` (save / load).

Choices where the paper is silent (all parameters of :class:`TrainConfig`):

* optimiser: AdamW (decoupled weight decay 1e-4); ``optimizer="adam"`` or ``"sgd"``
  (momentum 0.9) are available;
* batch size 64; the rows are reshuffled every epoch; a last batch of a single row is
  merged into the previous one so that every batch can be mixed;
* the learning rate follows ``torch.optim.lr_scheduler.CyclicLR`` in ``triangular``
  mode between 3e-4 and 3e-3, one full cycle (up and down) every 12 epochs, stepped
  after every batch;
* loss: binary cross-entropy of the sigmoid outputs against the (soft) targets, mean
  over classes and rows (``BCEWithLogitsLoss``);
* presets: ``"paper"`` trains 576 epochs (48 cycles); ``"fast"`` trains 48 epochs (4
  whole cycles, 1/12 of the paper), enough for the head to converge on the bundled
  sample data.

Determinism: weights, shuffling, partners, lambdas, stitch masks and dropout all draw
from one ``torch.Generator`` seeded with ``seed`` on the training device; the same
seed, data, device and thread count give bit-identical heads.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .augment import augment_batch, get_method
from .errors import ConfigError, ModelFileError
from .heads import HeadConfig, MLPHead
from .metrics import NONE

__all__ = [
    "fit_stacked",
    "TrainConfig",
    "PRESETS",
    "EpochRecord",
    "TrainedHead",
    "fit",
    "resolve_device",
    "MODEL_SCHEMA",
]

MODEL_SCHEMA = "embaug.head"
MODEL_SCHEMA_VERSION = 1
PRESETS = {"paper": 576, "fast": 48}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained head. Validated on construction.

    Attributes
    ----------
    method : one of ``control, soft_control, e_mixup, e_stitchup, soft_e_mixup, soft_e_stitchup``
    alpha : float > 0, Beta(alpha, alpha) parameter of the mixing methods (default 0.4)
    softness : float in [0, 1], label softness of the soft methods (default 0.1)
    soft_mass : float >= 0, total target mass spread over zero-target classes (paper: 1.0)
    epochs : int >= 1 (paper: 576)
    batch_size : int >= 2
    lr_min, lr_max : learning-rate cycle bounds (paper: 3e-4, 3e-3)
    lr_cycle_epochs : epochs per full triangular cycle (paper: 12)
    weight_decay : float >= 0 (paper: 1e-4)
    optimizer : "adamw", "adam" or "sgd"
    hidden, dropout : the head's shape (paper: (250, 250), 0.3)
    seed : int
    device : "auto" (CUDA when available), "cpu", "cuda" or "cuda:N"
    reference_threshold : threshold for the per-epoch validation accuracies (default 0.5)
    kernel_tau_max, kernel_tau_std : similarity-kernel mixup parameters (see augment.kernel_warp)
    stitch_mask : "per_row" (B x D draws, exact) or "shared" (one draw per coordinate per batch,
        same per-row distribution, much cheaper on a CPU); see augment.e_stitchup
    """

    method: str = "control"
    alpha: float = 0.4
    softness: float = 0.1
    soft_mass: float = 1.0
    epochs: int = 576
    batch_size: int = 64
    lr_min: float = 3e-4
    lr_max: float = 3e-3
    lr_cycle_epochs: int = 12
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    hidden: tuple[int, ...] = (250, 250)
    dropout: float = 0.3
    seed: int = 0
    device: str = "auto"
    reference_threshold: float = 0.5
    kernel_tau_max: float = 1.0
    kernel_tau_std: float = 0.5
    stitch_mask: str = "per_row"

    def __post_init__(self):
        get_method(self.method)
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        checks = [
            (self.alpha > 0 and math.isfinite(self.alpha), f"alpha must be a finite number > 0; got {self.alpha}."),
            (0.0 <= self.softness <= 1.0, f"softness must be in [0, 1]; got {self.softness}."),
            (0.0 <= self.soft_mass and math.isfinite(self.soft_mass), f"soft_mass must be >= 0; got {self.soft_mass}."),
            (int(self.epochs) == self.epochs and self.epochs >= 1, f"epochs must be a whole number >= 1; got {self.epochs}."),
            (int(self.batch_size) == self.batch_size and self.batch_size >= 2, f"batch_size must be >= 2; got {self.batch_size}."),
            (0 < self.lr_min <= self.lr_max, f"need 0 < lr_min <= lr_max; got {self.lr_min}, {self.lr_max}."),
            (int(self.lr_cycle_epochs) == self.lr_cycle_epochs and self.lr_cycle_epochs >= 1, f"lr_cycle_epochs must be >= 1; got {self.lr_cycle_epochs}."),
            (self.weight_decay >= 0, f"weight_decay must be >= 0; got {self.weight_decay}."),
            (self.optimizer in ("adamw", "adam", "sgd"), f"optimizer must be adamw, adam or sgd; got {self.optimizer!r}."),
            (0.0 <= self.reference_threshold <= 1.0, f"reference_threshold must be in [0, 1]; got {self.reference_threshold}."),
            (isinstance(self.seed, int) and self.seed >= 0, f"seed must be a whole number >= 0; got {self.seed!r}."),
            (self.kernel_tau_max > 0 and self.kernel_tau_std > 0, "kernel_tau_max and kernel_tau_std must be > 0."),
            (self.stitch_mask in ("per_row", "shared"), f"stitch_mask must be per_row or shared; got {self.stitch_mask!r}."),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        HeadConfig(self.hidden, self.dropout)  # validates the head shape
        resolve_device(self.device, check_only=True)

    @classmethod
    def preset(cls, name: str, **overrides) -> "TrainConfig":
        """A config with the epochs of preset ``"paper"`` (576) or ``"fast"`` (48)."""
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
        return cls(epochs=PRESETS[name], **overrides)

    def with_(self, **changes) -> "TrainConfig":
        return replace(self, **changes)

    @property
    def head_config(self) -> HeadConfig:
        return HeadConfig(self.hidden, self.dropout)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown training setting(s): {', '.join(sorted(unknown))}.")
        d = dict(d)
        if "hidden" in d:
            d["hidden"] = tuple(d["hidden"])
        return cls(**d)


def resolve_device(device: str, *, check_only: bool = False) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; validates explicit names."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N.") from None
    if dev.type == "cuda" and not check_only and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} was requested but CUDA is not available here; use auto or cpu.")
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"unsupported device {device!r}; use auto, cpu, cuda or cuda:N.")
    return dev


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of training history.

    ``val_*`` are the accuracies at ``reference_threshold`` on the validation rows
    (NaN when no validation set was given or the group is empty).
    """

    epoch: int
    epochs: int
    train_loss: float
    lr: float
    val_overall_accuracy: float
    val_id_accuracy: float
    val_none_accuracy: float
    elapsed_s: float

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def _batches(n: int, batch_size: int) -> list[tuple[int, int]]:
    bounds = [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < 2:
        last = bounds.pop()
        bounds[-1] = (bounds[-1][0], last[1])
    return bounds


def _validation_accuracies(model: MLPHead, x_val, y_val, threshold: float) -> tuple[float, float, float]:
    return _accuracies_from_probs(model.predict_proba(x_val), y_val, threshold)


def _accuracies_from_probs(probs, y_val, threshold: float) -> tuple[float, float, float]:
    """(overall, ID, none) accuracy at ``threshold`` of probs (m, C) against y (m,)."""
    conf, pred = probs.max(dim=1)
    accepted = conf >= threshold
    is_none = y_val == NONE
    good = accepted & (pred == y_val) & ~is_none
    rejected_none = ~accepted & is_none
    n_none = int(is_none.sum())
    n_id = y_val.numel() - n_none
    overall = float((good.sum() + rejected_none.sum()) / max(y_val.numel(), 1))
    id_acc = float(good.sum() / n_id) if n_id else float("nan")
    none_acc = float(rejected_none.sum() / n_none) if n_none else float("nan")
    return overall, id_acc, none_acc


def _optimizer_and_schedule(params, config: TrainConfig, steps_per_epoch: int):
    """The optimiser of ``config`` and the triangular CyclicLR: one full cycle per
    ``lr_cycle_epochs`` epochs, stepped after every batch."""
    if config.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=config.lr_min, weight_decay=config.weight_decay)
    elif config.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=config.lr_min, weight_decay=config.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=config.lr_min, momentum=0.9, weight_decay=config.weight_decay)
    half_cycle = max(1, round(config.lr_cycle_epochs * steps_per_epoch / 2))
    sched = torch.optim.lr_scheduler.CyclicLR(opt, base_lr=config.lr_min, max_lr=config.lr_max, step_size_up=half_cycle,
                                              mode="triangular", cycle_momentum=config.optimizer == "sgd")
    return opt, sched


def fit(
    embeddings,
    y,
    n_classes: int,
    config: TrainConfig,
    *,
    validation: tuple | None = None,
    progress: Callable[[EpochRecord], None] | None = None,
) -> tuple[MLPHead, list[EpochRecord]]:
    """Train a head on embeddings (n, D) with class indices y (n,).

    Parameters
    ----------
    embeddings : array-like (n, D), float
    y : array-like (n,), int in [0, n_classes)
    n_classes : int
    config : TrainConfig
    validation : (embeddings (m, D), y (m,)) with :data:`NONE` for "none" rows, optional
        Scored after every epoch at ``config.reference_threshold``.
    progress : callable(EpochRecord), optional
        Called after every epoch. Raising from it aborts training.

    Returns
    -------
    (head on the training device in eval mode, history)
    """
    device = resolve_device(config.device)
    x = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32, device=device)  # (n, D)
    y_t = torch.as_tensor(np.asarray(y), dtype=torch.int64, device=device)  # (n,)
    if x.ndim != 2 or x.shape[0] != y_t.shape[0]:
        raise ConfigError(f"embeddings (n, D) and labels (n,) do not match: {tuple(x.shape)} vs {tuple(y_t.shape)}.")
    if x.shape[0] < 2:
        raise ConfigError(f"training needs at least 2 rows; got {x.shape[0]}.")
    if y_t.min() < 0 or y_t.max() >= n_classes:
        raise ConfigError(f"training labels must be class indices in [0, {n_classes}).")
    gen = torch.Generator(device=device)
    gen.manual_seed(config.seed)
    method = get_method(config.method)
    model = MLPHead(x.shape[1], n_classes, config.head_config, generator=gen).to(device)
    targets = torch.nn.functional.one_hot(y_t, n_classes).to(torch.float32)  # (n, C)

    bounds = _batches(x.shape[0], config.batch_size)
    opt, sched = _optimizer_and_schedule(model.parameters(), config, len(bounds))
    loss_fn = nn.BCEWithLogitsLoss()
    if validation is not None:
        x_val = torch.as_tensor(np.asarray(validation[0]), dtype=torch.float32, device=device)
        y_val = torch.as_tensor(np.asarray(validation[1]), dtype=torch.int64, device=device)
    history: list[EpochRecord] = []
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(x.shape[0], generator=gen, device=device)
        total = torch.zeros((), device=device)
        for lo, hi in bounds:
            idx = order[lo:hi]
            xb, yb = augment_batch(method, x[idx], targets[idx], alpha=config.alpha, softness=config.softness,
                                   mass=config.soft_mass, generator=gen, kernel_tau_max=config.kernel_tau_max,
                                   kernel_tau_std=config.kernel_tau_std, stitch_mask=config.stitch_mask)
            loss = loss_fn(model(xb, generator=gen), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.detach() * (hi - lo)
        lr = opt.param_groups[0]["lr"]
        if validation is not None:
            overall, id_acc, none_acc = _validation_accuracies(model, x_val, y_val, config.reference_threshold)
        else:
            overall = id_acc = none_acc = float("nan")
        record = EpochRecord(epoch, config.epochs, float(total) / x.shape[0], lr, overall, id_acc, none_acc,
                             time.perf_counter() - start)
        history.append(record)
        if progress is not None:
            progress(record)
    model.eval()
    return model, history


@dataclass(eq=False)
class TrainedHead:
    """A trained head with everything needed to use it again.

    Attributes
    ----------
    model : MLPHead
    class_names : tuple of str, in output order
    config : TrainConfig
    input_dim : int
    history : list of EpochRecord
    metadata : dict, free-form (data source, split, ...), saved with the head
    """

    model: MLPHead
    class_names: tuple[str, ...]
    config: TrainConfig
    input_dim: int
    history: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    @classmethod
    def train(
        cls,
        embeddings,
        labels: Sequence[str],
        config: TrainConfig,
        *,
        class_names: Sequence[str] | None = None,
        validation: tuple | None = None,
        progress: Callable[[EpochRecord], None] | None = None,
        metadata: dict | None = None,
    ) -> "TrainedHead":
        """Train on embeddings (n, D) with string labels (n,).

        ``class_names`` fixes the output order (default: sorted distinct labels);
        ``validation`` is (embeddings (m, D), labels (m,)), where labels outside
        ``class_names`` count as "none".
        """
        from .metrics import encode_labels

        labels = list(labels)
        if any(lab is None for lab in labels):
            raise ConfigError("training labels contain unlabelled rows; drop them first.")
        names = tuple(class_names) if class_names is not None else tuple(sorted(set(labels)))
        if len(names) < 2:
            raise ConfigError(f"training needs at least 2 classes; got {len(names)}.")
        y = encode_labels(labels, names)
        if (y == NONE).any():
            raise ConfigError("some training labels are not in class_names.")
        val = None
        if validation is not None:
            val = (validation[0], encode_labels(list(validation[1]), names))
        model, history = fit(embeddings, y, len(names), config, validation=val, progress=progress)
        return cls(model=model, class_names=names, config=config, input_dim=int(np.asarray(embeddings).shape[1]),
                   history=history, metadata=dict(metadata or {}))

    @property
    def method(self) -> str:
        return self.config.method

    def predict_proba(self, embeddings) -> np.ndarray:
        """Sigmoid outputs (n, C) as float32 numpy."""
        logits = self.predict_logits(embeddings)
        return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)

    def predict_logits(self, embeddings, *, batch_size: int = 8192) -> np.ndarray:
        """Logits (n, C) as float32 numpy (sigmoid of these is :meth:`predict_proba`)."""
        x = np.asarray(embeddings, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ConfigError(
                f"this head expects embeddings of dimension {self.input_dim}; got shape {x.shape}. "
                "Use embeddings made with the same model as the training data."
            )
        device = next(self.model.parameters()).device
        self.model.eval()
        with torch.no_grad():
            xt = torch.as_tensor(x, device=device)
            parts = [self.model(xt[i : i + batch_size]).float().cpu() for i in range(0, xt.shape[0], batch_size)]
        if not parts:
            return np.empty((0, len(self.class_names)), dtype=np.float32)
        return torch.cat(parts).numpy()

    # ------------------------------------------------------------------ persistence

    def save(self, directory: str | Path) -> Path:
        """Write ``head.safetensors`` and ``head.json`` into ``directory``.

        Files are written to temporary names and renamed, so an interrupted save never
        leaves a half-written head behind.
        """
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        weights = directory / "head.safetensors"
        tmp = directory / ".head.safetensors.tmp"
        save_file(tensors, str(tmp))
        tmp.replace(weights)
        meta = {
            "schema": MODEL_SCHEMA,
            "version": MODEL_SCHEMA_VERSION,
            "method": self.config.method,
            "class_names": list(self.class_names),
            "input_dim": self.input_dim,
            "config": self.config.to_dict(),
            "hyperparameters": {"alpha": self.config.alpha, "softness": self.config.softness, "soft_mass": self.config.soft_mass},
            "history": [r.to_dict() for r in self.history],
            "metadata": self.metadata,
            "weights_sha256": _sha256(weights),
        }
        tmp_json = directory / ".head.json.tmp"
        tmp_json.write_text(json.dumps(meta, indent=2))
        tmp_json.replace(directory / "head.json")
        return directory

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the weights (identifies the model in threshold files).

        Computed once and kept: a TrainedHead's weights do not change after training, and
        the dashboard asks for the fingerprint on every rerun of the Threshold page.
        """
        cached = self.__dict__.get("_fingerprint")
        if cached is None:
            h = hashlib.sha256()
            for k, v in sorted(self.model.state_dict().items()):
                h.update(k.encode())
                h.update(v.detach().cpu().contiguous().numpy().tobytes())
            cached = self.__dict__["_fingerprint"] = "sha256:" + h.hexdigest()
        return cached

    @classmethod
    def load(cls, directory: str | Path, *, device: str = "cpu") -> "TrainedHead":
        """Load a head saved by :meth:`save`; never unpickles anything."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        directory = Path(directory)
        meta_path, weights = directory / "head.json", directory / "head.safetensors"
        if not directory.is_dir():
            raise ModelFileError(f"{directory}: no such model folder (expected head.json and head.safetensors inside).")
        for p in (meta_path, weights):
            if not p.exists():
                raise ModelFileError(f"{directory}: missing {p.name}; this is not a folder written by 'embaug train'.")
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelFileError(f"{meta_path}: not valid JSON ({exc}).") from None
        if not isinstance(meta, dict) or meta.get("schema") != MODEL_SCHEMA:
            raise ModelFileError(f"{meta_path}: not an embaug head description (schema {MODEL_SCHEMA!r} expected).")
        if meta.get("version") != MODEL_SCHEMA_VERSION:
            raise ModelFileError(f"{meta_path}: version {meta.get('version')!r} is not supported (expected {MODEL_SCHEMA_VERSION}).")
        try:
            config = TrainConfig.from_dict({**meta["config"], "device": device})
            class_names = tuple(str(c) for c in meta["class_names"])
            input_dim = int(meta["input_dim"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{meta_path}: incomplete or invalid description ({exc}).") from None
        expected = meta.get("weights_sha256")
        if expected and expected != _sha256(weights):
            raise ModelFileError(f"{weights}: the weights do not match head.json (checksum differs); the folder was altered.")
        try:
            state = load_file(str(weights), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelFileError(f"{weights}: not a readable safetensors file ({exc}).") from None
        model = MLPHead(input_dim, len(class_names), config.head_config)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelFileError(f"{weights}: weights do not fit the described head ({str(exc).splitlines()[0]}).") from None
        model.to(resolve_device(device)).eval()
        history = []
        for r in meta.get("history", []):
            r = {k: (float("nan") if v is None else v) for k, v in r.items()}
            history.append(EpochRecord(**r))
        return cls(model=model, class_names=class_names, config=config, input_dim=input_dim, history=history,
                   metadata=meta.get("metadata", {}))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()



def fit_stacked(
    embeddings,
    y,
    n_classes: int,
    configs: Sequence[TrainConfig],
    *,
    validation: tuple | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[MLPHead], list[list[EpochRecord]]]:
    """Train several heads on the same rows at once, with batched matrix products.

    Each head k keeps its own method, alpha, softness and seed, and draws its random numbers
    (initial weights, shuffling, partners, lambdas, stitch masks, dropout) from its own
    generator in the same order as :func:`fit`; the heads differ from separately trained
    ones only by floating-point summation order. What runs together must share epochs,
    batch size, learning-rate schedule, optimiser, head shape and device.

    Faster than K separate :func:`fit` calls for small heads, where per-step overhead
    (Python, autograd, optimiser) rather than arithmetic dominates.

    Parameters
    ----------
    embeddings : (n, D);  y : (n,) class indices;  n_classes : int
    configs : K TrainConfigs
    validation : (embeddings (m, D), y (m,) with NONE for "none"), optional, scored per epoch
    progress : callable(epoch, epochs), optional

    Returns
    -------
    (K heads (MLPHead, eval mode), K histories of EpochRecord), in the order of ``configs``
    """
    if not configs:
        raise ConfigError("fit_stacked needs at least one config.")
    shared = ("epochs", "batch_size", "lr_min", "lr_max", "lr_cycle_epochs", "weight_decay", "optimizer", "hidden",
              "dropout", "device")
    for f in shared:
        values = {getattr(c, f) for c in configs}
        if len(values) > 1:
            raise ConfigError(f"heads trained together must share {f!r}; got {sorted(map(str, values))}.")
    base = configs[0]
    device = resolve_device(base.device)
    x = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32, device=device)  # (n, D)
    y_t = torch.as_tensor(np.asarray(y), dtype=torch.int64, device=device)
    if x.ndim != 2 or x.shape[0] != y_t.shape[0] or x.shape[0] < 2:
        raise ConfigError("embeddings (n, D) and labels (n,) must match, with n >= 2.")
    k = len(configs)
    gens = [torch.Generator(device=device).manual_seed(c.seed) for c in configs]
    heads = [MLPHead(x.shape[1], n_classes, c.head_config, generator=g).to(device) for c, g in zip(configs, gens)]
    n_layers = len(heads[0].layers)
    # stacked parameters: weights (K, in, out), biases (K, 1, out)
    weights = [torch.nn.Parameter(torch.stack([h.layers[i].weight.detach().t() for h in heads]).contiguous())
               for i in range(n_layers)]
    biases = [torch.nn.Parameter(torch.stack([h.layers[i].bias.detach() for h in heads]).unsqueeze(1).contiguous())
              for i in range(n_layers)]
    params = [p for pair in zip(weights, biases) for p in pair]
    bounds = _batches(x.shape[0], base.batch_size)
    opt, sched = _optimizer_and_schedule(params, base, len(bounds))
    targets = torch.nn.functional.one_hot(y_t, n_classes).to(torch.float32)  # (n, C)
    methods = [get_method(c.method) for c in configs]
    p = base.dropout
    if validation is not None:
        x_val = torch.as_tensor(np.asarray(validation[0]), dtype=torch.float32, device=device)  # (m, D)
        y_val = torch.as_tensor(np.asarray(validation[1]), dtype=torch.int64, device=device)  # (m,)
    histories: list[list[EpochRecord]] = [[] for _ in range(k)]
    start = time.perf_counter()
    for epoch in range(1, base.epochs + 1):
        orders = [torch.randperm(x.shape[0], generator=g, device=device) for g in gens]
        totals = torch.zeros(k, device=device)
        for lo, hi in bounds:
            xs, ys = [], []
            for j in range(k):
                idx = orders[j][lo:hi]
                xb, yb = augment_batch(methods[j], x[idx], targets[idx], alpha=configs[j].alpha,
                                       softness=configs[j].softness, mass=configs[j].soft_mass, generator=gens[j],
                                       kernel_tau_max=configs[j].kernel_tau_max, kernel_tau_std=configs[j].kernel_tau_std,
                                       stitch_mask=configs[j].stitch_mask)
                xs.append(xb)
                ys.append(yb)
            h = torch.stack(xs)  # (K, B, D)
            yb = torch.stack(ys)  # (K, B, C)
            for i in range(n_layers):
                h = torch.baddbmm(biases[i], h, weights[i])  # (K, B, out)
                if i < n_layers - 1:
                    if p > 0:  # same draws, in the same order, as MLPHead.forward for each head
                        keep = torch.stack([torch.rand(h.shape[1:], generator=g, device=device) >= p for g in gens])
                        h = h * keep / (1.0 - p)
                    h = torch.relu(h)
            # mean over rows and classes per head (as BCEWithLogitsLoss), summed over heads
            per_head = torch.nn.functional.binary_cross_entropy_with_logits(h, yb, reduction="none").mean(dim=(1, 2))
            opt.zero_grad(set_to_none=True)
            per_head.sum().backward()
            opt.step()
            sched.step()
            totals += per_head.detach() * (hi - lo)
        lr = opt.param_groups[0]["lr"]
        accs = [(float("nan"),) * 3] * k
        if validation is not None:
            with torch.no_grad():
                v = x_val.unsqueeze(0).expand(k, -1, -1)  # (K, m, D)
                for i in range(n_layers):
                    v = torch.baddbmm(biases[i], v, weights[i])
                    if i < n_layers - 1:
                        v = torch.relu(v)
                accs = [_accuracies_from_probs(torch.sigmoid(v[j]), y_val, configs[j].reference_threshold)
                        for j in range(k)]
        elapsed = time.perf_counter() - start
        for j in range(k):
            histories[j].append(EpochRecord(epoch, base.epochs, float(totals[j]) / x.shape[0], lr, *accs[j], elapsed))
        if progress is not None:
            progress(epoch, base.epochs)
    with torch.no_grad():
        for j, head in enumerate(heads):
            for i, layer in enumerate(head.layers):
                layer.weight.copy_(weights[i][j].t())
                layer.bias.copy_(biases[i][j, 0])
            head.eval()
    return heads, histories
