"""Keeps tokens out of every log line, the servers' own (uvicorn's and daphne's) included."""

import logging
import re
from datetime import UTC, datetime

import orjson

TOKEN_PATTERN = re.compile(r"((?:token|access|refresh|session)=)[^&\s\"']+", re.IGNORECASE)
JWT_PATTERN = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


def redact(text: str) -> str:
    return JWT_PATTERN.sub("[redacted]", TOKEN_PATTERN.sub(r"\1[redacted]", text))


class RedactTokensFilter(logging.Filter):
    """Rewrites `token=...` query values and anything shaped like a JWT.

    Arguments are redacted one by one, so formatters that read them (uvicorn's access log
    formats its tuple of client, method, path, version, status) keep working.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                key: redact(value) if isinstance(value, str) else value for key, value in record.args.items()
            }
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
    _protect_daphne_access_log()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the exception if any,
    and the context a record carries as `extra`: connection id, user id ("anonymous" when
    nobody is signed in), topic and close code."""

    CONTEXT = ("conn", "user", "topic", "code")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in self.CONTEXT:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=str).decode()


# uvicorn logs through handlers of its own (propagation off), which the project's filter on
# the root handler never sees; its connection lines carry the path with the query string.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def protect_server_logs() -> None:
    """Redacts tokens in the servers' own log lines, and writes them as JSON too when
    LOG_FORMAT is json (idempotent; call it after the server set up its logging)."""
    from django.conf import settings

    for name in SERVER_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(existing, RedactTokensFilter) for existing in handler.filters):
                handler.addFilter(RedactTokensFilter())
            if settings.LOG_FORMAT == "JSON":
                handler.setFormatter(JsonFormatter())
    _protect_daphne_access_log()


def _protect_daphne_access_log() -> None:
    try:
        from daphne.access import AccessLogGenerator
    except ImportError:
        return
    # The daphne command writes its access log straight to a stream, not through logging,
    # so no logging filter reaches it: its writer redacts paths and skips quiet ones instead.
    if getattr(AccessLogGenerator.__call__, "protected", False):
        return
    write = AccessLogGenerator.__call__

    def call(self: AccessLogGenerator, protocol: str, action: str, details: dict[str, object]) -> None:
        if protocol == "http" and _is_quiet(details.get("path")):
            return
        path = details.get("path")
        write(self, protocol, action, {**details, "path": redact(path)} if isinstance(path, str) else details)

    call.protected = True  # type: ignore[attr-defined]
    # daphne is untyped here, so mypy sees no method to protect.
    AccessLogGenerator.__call__ = call
