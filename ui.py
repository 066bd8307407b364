"""Streamlit-only helpers shared by the pages: session-state keys, cached loaders, training runs.

Everything that computes lives in ``embaug_core``; this module only keeps per-session
state and wraps core calls for the UI. Each browser session has its own
``st.session_state``, so one person's data and models are never visible to another.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

import server_memory
from embaug_core.data.splits import NoneProtocol
from embaug_core.data.table import EmbeddingSet, load_embeddings
from embaug_core.experiment.config import ExperimentConfig
from embaug_core.experiment.results import ExperimentResult
from embaug_core.runs.jobs import WorkQueue

ROOT = Path(__file__).resolve().parent
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
JOBS = "training_jobs"  # {run key: embaug_core.runs.jobs.Job} started by this session, not shown yet
NONE_EXAMPLES = "none_examples"  # (name, (b, D) embeddings) of rows the user marked out of scope
NONE_EXAMPLES_ERROR = "none_examples_error"


@st.cache_resource(show_spinner="Loading the bundled sample…")
def sample_dataset() -> EmbeddingSet:
    """The bundled sample, loaded once per server process (read-only, shared)."""
    return load_embeddings(SAMPLE_PATH, **SAMPLE_COLUMNS)


@st.cache_resource
def training_queue() -> WorkQueue:
    """One queue for the whole server: at most ``EMBAUG_TRAINING_SLOTS`` trainings at once, by
    default what this machine can hold (:func:`embaug_core.runs.jobs.default_slots`: 1 on a 2-core
    machine, where one training already uses both cores)."""
    from embaug_core.runs.jobs import default_slots

    return WorkQueue(slots=max(1, int(os.environ.get("EMBAUG_TRAINING_SLOTS") or default_slots())))


def init_state() -> None:
    """Guarded initialisation: the bundled sample is in use until the user uploads data."""
    server_memory.trimmer()
    if DATASET not in st.session_state:
        st.session_state[DATASET] = sample_dataset()
        st.session_state[DATASET_NAME] = SAMPLE_NAME
    st.session_state.setdefault(PROTOCOL, NoneProtocol())
    st.session_state.setdefault(RESULTS, {})
    st.session_state.setdefault(CURRENT, None)
    st.session_state.setdefault(ALWAYS_TRAIN, ())
    st.session_state.setdefault(RUN_IDS, {})
    st.session_state.setdefault(JOBS, {})


def dataset() -> EmbeddingSet:
    init_state()
    return st.session_state[DATASET]


def set_dataset(ds: EmbeddingSet, name: str) -> None:
    """Switch data; results of other data stay cached under their own keys."""
    st.session_state[DATASET] = ds
    st.session_state[DATASET_NAME] = name
    st.session_state[CURRENT] = None
    st.session_state[ALWAYS_TRAIN] = ()
    for key in [k for k in st.session_state if str(k).startswith(THRESHOLD + "|")]:
        del st.session_state[key]


#: How to make a column choice on the Data page (the words on screen; the CLI names its flags).
PAGE_HINTS = {
    "embedding": 'Fill in "Embedding columns (optional)" with their prefix (e.g. emb_) or a comma-separated list.',
    "vector": 'Fill in "Embedding columns (optional)" with the name of the column that holds the vectors.',
}


def threshold_keys(run: str | None, method: str, trial: int, score: str = "max_prob") -> tuple[str, str, str]:
    """Session keys of one head's threshold on one none score: (slider value rounded to 0.001,
    exact value, what set it)."""
    base = f"{run}|{method}|{trial}" + ("" if score == "max_prob" else f"|{score}")
    return f"{THRESHOLD}|slider|{base}", f"{THRESHOLD}|exact|{base}", f"{THRESHOLD}|source|{base}"


class ThresholdState:
    """The threshold chosen for one head (the current run, a method, a trial) on one none score.

    Kept per head, so switching the method shows that head's own threshold, and the
    Labelling queue starts from the threshold chosen for the head it ranks with. The
    slider holds the value rounded to its 0.001 step; :meth:`value` is the exact one (a
    heuristic's or a file's), which is what is applied and exported.
    """

    def __init__(self, method: str, trial: int, score: str = "max_prob"):
        run = st.session_state.get(CURRENT)
        self.slider_key, self._exact, self._source = threshold_keys(run, method, trial, score)

    def is_set(self) -> bool:
        return self._exact in st.session_state

    def value(self) -> float:
        return st.session_state[self._exact]

    def source(self) -> str:
        return st.session_state.get(self._source, "manual")

    def set(self, value: float, source: str) -> None:
        st.session_state[self.slider_key] = round(value, 3)
        st.session_state[self._exact] = value
        st.session_state[self._source] = source

    def restore_slider(self) -> None:
        """Put the slider back to this head's value; Streamlit drops a widget's state while it is not shown."""
        if self.slider_key not in st.session_state:
            st.session_state[self.slider_key] = round(self.value(), 3)

    def moved(self) -> None:
        """The slider was moved by hand: its value becomes the threshold."""
        st.session_state[self._exact] = st.session_state[self.slider_key]
        st.session_state[self._source] = "manual"


def show_error(exc: Exception) -> None:
    """A readable message, never a traceback; column choices say which field to fill in."""
    from embaug_core.errors import ColumnChoiceError

    hint = f" {PAGE_HINTS[exc.choice]}" if isinstance(exc, ColumnChoiceError) else ""
    st.error(f"{exc}{hint}", icon=":material/error:")


def read_upload(upload):
    """Parse an uploaded table (embaug_core.data.table.read_table), or show why not and return None."""
    from embaug_core.data.table import read_table
    from embaug_core.errors import EmbaugError

    if upload is None:
        return None
    try:
        return read_table(upload.getvalue(), name=upload.name)
    except EmbaugError as exc:
        show_error(exc)
        return None


def load_none_examples() -> None:
    """The Data page's "Out-of-scope examples" upload: kept as (name, embeddings) when it parses and
    has the data's dimension; otherwise the reason, in the words of that page, and the old ones stay."""
    from embaug_core.data.table import load_embeddings
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


