"""``groups.md``: the grouped pool in words, for a person deciding what each group is."""

from __future__ import annotations

__all__ = ["discovery_markdown"]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def discovery_markdown(discovery) -> str:
    """The summary of a :class:`~embaug_core.discovery.groups.Discovery` as Markdown."""
    n = len(discovery.rows)
    lines = ['# The "none" pool, grouped', ""]
    if discovery.fallback:
        return "\n".join([*lines, discovery.fallback, ""])
    lines += [
        f"{n} rows in {len(discovery.groups)} groups, {discovery.n_ungrouped} ungrouped "
        f"(silhouette {discovery.silhouette:.3f}, seed {discovery.seed}). Groups are numbered largest first; "
        "tightness is the mean cosine similarity of a group's rows to its centre.",
        "",
        "| group | rows | tightness | nearest known class | looks like a known class | keywords |",
        "|---:|---:|---:|---|---:|---|",
    ]
    for g in discovery.groups:
        near = "" if g.nearest_class is None else f"{_cell(g.nearest_class)} ({g.nearest_class_similarity:.2f})"
        lines.append(
            f"| {g.group} | {g.size} | {g.tightness:.2f} | {near} | {g.looks_known} | {_cell(', '.join(g.keywords))} |"
        )
    for g in discovery.groups:
        lines += ["", f"## Group {g.group} ({g.size} rows)", ""]
        if g.keywords:
            lines.append(f"Keywords: {', '.join(g.keywords)}")
            lines.append("")
        lines.append("Most typical rows:")
        lines.append("")
        shown = g.texts or ("",) * len(g.typical_ids)
        for row_id, text in zip(g.typical_ids, shown, strict=True):
            lines.append(f"- `{row_id}`" + (f" {_cell(text)}" if text else ""))
    return "\n".join([*lines, ""])
