"""Errors users see: one line naming the input, the place and what to do."""
from __future__ import annotations


class PulseError(Exception):
    """A problem with input or configuration that the user can fix.

    ``str(err)`` is a single line: ``<where>: <what is wrong>. <what to do>``.
    The CLI prints it without a traceback and exits non-zero.
    """

    def __init__(self, where: str, problem: str, action: str = "") -> None:
        self.where = str(where)
        self.problem = problem.rstrip(".")
        self.action = action
        msg = f"{self.where}: {self.problem}."
        if action:
            msg += f" {action.rstrip('.')}."
        super().__init__(" ".join(msg.split()))


class InputError(PulseError):
    """Bad input file, row or field."""


class SourceError(PulseError):
    """A source (HTTP API, file system) failed after retries."""


class ValidationFailed(PulseError):
    """A critical expectation failed: nothing from the batch is loaded."""


class ConfigError(PulseError):
    """Invalid configuration."""