def run_key(ds: EmbeddingSet, config: ExperimentConfig, protocol: NoneProtocol, always_train: tuple) -> str:
    ex = none_examples()
    examples = None if ex is None else hashlib.sha1(np.ascontiguousarray(ex).tobytes()).hexdigest()
    blob = json.dumps(
        [ds.fingerprint, config.to_dict(), protocol.to_dict(), list(always_train), examples],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrainingTime:
    """How long a press of Train took: waiting for a slot, then training (0, 0 for a cached result)."""

    waited_s: float
    trained_s: float

    def describe(self) -> str:
        total = self.waited_s + self.trained_s
        if total == 0:
            return "done (these settings were trained before in this session; shown from memory)"
        wait = f"{self.waited_s:.1f}s waiting for a training slot, " if self.waited_s >= 0.05 else ""
        return f"done in {total:.1f}s ({wait}{self.trained_s:.1f}s training)"


def start_training(config: ExperimentConfig, protocol: NoneProtocol) -> str:
    """Start training ``config`` on the current data (unless this session has its result already,
    or is training it now); returns its run key for :func:`wait_for_training`.

    The training is a server-side :class:`~embaug_core.runs.jobs.Job` in the server-wide
    :func:`training_queue`, run in a worker process (:func:`embaug_core.runs.worker.run_experiment_in_worker`) that
    saves it in the run store when it ends. Leaving, rerunning or reloading the page stops only
    the waiting: the run is saved regardless, and a kill of the training leaves a failed run and
    the server as it was.
    """
    from embaug_core.runs.jobs import Job
    from embaug_core.runs.worker import run_experiment_in_worker

    ds = dataset()
    always = tuple(st.session_state[ALWAYS_TRAIN])
    key = run_key(ds, config, protocol, always)
    jobs: dict = st.session_state[JOBS]
    if key in st.session_state[RESULTS]:
        st.session_state[CURRENT] = key
        return key
    if key in jobs and not jobs[key].done.is_set():
        return key
    index = {v: i for i, v in enumerate(ds.ids)}
    name = f"{st.session_state[DATASET_NAME]} · {', '.join(config.methods)}"
    rows, examples, store = [index[i] for i in always], none_examples(), run_store()

    def work(progress):
        return run_experiment_in_worker(
            ds, config, store=store, name=name, always_train=rows, none_examples=examples, progress=progress
        )

    jobs[key] = Job(training_queue(), work, name="embaug-training")
    return key


def describe_progress(bar):
    """A ``progress(p)`` for :func:`wait_for_training` that shows the step, epoch and ETA on ``bar``."""

    def progress(p) -> None:
        eta = "" if p.eta_s != p.eta_s else f" · ETA {p.eta_s:.0f}s"
        epoch = f" · epoch {p.epoch}/{p.epochs}" if p.epochs else ""
        bar.progress(p.fraction, text=f"{p.message}{epoch}{eta}")

    return progress


def describe_wait(bar):
    """An ``on_wait(position, eta_s)`` for :func:`wait_for_training` that shows the queue on ``bar``."""

    def waiting(position: int, eta_s: float | None) -> None:
        start = "estimating when it starts…" if eta_s is None else f"starts in about {eta_s:.0f} s"
        bar.progress(
            0.0,
            text=f"Waiting for a training slot: position {position} in the queue, {start} "
            "(other sessions are training)",
        )

    return waiting


def pending_training() -> str | None:
    """The run key of a training this session started and has not shown yet, or None."""
    init_state()
    return next(iter(st.session_state[JOBS]), None)


def wait_for_training(key: str, *, progress=None, on_wait=None) -> TrainingTime:
    """Wait for the training of :func:`start_training` (``on_wait(position, eta_s)`` while queued,
    ``progress(p)`` while training, every 0.25 s); then make it the current run, read back from the
    run store (saved before it is shown). Raises what the training raised."""
    results: dict = st.session_state[RESULTS]
    job = st.session_state[JOBS].get(key)
    if job is None:  # trained before in this session
        st.session_state[CURRENT] = key
        return TrainingTime(0.0, 0.0)
    while not job.done.wait(0.25):
        if job.waiting is not None and on_wait is not None:
            on_wait(*job.waiting)
        elif job.progress is not None and progress is not None:
            progress(job.progress)
    del st.session_state[JOBS][key]
    if job.error is not None:
        raise job.error
    results[key] = run_store().load(job.result.id)
    st.session_state[RUN_IDS][key] = job.result.id
    st.session_state[CURRENT] = key
    started = job.asked if job.started is None else job.started
    return TrainingTime(started - job.asked, job.ended - started)


def train(config: ExperimentConfig, protocol: NoneProtocol, *, progress=None, on_wait=None) -> TrainingTime:
    """:func:`start_training`, then :func:`wait_for_training`: returns the time spent waiting and training."""
    return wait_for_training(start_training(config, protocol), progress=progress, on_wait=on_wait)


def run_store():
    """The run store under ``$EMBAUG_HOME`` (read when called, so a test can point it elsewhere)."""
    from embaug_core.runs.store import RunStore

    return RunStore()


def open_run(run_id: str) -> None:
    """Make a saved run the current one (its data too, when it was kept): the Calibration,
    Threshold and Queue pages then work on it without retraining."""
    from embaug_core.runs.store import load_stored_dataset

    store = run_store()
    info = store.info(run_id)
    result = store.load(run_id)
    data = load_stored_dataset(info.data["fingerprint"]) if info.data.get("stored") else None
    if data is None and str(info.data.get("source", "")).endswith("clinc150_minilm.npz"):
        data = sample_dataset()
    if data is not None:
        set_dataset(data, info.data.get("source", info.name))
    key = f"run:{run_id}"
    st.session_state[RESULTS][key] = result
    st.session_state[RUN_IDS][key] = run_id
    st.session_state[CURRENT] = key


def current_result() -> ExperimentResult | None:
    init_state()
    key = st.session_state[CURRENT]
    return st.session_state[RESULTS].get(key) if key else None


def require_result() -> ExperimentResult:
    """The results shown on analysis pages, or an explanation and a stop."""
    result = current_result()
    if result is None:
        st.info("No trained heads yet for the current data. Open **Train**, choose methods and press **Train**.")
        st.page_link("views/2_train.py", label="Go to Train", icon=":material/model_training:")
        st.stop()
    return result


def head_zip(head) -> bytes:
    """The trained head (safetensors + JSON) as ZIP bytes for a download button."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        head.save(tmp)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name in ("head.safetensors", "head.json"):
                z.write(Path(tmp) / name, arcname=f"embaug-head/{name}")
        return buf.getvalue()


def method_title(name: str) -> str:
    from embaug_core.experiment.config import entry_title

    return entry_title(name)


# Moves the threshold marker of Plotly charts already on the page, in the browser. The Threshold
# page draws its two figures once per head; a slider step then reruns only its fragment, and this
# component relayouts the marker (the figure's one shape, see embaug_core.plots) instead of
# Streamlit re-sending and Plotly redrawing both whole figures (most of a step's time before; a
# shape relayout redraws no trace: ~20 ms a figure against ~50 ms for restyling a marker trace).
# It uses the Plotly that Streamlit's own chart element puts on ``window``, and re-applies the
# marker whenever Plotly redraws a chart (a resize re-renders it from the figure sent with the page).
_MARKER_JS = """
function move(gd) {
  const m = gd.__embaugMarker, P = window.Plotly;
  const s = ((gd.layout || {}).shapes || [])[0];
  if (!s || !P || (s.x0 === m.value && s.x1 === m.value && s.name === m.label)) return;
  P.relayout(gd, {"shapes[0].x0": m.value, "shapes[0].x1": m.value, "shapes[0].name": m.label});
}
export default function ({ data }) {
  // Each slider step runs this again with the new value. Only the newest run may act: an older
  // run still retrying (charts not ready yet) could otherwise move the marker back to its value
  // after the newer one had moved it. The likely cause of one browser-suite failure in 7 runs (the
  // metric showed the new threshold, the markers did not reach it in 30 s); 10/10 green since.
  const gen = (window.__embaugMarkerGen = (window.__embaugMarkerGen || 0) + 1);
  let tries = 0;
  const apply = () => {
    if (gen !== window.__embaugMarkerGen) return;
    let missing = !window.Plotly;
    for (const key of data.charts) {
      const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
      if (!gd || !gd.layout || !gd.on) { missing = true; continue; }
      gd.__embaugMarker = data;
      if (!gd.__embaugHooked) { gd.on("plotly_afterplot", () => move(gd)); gd.__embaugHooked = true; }
      move(gd);
    }
    if (missing && tries++ < 100) setTimeout(apply, 50);  // charts still loading: up to 5 s
  };
  apply();
  // and check again shortly after: a chart element Streamlit replaced meanwhile is drawn from the
  // figure it was sent with (the marker where it started) and has no redraw hook yet
  for (const ms of [250, 1000, 3000]) setTimeout(apply, ms);
}
"""
_marker_component = st.components.v2.component("embaug_threshold_marker", js=_MARKER_JS, isolate_styles=False)


def move_chart_markers(charts: list[str], value: float) -> None:
    """Move the threshold marker (``layout.shapes[0]``, drawn by ``embaug_core.plots``) of the
    Plotly charts with these element keys to ``value``, without re-sending the charts."""
    from embaug_core.plots import marker_label

    _marker_component(
        data={"charts": charts, "value": value, "label": marker_label(value)},
        key="threshold_marker",
        height=0,
    )
