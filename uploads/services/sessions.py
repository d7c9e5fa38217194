"""Upload sessions: create (with the limits), cancel, settle when every file is done, expire."""

from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from config.errors import Conflict, Invalid, NotFound
from realtime.api import publish
from uploads import storage
from uploads.errors import TooLarge
from uploads.models import (
    FILE_FINISHED,
    FileStatus,
    SessionStatus,
    UploadFile,
    UploadSession,
    session_topic,
)
from uploads.naming import display_name, storage_name
from uploads.payloads import session_progress

# Terminal session status -> the event that announces it on `upload:<id>`.
FINISH_EVENTS = {
    SessionStatus.COMPLETED: "completed",
    SessionStatus.PARTIAL: "completed",
    SessionStatus.FAILED: "failed",
    SessionStatus.CANCELLED: "cancelled",
}


@dataclass(frozen=True, slots=True)
class DeclaredFile:
    name: str
    size: int
    content_type: str


def normalise_type(content_type: str) -> str:
    """`image/JPEG; charset=x` -> `image/jpeg`; `image/jpg` is JPEG's common misspelling."""
    base = content_type.split(";", 1)[0].strip().lower()
    return "image/jpeg" if base == "image/jpg" else base


def _refuse(error: type[Invalid], field: str, problem: str) -> Invalid:
    """The refusal, its text both as the message and as the field's problem (REST and tus show either)."""
    return error(problem, fields={field: problem})


def check_file(*, name: str, size: int, content_type: str, field: str = "files") -> DeclaredFile:
    """A declared file within the per-file rules; Invalid (TooLarge over the size) naming the file and rule."""
    shown = display_name(name)
    kind = normalise_type(content_type)
    if size < 1:
        # An empty file has nothing to upload, sniff or keep (tus clients would never PATCH it).
        raise _refuse(Invalid, field, f"{shown}: the file is empty.")
    if size > settings.UPLOAD_MAX_FILE_BYTES:
        limit = settings.UPLOAD_MAX_FILE_BYTES
        raise _refuse(
            TooLarge,
            field,
            f"{shown}: {size} bytes is over the limit of {limit} bytes per file (UPLOAD_MAX_FILE_BYTES).",
        )
    if kind not in settings.UPLOAD_ALLOWED_TYPES:
        allowed = ", ".join(settings.UPLOAD_ALLOWED_TYPES)
        raise _refuse(
            Invalid, field, f"{shown}: the type {kind or '(none)'} is not allowed (UPLOAD_ALLOWED_TYPES: {allowed})."
        )
    return DeclaredFile(name=name, size=size, content_type=kind)


def check_totals(*, count: int, total: int, name: str | None = None, field: str = "files") -> None:
    """The session-wide limits; Invalid for too many files, TooLarge over the session's bytes."""
    prefix = f"{display_name(name)}: " if name is not None else ""
    if count > settings.UPLOAD_MAX_FILES:
        raise _refuse(
            Invalid, field, f"{prefix}at most {settings.UPLOAD_MAX_FILES} files per session (UPLOAD_MAX_FILES)."
        )
    if total > settings.UPLOAD_MAX_SESSION_BYTES:
        limit = settings.UPLOAD_MAX_SESSION_BYTES
        raise _refuse(
            TooLarge,
            field,
            f"{prefix}{total} bytes in all is over the limit of {limit} bytes per session (UPLOAD_MAX_SESSION_BYTES).",
        )


def new_file(session: UploadSession, declared: DeclaredFile) -> UploadFile:
    return UploadFile(
        session=session,
        original_name=display_name(declared.name),
        storage_name=storage_name(declared.name),
        size=declared.size,
        content_type=declared.content_type,
    )


def session_create(*, user: User, category: str, files: list[dict[str, Any]]) -> UploadSession:
    """Opens a session of the user's with the declared files (`{"name", "size", "type"}`), each a
    tus upload at offset 0. Checks every limit first and creates nothing when one fails:
    Invalid (category, type, count; naming the file and the rule) or TooLarge (sizes).
    """
    if category not in settings.UPLOAD_CATEGORIES:
        choices = ", ".join(settings.UPLOAD_CATEGORIES)
        raise _refuse(Invalid, "category", f"Choose one of {choices} (UPLOAD_CATEGORIES).")
    declared = [check_file(name=item["name"], size=item["size"], content_type=item["type"]) for item in files]
    check_totals(count=len(declared), total=sum(item.size for item in declared))
    with transaction.atomic():
        session = UploadSession.objects.create(
            owner=user,
            category=category,
            expires_at=timezone.now() + timedelta(seconds=settings.UPLOAD_SESSION_TTL),
        )
        UploadFile.objects.bulk_create([new_file(session, item) for item in declared])
    return session


def locked_session(session_id: int) -> UploadSession:
    """The session row locked until the transaction ends (every write to a session's files takes it)."""
    session = UploadSession.objects.select_for_update().filter(pk=session_id).first()
    if session is None:
        raise NotFound("No such upload session.")
    return session


