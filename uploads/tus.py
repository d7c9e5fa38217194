"""tus 1.0.0 (https://tus.io/protocols/resumable-upload): the headers and rules shared by the
Django views (POST creation, HEAD, OPTIONS, DELETE) and the streaming PATCH route
(uploads.asgi), so the two answer alike.

Core plus the creation, termination, checksum (sha1, sha256) and expiration extensions.
"""

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from email.utils import format_datetime

from django.conf import settings

from config.errors import Invalid, ServiceError
from uploads.errors import TusVersionUnsupported

TUS_RESUMABLE = "1.0.0"
TUS_EXTENSIONS = "creation,termination,checksum,expiration"
TUS_CHECKSUM_ALGORITHMS = "sha1,sha256"
PATCH_CONTENT_TYPE = "application/offset+octet-stream"


def base_headers() -> dict[str, str]:
    """On every tus response."""
    return {"Tus-Resumable": TUS_RESUMABLE, "Cache-Control": "no-store"}


def discovery_headers() -> dict[str, str]:
    """OPTIONS: what this server speaks."""
    return {
        **base_headers(),
        "Tus-Version": TUS_RESUMABLE,
        "Tus-Extension": TUS_EXTENSIONS,
        "Tus-Max-Size": str(settings.UPLOAD_MAX_FILE_BYTES),
        "Tus-Checksum-Algorithm": TUS_CHECKSUM_ALGORITHMS,
    }


def expires_header(moment: datetime) -> str:
    """`Upload-Expires`, an RFC 7231 date (expiration extension)."""
    return format_datetime(moment, usegmt=True)


def check_version(headers: Mapping[str, str]) -> None:
    """412 unless the request speaks tus 1.0.0 (every method but OPTIONS)."""
    if headers.get("tus-resumable", "").strip() != TUS_RESUMABLE:
        raise TusVersionUnsupported(f"Tus-Resumable {TUS_RESUMABLE} is required.")


def parse_offset(value: str | None, name: str = "Upload-Offset") -> int:
    """A non-negative integer header; Invalid when missing or malformed."""
    if value is None or not value.strip().isdigit() or len(value.strip()) > 18:
        raise Invalid(f"{name} must be a non-negative integer.")
    return int(value.strip())


def parse_metadata(value: str | None) -> dict[str, str]:
    """`Upload-Metadata: key base64,key2 base64` -> {key: text}; Invalid when malformed."""
    metadata: dict[str, str] = {}
    for pair in (value or "").split(","):
        if not pair.strip():
            continue
        key, _, encoded = pair.strip().partition(" ")
        try:
            metadata[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Invalid(f"Upload-Metadata {key!r} must be base64 of UTF-8 text.") from None
    return metadata


def error_text(error: ServiceError) -> str:
    """The one-line explanation of a refusal (its field problem when it has one)."""
    if error.fields and error.message == error.default_message:
        return "; ".join(str(problem) for problem in error.fields.values())
    return error.message
