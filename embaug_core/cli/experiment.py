"""``embaug experiment``: the paper's protocol over trials, its tables, report and (optionally) a saved run."""

from __future__ import annotations

import sys
from pathlib import Path

from .common import Progress, load_data, train_config
from .parser import parse_floats, parse_methods, parse_unseen

__all__ = ["cmd_experiment", "experiment_config"]


def experiment_config(args):
    """The :class:`~embaug_core.experiment.config.ExperimentConfig` that ``embaug experiment``'s parsed flags ask
    for (benchmarks/temperature_gap.py rebuilds a suite stage's experiment through it)."""
    from ..experiment.config import ExperimentConfig
    from ..training.augment import METHOD_NAMES, PAPER_METHODS

    named = {"all": METHOD_NAMES, "paper": PAPER_METHODS}
    methods = named.get(args.methods) or tuple(m.strip() for m in args.methods.split(",") if m.strip())
    baselines = (
        ()
        if args.baselines.strip() in ("", "none")
        else tuple(b.strip() for b in args.baselines.split(",") if b.strip())
    )
    return ExperimentConfig(
        methods=methods,
        auto_methods=parse_methods(args.auto_methods, "--auto-methods"),
        baselines=baselines,
        n_trials=args.trials,
        train_fraction=args.train_fraction,
        unseen_classes=parse_unseen(args.unseen_classes),
        none_label=args.none_label,
        alphas=parse_floats(args.alphas, "alphas"),
        softnesses=parse_floats(args.softnesses, "softnesses"),
        n_removed_classes=args.removed_classes,
        train=train_config(args),
        seed=args.seed,
    )


def cmd_experiment(args) -> int:
    from ..experiment.report import write_report
    from ..experiment.run import run_experiment

    config = experiment_config(args)
    ds = load_data(args)
    bar = Progress()
    from ..device import resolve_device

    where = f"Ray ({args.ray_address or 'local'})" if args.backend == "ray" else "this machine"
    print(
        f"experiment on {where}: {len(config.methods)} methods + {len(config.baselines)} baselines "
        f"x {args.trials} trials, device {resolve_device(args.device)}",
        file=sys.stderr,
    )

    def progress(p):
        epoch = f" epoch {p.epoch}/{p.epochs}" if p.epochs else ""
        eta = "" if p.eta_s != p.eta_s else f"  eta {p.eta_s:.0f}s" + (" (probes)" if p.probes else "")
        bar(f"[{p.done}/{p.total}] {p.message}{epoch}  elapsed {p.elapsed_s:.0f}s{eta}", final=p.message == "done")

    keep = bool(args.save_run) and args.backend == "local"  # heads stay in this process only
    where_kw = dict(backend=args.backend, ray_address=args.ray_address, threads=args.threads)
    from .thresholds import load_none_examples

    none_x = load_none_examples(args)
    result = run_experiment(ds, config, progress=progress, keep_artifacts=keep, none_examples=none_x, **where_kw)
    result.save(args.out)
    _save_run(args, result, ds)
    write_report(result, Path(args.out) / "report.html", title=f"embaug experiment on {Path(args.data).name}")
    print(result.markdown())
    print(
        f"wrote {args.out}/results.json, table1-3.csv, comparison.csv, tables.md, report.html "
        f"({result.wall_seconds:.0f}s)",
        file=sys.stderr,
    )
    return 0


def _save_run(args, result, ds) -> None:
    """``--save-run NAME``: the experiment as a run in the store, to reopen in the dashboard."""
    from ..runs.store import RunStore

    if args.save_run:
        info = RunStore().save(result, name=args.save_run, dataset=ds)
        print(f"saved run {info.id} in {RunStore().root}", file=sys.stderr)
