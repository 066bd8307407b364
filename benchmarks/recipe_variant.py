"""``embaug`` with fields of the auto recipe changed: how the benchmark suite measures a default before it
is shipped (``python benchmarks/suite.py --recipe FIELD=VALUE``).

    python benchmarks/recipe_variant.py head_temperature=top_label -- experiment DATA ...

Every ``FIELD=VALUE`` before ``--`` replaces that field of
:data:`embaug_core.training.recipe.DEFAULT_RECIPE` (VALUE read as JSON where it parses, else as a
string: ``none_share=0.3``, ``head_temperature=top_label``); what follows ``--`` is the ``embaug``
command line. Every module reads the recipe through :data:`~embaug_core.training.recipe.DEFAULT_RECIPE`
at call time but :mod:`embaug_core.training.selection`, which imports it by name: both are replaced.
Fields that ``embaug experiment`` takes from its own config instead (``IGNORED``) are refused for it, as a
run with them would be the default's under another name (``embaug train`` reads every field); so is
``--backend ray``, whose trials run in other processes that never see the replacement.
Why a script and not a flag of ``embaug``: these are candidates for the default, measured on the suite
before a user is offered them (issue 23), not settings for users.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's embaug_core, first


#: AutoRecipe fields ``embaug experiment`` does not read from the recipe, or not everywhere: its own config
#: gives them (``--removed-classes``, its C grid, the trial's validation split; ``temperature``, which it sets
#: for the ensemble and LogReg candidates from the preset) or only ``select_and_train`` reads them.
IGNORED = frozenset(
    {
        "logreg_Cs",
        "val_fraction",
        "n_removed_classes",
        "min_validation_rows",
        "max_rank_rows",
        "max_held_out_rows",
        "temperature",
    }
)


def parse(overrides: list[str], command: str = "experiment") -> dict:
    """``["FIELD=VALUE", ...]`` as keyword arguments of :class:`~embaug_core.training.recipe.AutoRecipe` for the
    ``embaug`` subcommand ``command`` (``experiment`` does not read the fields of ``IGNORED``; ``train`` reads
    them all); ValueError naming the bad one."""
    from embaug_core.training.recipe import AutoRecipe

    names = {f.name for f in fields(AutoRecipe)} - (IGNORED if command == "experiment" else frozenset())
    out = {}
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep or name not in names:
            raise ValueError(
                f"{item!r} is not FIELD=VALUE with FIELD one of AutoRecipe's that `embaug {command}` reads: "
                + ", ".join(sorted(names))
            )
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value
        if isinstance(out[name], list):
            out[name] = tuple(out[name])
    return out


def install(overrides: list[str], command: str = "experiment"):
    """Make the recipe with ``overrides`` the default of every module that reads it (for the ``embaug``
    subcommand ``command``, :func:`parse`); returns it."""
    from embaug_core.training import recipe, selection

    variant = replace(recipe.DEFAULT_RECIPE, **parse(overrides, command))  # AutoRecipe checks its own values
    recipe.DEFAULT_RECIPE = selection.DEFAULT_RECIPE = variant
    return variant


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("usage: recipe_variant.py FIELD=VALUE ... -- EMBAUG_ARGS ...", file=sys.stderr)
        return 2
    cut = argv.index("--")
    from embaug_core.cli import main as embaug
    from embaug_core.cli.parser import build_parser
    from embaug_core.errors import EmbaugError

    try:
        install(argv[:cut], argv[cut + 1] if len(argv) > cut + 1 else "experiment")
        if getattr(build_parser().parse_args(argv[cut + 1 :]), "backend", "local") == "ray":
            raise ValueError("--backend ray runs its trials in other processes, which never see the changed recipe")
    except (ValueError, EmbaugError) as e:
        print(f"recipe_variant: {e}", file=sys.stderr)
        return 2
    return embaug(argv[cut + 1 :])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
