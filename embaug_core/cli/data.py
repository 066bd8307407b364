"""``embaug split`` (the paper's protocol as files) and ``embaug embed`` (raw text or images -> a table)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import EmbaugError
from .common import Progress, load_data
from .parser import parse_unseen

__all__ = ["cmd_split", "cmd_embed"]


def cmd_split(args) -> int:
    from ..data.splits import trial_split
    from ..data.table import save_embeddings
    from ..jsonio import write_json_atomic

    ds = load_data(args)
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


def _embed_text(args, progress, cache):
    """``embed text``: text columns, or text plus images of the same items (--images)."""
    from ..data.embed import ImageEmbedConfig, TextEmbedConfig, embed_product_table, embed_text_table

    keep = ("model", "max_length", "batch_size", "device")
    tcfg = TextEmbedConfig(pooling=args.recipe, **{k: getattr(args, k) for k in keep})
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
    from ..data.embed import EmbeddingCache, ImageEmbedConfig, embed_image_source
    from ..data.table import save_embeddings

    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet", ".npz"):
        raise EmbaugError(f"--out {out}: use a .csv, .parquet or .npz file name.")
    cache = None if args.no_cache else EmbeddingCache()
    bar = Progress()

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
