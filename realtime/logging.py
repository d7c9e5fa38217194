"""Keeps tokens out of every log line."""

import logging
import re

TOKEN_PATTERN = re.compile(r"((?:token|access|refresh)=)[^&\s\"']+", re.IGNORECASE)
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
