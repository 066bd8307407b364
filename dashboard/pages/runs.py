"""Runs: every training saved on disk; open one (no retraining), rename, delete, compare two."""

from pathlib import Path

import streamlit as st

from dashboard import state, widgets
from embaug_core.errors import EmbaugError
from embaug_core.experiment.display import fmt

st.title("Runs")
store = state.run_store()
# a signed-in user is told whose runs these are, never where the server keeps them
where = f"in {store.root} (set EMBAUG_HOME to move it)" if store.user is None else "for you alone"
if store.admin:
    where = "for their owners; you are an admin and see every user's runs"
st.caption(
    f"Every training is saved when it ends, {where}. "
    "Open one to use the Calibration, Threshold and Labelling queue pages on it without retraining."
)
runs = store.list()
if not runs:
    st.info("No runs yet: train on the Experiment page, or run `embaug experiment ... --save-run NAME`.")
    state.end_page()


def label(r) -> str:
    """A run as the selectors show it. Unique (the end of its id): Streamlit keeps a selector's choice by
    its label, and two runs of one name in one minute made it pick the other one."""
    return f"{r.name} · {r.created.replace('T', ' ')[:16]} · {r.status} · {r.id[-6:]}"


def progress(r) -> str:
    if r.status != "running" or not r.progress:
        return ""
    eta = r.progress.get("eta_s")
    return f"{r.progress['fraction']:.0%}" + ("" if eta is None else f" · about {eta:.0f} s left")


def run_rows(listed) -> list[dict]:
    rows = []
    for r in listed:
        first = r.metrics.get(r.methods[0], {}) if r.methods else {}
        rows.append(
            {
                "name": r.name,
                "status": r.status,
                "progress": progress(r),
                "data": Path(str(r.data.get("source", "–"))).name,  # a file's name, not where it is on the server
                **({"owner": r.owner or "–"} if store.admin else {}),
                "methods": ", ".join(map(widgets.method_title, r.methods)),
                "trials": r.n_trials,
                "created (UTC)": r.created.replace("T", " ")[:19],
                "AUROC (first method)": fmt(first.get("auroc")),
                "ECE (first method)": fmt(first.get("ece")),
                "id": r.id,
            }
        )
    return rows


running = {r.id for r in runs if r.status == "running"}
listed = {"runs": runs}  # emptied by the table's first render: its timed reruns list again


@st.fragment(run_every=2.0 if running else None)
def run_table() -> None:
    """The list; while trainings run (in any session, or after a reload) it refreshes every 2 s,
    and the whole page once they have ended."""
    now = listed.pop("runs") if "runs" in listed else store.list()  # the page's own list on a full run
    if running and not running & {r.id for r in now if r.status == "running"}:
        st.rerun()
    st.dataframe(run_rows(now), hide_index=True, key="runs_table")


run_table()

by_id = {r.id: r for r in runs}
# The run is kept by id: the selector's own state is dropped when the page is left, and the browser holds
# a position in the list, which names another run once a newer one is saved (by any session). The
# selectors are new widgets whenever a run's label changes (a rename, a run that ends): the browser kept
# showing the old label of the chosen run otherwise.
LABELS = str(hash(tuple(label(r) for r in runs)))
CHOSEN_KEY = f"runs_chosen|{LABELS}"
kept = st.session_state.get(state.RUN_CHOSEN)
if kept in by_id and st.session_state.get(CHOSEN_KEY) != kept:
    st.session_state[CHOSEN_KEY] = kept
chosen = st.selectbox(
    "Run",
    list(by_id),
    format_func=lambda i: label(by_id[i]),
    key=CHOSEN_KEY,
    on_change=lambda: st.session_state.update({state.RUN_CHOSEN: st.session_state[CHOSEN_KEY]}),
)
st.session_state[state.RUN_CHOSEN] = chosen
info = by_id[chosen]
if info.status == "failed":
    st.error(f"This training failed: {info.error}", icon=":material/error:")
c1, c2, c3 = st.columns(3)
if c1.button("Open this run", disabled=info.status != "complete", key="runs_open"):
    try:
        state.open_run(chosen)
    except EmbaugError as exc:
        widgets.show_error(exc)
    else:
        st.success(f"Opened {info.name}: the Calibration, Threshold and Labelling queue pages now show it.")
with c2.popover("Rename"):
    name_key = f"runs_new_name|{chosen}"  # the box of this run: it starts from this run's name
    new_name = st.text_input("New name", info.name, key=name_key)
    if st.button(f"Rename “{info.name}”", key="runs_rename"):
        store.rename(chosen, new_name.strip() or info.name)
        st.session_state.pop(name_key, None)
        st.rerun()
with c3.popover("Delete"):
    st.write(f"Delete “{info.name}” and its heads? This cannot be undone.")
    if st.button(f"Delete “{info.name}” for good", key="runs_delete"):
        store.delete(chosen)
        st.session_state.pop(state.RUN_CHOSEN, None)
        st.rerun()

st.subheader("Compare two runs")
complete = [r.id for r in runs if r.status == "complete"]
if len(complete) < 2:
    st.caption("Two complete runs are needed.")
    state.end_page()
# kept by id, as the Run selector is: the two newest until others are chosen (or one is deleted)
kept_pair = st.session_state.get(state.RUNS_COMPARED) or complete[:2]
compared = [i if i in complete else newest for i, newest in zip(kept_pair, complete[:2], strict=True)]
a_col, b_col = st.columns(2)
a, b = (
    col.selectbox(
        title, complete, complete.index(kept), format_func=lambda i: label(by_id[i]), key=f"runs_{n}|{LABELS}"
    )
    for col, title, kept, n in zip((a_col, b_col), ("First", "Second"), compared, "ab", strict=True)
)
st.session_state[state.RUNS_COMPARED] = (a, b)
table = [
    {
        "run": by_id[i].name,
        "method": widgets.method_title(m),
        "AUROC": fmt(v.get("auroc")),
        "ECE": fmt(v.get("ece")),
        '"none" AUROC': fmt(v.get("none_auroc")),
    }
    for i in (a, b)
    for m, v in by_id[i].metrics.items()
]
st.dataframe(table, hide_index=True, key="runs_compare")
