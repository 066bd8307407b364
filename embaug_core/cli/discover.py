"""``embaug discover``: the rows a head refuses, grouped (groups.csv and groups.md)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import EmbaugError
from .common import load_data
from .thresholds import threshold_from_args

__all__ = ["cmd_discover"]


def cmd_discover(args) -> int:
    from ..discovery import discover
    from ..jsonio import write_frame_atomic, write_text_atomic
    from ..training.trained_head import TrainedHead

    if args.least_confident is not None and args.least_confident < 1:
        raise EmbaugError(f"--least-confident must be a positive number of rows; got {args.least_confident}.")
    if args.min_group_size < 2:
        raise EmbaugError(f"--min-group-size must be at least 2; got {args.min_group_size}.")
    if args.seed < 0:
        raise EmbaugError(f"--seed must be 0 or more; got {args.seed}.")
    head = TrainedHead.load(args.model)
    threshold, score = None, args.score or "max_prob"
    if args.threshold is not None:
        threshold, score, _ = threshold_from_args(args, head)
    ds = load_data(args, label_required=False)
    found, _ = discover(
        head,
        ds,
        threshold=threshold,
        score=score,
        least_confident=args.least_confident,
        text_col=args.text_col,
        seed=args.seed,
        min_group_size=args.min_group_size,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # new_label is left for a person: a name on any row of a group names it all (read_group_labels)
    columns = ["id", "group", "distance", "nearest_class", "looks_like"]
    write_frame_atomic(out / "groups.csv", found.rows[columns].assign(new_label=""))
    write_text_atomic(out / "groups.md", found.to_markdown())
    pool = f"{len(found.rows)} rows " + (
        f"below threshold {threshold:.4g} ({score})" if threshold is not None else "least confident"
    )
    said = found.fallback or (
        f"{len(found.groups)} groups, {found.n_ungrouped} rows ungrouped (silhouette {found.silhouette:.3f})"
    )
    print(f"{pool}: {said}", file=sys.stderr)
    print(f"wrote {out}/groups.csv and groups.md", file=sys.stderr)
    return 0
