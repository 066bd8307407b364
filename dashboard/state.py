"""One browser session's state: the data in use, how "none" is simulated, the results shown and the
thresholds chosen per head.

The session's keys live here (a page's own widget keys stay on that page or its forms); pages read
and write the session through these functions. Each browser
session has its own ``st.session_state``: one person's data and models are never visible to
another. The run store on disk is the machine owner's in a single-user dashboard, and each signed-in
user's own once sign-in is on (:func:`run_store`, :mod:`dashboard.auth`).
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import streamlit as st

from embaug_core.data.splits import NoneProtocol
from embaug_core.data.table import EmbeddingSet, load_embeddings
from embaug_core.experiment.results import ExperimentResult

from . import server

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PATH = ROOT / "sample_data" / "clinc150_minilm.npz"
SAMPLE_NAME = "CLINC150 · all-MiniLM-L6-v2 (bundled sample)"
SAMPLE_COLUMNS = {"label_col": "intent", "id_col": "id"}

# session-state keys
DATASET = "dataset"  # EmbeddingSet in use
DATASET_NAME = "dataset_name"
PROTOCOL = "protocol"  # NoneProtocol
RESULTS = "results"  # {run key: ExperimentResult with artifacts}
CURRENT = "current_run"  # run key of the results shown
THRESHOLD = "threshold"  # prefix of the per-head threshold keys (see ThresholdState)
ALWAYS_TRAIN = "always_train_ids"  # ids labelled through the queue
LAST_SETTINGS = "train_settings"
RUN_IDS = "run_ids"  # {run key: id in the run store}
RESULT_ROWS = "result_rows"  # {run key: rows_fingerprint of the data it was trained on}
JOBS = "training_jobs"  # {run key: embaug_core.runs.jobs.Job} started by this session, not shown yet
NONE_EXAMPLES = "none_examples"  # (name, (b, D) embeddings) of rows the user marked out of scope
NONE_EXAMPLES_ERROR = "none_examples_error"
RUN_CHOSEN = "run_chosen"  # the Runs page's run, by id: kept across pages and reruns (its selector's is not)
THRESHOLD_FILE_LOADED = "threshold_file_loaded"  # (slider key, source, what was loaded), said on the Threshold page
THRESHOLD_FILE_ERROR = "threshold_file_error"  # why the threshold file last uploaded was refused
KEPT = "kept"  # {what: {inputs: value}}: the session's last few computations of each kind (:func:`kept`)
LIVE_CHECK_BATCH = "live_check_batch"  # (file id, head key, batch confidences or None, error or None) of the live check
QUEUE_RETRAINED = "queue_retrained"  # what the Labelling queue's last retrain did, said after its rerun
RUNS_COMPARED = "runs_compared"  # the Runs page's two compared runs, by id, kept as RUN_CHOSEN is
DATA_SOURCE = "data_source_kept"  # the Data page's Source choice, kept while its radio is not drawn
PROTOCOL_CHOSEN = "protocol_chosen"  # True once the protocol was applied on the Data page or came with a run
PROTOCOL_NOTE = "protocol_note"  # why new data changed a chosen protocol (the Data page says it)


@st.cache_resource(show_spinner="Loading the bundled sample…")
def sample_dataset() -> EmbeddingSet:
    """The bundled sample, loaded once per server process (read-only, shared)."""
    return load_embeddings(SAMPLE_PATH, **SAMPLE_COLUMNS)


def kept(what: str, key, compute, *, keep: int = 8):
    """``compute()``, kept in this session for the last ``keep`` keys of its kind ``what`` (the oldest goes
    first): what a page recomputes on every rerun though its inputs rarely change (a score switch, a
    widget elsewhere on the page). Per session, so one person's results never reach another."""
    table = st.session_state.setdefault(KEPT, {}).setdefault(what, {})
    if key not in table:
        value = compute()
        while len(table) >= keep:
            table.pop(next(iter(table)))
        table[key] = value
    return table[key]


