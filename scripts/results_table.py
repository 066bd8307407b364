"""Print the results table of docs/results.md from an experiment's results.json.

    python scripts/results_table.py runs/exp/results.json

Columns: AUROC / AUPR (control absolute, the others relative to the control of the same
trial; all absolute when the experiment has no control), confidence-accuracy correlation, ECE
(mean (std) over trials), none-AUROC of 1 - max probability and of the energy score, top-1 ID
accuracy, and heuristic 2's (ratio) threshold with the ID / none / overall accuracy at it on the
evaluation rows.
"""

from __future__ import annotations

import sys

from embaug_core.experiment.results import ExperimentResult


def main(path: str) -> None:
    result = ExperimentResult.load(path)
    t1 = result.table1().set_index("method")
    t2 = result.table2().set_index("method")
    t3 = result.table3()
    tc = result.table_compare().set_index("method")
    print(
        "| Method | AUROC | AUPR | Conf.–acc. corr. | ECE | none-AUROC (1−max p / energy) | ID acc. | "
        "Thresh. (ratio) | ID / none / overall acc. at it |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for m in t1.index:
        r1, r2, rc = t1.loc[m], t2.loc[m], tc.loc[m]
        if m == "Control" or "Control" not in t1.index:  # without a control every row is absolute
            auroc = f"{r1.auroc_mean:.4f} ({r1.auroc_std:.4f})"
            aupr = f"{r1.aupr_mean:.4f} ({r1.aupr_std:.4f})"
        else:
            auroc = f"{r1.auroc_delta_mean:+.4f} ({r1.auroc_delta_std:.4f})"
            aupr = f"{r1.aupr_delta_mean:+.4f} ({r1.aupr_delta_std:.4f})"
        ratio = t3[(t3["method"] == m) & (t3["heuristic"] == "ratio")].iloc[0]
        print(
            f"| {m} | {auroc} | {aupr} | {r2.correlation_mean:.3f} ({r2.correlation_std:.3f}) | "
            f"{r2.ece_mean:.3f} ({r2.ece_std:.3f}) | {rc.none_auroc_max_prob:.3f} / {rc.none_auroc_energy:.3f} | "
            f"{rc.id_top1_accuracy:.3f} | {ratio.threshold_mean:.2f} | {ratio.id_accuracy_mean:.3f} / "
            f"{ratio.none_accuracy_mean:.3f} / {ratio.overall_accuracy_mean:.3f} |"
        )
    print(f"\nwall time {result.wall_seconds:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1])
