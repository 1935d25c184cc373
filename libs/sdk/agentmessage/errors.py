"""The API's error envelope as an exception."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer: ``code`` is the API's (CONSENT_REQUIRED, CAP_EXCEEDED, ...), ``details`` its details,
    ``request_id`` the answer's X-Request-ID (quote it when asking about the request)."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
                 retry_after: float | None = None, request_id: str | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.retry_after = retry_after
        self.request_id = request_id

    def to_dict(self) -> dict[str, Any]:
        out = {"status": self.status, "code": self.code, "message": self.message, "details": self.details}
        if self.request_id:
            out["request_id"] = self.request_id
        return out