def session_settle(session: UploadSession) -> None:
    """Recomputes a locked session's status from its files and, when it has just finished,
    publishes the finishing event (`completed`, `failed`) with P after commit."""
    if session.status in (SessionStatus.CANCELLED, SessionStatus.FAILED) and session.finished_at:
        return
    files = list(session.files.order_by("id"))
    if not files:
        return
    statuses = [file.status for file in files]
    now = timezone.now()
    if all(status in FILE_FINISHED for status in statuses):
        completed = statuses.count(FileStatus.COMPLETED)
        if completed == len(files):
            status = SessionStatus.COMPLETED
        elif completed:
            status = SessionStatus.PARTIAL
        elif all(status == FileStatus.CANCELLED for status in statuses):
            status = SessionStatus.CANCELLED
        else:
            status = SessionStatus.FAILED
    elif any(status == FileStatus.PROCESSING for status in statuses) and not any(
        status in (FileStatus.PENDING, FileStatus.UPLOADING) for status in statuses
    ):
        status = SessionStatus.PROCESSING
    elif any(file.received for file in files) or any(status in FILE_FINISHED for status in statuses):
        status = SessionStatus.UPLOADING
    else:
        status = SessionStatus.PENDING
    fields = []
    if status != session.status:
        session.status = status
        fields.append("status")
    if status != SessionStatus.PENDING and session.started_at is None:
        session.started_at = now
        fields.append("started_at")
    finished = status in FINISH_EVENTS
    if finished and session.finished_at is None:
        session.finished_at = now
        fields.append("finished_at")
    if fields:
        session.save(update_fields=fields)
    if finished and "finished_at" in fields:
        publish(session_topic(session.pk), FINISH_EVENTS[SessionStatus(status)], session_progress(session, files))


def _remove_partials(file_ids: list[int]) -> None:
    for file_id in file_ids:
        storage.partial_remove(file_id)


def session_cancel(*, user: User, session_id: int) -> UploadSession:
    """Cancels the user's session: every unfinished file stops and its partial bytes are
    deleted (after commit), completed files stay; later PATCHes get 410. Publishes
    `cancelled` P. Idempotent on a cancelled session; Conflict once it has finished
    otherwise; NotFound for anyone else's.
    """
    with transaction.atomic():
        session = locked_session(session_id)
        if session.owner_id != user.pk:
            raise NotFound("No such upload session.")
        if session.status == SessionStatus.CANCELLED:
            return session
        if session.is_finished:
            raise Conflict(f"This session has already finished ({session.status}).")
        stopped = list(session.files.exclude(status__in=FILE_FINISHED).values_list("pk", flat=True))
        UploadFile.objects.filter(pk__in=stopped).update(
            status=FileStatus.CANCELLED, received=0, error="Cancelled.", writer="", updated_at=timezone.now()
        )
        now = timezone.now()
        session.status = SessionStatus.CANCELLED
        session.finished_at = now
        session.started_at = session.started_at or now
        session.message = "Cancelled."
        session.save(update_fields=["status", "finished_at", "started_at", "message"])
        publish(session_topic(session.pk), "cancelled", session_progress(session))
        transaction.on_commit(partial(_remove_partials, stopped))
    return session


def session_expire(*, session_id: int) -> UploadSession | None:
    """Marks an expired, unfinished session `failed` ("Expired.") and deletes its partial
    bytes (completed files stay); publishes `failed` P. None when it is no longer due."""
    with transaction.atomic():
        session = locked_session(session_id)
        if session.is_finished or session.expires_at > timezone.now():
            return None
        stopped = list(session.files.exclude(status__in=FILE_FINISHED).values_list("pk", flat=True))
        UploadFile.objects.filter(pk__in=stopped).update(
            status=FileStatus.FAILED,
            received=0,
            error="Expired before it was complete.",
            writer="",
            updated_at=timezone.now(),
        )
        session.status = SessionStatus.FAILED
        session.finished_at = timezone.now()
        session.message = "Expired."
        session.save(update_fields=["status", "finished_at", "message"])
        publish(session_topic(session.pk), "failed", session_progress(session))
        transaction.on_commit(partial(_remove_partials, stopped))
    return session


def sessions_expire_due() -> int:
    """Expires every session past its `expires_at` that has not finished; returns how many."""
    due = UploadSession.objects.exclude(status__in=list(FINISH_EVENTS)).filter(expires_at__lte=timezone.now())
    return sum(1 for session_id in due.values_list("pk", flat=True) if session_expire(session_id=session_id))


def session_progress_publish(*, session_id: int) -> None:
    """Publishes `progress` P of an unfinished session (finished ones announced their end already)."""
    session = UploadSession.objects.filter(pk=session_id).first()
    if session is None or session.is_finished:
        return
    publish(session_topic(session.pk), "progress", session_progress(session))
