"""The project's ASGI application plus what end-to-end tests need in the server process:
the test topic handler (`test:<room>`) and the static test pages under /e2e/."""

from pathlib import Path
from typing import Any

from config.asgi import application as project_application
from realtime.api import register
from realtime.tests.topics import EchoHandler

register(EchoHandler())
PAGES = Path(__file__).resolve().parent / "pages"


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    path = scope.get("path", "")
    if scope["type"] == "http" and path.startswith("/e2e/"):
        page = PAGES / path.removeprefix("/e2e/")
        if page.parent == PAGES and page.is_file():
            body = page.read_bytes()
            headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
    await project_application(scope, receive, send)
