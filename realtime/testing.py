"""Test tools for the realtime core and every app built on it (a pytest plugin: the root
conftest lists it in `pytest_plugins`).

- `open_client()` / `Client`: a protocol v1 client over Channels' WebsocketCommunicator,
  against the real ASGI stack in-process.
- `captured_publishes()` (and the `published` fixture): every event published while
  it is active, with the payload clients got.
- `servers` and `browser` fixtures: real server processes (daphne or uvicorn) and
  headless Chromium, for end-to-end tests.

Models are imported inside functions: pytest loads this module before Django is set up.
"""

import asyncio
import contextlib
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from channels.testing import WebsocketCommunicator

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
# The ASGI application server processes run: the project's, plus the test topic and pages.
E2E_APPLICATION = "tests.e2e.asgi:application"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_configure(config: pytest.Config) -> None:
    """One Redis prefix per test run (server processes it starts inherit it), so runs sharing
    a Redis never see each other's events or presence (fixed topic and user ids repeat)."""
    from django.conf import settings

    prefix = os.environ["REALTIME_REDIS_PREFIX"] = f"test{os.getpid()}"
    settings.REALTIME_REDIS_PREFIX = prefix
    layer: dict[str, Any] = settings.CHANNEL_LAYERS["default"]
    if "prefix" in layer.get("CONFIG", {}):
        layer["CONFIG"]["prefix"] = f"{prefix}:asgi"
    cache: dict[str, Any] = settings.CACHES["default"]
    if "KEY_PREFIX" in cache:
        cache["KEY_PREFIX"] = prefix
    # Importing the ASGI application runs django.setup() again, which re-applies LOGGING and
    # drops pytest's log capture handlers: do it now, before any test's caplog is installed.
    importlib.import_module("config.asgi")


# How long a test waits for a frame that must come: generous, because CI machines can be
# loaded; it only bounds a failure. Absence is never inferred from it (see `until`).
WAIT = 10.0


async def eventually(condition: Callable[[], bool], timeout: float = WAIT, what: str = "the condition") -> None:
    """Waits until `condition()` holds (checked every 10 ms), or fails the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


def token_for(user: Any) -> str:
    """A real SimpleJWT access token for the user."""
    from rest_framework_simplejwt.tokens import AccessToken

    return str(AccessToken.for_user(user))


# -- the in-process protocol client ------------------------------------------------


class Client:
    """A WebsocketCommunicator speaking protocol v1, with a ref counter."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator
        self.refs = 0
        self.hello: dict[str, Any] | None = None
        self.closed_with: int | None = None
        # Frames read while waiting for a reply, kept for next_event().
        self.backlog: list[dict[str, Any]] = []

    async def send(self, **frame: Any) -> str:
        self.refs += 1
        frame.setdefault("ref", str(self.refs))
        await self.ws.send_json_to(frame)
        ref: str = frame["ref"]
        return ref

    async def receive(self, timeout: float = WAIT) -> dict[str, Any]:
        message: dict[str, Any] = await self.ws.receive_json_from(timeout=timeout)
        return message

    async def request(self, **frame: Any) -> dict[str, Any]:
        """Sends a frame and returns its reply, keeping events that arrive in between."""
        ref = await self.send(**frame)
        while True:
            message = await self.receive()
            if message.get("ref") == ref:
                return message
            self.backlog.append(message)

    async def join(self, topic: str, **params: Any) -> dict[str, Any]:
        return await self.request(op="join", topic=topic, params=params)

    async def send_event(self, topic: str, event: str, **payload: Any) -> dict[str, Any]:
        """A `send` and its reply."""
        return await self.request(op="send", topic=topic, event=event, payload=payload)

    async def next_event(self, event: str | None = None, timeout: float = WAIT) -> dict[str, Any]:
        """The next event frame (named `event`, if given), from the backlog first."""
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
        """Every frame up to and including the next `event` matching `where` (backlog first).

        For absence checks: trigger a marker event that must come after the one that should
        not exist, wait for it, then assert on the frames before it (no quiet window to guess).
        """
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
        while True:
            message = await self.ws.receive_output(timeout)
            if message["type"] == "websocket.close":
                code: int = message.get("code", 1000)
                return code

    async def drain(self, quiet: float = 0.4) -> list[dict[str, Any]]:
        """Reads every frame until none arrives for `quiet` seconds (outlasts a presence window)."""
        frames, self.backlog = self.backlog, []
        while not await self.ws.receive_nothing(timeout=quiet):
            frames.append(await self.receive())
        return frames

    async def nothing(self, timeout: float = 0.3) -> bool:
        if self.backlog:
            return False
        result: bool = await self.ws.receive_nothing(timeout=timeout)
        return result

    async def disconnect(self) -> None:
        """Closes the socket and waits for the connection's clean-up (unsubscribe, presence
        removal): an exception or a hang there fails the test."""
        await self.ws.disconnect(timeout=5)


