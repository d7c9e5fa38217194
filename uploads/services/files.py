"""Upload files: tus creation, appending bytes (begin, progress, end), termination, processing.

Appending is serialised per file: a request that appends first takes the file's
*writer lease* in a short transaction that locks the row (select_for_update on
PostgreSQL; SQLite's IMMEDIATE transactions take the write lock) and checks the
offset, streams its body to the partial file without holding any transaction, and
records the new offset under the row lock again. A second request at the same offset
meanwhile gets 409. The lease expires (LEASE) unless renewed, so a process killed
mid-request does not block the client resuming elsewhere.
"""

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import filetype  # type: ignore[import-untyped]
from django.db import transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from accounts.models import User
from config.errors import Invalid, NotFound
from realtime.api import publish
from uploads import storage
from uploads.errors import ChecksumMismatch, Gone, OffsetMismatch, TooLarge
from uploads.models import FILE_FINISHED, FileStatus, SessionStatus, UploadFile, UploadSession, session_topic
from uploads.payloads import session_progress
from uploads.services.sessions import (
    check_file,
    check_totals,
    locked_session,
    new_file,
    session_settle,
)

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
SNIFF_BYTES = 8192
# filetype names some types differently from what browsers declare.
SAME_TYPE = {"image/heif": "image/heic"}


@dataclass(slots=True)
class WriteClaim:
    """One request's right to append to a file from `offset`, until `expires_at` unless renewed."""

    file_id: int
    session_id: int
    offset: int
    size: int
    token: str
    expires_at: datetime
    session_expires_at: datetime


def _check_open(session: UploadSession) -> None:
    """Gone once the session was cancelled, finished or expired (tus expiration: 410)."""
    if session.status == SessionStatus.CANCELLED:
        raise Gone("This upload session was cancelled.")
    if session.is_finished:
        raise Gone("This upload session has finished.")
    if session.expires_at <= timezone.now():
        raise Gone("This upload session has expired.")


def file_create(*, user: User, session_id: int, name: str, size: int, content_type: str) -> UploadFile:
    """Adds a file to the user's open session (tus creation), under the same limits as
    session_create: TooLarge (413) over a size limit, Invalid (400) for a forbidden type or
    one file too many, NotFound for a session that is missing or someone else's, Gone when
    the session was cancelled or expired. A finished session is reopened (tus clients that
    create their uploads one at a time add each after the previous one finished).
    """
    declared = check_file(name=name, size=size, content_type=content_type, field="Upload-Metadata")
    with transaction.atomic():
        session = locked_session(session_id)
        if session.owner_id != user.pk:
            raise NotFound("No such upload session.")
        if session.status == SessionStatus.CANCELLED or session.expires_at <= timezone.now():
            _check_open(session)
        if session.is_finished:
            # Clients that create their uploads one by one add the next after the last finished.
            session.finished_at = None
            session.message = ""
            session.save(update_fields=["finished_at", "message"])
        files = list(session.files.values_list("size", "status"))
        kept = [each for each, status in files if status not in (FileStatus.FAILED, FileStatus.CANCELLED)]
        check_totals(count=len(files) + 1, total=sum(kept) + size, name=name, field="Upload-Metadata")
        file = new_file(session, declared)
        file.save(force_insert=True)
        session_settle(session)
        publish(session_topic(session.pk), "progress", session_progress(session))
    return file


def _locked_file(user: User, file_id: int) -> tuple[UploadFile, UploadSession]:
    file = UploadFile.objects.select_for_update().filter(pk=file_id).first()
    if file is None:
        raise NotFound("No such upload.")
    session = locked_session(file.session_id)
    if session.owner_id != user.pk:
        raise NotFound("No such upload.")
    file.session = session
    return file, session


def _check_writable(file: UploadFile, session: UploadSession) -> None:
    _check_open(session)
    if file.status == FileStatus.CANCELLED:
        raise Gone("This upload was terminated.")
    if file.status == FileStatus.FAILED:
        raise Gone(f"This upload failed: {file.error}")


