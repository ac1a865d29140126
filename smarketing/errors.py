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
