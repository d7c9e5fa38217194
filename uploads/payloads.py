"""How upload rows become protocol objects (docs/protocol.md 4.4): the progress object P,
and the session and file objects of the REST API.

The one place for it: services publish P, the topic's join reply is P, the polling
endpoint serves P, so the three never disagree.
"""

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from django.urls import reverse

from uploads.models import FileStatus, SessionStatus, UploadFile, UploadSession
from uploads.naming import display_name

COUNTED_OUT = (FileStatus.FAILED, FileStatus.CANCELLED)


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, the same text DRF writes for its own datetimes."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def percent(done: int, total: int) -> int:
    """0..100, rounded down: 100 only once every byte is there."""
    if total <= 0:
        return 0
    return min(100, done * 100 // total)


def _message(session: UploadSession, files: Sequence[UploadFile]) -> str:
    if session.message:
        return session.message
    completed = sum(1 for file in files if file.status == FileStatus.COMPLETED)
    failed = sum(1 for file in files if file.status == FileStatus.FAILED)
    texts = {
        SessionStatus.PENDING: "Waiting for files." if not files else f"{len(files)} files to upload.",
        SessionStatus.UPLOADING: f"Uploading: {completed} of {len(files)} files done.",
        SessionStatus.PROCESSING: f"Checking files: {completed} of {len(files)} done.",
        SessionStatus.COMPLETED: f"All {completed} files uploaded.",
        SessionStatus.PARTIAL: f"{completed} of {len(files)} files uploaded, {failed} failed.",
        SessionStatus.FAILED: "Every file failed.",
        SessionStatus.CANCELLED: "Cancelled.",
    }
    return texts.get(SessionStatus(session.status), "")


def file_progress(file: UploadFile) -> dict[str, Any]:
    return {
        "id": file.pk,
        "name": display_name(file.original_name),
        "size": file.size,
        "received": file.received,
        "progress": 100 if file.status == FileStatus.COMPLETED else percent(file.received, file.size),
        "status": file.status,
        "error": file.error,
    }


def _current_file(files: Sequence[UploadFile]) -> dict[str, Any] | None:
    active = [file for file in files if file.status in (FileStatus.UPLOADING, FileStatus.PROCESSING)]
    if not active:
        return None
    file = max(active, key=lambda item: (item.updated_at, item.pk))
    data = file_progress(file)
    return {"id": data["id"], "name": data["name"], "progress": data["progress"], "status": data["status"]}


def session_progress(session: UploadSession, files: Sequence[UploadFile] | None = None) -> dict[str, Any]:
    """The protocol's P. `files` are the session's files in id order (read here when not given).

    Byte totals leave out failed and cancelled files, so a refused file does not hold
    the overall bar below 100.
    """
    if files is None:
        files = list(session.files.order_by("id"))
    counted = [file for file in files if file.status not in COUNTED_OUT]
    bytes_total = sum(file.size for file in counted)
    bytes_received = sum(file.received for file in counted)
    finished_ok = session.status in (SessionStatus.COMPLETED, SessionStatus.PARTIAL)
    return {
        "session_id": session.pk,
        "status": session.status,
        "total_progress": 100 if finished_ok and counted else percent(bytes_received, bytes_total),
        "bytes_received": bytes_received,
        "bytes_total": bytes_total,
        "completed_files": sum(1 for file in files if file.status == FileStatus.COMPLETED),
        "failed_files": sum(1 for file in files if file.status == FileStatus.FAILED),
        "current_file": _current_file(files),
        "files": [file_progress(file) for file in files],
        "message": _message(session, files),
        "started_at": timestamp(session.started_at),
        "finished_at": timestamp(session.finished_at),
    }


def progress_etag(progress: dict[str, Any]) -> str:
    """A strong ETag of P: the same object gives the same tag in every process."""
    digest = hashlib.sha1(orjson.dumps(progress, option=orjson.OPT_SORT_KEYS), usedforsecurity=False)
    return f'"{digest.hexdigest()}"'


def upload_path(file: UploadFile) -> str:
    """The tus upload resource of a file (its `upload_url`, relative to the site)."""
    return reverse("api-uploads-tus-file", args=[file.pk])


def file_data(file: UploadFile) -> dict[str, Any]:
    """A file of the REST API: its progress fields plus what processing found."""
    return {
        **file_progress(file),
        "type": file.content_type,
        "detected_type": file.detected_type,
        "sha256": file.sha256,
        "width": file.width,
        "height": file.height,
        "upload_url": upload_path(file),
        "content_url": (
            reverse("api-uploads-file-content", args=[file.pk]) if file.status == FileStatus.COMPLETED else None
        ),
    }


def session_data(session: UploadSession, files: Sequence[UploadFile] | None = None) -> dict[str, Any]:
    """A session of the REST API, with its files and P."""
    if files is None:
        files = list(session.files.order_by("id"))
    return {
        "id": session.pk,
        "category": session.category,
        "status": session.status,
        "created_at": timestamp(session.created_at),
        "started_at": timestamp(session.started_at),
        "finished_at": timestamp(session.finished_at),
        "expires_at": timestamp(session.expires_at),
        "files": [file_data(file) for file in files],
        "progress": session_progress(session, files),
    }
