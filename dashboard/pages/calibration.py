"""Calibration: reliability diagrams side by side, ECE/MCE/Brier/NLL and the paper's Tables 1 and 2."""

import streamlit as st

from dashboard import state, widgets
from embaug_core.evaluation.scores import SCORE_TITLES
from embaug_core.experiment.display import fmt, for_display
from embaug_core.plots import figure_html, reliability_figure, risk_coverage_figure

CORRELATION_HELP = (
    "Pearson correlation of the bins' mean confidence and accuracy (the reliability diagram's bars). "
    '"–" when it is undefined: fewer than two bins hold rows, or every bin has the same accuracy or the '
    "same confidence (a head right on every row, say)."
)

st.title("Calibration")
result = state.require_result()

trial = st.selectbox(
    "Trial", list(range(result.config.n_trials)), format_func=lambda t: f"trial {t + 1}", key="calibration_trial"
)
equal_mass = st.toggle(
    "Equal-mass bins", value=False, help="Bins holding equal numbers of rows instead of equal widths."
)
methods = result.methods
for start in range(0, len(methods), 3):
    cols = st.columns(3)
    for col, method in zip(cols, methods[start : start + 3], strict=False):  # the last row may be short
        art = result.artifacts[(method, trial)]
        cal = art.evaluation.calibration
        bins = cal.bins_equal_mass if equal_mass else cal.bins
        with col:
            fig = reliability_figure(bins, title=widgets.method_title(method))
            st.plotly_chart(fig, width="stretch", key=f"rel_{method}_{trial}_{equal_mass}")
            st.download_button(
                "Figure as HTML",
                lambda fig=fig: figure_html(fig),
                f"reliability_{method}.html",
                "text/html",
                key=f"html_rel_{method}",
                on_click="ignore",
            )
            a, b = st.columns(2)
            a.metric("ECE", fmt(cal.ece_equal_mass if equal_mass else cal.ece))
            b.metric("MCE", fmt(cal.mce_equal_mass if equal_mass else cal.mce))
            a.metric("Brier", fmt(cal.brier))
            b.metric("NLL", fmt(cal.nll))
            a.metric("Conf.–acc. correlation", fmt(cal.correlation), help=CORRELATION_HELP)
            b.metric("AUROC", fmt(art.evaluation.auroc))
            a.metric("Class-wise ECE", fmt(cal.classwise_ece), help="Mean over classes of each output's ECE.")
            b.metric("AURC", fmt(art.evaluation.selective.aurc), help="Area under the risk–coverage curve.")

st.subheader("Comparison of every method and baseline")
st.caption(
    'ECE; AUROC of the "none" scores (1 − max probability, energy of the logits, k-NN distance in the '
    "embedding space, relative Mahalanobis, max-prob + k-NN fused); top-1 ID accuracy without threshold; "
    "seconds per final training. Mean over trials."
)
tc = result.table_compare()
st.dataframe(for_display(tc, trials=result.config.n_trials), hide_index=True, key="comparison")
st.download_button("Comparison as CSV", tc.to_csv(index=False), "comparison.csv", "text/csv", on_click="ignore")

st.subheader('Table 1 – weighted one-vs-rest AUROC / AUPR (incl. "none")')
st.caption(
    "Mean and std over trials; for methods other than the control, "
    "also the difference to the control of the same trial."
)
t1 = result.table1()
st.dataframe(for_display(t1, trials=result.config.n_trials), hide_index=True, key="table1")
st.download_button("Table 1 as CSV", t1.to_csv(index=False), "table1.csv", "text/csv", on_click="ignore")
st.subheader("Table 2 – confidence–accuracy correlation and calibration errors")
t2 = result.table2()
st.dataframe(for_display(t2, trials=result.config.n_trials), hide_index=True, key="table2")
st.caption(f'Confidence–accuracy correlation: {CORRELATION_HELP} Std: "–" with one trial.')
st.download_button("Table 2 as CSV", t2.to_csv(index=False), "table2.csv", "text/csv", on_click="ignore")

st.subheader("Selective classification")
scores = list(dict.fromkeys(s for m in methods for s in result.artifacts[(m, trial)].scores()))
score = st.selectbox("Score", scores, format_func=SCORE_TITLES.get, key="calibration_score")
curves = {
    widgets.method_title(m): result.artifacts[(m, trial)].for_score(score)[1].selective
    for m in methods
    if score in result.artifacts[(m, trial)].scores()
}
st.plotly_chart(risk_coverage_figure(curves), width="stretch", key=f"risk_coverage_{trial}_{score}")
st.caption(
    'Rows answered in the order of the score; a "none" row answered counts as wrong. AURC and E-AURC (AURC minus '
    "that of the best possible order) per method and score, mean over trials; class-wise ECE beside top-label ECE."
)
ts = result.table_selective()
st.dataframe(for_display(ts, trials=result.config.n_trials), hide_index=True, key="selective")
