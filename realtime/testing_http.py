"""The in-process protocol client over the HTTP transport (docs/protocol.md 1.1).

`HttpClient` has the interface of `realtime.testing.Client`, so the protocol tests run on
both transports: frames go out with `POST /rt/send`, frames come in from the
`GET /rt/events` stream, against the project's real ASGI application (no server, no
mocks). `realtime.testing.open_client(transport="http")` makes one.
"""

import asyncio
import json
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from realtime.testing import WAIT

CSRF_HEADER = b"x-csrftoken"


class Response:
    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: bytes) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]], client: tuple[str, int]) -> dict[str, Any]:
    parts = urlsplit(path)
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": client,
        "server": ("testserver", 80),
    }


async def asgi_request(
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    client: tuple[str, int] = ("127.0.0.1", 50000),
) -> Response:
    """One complete HTTP request against the project's ASGI application."""
    from config.asgi import application

    sent = False
    start: dict[str, Any] = {}
    chunks: list[bytes] = []
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    await asyncio.wait_for(application(_scope(method, path, list(headers or []), client), receive, send), 30)
    done.set()
    return Response(start["status"], start.get("headers", []), b"".join(chunks))


class EventStream:
    """An open `GET /rt/events`: its events as (event name, id, data), read as they come."""

    def __init__(self, path: str, headers: list[tuple[bytes, bytes]], client: tuple[str, int]) -> None:
        self.path = path
        self.headers = headers
        self.client = client
        self.status: int | None = None
        self.response_headers: list[tuple[bytes, bytes]] = []
        self.events: asyncio.Queue[tuple[str, str | None, str] | None] = asyncio.Queue()
        self._buffer = ""
        self._gone = asyncio.Event()
        self._started = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> "EventStream":
        from config.asgi import application

        first = True

        async def receive() -> dict[str, Any]:
            nonlocal first
            if first:
                first = False
                return {"type": "http.request", "body": b"", "more_body": False}
            await self._gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self.response_headers = message.get("headers", [])
                self._started.set()
            elif message["type"] == "http.response.body":
                self._feed(message.get("body", b"").decode())
                if not message.get("more_body"):
                    self.events.put_nowait(None)

        scope = _scope("GET", self.path, self.headers, self.client)
        self.task = asyncio.get_running_loop().create_task(application(scope, receive, send))
        await asyncio.wait_for(self._started.wait(), 5)
        return self

    def _feed(self, text: str) -> None:
        self._buffer += text
        while "\n\n" in self._buffer:
            block, self._buffer = self._buffer.split("\n\n", 1)
            name, event_id, data = "message", None, []
            for line in block.split("\n"):
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "event":
                    name = value
                elif field == "id":
                    event_id = value
                elif field == "data":
                    data.append(value)
            if data:
                self.events.put_nowait((name, event_id, "\n".join(data)))

    async def close(self) -> None:
        self._gone.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)


