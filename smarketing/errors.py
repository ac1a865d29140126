"""Domain errors raised by services; the API maps them to status codes in one place."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused the operation; the message is shown to the user."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    status_code = 400


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    """The actor's role (or ownership) does not allow this, within their own organisation."""

    status_code = 403


def reason_and_note(reason: str, note: str, *, choices: type, ask: str) -> tuple[str, str]:
    """A reason from ``choices`` (a TextChoices with ``OTHER``) and its note, stripped; "other"
    needs the note. ``ask`` is the message when the reason is missing or unknown."""
    if reason not in choices.values:
        raise InvalidInput(ask, field="reason")
    note = note.strip()
    if reason == choices.OTHER and not note:
        raise InvalidInput("Say why in a note when the reason is “Other”.", field="note")
    return reason, note