def init_state() -> None:
    """Guarded initialisation: the bundled sample is in use until the user uploads data."""
    server.housekeeping()
    if DATASET not in st.session_state:
        st.session_state[DATASET] = sample_dataset()
        st.session_state[DATASET_NAME] = SAMPLE_NAME
    st.session_state.setdefault(PROTOCOL, NoneProtocol())
    st.session_state.setdefault(RESULTS, {})
    st.session_state.setdefault(CURRENT, None)
    st.session_state.setdefault(ALWAYS_TRAIN, ())
    st.session_state.setdefault(RUN_IDS, {})
    st.session_state.setdefault(RESULT_ROWS, {})
    st.session_state.setdefault(JOBS, {})


def dataset() -> EmbeddingSet:
    init_state()
    return st.session_state[DATASET]


def set_dataset(ds: EmbeddingSet, name: str) -> None:
    """Switch data; results of other data stay cached under their own keys."""
    st.session_state[DATASET] = ds
    st.session_state[DATASET_NAME] = name
    st.session_state[CURRENT] = None
    # the default protocol follows the data; a chosen one is kept when it fits, else replaced, with the reason
    protocol = st.session_state.get(PROTOCOL, NoneProtocol())
    fitted, why = protocol.fitted(ds.classes, chosen=st.session_state.get(PROTOCOL_CHOSEN, False))
    st.session_state[PROTOCOL] = fitted
    st.session_state[PROTOCOL_NOTE] = why
    if why is not None:
        st.session_state[PROTOCOL_CHOSEN] = False
    st.session_state[ALWAYS_TRAIN] = ()
    for key in [k for k in st.session_state if str(k).startswith(THRESHOLD + "|")]:
        del st.session_state[key]


def threshold_keys(run: str | None, method: str, trial: int, score: str = "max_prob") -> tuple[str, str, str]:
    """Session keys of one head's threshold on one none score: (its slider component, exact value, what set it)."""
    base = f"{run}|{method}|{trial}" + ("" if score == "max_prob" else f"|{score}")
    return f"{THRESHOLD}|slider|{base}", f"{THRESHOLD}|exact|{base}", f"{THRESHOLD}|source|{base}"


class ThresholdState:
    """The threshold chosen for one head (the current run, a method, a trial) on one none score.

    Kept per head, so switching the method shows that head's own threshold, and the
    Labelling queue starts from the threshold chosen for the head it ranks with. :meth:`value` is the
    exact value (a heuristic's, a file's, or the slider's 0.001 step), which is what is applied and
    exported. :meth:`generation` counts the times the server set it (:meth:`set`): the browser-side slider
    (:func:`dashboard.components.threshold_slider`) shows the server's value when it changes, and its own
    position otherwise (its moves reach the server through :meth:`moved_to`).
    """

    def __init__(self, method: str, trial: int, score: str = "max_prob"):
        run = st.session_state.get(CURRENT)
        self.head = (run, method, trial)  # the head, whatever the score
        self.slider_key, self._exact, self._source = threshold_keys(run, method, trial, score)
        self._generation = f"{self._exact}|generation"

    def is_set(self) -> bool:
        return self._exact in st.session_state

    def value(self) -> float:
        return st.session_state[self._exact]

    def source(self) -> str:
        return st.session_state.get(self._source, "manual")

    def generation(self) -> int:
        return st.session_state.get(self._generation, 0)

    def set(self, value: float, source: str) -> None:
        """Set by the server (a heuristic's snap, a file): the slider jumps to it."""
        st.session_state[self._exact] = value
        st.session_state[self._source] = source
        st.session_state[self._generation] = self.generation() + 1

    def moved_to(self, value: float, generation: int | None = None) -> None:
        """The slider was moved by hand and settled on ``value``: it becomes the threshold, unless the server
        set a newer one since the value it moved from (``generation``; a snap or a file pressed meanwhile)."""
        if generation is not None and generation != self.generation():
            return
        st.session_state[self._exact] = value
        st.session_state[self._source] = "manual"