# The transport open_client() uses when none is given: "websocket", or "http" (the HTTP
# transport, realtime.testing_http); the protocol tests run on both (realtime/tests/conftest.py).
TRANSPORT = "websocket"


async def open_client(
    path: str = "/ws/",
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    session_user: Any = None,
    client_address: str | None = None,
    transport: str | None = None,
) -> Any:
    """Connects to the project's ASGI application; `session_user` signs in by the session cookie;
    `client_address` is the client IP the server sees (the scope's `client`), for per-address limits.

    Over `transport="http"` the client is a `realtime.testing_http.HttpClient` (same methods;
    `?token=` becomes an `Authorization: Bearer` header)."""
    from channels.db import database_sync_to_async

    from config.asgi import application

    headers = list(headers or [])
    cookie = await database_sync_to_async(_session_cookie)(session_user) if session_user is not None else None
    if (transport or TRANSPORT) == "http":
        from realtime.testing_http import open_http_client

        return await open_http_client(path, headers, cookie, client_address)
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    if client_address is not None:
        communicator.scope["client"] = (client_address, 50000)
    connected, _ = await communicator.connect(timeout=5)
    client = Client(communicator)
    if connected:
        first = await communicator.receive_output(5)
        if first["type"] == "websocket.send":
            client.hello = json.loads(first["text"])
        else:
            client.closed_with = first.get("code")
    return client


def _session_cookie(user: Any) -> str:
    from django.conf import settings
    from django.test import Client as DjangoClient

    django_client = DjangoClient()
    django_client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={django_client.cookies[settings.SESSION_COOKIE_NAME].value}"


def run_scenario(scenario: Coroutine[Any, Any, T]) -> T:
    """Runs a test's async scenario on a fresh event loop and closes every Peer it opened, also
    when it fails: a socket left open is reported (ResourceWarning) against a later, innocent test."""

    async def guarded() -> T:
        opened_before = len(_open_peers)
        try:
            return await scenario
        finally:
            while len(_open_peers) > opened_before:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(_open_peers.pop().socket.close(), 2)

    return asyncio.run(guarded())


class Peer:
    """A protocol v1 client over a real socket (the `websockets` library), for server processes.
    Run the scenario that uses it with `run_scenario`."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.refs = 0
        self.frames: list[dict[str, Any]] = []
        self.hello: dict[str, Any] = {}

    @classmethod
    async def connect(cls, url: str, token: str | None = None, **options: Any) -> "Peer":
        import websockets

        peer = cls(await websockets.connect(url + (f"?token={token}" if token else ""), **options))
        _open_peers.append(peer)
        peer.hello = json.loads(await peer.socket.recv())
        assert peer.hello["op"] == "hello", peer.hello
        return peer

    async def request(self, **frame: Any) -> dict[str, Any]:
        """Sends a frame and returns its reply, keeping the frames that arrive in between."""
        self.refs += 1
        frame["ref"] = str(self.refs)
        await self.socket.send(json.dumps(frame))
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.socket.recv(), 10))
            if message.get("ref") == frame["ref"]:
                return message
            self.frames.append(message)

    async def event(
        self, name: str, timeout: float = 10, where: Callable[[dict[str, Any]], bool] = lambda frame: True
    ) -> dict[str, Any]:
        """The next event named `name` (matching `where`), from the frames kept first."""
        for frame in self.frames:
            if frame.get("event") == name and where(frame):
                self.frames.remove(frame)
                return frame
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.01, deadline - time.monotonic())
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.socket.recv(), remaining))
            if message.get("event") == name and where(message):
                return message
            self.frames.append(message)

    async def close_code(self, timeout: float = 10) -> int | None:
        """Reads until the server closes the socket; the close code it sent."""
        import websockets

        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = max(0.01, deadline - time.monotonic())
                self.frames.append(json.loads(await asyncio.wait_for(self.socket.recv(), remaining)))
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None


_open_peers: list[Peer] = []


# -- streams and publishes ---------------------------------------------------------


def stored_events(topic: str | None = None, **filters: Any) -> list[Any]:
    """The replayable events stored in streams (all topics, or one), oldest first: rows with
    `topic`, `seq`, `event` and `frame` (the JSON text a resuming client gets)."""
    from realtime.models import StreamEvent

    rows = StreamEvent.objects.filter(**filters)
    if topic is not None:
        rows = rows.filter(topic=topic)
    return list(rows.order_by("topic", "seq"))


# -- captured publishes -------------------------------------------------------------


class Published:
    """Every event published, as (topic key, event, payload, replayable)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any, bool]] = []
        # With everyone_online: the user ids that count as connected (None: all of them).
        self.online_user_ids: set[int] | None = None

    def of(self, topic: str | None = None, event: str | None = None) -> list[Any]:
        return [
            payload
            for t, e, payload, _ in self.events
            if (topic is None or t == topic) and (event is None or e == event)
        ]

    def names(self) -> list[tuple[str, str]]:
        return [(topic, event) for topic, event, _, _ in self.events]

    def clear(self) -> None:
        self.events.clear()