class _Socketish:
    """`client.ws.send_to(...)` of the WebSocket client, over `POST /rt/send`."""

    def __init__(self, client: "HttpClient") -> None:
        self.client = client

    async def send_to(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is not None:
            pytest.skip("binary frames do not exist on the HTTP transport (a POST carries JSON)")
        assert text_data is not None
        try:
            frame = json.loads(text_data)
        except ValueError:
            frame = text_data  # not JSON: sent as a frame that is not an object, answered the same way
        await self.client.post_frames([frame])

    async def receive_nothing(self, timeout: float = 0.1) -> bool:
        return await self.client.nothing(timeout)


class HttpClient:
    """A protocol v1 client over the HTTP transport, with the interface of `testing.Client`."""

    def __init__(self, headers: list[tuple[bytes, bytes]], client: tuple[str, int]) -> None:
        self.headers = headers
        self.client_address = client
        self.session: str | None = None
        self.stream: EventStream | None = None
        self.refs = 0
        self.hello: dict[str, Any] | None = None
        self.closed_with: int | None = None
        self.backlog: list[dict[str, Any]] = []
        self.last_event_id = 0
        self.ws = _Socketish(self)
        self.create_status: int | None = None

    @classmethod
    async def open(cls, headers: list[tuple[bytes, bytes]], token: str | None, client: tuple[str, int]) -> "HttpClient":
        if token is not None:
            headers = [*headers, (b"authorization", f"Bearer {token}".encode())]
        self = cls(headers, client)
        created = await asgi_request("POST", "/rt/session", headers=self.headers, client=client)
        self.create_status = created.status
        if created.status == 401:
            self.closed_with = 4401  # as a WebSocket with a bad ?token= is closed before hello
            return self
        if created.status == 403:
            self.closed_with = 4403
            return self
        assert created.status == 201, (created.status, created.body)
        self.session = created.json()["session"]
        self.stream = await EventStream(f"/rt/events?session={self.session}", self.headers, client).open()
        assert self.stream.status == 200, self.stream.status
        first = await self._next_data(5)
        assert first is not None and first["op"] == "hello", first
        self.hello = first
        return self

    async def post_frames(self, frames: list[Any]) -> Response:
        response = await asgi_request(
            "POST",
            f"/rt/send?session={self.session}",
            body=json.dumps(frames).encode(),
            headers=[*self.headers, (b"content-type", b"application/json")],
            client=self.client_address,
        )
        assert response.status == 202, (response.status, response.body)
        return response

    async def _next_data(self, timeout: float) -> dict[str, Any] | None:
        """The next frame of the stream; None once it ended (closed_with then holds the code)."""
        assert self.stream is not None
        while True:
            item = await asyncio.wait_for(self.stream.events.get(), timeout)
            if item is None:
                self.stream.events.put_nowait(None)
                return None
            name, event_id, data = item
            if name == "close":
                self.closed_with = json.loads(data)["code"]
                continue
            if event_id is not None:
                self.last_event_id = int(event_id)
            frame: dict[str, Any] = json.loads(data)
            return frame

    async def send(self, **frame: Any) -> str:
        self.refs += 1
        frame.setdefault("ref", str(self.refs))
        await self.post_frames([frame])
        if frame.get("op") == "auth":
            # The session's identity may change: later requests carry no token (the id is the
            # capability), as the JS client's never do.
            self.headers = [(key, value) for key, value in self.headers if key != b"authorization"]
        ref: str = frame["ref"]
        return ref

    async def receive(self, timeout: float = WAIT) -> dict[str, Any]:
        frame = await self._next_data(timeout)
        assert frame is not None, f"the stream ended (close {self.closed_with})"
        return frame

    async def request(self, **frame: Any) -> dict[str, Any]:
        ref = await self.send(**frame)
        while True:
            message = await self.receive()
            if message.get("ref") == ref:
                return message
            self.backlog.append(message)

    async def join(self, topic: str, **params: Any) -> dict[str, Any]:
        return await self.request(op="join", topic=topic, params=params)

    async def send_event(self, topic: str, event: str, **payload: Any) -> dict[str, Any]:
        return await self.request(op="send", topic=topic, event=event, payload=payload)

    async def next_event(self, event: str | None = None, timeout: float = WAIT) -> dict[str, Any]:
        for index, message in enumerate(self.backlog):
            if message.get("op") == "event" and (event is None or message["event"] == event):
                return self.backlog.pop(index)
        while True:
            message = await self.receive(timeout)
            if message.get("op") == "event" and (event is None or message["event"] == event):
                return message

    async def until(
        self, event: str, where: Callable[[dict[str, Any]], bool] = lambda frame: True, timeout: float = WAIT
    ) -> list[dict[str, Any]]:
        frames, self.backlog = self.backlog, []
        for index, frame in enumerate(frames):
            if frame.get("op") == "event" and frame["event"] == event and where(frame):
                self.backlog = frames[index + 1 :]
                return frames[: index + 1]
        while True:
            frame = await self.receive(timeout)
            frames.append(frame)
            if frame.get("op") == "event" and frame["event"] == event and where(frame):
                return frames

    async def close_code(self, timeout: float = WAIT) -> int:
        while self.closed_with is None:
            if await self._next_data(timeout) is None and self.closed_with is None:
                pytest.fail("the stream ended without an `event: close`")
        return self.closed_with

    async def drain(self, quiet: float = 0.4) -> list[dict[str, Any]]:
        frames, self.backlog = self.backlog, []
        while True:
            try:
                frame = await self._next_data(quiet)
            except TimeoutError:
                return frames
            if frame is None:
                return frames
            frames.append(frame)

    async def nothing(self, timeout: float = 0.3) -> bool:
        if self.backlog:
            return False
        assert self.stream is not None
        try:
            item = await asyncio.wait_for(self.stream.events.get(), timeout)
        except TimeoutError:
            return True
        # Put it back at the front: nothing() only looks.
        rest = []
        while not self.stream.events.empty():
            rest.append(self.stream.events.get_nowait())
        for queued in [item, *rest]:
            self.stream.events.put_nowait(queued)
        return False

    async def disconnect(self) -> None:
        """Ends the session with DELETE (its clean-up runs before the 204), then closes the stream."""
        if self.session is not None:
            response = await asgi_request(
                "DELETE", f"/rt/session?session={self.session}", headers=self.headers, client=self.client_address
            )
            # 404: it already ended (a close); 401: its token expired meanwhile.
            assert response.status in {204, 401, 404}, (response.status, response.body)
            self.session = None
        if self.stream is not None:
            await self.stream.close()


def session_headers(cookie: str) -> list[tuple[bytes, bytes]]:
    """A session cookie plus a CSRF cookie and the matching header, as a page's script sends them."""
    from django.conf import settings

    secret = secrets.token_hex(16)  # 32 characters, the CSRF secret's length
    cookies = f"{cookie}; {settings.CSRF_COOKIE_NAME}={secret}"
    return [(b"cookie", cookies.encode()), (CSRF_HEADER, secret.encode())]


async def open_http_client(
    path: str, headers: list[tuple[bytes, bytes]], cookie: str | None, client_address: str | None
) -> HttpClient:
    tokens = parse_qs(urlsplit(path).query).get("token")
    token = tokens[0] if tokens else None
    if cookie is not None:
        headers = [*headers, *session_headers(cookie)]
    client = (client_address or "127.0.0.1", 50000)
    return await HttpClient.open(headers, token, client)
