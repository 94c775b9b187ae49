"""The one error type services raise, and its one mapping to error frames and HTTP problems."""

from __future__ import annotations

from server.protocol import ErrorCode

HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_JSON: 400,
    ErrorCode.UNKNOWN_TYPE: 400,
    ErrorCode.INVALID_FRAME: 422,
    ErrorCode.INVALID_REQUEST: 422,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.TOO_LONG: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.HELLO_REQUIRED: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}


class Problem(Exception):
    """Something a caller asked for that cannot be done; nothing was stored.

    Raised by services and the edge alike; ws/ turns it into an `error` frame, api/ into an
    RFC 9457 problem response. Someone else's object is reported as NOT_FOUND, so ids cannot be
    probed for existence. `field`: the body's field at fault (dotted, `audience.days`), so a form
    can show the message beside it.
    """

    def __init__(
        self, code: ErrorCode, message: str, client_id: str | None = None, *, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_id = client_id
        self.field = field

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.code]
