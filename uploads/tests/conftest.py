"""Fixtures for upload tests: a tmp MEDIA_ROOT, real file contents, and tus requests
through the project's real ASGI application (the streaming PATCH lives there)."""

import io
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from PIL import Image

from realtime.testing import ServerProcess, free_port, token_for

TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every upload test stores its files under a tmp directory, never the repository."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def module_server(kind: str) -> Any:
    """A fixture: one server process of `kind` for a test module (starting one costs ~4 s),
    with its own tmp MEDIA_ROOT that the module's tests use too (`server_media`)."""

    @pytest.fixture(scope="module")
    def server(django_db_setup, django_db_blocker, tmp_path_factory):
        media = tmp_path_factory.mktemp("media")
        logs = tmp_path_factory.mktemp("logs")
        with django_db_blocker.unblock():
            process = ServerProcess(free_port(), logs, {"MEDIA_ROOT": str(media)}, "uploads", kind).start()
        process.media_root = media
        yield process
        process.kill()

    return server


@pytest.fixture
def server_media(server, settings):
    """The module server's MEDIA_ROOT, used by this process too (it reads what the server stored)."""
    settings.MEDIA_ROOT = server.media_root
    return server.media_root


def png_bytes(width: int = 40, height: int = 30) -> bytes:
    """A real PNG of noise (so it does not compress to a few bytes)."""
    buffer = io.BytesIO()
    Image.effect_noise((width, height), 80).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((width, height), 80).convert("RGB").save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def pdf_bytes(padding: int = 0) -> bytes:
    return b"%PDF-1.4\n1 0 obj <<>> endobj\n" + b"%" * padding + b"\ntrailer <<>>\n%%EOF\n"


@dataclass
class TusResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def auth_headers(user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user)}"}


async def tus_request(
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    chunks: list[bytes] | None = None,
    *,
    disconnect: bool = False,
    timeout: float = 10,
) -> TusResponse | None:
    """One HTTP request to config.asgi.application, its body sent in `chunks`; with
    `disconnect` the client goes away after the chunks (None: no response is read)."""
    from config.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
        + [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    chunks = chunks or [b""]
    for index, chunk in enumerate(chunks):
        more = index < len(chunks) - 1 or disconnect
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": more})
    if disconnect:
        await communicator.send_input({"type": "http.disconnect"})
        await communicator.wait(timeout)
        return None
    start = await communicator.receive_output(timeout)
    body = b""
    while True:
        message = await communicator.receive_output(timeout)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(timeout)
    response_headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    return TusResponse(start["status"], response_headers, body)


def patch_headers(user: Any, offset: int, **extra: str) -> dict[str, str]:
    return {
        **TUS,
        **auth_headers(user),
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": str(offset),
        **extra,
    }
