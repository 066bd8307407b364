"""The project's own error types.

Every problem with user input raises a subclass of :class:`EmbaugError` (itself a
``ValueError``) whose message says *what* is wrong, *where* (file, column, row) and
*what to do*. The CLI prints the message as one line and exits non-zero; the
dashboard shows it next to the widget that caused it.
"""

from __future__ import annotations


class EmbaugError(ValueError):
    """Base class for every error embaug raises about user input or user files."""


class DataError(EmbaugError):
    """An embedding table cannot be loaded or fails validation."""


class ColumnChoiceError(DataError):
    """The table's columns cannot be told apart without the user naming one.

    ``choice`` says which choice is needed: ``"embedding"`` (the embedding's columns) or
    ``"vector"`` (the one column of vectors). The message says what was found, in words
    of no particular surface; each surface adds how to make the choice there
    (:data:`CLI_HINTS` for the command line, the dashboard its widget labels).
    """

    def __init__(self, message: str, *, choice: str):
        super().__init__(message)
        self.choice = choice


#: How to make a column choice on the command line.
CLI_HINTS = {
    "embedding": "Name them with --embedding-cols PREFIX (or a comma-separated list of columns).",
    "vector": "Name the vector column with --vector-col COL (or the embedding columns with --embedding-cols).",
}


class ConfigError(EmbaugError):
    """A configuration value (method, alpha, epochs, ...) is out of range."""


class ModelFileError(EmbaugError):
    """A saved head (safetensors + JSON) is missing, corrupt or inconsistent."""


class ThresholdFileError(EmbaugError):
    """A threshold JSON document is malformed or does not fit the model."""
