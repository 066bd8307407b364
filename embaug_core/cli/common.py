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


def train_config(args, **kw):
    from ..training.config import TrainConfig

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
