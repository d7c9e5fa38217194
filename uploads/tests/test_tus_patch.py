"""The streaming tus PATCH through the real ASGI application (uploads.asgi), and the
`upload:<id>` topic it feeds."""

import base64
import hashlib
from typing import Any

import pytest
from channels.db import database_sync_to_async

from accounts.tests.factories import UserFactory
from realtime.testing import eventually
from uploads import services, storage
from uploads.models import FileStatus, SessionStatus, UploadFile, UploadSession
from uploads.tests.conftest import TUS, auth_headers, jpeg_bytes, patch_headers, pdf_bytes, png_bytes, tus_request

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def run(function: Any, *args: Any, **kwargs: Any) -> Any:
    return database_sync_to_async(function)(*args, **kwargs)


def make_user(name: str) -> Any:
    return UserFactory(username=name, display_name=name.title())


def open_session(user: Any, *files: tuple[str, bytes, str]) -> UploadSession:
    return services.session_create(
        user=user,
        category="personal",
        files=[{"name": name, "size": len(content), "type": kind} for name, content, kind in files],
    )


def files_of(session: UploadSession) -> list[UploadFile]:
    return list(UploadFile.objects.filter(session=session).order_by("id"))


def stored_bytes(file: UploadFile) -> bytes:
    with file.content.open("rb") as handle:
        return handle.read()


def fresh(model: Any) -> Any:
    return type(model).objects.get(pk=model.pk)


async def patch(user: Any, file: UploadFile, offset: int, chunks: list[bytes], **extra: Any) -> Any:
    return await tus_request("PATCH", f"/api/uploads/tus/{file.pk}", patch_headers(user, offset, **extra), chunks)


async def test_patch_appends_completes_and_processes_the_file():
    ann = await run(make_user, "ann")
    photo = png_bytes(40, 30)
    session = await run(open_session, ann, ("photo.png", photo, "image/png"))
    (file,) = await run(files_of, session)

    first = await patch(ann, file, 0, [photo[:100]])
    assert first.status == 204
    assert first.headers["upload-offset"] == "100"
    assert first.headers["tus-resumable"] == "1.0.0"
    assert "upload-expires" in first.headers
    second = await patch(ann, file, 100, [photo[100:150], photo[150:]])
    assert second.status == 204 and second.headers["upload-offset"] == str(len(photo))

    file = await run(fresh, file)
    assert file.status == FileStatus.COMPLETED
    assert (file.width, file.height) == (40, 30)
    assert file.detected_type == "image/png"
    assert file.sha256 == hashlib.sha256(photo).hexdigest()
    assert await run(stored_bytes, file) == photo
    assert not storage.partial_path(file.pk).exists()
    assert (await run(fresh, session)).status == SessionStatus.COMPLETED


async def test_patch_refusals_change_nothing():
    ann, ben = await run(make_user, "ann"), await run(make_user, "ben")
    content = pdf_bytes(200)
    session = await run(open_session, ann, ("doc.pdf", content, "application/pdf"))
    (file,) = await run(files_of, session)
    url = f"/api/uploads/tus/{file.pk}"

    wrong_offset = await patch(ann, file, 5, [content[:10]])
    assert wrong_offset.status == 409
    no_version = await tus_request("PATCH", url, {**patch_headers(ann, 0), "Tus-Resumable": "0.2.2"}, [content])
    assert no_version.status == 412 and no_version.headers["tus-version"] == "1.0.0"
    wrong_type = await tus_request(
        "PATCH", url, {**patch_headers(ann, 0), "Content-Type": "application/octet-stream"}, [content]
    )
    assert wrong_type.status == 415
    past_length = await patch(ann, file, 0, [content + b"xx"])
    assert past_length.status == 413
    declared_past = await patch(ann, file, 0, [content[:10]], **{"Content-Length": str(len(content) + 1)})
    assert declared_past.status == 413
    someone_else = await patch(ben, file, 0, [content[:10]])
    assert someone_else.status == 404
    anonymous = await tus_request(
        "PATCH", url, {k: v for k, v in patch_headers(ann, 0).items() if k != "Authorization"}
    )
    assert anonymous.status == 401
    bad_sum = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    mismatch = await patch(ann, file, 0, [content[:50]], **{"Upload-Checksum": f"sha256 {bad_sum}"})
    assert mismatch.status == 460

    file = await run(fresh, file)
    assert (file.received, file.status, file.writer) == (0, FileStatus.UPLOADING, "")
    assert not storage.partial_path(file.pk).exists() or storage.partial_path(file.pk).stat().st_size == 0

    good_sum = base64.b64encode(hashlib.sha1(content[:50], usedforsecurity=False).digest()).decode()
    matched = await patch(ann, file, 0, [content[:50]], **{"Upload-Checksum": f"sha1 {good_sum}"})
    assert matched.status == 204 and matched.headers["upload-offset"] == "50"


async def test_an_interrupted_patch_keeps_every_byte_that_arrived():
    ann = await run(make_user, "ann")
    content = jpeg_bytes(200, 200)
    session = await run(open_session, ann, ("photo.jpg", content, "image/jpeg"))
    (file,) = await run(files_of, session)

    await tus_request(
        "PATCH",
        f"/api/uploads/tus/{file.pk}",
        patch_headers(ann, 0),
        [content[:1000], content[1000:3000]],
        disconnect=True,
    )
    head = await tus_request("HEAD", f"/api/uploads/tus/{file.pk}", {**TUS, **auth_headers(ann)})
    assert head.status == 200
    assert head.headers["upload-offset"] == "3000"
    assert head.headers["upload-length"] == str(len(content))
    assert head.headers["cache-control"] == "no-store"

    done = await patch(ann, file, 3000, [content[3000:]])
    assert done.status == 204
    file = await run(fresh, file)
    assert file.status == FileStatus.COMPLETED
    assert await run(stored_bytes, file) == content


async def test_two_patches_at_the_same_offset_one_gets_409():
    ann = await run(make_user, "ann")
    content = pdf_bytes(300_000)
    session = await run(open_session, ann, ("doc.pdf", content, "application/pdf"))
    (file,) = await run(files_of, session)
    from asgiref.testing import ApplicationCommunicator

    from config.asgi import application

    # The first request holds its turn while its body is still arriving.
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PATCH",
        "scheme": "http",
        "path": f"/api/uploads/tus/{file.pk}",
        "raw_path": b"",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in patch_headers(ann, 0).items()],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    slow = ApplicationCommunicator(application, scope)
    await slow.send_input({"type": "http.request", "body": content[:1000], "more_body": True})
    await eventually(lambda: storage.partial_path(file.pk).exists(), what="the first PATCH to start writing")
    second = await patch(ann, file, 0, [content[:1000]])
    assert second.status == 409
    await slow.send_input({"type": "http.request", "body": content[1000:], "more_body": False})
    start = await slow.receive_output(10)
    assert start["status"] == 204
    await slow.receive_output(10)
    assert (await run(fresh, file)).status == FileStatus.COMPLETED
