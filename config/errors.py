"""Domain errors raised by services and selectors.

Each carries the protocol error code (docs/protocol.md section 2) and the HTTP
status it maps to, so REST responses and WebSocket replies never disagree.
"""

from typing import Any


class ServiceError(Exception):
    code = "server_error"
    http_status = 500
    default_message = "Something went wrong."

    def __init__(self, message: str | None = None, *, fields: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.fields = fields
        super().__init__(self.message)

    def as_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return error


class BadRequest(ServiceError):
    code = "bad_request"
    http_status = 400
    default_message = "Malformed request."


class Invalid(ServiceError):
    code = "invalid"
    http_status = 400
    default_message = "Some fields are invalid."


class Unauthorized(ServiceError):
    code = "unauthorized"
    http_status = 401
    default_message = "You must be signed in."


class Forbidden(ServiceError):
    code = "forbidden"
    http_status = 403
    default_message = "You are not allowed to do that."


class NotFound(ServiceError):
    code = "not_found"
    http_status = 404
    default_message = "Not found."


class Conflict(ServiceError):
    code = "conflict"
    http_status = 409
    default_message = "That conflicts with the current state."


class NotJoined(ServiceError):
    code = "not_joined"
    http_status = 409
    default_message = "Join the topic first."


class TooManyTopics(ServiceError):
    code = "too_many_topics"
    http_status = 429
    default_message = "Too many topics joined."


class RateLimited(ServiceError):
    code = "rate_limited"
    http_status = 429
    default_message = "Too many requests; slow down."