def upload_write_begin(*, user: User, file_id: int, offset: int, length: int | None) -> WriteClaim:
    """Takes the writer lease of the user's file to append from `offset` (`length` bytes
    when the request says). Raises NotFound (not theirs), Gone (410: cancelled, failed,
    expired or finished), OffsetMismatch (409: `offset` is not the stored offset, or
    another request is appending), TooLarge (413: past the declared size).
    """
    with transaction.atomic():
        file, session = _locked_file(user, file_id)
        _check_writable(file, session)
        now = timezone.now()
        if file.writer and file.writer_expires_at and file.writer_expires_at > now:
            raise OffsetMismatch("Another request is appending to this upload; retry from its offset.")
        if offset != file.received or file.status in FILE_FINISHED or file.status == FileStatus.PROCESSING:
            raise OffsetMismatch(f"Upload-Offset {offset} is not this upload's offset {file.received}.")
        if length is not None and offset + length > file.size:
            raise TooLarge(f"{offset + length} bytes is past Upload-Length {file.size}.")
        file.writer = secrets.token_hex(16)
        file.writer_expires_at = now + LEASE
        fields = ["writer", "writer_expires_at", "updated_at"]
        if file.status == FileStatus.PENDING:
            file.status = FileStatus.UPLOADING
            fields.append("status")
        file.save(update_fields=fields)
        if session.status == SessionStatus.PENDING:
            session.status = SessionStatus.UPLOADING
            session.started_at = now
            session.save(update_fields=["status", "started_at"])
    return WriteClaim(
        file_id=file.pk,
        session_id=session.pk,
        offset=offset,
        size=file.size,
        token=file.writer,
        expires_at=file.writer_expires_at,
        session_expires_at=session.expires_at,
    )


def _claimed(claim: WriteClaim, *, user: User) -> tuple[UploadFile, UploadSession]:
    file, session = _locked_file(user, claim.file_id)
    if file.status == FileStatus.CANCELLED or session.status == SessionStatus.CANCELLED:
        raise Gone("This upload was cancelled.")
    if file.writer != claim.token:
        raise OffsetMismatch("This request lost its turn to append (it was idle too long).")
    return file, session


def upload_write_progress(*, user: User, claim: WriteClaim, received: int | None) -> None:
    """Records bytes appended so far by a request still streaming (`received` is the new
    offset; None only renews the lease). Raises Gone when the upload was cancelled
    meanwhile and OffsetMismatch when the lease was lost: the request must stop.
    """
    with transaction.atomic():
        file, _ = _claimed(claim, user=user)
        fields = ["writer_expires_at", "updated_at"]
        file.writer_expires_at = timezone.now() + LEASE
        if received is not None and received != file.received:
            file.received = received
            fields.append("received")
        file.save(update_fields=fields)
        claim.expires_at = file.writer_expires_at


def upload_write_end(
    *, user: User, claim: WriteClaim, received: int, checksum: tuple[str, bytes] | None = None
) -> UploadFile:
    """Ends a request's append at offset `received` and gives up its lease.

    With `checksum` (algorithm, digest) the bytes from the claim's offset must match, else
    they are cut off and ChecksumMismatch (460) is raised with nothing appended. When the
    last byte has arrived the file is `processing` and the caller runs upload_file_process
    (the PATCH route does, in a worker thread of its own: hashing a large file must not
    hold up the process's database thread).
    """
    if checksum is not None and received > claim.offset:
        algorithm, expected = checksum
        digest = _digest(claim.file_id, claim.offset, received, algorithm)
        if digest != expected:
            storage.partial_truncate(claim.file_id, claim.offset)
            with transaction.atomic():
                file, _ = _claimed(claim, user=user)
                file.writer = ""
                file.save(update_fields=["writer", "updated_at"])
            raise ChecksumMismatch(f"The body's {algorithm} does not match Upload-Checksum; nothing was stored.")
    with transaction.atomic():
        file, session = _claimed(claim, user=user)
        file.received = received
        file.writer = ""
        file.writer_expires_at = None
        fields = ["received", "writer", "writer_expires_at", "updated_at"]
        if file.received == file.size:
            file.status = FileStatus.PROCESSING
            fields.append("status")
        file.save(update_fields=fields)
        session_settle(session)
    return file


