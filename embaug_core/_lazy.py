"""Package namespaces whose public names load on first use (PEP 562).

``import embaug_core`` (and every sub-package) costs nothing: the name ``TrainedHead`` imports torch and
its module only when it is first looked up. So ``embaug --help`` starts as fast as its own imports allow,
and the dashboard's pages import only what they use. Written by hand because it is twenty lines; the
``lazy_loader`` package does the same with stub files.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def attach(package: str, homes: dict[str, str]) -> tuple[list[str], Callable, Callable]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for ``package``, whose public names live in the
    modules ``homes`` gives (name -> module path relative to the package, e.g. ``".config"``)."""

    def __getattr__(name: str):
        try:
            home = homes[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        return getattr(importlib.import_module(home, package), name)

    def __dir__() -> list[str]:
        return sorted(homes)

    return list(homes), __getattr__, __dir__
