"""Reads of upload sessions and files, scoped to their owner: anyone else's are NotFound."""

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from config.errors import NotFound
from uploads.errors import Gone
from uploads.models import SESSION_FINISHED, FileStatus, SessionStatus, UploadFile, UploadSession


def session_list_for_user(*, user: User) -> QuerySet[UploadSession]:
    """The user's sessions, newest first, with their files prefetched."""
    return UploadSession.objects.filter(owner=user).prefetch_related("files").order_by("-created_at", "-id")


def session_list_unfinished(*, user: User) -> list[UploadSession]:
    """The user's sessions still open for bytes (the page offers to resume them)."""
    return list(session_list_for_user(user=user).exclude(status__in=SESSION_FINISHED)[:5])


def session_get_for_user(*, user: User, session_id: int) -> UploadSession:
    """The user's own session; NotFound when it does not exist or is someone else's."""
    session = UploadSession.objects.filter(pk=session_id, owner=user).first()
    if session is None:
        raise NotFound("No such upload session.")
    return session


def file_get_for_user(*, user: User, file_id: int) -> UploadFile:
    """The user's own upload file, with its session; NotFound for anyone else's."""
    file = UploadFile.objects.select_related("session").filter(pk=file_id, session__owner=user).first()
    if file is None:
        raise NotFound("No such upload.")
    return file


def upload_get_for_user(*, user: User, file_id: int) -> UploadFile:
    """The user's upload as a tus resource: NotFound for anyone else's; Gone once it was
    terminated or its session cancelled, or the session expired unfinished."""
    file = file_get_for_user(user=user, file_id=file_id)
    session = file.session
    if file.status == FileStatus.CANCELLED or session.status == SessionStatus.CANCELLED:
        raise Gone("This upload was cancelled.")
    if not session.is_finished and session.expires_at <= timezone.now():
        raise Gone("This upload session has expired.")
    return file


def session_files(session: UploadSession) -> list[UploadFile]:
    return list(session.files.order_by("id"))
