"""The ``embaug`` command.

    embaug split DATA --label-col COL [--train-fraction 0.1] [--unseen-classes N|names] --out DIR
    embaug train DATA --label-col COL [--method M] [--alpha A] [--softness S] [--epochs E] [--seed N] --out MODEL_DIR
    embaug evaluate MODEL_DIR DATA --label-col COL --out DIR
    embaug predict MODEL_DIR DATA --threshold FILE_OR_NUMBER --out PREDS.csv
    embaug discover MODEL_DIR DATA --threshold FILE_OR_NUMBER|--least-confident N [--score S] [--text-col COL]
                    [--min-group-size 5] [--seed 0] --out DIR
    embaug experiment DATA --label-col COL [--methods all|m1,m2] [--trials 5] [--epochs E] --out DIR
    embaug embed text DATA --text-col COL [--text-col COL2 ...] [--label-col COL] [--model M]
                      [--recipe paper|mean] --out FILE
    embaug embed images ZIP_OR_DIR [--labels CSV] [--model NAME] [--weights FILE] --out FILE
    embaug dashboard [--port P]

Bad input exits with status 2 and one line on stderr; no traceback.
"""

from __future__ import annotations

import sys

from ..errors import CLI_HINTS, ColumnChoiceError, EmbaugError
from .dashboard import cmd_dashboard
from .data import cmd_embed, cmd_split
from .discover import cmd_discover
from .experiment import cmd_experiment
from .head import cmd_evaluate, cmd_predict, cmd_train
from .parser import build_parser
from .runs import cmd_runs

__all__ = ["main"]


COMMANDS = {
    "split": cmd_split,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "discover": cmd_discover,
    "experiment": cmd_experiment,
    "embed": cmd_embed,
    "runs": cmd_runs,
    "dashboard": cmd_dashboard,
}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except EmbaugError as exc:
        hint = f" {CLI_HINTS[exc.choice]}" if isinstance(exc, ColumnChoiceError) else ""
        print(f"embaug {args.command}: error: {exc}{hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"embaug {args.command}: interrupted; nothing was overwritten.", file=sys.stderr)
        return 130
    except OSError as exc:
        print(
            f"embaug {args.command}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr
        )
        return 2
