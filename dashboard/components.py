"""The dashboard's own browser component (Streamlit components v2): the Threshold page's slider, which
answers in the browser.

The page sends what it prints at every slider position (0 to 1 in steps of
0.001, formatted by the same functions as the rest of the page: :func:`dashboard.threshold_panels.slider_data`)
and what it prints at the threshold the server holds (a heuristic's or a file's exact value). A slider step
then changes, in the browser and with no server round trip: the threshold metric, the three accuracies,
where the rows end up (the ID/"none" confusion), the Table 3 row (evaluation rows and the
threshold-validation split that the exported file records) and both figures' threshold markers. The
server learns the value 250 ms after the last step, or at once when the pointer goes elsewhere (a
trigger, ``on_moved``), for the export, the live check and the labelling queue; until it holds the value
shown, the downloads it would make with another (``data["hold"]``, by element key) are greyed out and
cannot be pressed, so an exported threshold is always the one on the screen. The rows are computed once
per head and score and kept in the session; they travel with each rerun of the slider's fragment (about
120 KB).

The figures are drawn outside the slider's fragment, a pair per score shown (the page hides those of the
other scores; ``data["charts"]`` names the shown pair's element keys); the marker is their one shape
(``layout.shapes[0]``, :mod:`embaug_core.plots`), moved with one Plotly relayout (~20 ms a figure; no trace
is redrawn) through the Plotly that Streamlit's chart element puts on ``window``, and moved again
whenever Plotly redraws a chart (a resize re-renders it from the figure it was sent with).
"""

from __future__ import annotations

import streamlit as st

__all__ = ["threshold_slider", "DEBOUNCE_MS"]

#: How long after the last slider step the server is told the value.
DEBOUNCE_MS = 250

_CSS = """
.embaug-thr { font-family: "Source Sans Pro", sans-serif; color: rgb(49, 51, 63); }
.embaug-thr label.embaug-label { font-size: 14px; display: block; margin-bottom: 4px; }
.embaug-thr input[type=range] { width: 100%; accent-color: rgb(255, 75, 75); margin: 0 0 1rem 0; }
.embaug-thr .embaug-metrics { display: grid; grid-template-columns: repeat(4, 1fr); gap: 1rem; margin-bottom: 1rem; }
.embaug-thr [data-testid=embaugMetricLabel] { font-size: 14px; }
.embaug-thr [data-testid=embaugMetricValue] { font-size: 2.25rem; line-height: 1.3; }
.embaug-thr .embaug-tables { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.embaug-thr h3 { font-size: 1.5rem; font-weight: 600; margin: 0.5rem 0; padding: 0; }
.embaug-thr table { border-collapse: collapse; font-size: 14px; }
.embaug-thr th, .embaug-thr td { border: 1px solid rgba(49, 51, 63, 0.15); padding: 4px 8px; text-align: left; }
.embaug-thr th { font-weight: 400; color: rgba(49, 51, 63, 0.6); }
"""

