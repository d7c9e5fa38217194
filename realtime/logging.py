"""Keeps tokens out of every log line."""

import logging
import re

TOKEN_PATTERN = re.compile(r"((?:token|access|refresh|session)=)[^&\s\"']+", re.IGNORECASE)
JWT_PATTERN = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


def redact(text: str) -> str:
    return JWT_PATTERN.sub("[redacted]", TOKEN_PATTERN.sub(r"\1[redacted]", text))


class RedactTokensFilter(logging.Filter):
    """Rewrites `token=...` query values and anything shaped like a JWT."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RedactAccessFilter(logging.Filter):
    """Redacts the request target of uvicorn's access records in place (its formatter needs
    the args tuple: client, method, path with query, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def redact_access_logs() -> None:
    """Keeps `token=` and `session=` values out of uvicorn's access log (idempotent); daphne's
    access log writes the path without its query string."""
    access_logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, RedactAccessFilter) for existing in access_logger.filters):
        access_logger.addFilter(RedactAccessFilter())


# Paths left out of the servers' access logs (load balancer probes), with or without a query.
_quiet_paths: set[str] = set()


def _is_quiet(target: object) -> bool:
    return isinstance(target, str) and target.split("?", 1)[0] in _quiet_paths


class QuietPathsFilter(logging.Filter):
    """Drops access records for quiet paths: uvicorn's (args: client, method, path, version,
    status) and daphne runserver's (args: a dict with `path`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3:
            return not _is_quiet(args[2])
        if isinstance(args, dict):
            return not _is_quiet(args.get("path"))
        return True


ACCESS_LOGGERS = ("uvicorn.access", "django.channels.server")


def quiet_access_log(path: str) -> None:
    """Keeps requests for `path` out of uvicorn's and daphne's access logs (idempotent)."""
    _quiet_paths.add(path)
    for name in ACCESS_LOGGERS:
        access_logger = logging.getLogger(name)
        if not any(isinstance(existing, QuietPathsFilter) for existing in access_logger.filters):
            access_logger.addFilter(QuietPathsFilter())
    try:
        from daphne.access import AccessLogGenerator
    except ImportError:
        return
    # The daphne command writes its access log straight to a stream, not through logging,
    # so no logging filter reaches it: its writer skips quiet paths instead.
    if getattr(AccessLogGenerator.__call__, "skips_quiet_paths", False):
        return
    write = AccessLogGenerator.__call__

    def call(self: AccessLogGenerator, protocol: str, action: str, details: dict[str, object]) -> None:
        if protocol == "http" and _is_quiet(details.get("path")):
            return
        write(self, protocol, action, details)

    call.skips_quiet_paths = True  # type: ignore[attr-defined]
    # daphne is untyped here, so mypy sees no method to protect.
    AccessLogGenerator.__call__ = call
