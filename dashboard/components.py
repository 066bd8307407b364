"""The dashboard's own browser component (Streamlit components v2): the threshold marker that moves
without re-sending the figures."""

from __future__ import annotations

import streamlit as st

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
