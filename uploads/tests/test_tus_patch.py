"""The streaming tus PATCH through the real ASGI application (uploads.asgi), and the
`upload:<id>` topic it feeds."""

import asyncio
import base64
import hashlib
import time
from typing import Any

import pytest
from channels.db import database_sync_to_async

from accounts.tests.factories import UserFactory
from realtime.testing import Client, eventually, open_client, token_for
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


# -- the upload:<id> topic ---------------------------------------------------------


def polled(user: Any, session: UploadSession) -> dict[str, Any]:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    response = client.get(f"/api/uploads/sessions/{session.pk}/progress/")
    assert response.status_code == 200
    return dict(response.json())


async def watcher(user: Any, session: UploadSession) -> tuple[Client, dict[str, Any]]:
    client = await open_client(f"/ws/?token={token_for(user)}")
    reply = await client.join(f"upload:{session.pk}")
    assert reply["ok"], reply
    return client, reply["payload"]


async def until(client: Client, check: Any, timeout: float = 5) -> dict[str, Any]:
    """The first event (any name) whose payload passes `check`."""
    deadline = time.monotonic() + timeout
    while True:
        frame = await client.next_event(timeout=max(0.1, deadline - time.monotonic()))
        if check(frame["event"], frame["payload"]):
            return dict(frame["payload"])


async def test_join_is_for_the_owner_only():
    ann, ben = await run(make_user, "ann"), await run(make_user, "ben")
    session = await run(open_session, ann, ("a.pdf", pdf_bytes(), "application/pdf"))
    other = await open_client(f"/ws/?token={token_for(ben)}")
    refused = await other.join(f"upload:{session.pk}")
    assert refused["error"]["code"] == "not_found"
    missing = await other.join("upload:999999")
    assert missing["error"]["code"] == "not_found"
    anonymous = await open_client("/ws/")
    assert (await anonymous.join(f"upload:{session.pk}"))["error"]["code"] == "unauthorized"
    owner, reply = await watcher(ann, session)
    assert reply == await run(polled, ann, session)
    for client in (other, anonymous, owner):
        await client.disconnect()


def settled(progress: dict[str, Any], received: int) -> bool:
    return progress["bytes_received"] == received and all(f["status"] != "processing" for f in progress["files"])


async def test_progress_over_the_topic_and_over_polling_agree_at_every_step():
    ann = await run(make_user, "ann")
    photo, document = png_bytes(120, 90), pdf_bytes(4000)
    session = await run(open_session, ann, ("p.png", photo, "image/png"), ("d.pdf", document, "application/pdf"))
    first, second = await run(files_of, session)
    client, reply = await watcher(ann, session)
    assert reply["status"] == "pending" and reply["bytes_received"] == 0

    steps = [(first, 0, photo[:500]), (first, 500, photo[500:]), (second, 0, document[:1000])]
    for file, offset, chunk in steps:
        assert (await patch(ann, file, offset, [chunk])).status == 204
        expected = offset + len(chunk) + (len(photo) if file == second else 0)
        # The last state pushed after the PATCH (a file may show `processing` on the way there).
        pushed = await until(client, lambda event, p, expected=expected: settled(p, expected))
        assert pushed == await run(polled, ann, session)
    assert pushed["status"] == "uploading"
    assert pushed["completed_files"] == 1
    assert pushed["files"][0]["progress"] == 100 and pushed["files"][0]["status"] == "completed"
    share = 1000 * 100 // len(document)
    assert pushed["current_file"] == {"id": second.pk, "name": "d.pdf", "progress": share, "status": "uploading"}

    assert (await patch(ann, second, 1000, [document[1000:]])).status == 204
    finished = await until(client, lambda event, p: event == "completed")
    assert finished == await run(polled, ann, session)
    assert (finished["status"], finished["total_progress"], finished["completed_files"]) == ("completed", 100, 2)
    assert finished["finished_at"] and finished["started_at"]
    await client.disconnect()


async def test_progress_events_are_at_most_ten_per_second_and_the_last_state_arrives():
    ann = await run(make_user, "ann")
    content = pdf_bytes(250_000)
    session = await run(open_session, ann, ("big.pdf", content, "application/pdf"))
    (file,) = await run(files_of, session)
    client, _ = await watcher(ann, session)
    step = 2048
    arrivals: list[tuple[float, dict[str, Any]]] = []

    async def watch() -> None:
        while not arrivals or arrivals[-1][1]["event"] != "completed":
            frame = await client.next_event(timeout=10)
            arrivals.append((time.monotonic(), frame))

    watching = asyncio.create_task(watch())
    started = time.monotonic()
    for offset in range(0, len(content), step):
        response = await patch(ann, file, offset, [content[offset : offset + step]])
        assert response.status == 204
        # Writes paced over at least 1.5 s, so the bound is tested over more than one second.
        await asyncio.sleep(max(0.0, started + 1.5 * (offset + step) / len(content) - time.monotonic()))
    elapsed = time.monotonic() - started
    await asyncio.wait_for(watching, 10)

    progress = [at for at, frame in arrivals if frame["event"] == "progress"]
    writes = -(-len(content) // step)
    assert writes > 120 and elapsed > 1  # many more writes than the bound allows events
    assert 5 <= len(progress) <= 10 * elapsed + 1, (len(progress), elapsed)
    # No eleven events within one second (a little slack for the reader's own scheduling).
    assert all(later - earlier > 0.9 for earlier, later in zip(progress, progress[10:], strict=False))
    received = [frame["payload"]["bytes_received"] for _, frame in arrivals]
    assert received == sorted(received)
    last = arrivals[-1][1]["payload"]
    assert (last["status"], last["total_progress"], last["bytes_received"]) == ("completed", 100, len(content))
    await client.disconnect()


def session_cookie(user: Any) -> str:
    from django.conf import settings
    from django.test import Client as DjangoClient

    client = DjangoClient()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def test_a_cookie_signed_patch_needs_the_csrf_token():
    ann = await run(make_user, "ann")
    content = pdf_bytes()
    session = await run(open_session, ann, ("a.pdf", content, "application/pdf"))
    (file,) = await run(files_of, session)
    cookie = await run(session_cookie, ann)
    headers = {k: v for k, v in patch_headers(ann, 0).items() if k != "Authorization"}
    url = f"/api/uploads/tus/{file.pk}"
    refused = await tus_request("PATCH", url, {**headers, "Cookie": cookie}, [content])
    assert refused.status == 403 and b"CSRF" in refused.body
    token = "a" * 32
    allowed = await tus_request(
        "PATCH", url, {**headers, "Cookie": f"{cookie}; csrftoken={token}", "X-CSRFToken": token}, [content]
    )
    assert allowed.status == 204
    assert (await run(fresh, file)).status == FileStatus.COMPLETED