def _digest(file_id: int, start: int, end: int, algorithm: str) -> bytes:
    hasher = CHECKSUMS[algorithm]()
    with storage.partial_path(file_id).open("rb") as handle:
        handle.seek(start)
        left = end - start
        while left > 0:
            block = handle.read(min(left, 1024 * 1024))
            if not block:
                break
            hasher.update(block)
            left -= len(block)
    return hasher.digest()


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    """`Upload-Checksum: <algorithm> <base64 digest>`; Invalid for another algorithm or bad base64."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm not in CHECKSUMS:
        raise Invalid(f"Upload-Checksum algorithm must be one of {', '.join(CHECKSUMS)}.")
    try:
        return algorithm, base64.b64decode(encoded.strip(), validate=True)
    except ValueError:
        raise Invalid("Upload-Checksum must carry a base64 digest.") from None


def _inspect(file: UploadFile) -> tuple[str, str, int | None, int | None]:
    """(sha256, detected type, width, height) of the complete partial file."""
    path = storage.partial_path(file.pk)
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
        hasher.update(head)
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            hasher.update(block)
    kind = filetype.guess_mime(head) or ""
    kind = SAME_TYPE.get(kind, kind)
    width = height = None
    if kind.startswith("image/"):
        try:
            with Image.open(path) as image:
                width, height = image.size
        except (UnidentifiedImageError, OSError):
            width = height = None  # HEIC without a plugin: the type is known, the dimensions are not
    return hasher.hexdigest(), kind, width, height


def upload_file_process(*, file_id: int) -> UploadFile:
    """Checks a file whose last byte arrived: sniffs its type from its first bytes (a mismatch
    with the declared type fails that file, not the session), records its sha256 and an
    image's dimensions, saves it through the storage API and marks it `completed`; then
    settles the session (publishing `completed`/`failed` P when it has finished).
    """
    file = UploadFile.objects.get(pk=file_id)
    error = ""
    try:
        sha256, detected, width, height = _inspect(file)
    except FileNotFoundError:
        sha256, detected, width, height = "", "", None, None
        error = f"The data of {file.original_name} was lost before it could be checked; upload it again."
    if not error and not detected:
        error = f"The content of {file.original_name} is not a recognised {file.content_type} file."
    elif not error and detected != file.content_type:
        error = f"The content of {file.original_name} is {detected}, not the declared {file.content_type}."
    stored = "" if error else storage.stored_save(session_id=file.session_id, file_id=file.pk, name=file.storage_name)
    with transaction.atomic():
        session = locked_session(file.session_id)
        file = UploadFile.objects.select_for_update().get(pk=file_id)
        if file.status != FileStatus.PROCESSING:
            # Cancelled or expired while being checked: keep nothing.
            transaction.on_commit(lambda: storage.stored_delete(stored))
            return file
        file.sha256, file.detected_type, file.width, file.height = sha256, detected, width, height
        file.status = FileStatus.FAILED if error else FileStatus.COMPLETED
        file.error = error
        file.content.name = stored
        file.save(
            update_fields=["sha256", "detected_type", "width", "height", "status", "error", "content", "updated_at"]
        )
        session_settle(session)
    if error:
        storage.partial_remove(file.pk)
    return file


def uploads_process_stuck(*, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Processes files left `processing` for `older_than` (the process that received their
    last byte died before checking them); returns how many. For uploads_cleanup."""
    stuck = UploadFile.objects.filter(status=FileStatus.PROCESSING, updated_at__lte=timezone.now() - older_than)
    done = 0
    for file_id in stuck.values_list("pk", flat=True):
        upload_file_process(file_id=file_id)
        done += 1
    return done


def file_terminate(*, user: User, file_id: int) -> UploadFile:
    """tus termination of the user's upload (and the admin's delete): its partial or stored
    bytes are removed after commit and it becomes `cancelled`; the session is settled.
    Gone when already terminated, NotFound for anyone else's."""
    with transaction.atomic():
        file, session = _locked_file(user, file_id)
        if file.status == FileStatus.CANCELLED:
            raise Gone("This upload was already terminated.")
        if not session.is_finished and session.expires_at <= timezone.now():
            raise Gone("This upload session has expired.")
        stored = file.content.name or ""
        file.status = FileStatus.CANCELLED
        file.error = "Terminated."
        file.writer = ""
        file.content.name = ""
        file.save(update_fields=["status", "error", "writer", "content", "updated_at"])
        session_settle(session)
        if not session.is_finished:
            publish(session_topic(session.pk), "progress", session_progress(session))
        transaction.on_commit(lambda: storage.partial_remove(file_id))
        transaction.on_commit(lambda: storage.stored_delete(stored))
    return file
