"""tus conformance with a real client against real server processes: tuspy on uvicorn
(tus-js-client runs in the browser tests, test_pages_browser.py); and two processes on
Redis (bytes into one, the watcher on the other)."""

import asyncio
import io
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError

from accounts.tests.factories import UserFactory
from realtime.testing import Peer, run_scenario, token_for
from uploads import services
from uploads.models import FileStatus, SessionStatus, UploadFile, UploadSession
from uploads.tests.conftest import jpeg_bytes, module_server, pdf_bytes

pytestmark = pytest.mark.django_db(transaction=True)


server = module_server("uvicorn")


@pytest.fixture(autouse=True)
def _media(server_media):
    return server_media


@pytest.fixture
def ann():
    return UserFactory(username="ann", display_name="Ann")


def open_session(user: Any, *files: tuple[str, bytes, str]) -> UploadSession:
    return services.session_create(
        user=user,
        category="personal",
        files=[{"name": name, "size": len(content), "type": kind} for name, content, kind in files],
    )


def stored(file: UploadFile) -> bytes:
    file.refresh_from_db()
    with file.content.open("rb") as handle:
        return handle.read()


def wait_for(condition: Any, timeout: float = 10, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def tuspy(server: Any, user: Any) -> tus_client.TusClient:
    return tus_client.TusClient(
        f"{server.url}/api/uploads/tus/", headers={"Authorization": f"Bearer {token_for(user)}"}
    )


def test_tuspy_creates_and_uploads_in_chunks_with_checksums(server, ann):
    session = open_session(ann)
    photo, document = jpeg_bytes(300, 200), pdf_bytes(70_000)
    client = tuspy(server, ann)
    for name, content, kind in (("photo.jpg", photo, "image/jpeg"), ("doc.pdf", document, "application/pdf")):
        uploader = client.uploader(
            file_stream=io.BytesIO(content),
            chunk_size=16 * 1024,
            metadata={"session": str(session.pk), "filename": name, "filetype": kind},
            upload_checksum=True,
        )
        uploader.upload()
    first, second = session.files.order_by("id")
    assert (first.original_name, first.status, first.width, first.height) == ("photo.jpg", "completed", 300, 200)
    assert stored(first) == photo and stored(second) == document
    session.refresh_from_db()
    assert session.status == SessionStatus.COMPLETED


def test_tuspy_refusals_reach_the_client(server, ann):
    session = open_session(ann)
    client = tuspy(server, ann)
    forbidden = client.uploader(
        file_stream=io.BytesIO(b"<html></html>"),
        metadata={"session": str(session.pk), "filename": "page.html", "filetype": "text/html"},
    )
    with pytest.raises(TusCommunicationError) as refused:
        forbidden.upload()
    assert refused.value.status_code == 400
    stranger = UserFactory(username="ben")
    other = tuspy(server, stranger).uploader(
        file_stream=io.BytesIO(pdf_bytes()),
        metadata={"session": str(session.pk), "filename": "a.pdf", "filetype": "application/pdf"},
    )
    with pytest.raises(TusCommunicationError) as hidden:
        other.upload()
    assert hidden.value.status_code == 404
    assert not session.files.exists()


def interrupted_patch(server: Any, user: Any, path: str, content: bytes, sent: int) -> None:
    """A PATCH that declares the whole body, sends `sent` bytes of it and drops the connection."""
    head = (
        f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
        f"Authorization: Bearer {token_for(user)}\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Upload-Offset: 0\r\nContent-Length: {len(content)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head + content[:sent])
        time.sleep(0.3)  # the bytes reach the server before the connection drops (no condition to wait on here)


def test_tuspy_resumes_after_an_interrupted_patch_from_every_byte_that_arrived(server, ann):
    content = jpeg_bytes(800, 600)
    session = open_session(ann, ("big.jpg", content, "image/jpeg"))
    file = session.files.get()
    url = f"{server.url}/api/uploads/tus/{file.pk}"
    sent = len(content) // 2
    interrupted_patch(server, ann, f"/api/uploads/tus/{file.pk}", content, sent)
    headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token_for(ann)}"}
    wait_for(
        lambda: requests.head(url, headers=headers, timeout=5).headers.get("Upload-Offset") == str(sent),
        what="the interrupted PATCH's bytes to be recorded",
    )
    uploader = tuspy(server, ann).uploader(file_stream=io.BytesIO(content), url=url, chunk_size=64 * 1024)
    assert uploader.offset == sent  # tuspy asked HEAD and resumes there
    uploader.upload()
    assert stored(file) == content
    assert UploadFile.objects.get(pk=file.pk).status == FileStatus.COMPLETED


def test_termination_and_later_patches(server, ann):
    content = pdf_bytes(50_000)
    session = open_session(ann, ("a.pdf", content, "application/pdf"), ("b.pdf", content, "application/pdf"))
    first, second = session.files.order_by("id")
    client = tuspy(server, ann)
    url = f"{server.url}/api/uploads/tus/{first.pk}"
    uploader = client.uploader(file_stream=io.BytesIO(content), url=url, chunk_size=10_000)
    uploader.upload_chunk()
    deleted = requests.delete(url, headers=uploader.get_headers(), timeout=5)
    assert deleted.status_code == 204 and deleted.headers["Tus-Resumable"] == "1.0.0"
    assert requests.head(url, headers=uploader.get_headers(), timeout=5).status_code == 410
    first.refresh_from_db()
    assert first.status == FileStatus.CANCELLED
    requests.post(
        f"{server.url}/api/uploads/sessions/{session.pk}/cancel/", headers=uploader.get_headers(), timeout=5
    ).raise_for_status()
    with pytest.raises(TusCommunicationError) as gone:
        client.uploader(file_stream=io.BytesIO(content), url=f"{server.url}/api/uploads/tus/{second.pk}").upload()
    assert gone.value.status_code == 410


def test_two_processes_on_redis_bytes_into_one_watcher_on_the_other(servers, server_media, redis_url, ann):
    env = {"MEDIA_ROOT": str(server_media), "REDIS_URL": redis_url}
    receiving = servers(env=env, name="bytes", kind="uvicorn")
    watching = servers(env=env, name="watcher", kind="uvicorn")
    content = pdf_bytes(300_000)
    session = open_session(ann, ("doc.pdf", content, "application/pdf"))
    file = session.files.get()

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        peer = await Peer.connect(watching.ws_url, token_for(ann))
        reply = await peer.request(op="join", topic=f"upload:{session.pk}")
        assert reply["ok"], reply
        uploader = tuspy(receiving, ann).uploader(
            file_stream=io.BytesIO(content), url=f"{receiving.url}/api/uploads/tus/{file.pk}", chunk_size=30_000
        )
        await asyncio.to_thread(uploader.upload)
        finished = await peer.event("completed", timeout=10)
        progress = [frame for frame in peer.frames if frame.get("event") == "progress"]
        await peer.socket.close()
        return progress, finished

    progress, finished = run_scenario(scenario())
    assert progress, "no progress event reached the other process"
    assert all(frame["topic"] == f"upload:{session.pk}" for frame in progress)
    assert finished["payload"]["status"] == "completed"
    assert finished["payload"]["bytes_received"] == len(content)
    assert json.loads(json.dumps(finished["payload"]))["files"][0]["progress"] == 100
    assert Path(server_media, "uploads", str(session.pk)).is_dir()