_JS = """
function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function table(head, rows, testid) {
  const t = el("table", {"data-testid": testid});
  const tr = el("tr");
  for (const h of head) tr.appendChild(el("th", {}, h));
  t.appendChild(tr);
  for (const r of rows) {
    const row = el("tr");
    for (const c of r) row.appendChild(el("td", {}, c));
    t.appendChild(row);
  }
  return t;
}
function build(root, data) {
  const box = el("div", {class: "embaug-thr"});
  const label = el("label", {class: "embaug-label", for: "embaug-thr-input"}, data.label);
  const input = el("input", {type: "range", min: "0", max: "1", step: "0.001", id: "embaug-thr-input",
                             "aria-label": data.label, "data-testid": "embaugSlider"});
  const metrics = el("div", {class: "embaug-metrics"});
  const values = {};
  for (const name of data.metrics) {
    const m = el("div", {"data-testid": "embaugMetric"});
    m.appendChild(el("div", {"data-testid": "embaugMetricLabel"}, name));
    values[name] = m.appendChild(el("div", {"data-testid": "embaugMetricValue"}));
    metrics.appendChild(m);
  }
  const tables = el("div", {class: "embaug-tables"});
  const left = tables.appendChild(el("div")), right = tables.appendChild(el("div"));
  left.appendChild(el("h3", {}, "Where rows end up"));
  right.appendChild(el("h3", {}, "Table 3 row at this threshold"));
  box.append(label, input, metrics, tables);
  root.replaceChildren(box);
  return {input, label, values, left, right, help: values[data.metrics[0]].parentElement};
}
function move(gd) {
  const m = gd.__embaugMarker, P = window.Plotly;
  const s = ((gd.layout || {}).shapes || [])[0];
  if (!s || !P || (s.x0 === m.value && s.x1 === m.value && s.name === m.label)) return;
  P.relayout(gd, {"shapes[0].x0": m.value, "shapes[0].x1": m.value, "shapes[0].name": m.label});
}
function markers(charts, marker) {
  // only the newest call may act: an older one still retrying (charts not ready) would move it back
  const gen = (window.__embaugMarkerGen = (window.__embaugMarkerGen || 0) + 1);
  let tries = 0;
  const apply = () => {
    if (gen !== window.__embaugMarkerGen) return;
    let missing = !window.Plotly;
    for (const key of charts) {
      const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
      if (!gd || !gd.layout || !gd.on) { missing = true; continue; }
      gd.__embaugMarker = marker;
      if (!gd.__embaugHooked) { gd.on("plotly_afterplot", () => move(gd)); gd.__embaugHooked = true; }
      move(gd);
    }
    if (missing && tries++ < 100) setTimeout(apply, 50);  // charts still loading: up to 5 s
  };
  apply();
}
function render(s) {
  const d = s.data;
  // the server's exact value until the slider moves; then the row of the slider's position
  const row = s.fromServer ? d.server.row : Object.fromEntries(
    Object.entries(d.grid).map(([k, col]) => [k, col[Math.round(s.value * 1000)]]));
  const names = d.metrics;
  s.dom.values[names[0]].textContent = row.threshold;
  s.dom.values[names[1]].textContent = row.id;
  s.dom.values[names[2]].textContent = row.none;
  s.dom.values[names[3]].textContent = row.overall;
  s.dom.help.title = `set by: ${s.source}; exact value ${row.exact}`;
  const c = row.confusion;
  s.dom.left.replaceChildren(s.dom.left.firstChild, table(
    ["", "accepted, right class", "accepted, wrong class", "routed to none"],
    [["ID", c[0], c[1], c[2]], ["none", "0", c[3], c[4]]], "embaugConfusion"));
  s.dom.right.replaceChildren(s.dom.right.firstChild, table(
    ["rows", "method", "threshold", "ID acc.", '"none" acc.', "overall acc."],
    [["evaluation", d.method, row.threshold, row.id, row.none, row.overall],
     ["threshold-validation split (the exported file)", d.method, row.threshold, row.vid, row.vnone, row.voverall]],
    "embaugTable3"));
  markers(d.charts, {value: s.fromServer ? d.server.value : s.value, label: row.marker});
}
// While the server does not hold the value shown yet, what it would export (data.hold: element keys) waits.
function holding(on, keys) {
  let style = document.getElementById("embaug-hold");
  if (!style) {
    style = document.head.appendChild(el("style", {id: "embaug-hold"}));
  }
  style.textContent = on ? keys.map(k => `.st-key-${k}`).join(", ") + " { opacity: 0.4; pointer-events: none; }" : "";
}
function tell(s) {  // the server learns the value now (it reruns the slider's fragment)
  clearTimeout(s.timer);
  s.timer = null;
  s.tell("moved", {value: s.value, gen: s.gen});  // gen: the server's value this move replaces
}
export default function (component) {
  const { data, parentElement } = component;
  let s = parentElement.__embaugThreshold;
  if (!s) {
    s = parentElement.__embaugThreshold = {gen: null, timer: null, pending: false};
    s.dom = build(parentElement, data);
    holding(false, []);
    s.dom.input.addEventListener("input", () => {
      s.value = Math.round(parseFloat(s.dom.input.value) * 1000) / 1000;
      s.fromServer = false;
      s.source = "manual";
      s.pending = true;
      holding(true, s.data.hold);
      render(s);
      clearTimeout(s.timer);
      s.timer = setTimeout(() => tell(s), data.debounce_ms);
    });
    // leaving the slider (a click elsewhere: a download, another page) tells the server at once
    const now = () => { if (s.timer !== null) tell(s); };
    s.dom.input.addEventListener("blur", now);
    document.addEventListener("pointerdown", e => { if (!parentElement.contains(e.target)) now(); }, true);
    window.addEventListener("pagehide", now);
  }
  s.tell = component.setTriggerValue;
  s.data = data;
  s.dom.label.textContent = data.label;
  s.dom.input.setAttribute("aria-label", data.label);
  if (s.gen !== data.server.gen) {  // the server set it (a snap, a file, another head): show its exact value
    s.gen = data.server.gen;
    s.value = data.server.value;
    s.source = data.server.source;
    s.fromServer = true;
    s.pending = false;
    clearTimeout(s.timer);
    s.timer = null;
    s.dom.input.value = String(data.server.value);
  } else if (s.pending && s.timer === null && data.server.value === s.value) {
    s.pending = false;  // the server holds what is shown: its exports are this value
  }
  holding(s.pending, data.hold);
  render(s);
}
"""

_slider = st.components.v2.component("embaug_threshold_slider", css=_CSS, js=_JS, isolate_styles=False)


def threshold_slider(*, key: str, data: dict, on_moved) -> None:
    """Mount the slider (``data`` from :func:`dashboard.threshold_panels.slider_data`); ``on_moved(value,
    generation)`` is called with the value the slider settled on and the generation of the server's value it
    moved from (a move that reaches the server after a snap or a file set a newer value must not undo it)."""

    def moved() -> None:
        move = st.session_state[key]["moved"]
        if isinstance(move, dict) and move.get("value") is not None:
            on_moved(float(move["value"]), move.get("gen"))

    _slider(data={**data, "debounce_ms": DEBOUNCE_MS}, key=key, on_moved_change=moved)
