"""The engine's input errors: every one names the offending field first."""

from __future__ import annotations

__all__ = ["FieldError"]


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
