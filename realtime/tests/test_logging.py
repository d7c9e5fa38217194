"""The token filter keeps log records usable by the servers' own formatters."""

import logging

from realtime.logging import RedactTokensFilter


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
