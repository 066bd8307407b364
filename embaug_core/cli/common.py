"""What every command shares: reading DATA from the data flags, the training flags as a TrainConfig,
and a progress line on the terminal."""

from __future__ import annotations

import sys
import time

from ..errors import EmbaugError

__all__ = ["Progress", "load_data", "train_config"]


class Progress:
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


def load_data(args, *, label_required: bool = True, min_classes: int = 2):
    from ..data.table import load_embeddings

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


#: The command line's name for each TrainConfig setting that a preset error is about.
FLAGS = {"epochs": "--epochs", "batch_size": "--batch-size"}


def train_config(args, **settings):
    """The TrainConfig of the training flags (--preset, --epochs, --batch-size, --device, --seed) and
    ``settings``, through :meth:`TrainConfig.preset`: --epochs or --batch-size alone train the paper's
    schedule with those values."""
    from ..training.config import PresetError, TrainConfig

    if getattr(args, "outlier_exposure", False) and not getattr(args, "none_examples", None):
        raise EmbaugError("--outlier-exposure trains on the rows of --none-examples; give that file too.")
    if getattr(args, "ensemble", 1) < 1:
        raise EmbaugError(f"--ensemble must be a whole number >= 1; got {args.ensemble}.")
    extra = {k: getattr(args, k) for k in ("ensemble", "regmixup", "outlier_exposure", "precision") if hasattr(args, k)}
    try:
        return TrainConfig.preset(
            args.preset,
            epochs=args.epochs,
            batch_size=args.batch_size,
            device=args.device,
            seed=args.seed,
            **extra,
            **settings,
        )
    except PresetError as exc:
        flags = " and ".join(FLAGS[s] for s in exc.settings)
        raise EmbaugError(
            f"{flags} set the fixed presets; --preset auto (the default) chooses them from the data. "
            "Add --preset paper or --preset fast to set them yourself."
        ) from None
