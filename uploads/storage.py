"""Where upload bytes live.

Bytes still arriving are appended to a partial file on local disk under
`MEDIA_ROOT/partial/` (Django's storage API has no append, and S3 has none either);
every server process of a host shares it. A finished, checked file is saved through
Django's storage API (`default_storage`, so django-storages can put it on S3 with no
code change) under a name made by the server, and its partial file is removed.
"""

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage


def partial_path(file_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "partial" / f"{file_id}.part"


def partial_remove(file_id: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        partial_path(file_id).unlink()


def partial_open(file_id: int, offset: int) -> BinaryIO:
    """The partial file positioned at `offset`, cut there: bytes past the stored offset
    (a write whose request died before its offset was recorded) are not trusted.

    Unbuffered: each chunk reaches the file when written, so the offset recorded after a
    write never runs ahead of the bytes, and a request that lost its turn leaves no
    buffered bytes to be flushed over the next writer's.
    """
    path = partial_path(file_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    handle = os.fdopen(descriptor, "r+b", buffering=0)
    handle.truncate(offset)
    handle.seek(offset)
    return handle


def partial_truncate(file_id: int, size: int) -> None:
    path = partial_path(file_id)
    if path.exists():
        os.truncate(path, size)


def stored_save(*, session_id: int, file_id: int, name: str) -> str:
    """Saves the complete partial file through the storage API; returns the stored name."""
    with partial_path(file_id).open("rb") as handle:
        stored: str = default_storage.save(f"uploads/{session_id}/{file_id}-{name}", File(handle, name=name))
    partial_remove(file_id)
    return stored


def stored_delete(name: str) -> None:
    if name:
        default_storage.delete(name)
