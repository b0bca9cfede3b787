"""Exceptions raised by voli.

Every message names the bad value, where it came from (file, row, column) and
how to fix it. Catch :class:`VoliError` to handle any of them.
"""

from __future__ import annotations


class VoliError(Exception):
    """Base class of every error voli raises on purpose."""


class ConfigError(VoliError):
    """A configuration file or option has a bad key or value."""


class CorpusError(VoliError):
    """The corpus directory, its CSV tables or a transcript is malformed.

    ``problems`` holds one message per problem when several were found at once,
    so a user can fix them all in one pass.
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = list(problems) if problems else [message]
        super().__init__(message)


class AudioError(VoliError):
    """An audio file is missing, unreadable, empty or has an unusable layout."""


class ModelError(VoliError):
    """A model cannot be found, installed or loaded."""


class AlignmentError(VoliError):
    """Forced alignment failed for an utterance or recording."""


class DeviceError(VoliError):
    """The requested compute device does not exist on this machine."""


BUG_NOTE = "this is a bug in voli, please report it with its traceback (-v prints it)"


def bug_message(err: BaseException, where: str = "") -> str:
    """The message of an exception that voli did not raise on purpose (anything but a VoliError):
    where it happened (if the caller does not say it already), what it was, and that it is voli's
    fault, not the user's."""
    return f"{where + ': ' if where else ''}{type(err).__name__}: {err}; {BUG_NOTE}"
