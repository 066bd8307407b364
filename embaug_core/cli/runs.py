"""``embaug runs list [--owner USER] | show ID | export ID --out FILE | delete ID``: the run store on the command
line. The machine owner's tool: it sees every user's runs (``--owner`` lists one user's)."""

from __future__ import annotations

import json
import sys


def _fmt(v) -> str:
    return "–" if v is None or v != v else f"{v:.3f}"


def cmd_runs(args) -> int:
    from ..runs.store import RunStore

    store = RunStore()
    if args.runs_command == "list":
        runs = store.list(owner=args.owner)
        print("id\tname\tstatus\towner\tdata\tmethods\tcreated\tAUROC\tECE\tprogress")
        for r in runs:
            first = r.metrics.get(r.methods[0], {}) if r.methods else {}
            done = f"{r.progress['fraction']:.0%}" if r.status == "running" and r.progress else "–"
            print(
                f"{r.id}\t{r.name}\t{r.status}\t{r.owner or '–'}\t{r.data.get('source', '–')}\t"
                f"{','.join(r.methods)}\t{r.created}\t"
                f"{_fmt(first.get('auroc'))}\t{_fmt(first.get('ece'))}\t{done}"
            )
        whose = "" if args.owner is None else f" of {args.owner}"
        print(f"{len(runs)} run(s){whose} in {store.root}", file=sys.stderr)
    elif args.runs_command == "show":
        print(json.dumps(store.info(args.id).to_dict(), indent=2))
    elif args.runs_command == "export":
        print(f"wrote {store.export(args.id, args.out)}", file=sys.stderr)
    elif args.runs_command == "delete":
        store.delete(args.id)
        print(f"deleted run {args.id}", file=sys.stderr)
    return 0
