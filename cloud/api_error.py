"""The exception every expected failure raises; rendered by :mod:`cloud.errors`."""

from __future__ import annotations


class ApiError(Exception):
    """An HTTP status, a snake_case code and a human message that says what to do."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
