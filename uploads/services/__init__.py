"""Every write of the uploads app; REST views, the tus endpoints, the admin and the
cleanup command call these (docs: README "Uploads")."""

from uploads.services.files import (
    WriteClaim,
    file_create,
    file_terminate,
    parse_checksum,
    upload_file_process,
    upload_write_begin,
    upload_write_end,
    upload_write_progress,
    uploads_process_stuck,
)
from uploads.services.sessions import (
    session_cancel,
    session_create,
    session_expire,
    session_progress_publish,
    sessions_expire_due,
)

__all__ = [
    "WriteClaim",
    "file_create",
    "file_terminate",
    "parse_checksum",
    "session_cancel",
    "session_create",
    "session_expire",
    "session_progress_publish",
    "sessions_expire_due",
    "upload_file_process",
    "upload_write_begin",
    "upload_write_end",
    "upload_write_progress",
    "uploads_process_stuck",
]
