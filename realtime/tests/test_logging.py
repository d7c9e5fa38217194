"""Log records: tokens redacted without breaking the servers' own formatters, and JSON lines."""

import json
import logging
import sys

from realtime.logging import JsonFormatter, RedactTokensFilter


def test_redaction_keeps_the_arguments_uvicorns_access_formatter_reads():
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", "/ws/?token=abc.def&x=1", "1.1", 101), None,
    )  # fmt: skip
    assert RedactTokensFilter().filter(record)
    assert isinstance(record.args, tuple) and record.args[4] == 101
    assert record.getMessage() == '1.2.3.4:5 - "GET /ws/?token=[redacted]&x=1 HTTP/1.1" 101'


def test_a_jwt_anywhere_in_a_message_is_redacted():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJl"
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "Bearer %s refused", (jwt,), None)
    RedactTokensFilter().filter(record)
    assert record.getMessage() == "Bearer [redacted] refused"


def test_json_lines_carry_the_connection_context_and_a_redacted_exception():
    try:
        raise ValueError("bad token eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJl")
    except ValueError:
        failure = sys.exc_info()
    record = logging.LogRecord("realtime.consumer", logging.ERROR, __file__, 1, "Frame %s failed", ("join",), failure)
    record.conn, record.user, record.topic = "c0ffee", "anonymous", "chat:1"
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert "\n" not in line
    assert (entry["message"], entry["level"], entry["logger"]) == ("Frame join failed", "ERROR", "realtime.consumer")
    assert (entry["conn"], entry["user"], entry["topic"]) == ("c0ffee", "anonymous", "chat:1")
    assert "ValueError" in entry["exception"] and "eyJ" not in entry["exception"]