@contextlib.contextmanager
def captured_publishes(*, everyone_online: bool = False) -> Iterator[Published]:
    """Records every publish while active (they are still published).

    With `everyone_online`, every user counts as connected (or only the ids in the
    recorder's `online_user_ids` once set), so events meant only for online users
    (inbox `unread`, friends' `presence`) are published too.
    """
    from realtime import hub, publish

    recorder = Published()
    publish.recorders.append(recorder.events)
    original = hub.present_members

    def present(key: str, members: Any) -> set[str]:
        wanted = set(members)
        if key != hub.ONLINE_KEY or recorder.online_user_ids is None:
            return wanted
        return wanted & {f"u:{user_id}" for user_id in recorder.online_user_ids}

    if everyone_online:
        hub.present_members = present
    try:
        yield recorder
    finally:
        hub.present_members = original
        publish.recorders.remove(recorder.events)


@pytest.fixture
def published() -> Iterator[Published]:
    """`captured_publishes(everyone_online=True)` for one test."""
    with captured_publishes(everyone_online=True) as recorder:
        yield recorder


# -- real server processes and the browser ------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def database_url() -> str:
    """The URL of the test database pytest-django created, for server processes to share."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    auth = settings["USER"] + (f":{settings['PASSWORD']}" if settings.get("PASSWORD") else "")
    return f"postgres://{auth}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"


def _is_setting_variable(name: str) -> bool:
    return name in {"DATABASE_URL", "PORT", "DEBUG"} or name.startswith("REALTIME_")


class ServerProcess:
    """daphne or uvicorn on 127.0.0.1:<port>; output goes to a file (a full pipe would block the server)."""

    def __init__(
        self,
        port: int,
        log_dir: Path,
        env: dict[str, str] | None = None,
        name: str = "server",
        kind: str = "daphne",
        application: str = E2E_APPLICATION,
    ) -> None:
        self.port = port
        self.kind = kind
        self.application = application
        self.log_path = log_dir / f"{name}-{port}.log"
        self.env = {
            # The caller's settings variables stay out (a test sets what it needs in `env`),
            # except the run's Redis prefix, so its servers share the run's keys and channels.
            **{key: value for key, value in os.environ.items() if not _is_setting_variable(key)},
            "REALTIME_REDIS_PREFIX": os.environ.get("REALTIME_REDIS_PREFIX", "rt"),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url(),
            "PORT": str(port),
            "DEBUG": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen[Any] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def start(self, timeout: float = 20) -> "ServerProcess":
        log = self.log_path.open("ab")
        command = {
            # A listen backlog above Twisted's 50, so a burst of connects is not dropped, and
            # 30 s (not 5) for a handshake queued behind a burst (docs/deployment.md).
            "daphne": [
                "-m",
                "daphne",
                "-e",
                f"tcp:port={self.port}:interface=127.0.0.1:backlog=2048",
                "--websocket_connect_timeout",
                "30",
            ],
            "uvicorn": [
                "-m",
                "uvicorn",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ws-per-message-deflate",
                "false",
            ],
        }[self.kind]
        self.process = subprocess.Popen(
            [sys.executable, *command, self.application],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Server exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"Server did not start in {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Starts server processes (stopped at the end); each call takes env overrides."""
    started: list[ServerProcess] = []

    def start(
        env: dict[str, str] | None = None, port: int | None = None, name: str = "server", kind: str = "daphne"
    ) -> ServerProcess:
        server = ServerProcess(port or free_port(), tmp_path, env, name, kind).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


class RedisServer:
    """A private redis-server (no persistence) on a free port, for fault tests: `stop()` it
    (SHUTDOWN NOSAVE, as a crash loses everything) and `start()` it again on the same port."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen[Any] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> "RedisServer":
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start in {timeout} s:\n{self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            import redis

            with contextlib.suppress(redis.ConnectionError):
                redis.Redis(port=self.port, socket_timeout=5).shutdown(nosave=True)
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private, running redis-server of this test (stopped at the end)."""
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server") if os.environ.get("CI") != "true" else pytest.fail("needs redis-server")
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def two_redis_servers(tmp_path: Path) -> Iterator[list[RedisServer]]:
    """Two private, running redis-servers, for a sharded Redis (REDIS_URL lists both)."""
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server") if os.environ.get("CI") != "true" else pytest.fail("needs redis-server")
    started = [RedisServer(tmp_path).start(), RedisServer(tmp_path).start()]
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium through Playwright (sync API; tests using it are collected last)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop
    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            yield instance
            instance.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
