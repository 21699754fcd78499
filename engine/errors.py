"""The engine's input errors: every one names the offending field first."""

from __future__ import annotations

__all__ = ["FieldError", "os_reason"]


class FieldError(ValueError):
    """Invalid input; ``str(err)`` is ``"<field>: <message>"``.

    Parameters
    ----------
    field : str
        The offending field, option or file, e.g. ``"sessions[3].departure_step"``.
    message : str
        What is wrong with it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def os_reason(exc: BaseException) -> str:
    """Why the system refused a file operation, in its own words (``strerror``), for a message
    that names the field: "No such file or directory", "File name too long", ..."""
    return str(getattr(exc, "strerror", None) or exc)
