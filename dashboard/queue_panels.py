"""The Labelling queue page's parts: the Groups view of the "none" pool (name a whole group at once) and
the retrain with the rows a person labelled, from the list or from the groups."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import state, training, widgets
from embaug_core.discovery import UNGROUPED, discover
from embaug_core.errors import EmbaugError
from embaug_core.experiment.display import fmt_threshold, for_display
from embaug_core.labelling import group_names, queue_rows, read_group_labels

__all__ = ["retrain_with", "show_retrained", "groups_view"]

GROUPS = "queue_groups"  # the last grouping: (what it was computed for, Discovery, its number)
NAMES = "queue_group_names"  # {group: name} given in the Groups view
LEFT_OUT = "queue_group_left_out"  # {group: ids moved out of it}


def retrain_with(labels: dict[str, str], result, method: str, trial: int) -> None:
    """Add ``labels`` {id: class} to the data, train again with the last settings (the labelled rows always
    train), and rerun the page with what changed (:func:`show_retrained` says it)."""
    settings = st.session_state.get(state.LAST_SETTINGS)
    if settings is None:
        raise EmbaugError("train once on the Experiment page first; retraining reuses those settings.")
    before = result
    st.session_state[state.DATASET] = state.dataset().with_labels(labels)
    st.session_state[state.ALWAYS_TRAIN] = tuple(dict.fromkeys([*st.session_state[state.ALWAYS_TRAIN], *labels]))
    config, protocol = settings
    bar = st.progress(0.0, text="retraining…")
    n_labelled = len(st.session_state[state.ALWAYS_TRAIN])
    training.train(
        config,
        protocol,
        progress=training.describe_progress(bar),
        on_wait=training.describe_wait(bar),
        note=f"retrained with {n_labelled} queue label{'s' if n_labelled != 1 else ''}",
    )
    after = state.current_result()
    compare = before.table1()[["method", "auroc_mean"]].merge(
        after.table1()[["method", "auroc_mean"]], on="method", suffixes=("", "_after")
    )
    st.session_state[state.QUEUE_RETRAINED] = {
        "message": f"Added {len(labels)} labelled row(s) to training and retrained ({n_labelled} queue rows in "
        "training now): the queue and its groups are the new head's, without the rows labelled.",
        "new_classes": sorted(set(labels.values()) - set(before.artifacts[(method, trial)].head.class_names)),
        "compare": compare.rename(columns={"auroc_mean": "AUROC before", "auroc_mean_after": "AUROC after"}),
    }
    st.rerun()  # the queue, the selectors and the groups of the new head (the grouping's key has changed)


def show_retrained() -> None:
    """What the last retrain did, said after its rerun."""
    if (done := st.session_state.pop(state.QUEUE_RETRAINED, None)) is not None:
        st.success(done["message"])
        if done["new_classes"]:
            st.info(f"New class(es) learned: {', '.join(done['new_classes'])}")
        st.dataframe(for_display(done["compare"]), hide_index=True, key="retrain_compare")


def _grouped(art, method: str, trial: int, threshold: float):
    """(the Discovery of the pool at ``threshold``, its number) computed once per head, threshold and
    labelled rows; each new grouping has a new number, which the per-group widgets' keys carry, so that a
    name typed for a group of an earlier grouping never shows against another. None, with the reason
    shown, when the rows cannot be grouped."""
    labelled = st.session_state[state.ALWAYS_TRAIN]
    key = (st.session_state.get(state.CURRENT), method, trial, float(threshold), labelled, state.dataset().n_samples)
    cached = st.session_state.get(GROUPS)
    if cached is None or cached[0] != key:
        ds = state.dataset()
        try:
            with st.spinner("Grouping the rows routed to “none”…"):
                found, _ = discover(art.head, ds, threshold=threshold, rows=queue_rows(ds, art.eval_idx, labelled))
        except EmbaugError as exc:
            widgets.show_error(exc)
            return None
        st.session_state[GROUPS] = (key, found, 0 if cached is None else cached[2] + 1)
        st.session_state[NAMES], st.session_state[LEFT_OUT] = {}, {}
    return st.session_state[GROUPS][1], st.session_state[GROUPS][2]


def _summary(found) -> pd.DataFrame:
    names = st.session_state[NAMES]
    return pd.DataFrame(
        {
            "group": [g.group for g in found.groups],
            "rows": [g.size - len(st.session_state[LEFT_OUT].get(g.group, ())) for g in found.groups],
            "keywords": [", ".join(g.keywords) for g in found.groups],
            "tightness": [round(g.tightness, 3) for g in found.groups],
            "closest known class": [g.nearest_class or "" for g in found.groups],
            "similarity": [g.nearest_class_similarity for g in found.groups],
            "rows that look like a known class": [g.looks_known for g in found.groups],
            "name": [names.get(g.group, "") for g in found.groups],
        }
    )


def _named_frame(found) -> pd.DataFrame:
    """``id, group, new_label`` as named here, rows moved out of their group as ungrouped and unnamed: what
    the download holds and what the retrain reads (:func:`~embaug_core.labelling.group_names`)."""
    frame = found.label_frame(st.session_state[NAMES])
    left = {i for ids in st.session_state[LEFT_OUT].values() for i in ids}
    frame.loc[frame["id"].isin(left), ["group", "new_label"]] = [UNGROUPED, ""]
    return frame


def _one_group(found, group, generation: int) -> None:
    """A group's keywords, typical texts and rows; move rows out of it and name it."""
    g = next(x for x in found.groups if x.group == group)
    if g.keywords:
        st.markdown("**Keywords:** " + ", ".join(g.keywords))
    if g.texts:
        st.markdown("**Most typical:**\n" + "\n".join(f"- {t}" for t in g.texts))
    rows = found.rows[found.rows["group"] == group].sort_values("distance", kind="stable")
    st.dataframe(rows.drop(columns=["group"]), hide_index=True, key=f"group_rows|{generation}|{group}", height=220)
    left = st.multiselect(
        "Move rows out of this group (they stay in the queue, unlabelled)",
        rows["id"].tolist(),
        default=list(st.session_state[LEFT_OUT].get(group, ())),
        key=f"group_left_out|{generation}|{group}",
    )
    st.session_state[LEFT_OUT][group] = tuple(left)
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    name = c1.text_input(
        "Name this group",
        st.session_state[NAMES].get(group, ""),
        key=f"group_name|{generation}|{group}",
        placeholder="a new class, an existing class, or still none",
    )
    if c2.button("Name the group", key=f"group_name_button|{generation}|{group}"):
        st.session_state[NAMES][group] = name.strip()
        st.rerun()


