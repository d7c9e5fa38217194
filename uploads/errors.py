"""Upload refusals that tus gives their own HTTP status; each is a domain error (config.errors),
so REST, the tus endpoints and the WebSocket topic map it the same way."""

from config.errors import BadRequest, Conflict, Invalid, NotFound


class TooLarge(Invalid):
    """Over a size limit (a file, the session's total, or bytes past `Upload-Length`)."""

    http_status = 413
    default_message = "Too large."


class Gone(NotFound):
    """The upload can no longer be written: its session was cancelled, finished or expired."""

    http_status = 410
    default_message = "This upload is no longer available."


class OffsetMismatch(Conflict):
    """`Upload-Offset` is not the stored offset, or another request is writing the file."""


class UnsupportedMediaType(BadRequest):
    http_status = 415
    default_message = "PATCH bodies must be application/offset+octet-stream."


class ChecksumMismatch(Invalid):
    """The body does not match `Upload-Checksum`; nothing was appended (tus checksum extension)."""

    http_status = 460
    default_message = "The checksum does not match the body; nothing was stored."


class TusVersionUnsupported(BadRequest):
    http_status = 412
    default_message = "Tus-Resumable 1.0.0 is required."
