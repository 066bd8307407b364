"""MkDocs hooks of the embaug site (``hooks:`` in mkdocs.yml).

* The CLI reference is written from the ``embaug`` command's own parser: ``docs/reference/cli.md`` holds
  the marker ``<!-- embaug-cli-reference -->``, replaced by every command's ``--help`` from
  :func:`embaug_core.cli.parser.build_parser`, so the page cannot drift from the flags.
* The docstrings name other objects with Sphinx roles (``:class:`~embaug_core.x.Name```), which
  mkdocstrings shows as written; the rendered pages show the name as code instead (its last part where
  the role says ``~``).
"""

from __future__ import annotations

import argparse
import os
import re

MARKER = "<!-- embaug-cli-reference -->"
ROLES = "mod|class|func|meth|data|attr|obj|exc"
ROLE = re.compile(rf":(?:{ROLES}):\s*<code>(~?)([^<]+)</code>")
ROLE_IN_CODE = re.compile(rf":(?:{ROLES}):`(~?)([^`]+)`")  # in a table's code cell the role stays raw


def _help(parser: argparse.ArgumentParser) -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; a page has none
    return parser.format_help()


def _commands(parser: argparse.ArgumentParser, prefix: str = "embaug"):
    """(heading, parser) for every sub-command, depth first, in the order the parser lists them."""
    for action in parser._actions:  # argparse keeps sub-parsers here; it has no public accessor
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _commands(sub, f"{prefix} {name}")


def cli_reference() -> str:
    from embaug_core.cli.parser import build_parser

    parser = build_parser()
    parts = [f"```text\n{_help(parser)}```"]
    for heading, sub in _commands(parser):
        level = "#" * (heading.count(" ") + 1)
        parts.append(f"{level} `{heading}`\n\n```text\n{_help(sub)}```")
    return "\n\n".join(parts)


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    return markdown.replace(MARKER, cli_reference()) if MARKER in markdown else markdown


def on_page_content(html: str, page, **kwargs) -> str:
    def short(m: re.Match) -> str:
        return m.group(2).split(".")[-1] if m.group(1) else m.group(2)

    return ROLE_IN_CODE.sub(short, ROLE.sub(lambda m: f"<code>{short(m)}</code>", html))