def groups_view(result, art, method: str, trial: int, threshold: float) -> None:
    """The Groups view: the pool at ``threshold`` grouped, largest group first; name groups, export or import
    them as CSV, and retrain with the named rows."""
    grouped = _grouped(art, method, trial, threshold)
    if grouped is None:
        return
    found, generation = grouped
    if found.fallback:
        st.info(f"{found.fallback} The list view shows these rows.")
        return
    st.write(
        f"{len(found.rows)} rows routed to “none” at threshold {fmt_threshold(threshold)}, in "
        f"{len(found.groups)} groups ({found.n_ungrouped} ungrouped). Groups are found without being told how many "
        "there are (docs/discovery.md): a group is a candidate new class, or rows of a known class the head doubts."
    )
    st.dataframe(_summary(found), hide_index=True, key="groups_summary")
    names = st.session_state[NAMES]  # read here: the format function may run outside the script (AppTest)
    group = st.selectbox(
        "Look inside a group",
        [g.group for g in found.groups],
        format_func=lambda v: f"group {v}" + (f" — {names[v]}" if names.get(v) else ""),
        key=f"groups_pick|{generation}",
    )
    _one_group(found, group, generation)
    frame = _named_frame(found)
    named = group_names(frame)
    labels = dict(zip(frame["id"][named != ""], named[named != ""], strict=True))
    st.download_button(
        "Download the groups as CSV",
        frame.to_csv(index=False),
        f"groups_{method}.csv",
        "text/csv",
        key="download_groups",
        on_click="ignore",
    )
    if st.button(
        f"Add the {len(labels)} named rows and retrain", type="primary", disabled=not labels, key="groups_retrain"
    ):
        try:
            retrain_with(labels, result, method, trial)
        except EmbaugError as exc:
            widgets.show_error(exc)
    filled = st.file_uploader("Filled-in groups CSV (id, group, new_label)", type=["csv"], key="groups_upload")
    if filled is not None and st.button("Add these labels and retrain", key="groups_upload_retrain"):
        try:
            retrain_with(read_group_labels(filled.getvalue(), state.dataset(), name=filled.name), result, method, trial)
        except EmbaugError as exc:
            widgets.show_error(exc)