def load_none_examples() -> None:
    """The Data page's "Out-of-scope examples" upload: kept as (name, embeddings) when it parses and
    has the data's dimension; otherwise the reason, in the words of that page, and the old ones stay."""
    from embaug_core.errors import EmbaugError

    upload = st.session_state.get("upload_none_examples")
    if upload is None:
        return
    try:
        ex = load_embeddings(upload.getvalue(), label_col=None, min_classes=0, name=upload.name)
        if ex.dim != dataset().dim:
            raise EmbaugError(
                f"its rows have {ex.dim} dimensions, the data in use has {dataset().dim}: "
                "embed them with the same model."
            )
    except EmbaugError as exc:
        st.session_state[NONE_EXAMPLES_ERROR] = f"Out-of-scope examples {upload.name}: {exc}"
        return
    st.session_state[NONE_EXAMPLES] = (upload.name, ex.embeddings)
    st.session_state[NONE_EXAMPLES_ERROR] = None


def none_examples():
    """The out-of-scope examples' embeddings (b, D) for the data in use, or None."""
    kept = st.session_state.get(NONE_EXAMPLES)
    if kept is None or kept[1].shape[1] != dataset().dim:
        return None
    return kept[1]


def run_store():
    """The run store under ``$EMBAUG_HOME`` (read when called, so a test can point it elsewhere), the signed-in
    user's when sign-in is on (:mod:`dashboard.auth`): it lists, opens, renames and deletes only their runs."""
    from embaug_core.errors import EmbaugError
    from embaug_core.runs.store import RunStore

    from . import auth

    name = auth.user()
    if name is None and auth.team().signin:  # never the machine owner's store behind a sign-in
        raise EmbaugError("sign in first: the runs are each user's own.")
    return RunStore(user=name, admin=auth.is_admin())


def open_run(run_id: str) -> None:
    """Make a saved run the current one (its data too, when it was kept): the Calibration,
    Threshold and Queue pages then work on it without retraining."""
    store = run_store()
    info = store.info(run_id)
    result = store.load(run_id)
    data = store.stored_data(run_id)  # the user's own table (or one they uploaded too), else None
    sample = data is None and str(info.data.get("source", "")).endswith("clinc150_minilm.npz")
    if sample:
        data = sample_dataset()
    if data is not None:
        set_dataset(data, SAMPLE_NAME if sample else Path(str(info.data.get("source", info.name))).name)
        st.session_state[DATA_SOURCE] = "Bundled sample" if sample else "Upload a file"
    # its protocol and settings everywhere: the sidebar, the Data and Experiment pages, the queue's retrain
    config = result.config
    protocol = NoneProtocol.of_split(
        train_fraction=config.train_fraction, unseen_classes=config.unseen_classes, none_label=config.none_label
    )
    st.session_state[PROTOCOL] = protocol
    st.session_state[PROTOCOL_CHOSEN], st.session_state[PROTOCOL_NOTE] = True, None
    st.session_state[LAST_SETTINGS] = (config, protocol)
    key = f"run:{run_id}"
    st.session_state[RESULTS][key] = result
    st.session_state[RUN_IDS][key] = run_id
    st.session_state[RESULT_ROWS][key] = dataset().rows_fingerprint  # its data, or the data in use
    st.session_state[CURRENT] = key
    st.session_state[RUN_CHOSEN] = run_id


class PageEnd(Exception):
    """A page ends here, having said why (no results yet, too few runs). ``app.py`` catches it and still
    draws the sidebar's summary, which ``st.stop()`` would drop: Streamlit writes nothing after it."""


def end_page() -> NoReturn:
    """End the page here (instead of ``st.stop()``); see :class:`PageEnd`."""
    raise PageEnd


def current_result() -> ExperimentResult | None:
    init_state()
    key = st.session_state[CURRENT]
    return st.session_state[RESULTS].get(key) if key else None


def require_result() -> ExperimentResult:
    """The results shown on analysis pages, or an explanation and a stop."""
    result = current_result()
    if result is None:
        st.info("No trained heads yet for the current data. Open **Experiment**, choose methods and press **Train**.")
        st.page_link("dashboard/pages/experiment.py", label="Go to Experiment", icon=":material/model_training:")
        end_page()
    return result
