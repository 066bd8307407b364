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


class ConfigError(EmbaugError):
    """A configuration value (method, alpha, epochs, ...) is out of range."""


class ModelFileError(EmbaugError):
    """A saved head (safetensors + JSON) is missing, corrupt or inconsistent."""


class ThresholdFileError(EmbaugError):
    """A threshold JSON document is malformed or does not fit the model."""
