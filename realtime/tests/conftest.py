"""Fixtures for realtime tests: a topic handler registered by the tests themselves, and clients."""

import asyncio
import contextlib
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from realtime import registry
from realtime.tests.topics import EchoHandler


@pytest.fixture(autouse=True)
def echo_handler():
    handler = EchoHandler()
    registry.register(handler)
    yield handler
    registry.unregister("test")


def token_for(user: Any) -> str:
    return str(AccessToken.for_user(user))


class Client:
    """A WebsocketCommunicator speaking protocol v1, with a ref counter."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator
        self.refs = 0
        self.hello: dict[str, Any] | None = None
        # Frames read while waiting for a reply, kept for next_event().
        self.backlog: list[dict[str, Any]] = []

    async def send(self, **frame: Any) -> str:
        self.refs += 1
        frame.setdefault("ref", str(self.refs))
        await self.ws.send_json_to(frame)
        return frame["ref"]

    async def receive(self, timeout: float = 3) -> dict[str, Any]:
        return await self.ws.receive_json_from(timeout=timeout)

    async def request(self, **frame: Any) -> dict[str, Any]:
        """Sends a frame and returns its reply, skipping events that arrive in between."""
        ref = await self.send(**frame)
        while True:
            message = await self.receive()
            if message.get("ref") == ref:
                return message
            self.backlog.append(message)

    async def join(self, topic: str, **params: Any) -> dict[str, Any]:
        return await self.request(op="join", topic=topic, params=params)

    async def next_event(self, event: str | None = None, timeout: float = 3) -> dict[str, Any]:
        for index, message in enumerate(self.backlog):
            if message.get("op") == "event" and (event is None or message["event"] == event):
                return self.backlog.pop(index)
        while True:
            message = await self.receive(timeout)
            if message.get("op") == "event" and (event is None or message["event"] == event):
                return message

    async def close_code(self, timeout: float = 3) -> int:
        while True:
            message = await self.ws.receive_output(timeout)
            if message["type"] == "websocket.close":
                return message.get("code", 1000)

    async def drain(self, quiet: float = 0.4) -> list[dict[str, Any]]:
        """Reads every frame until none arrives for `quiet` seconds (outlasts a presence window)."""
        frames, self.backlog = self.backlog, []
        while not await self.ws.receive_nothing(timeout=quiet):
            frames.append(await self.receive())
        return frames

    async def nothing(self, timeout: float = 0.3) -> bool:
        if self.backlog:
            return False
        return await self.ws.receive_nothing(timeout=timeout)

    async def disconnect(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.disconnect()


async def open_client(
    path: str = "/ws/", *, headers: list[tuple[bytes, bytes]] | None = None, session_user: Any = None
) -> Client:
    from config.asgi import application

    headers = list(headers or [])
    if session_user is not None:
        cookie = await database_sync_to_async(_session_cookie)(session_user)
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    client = Client(communicator)
    if connected:
        first = await communicator.receive_output(5)
        if first["type"] == "websocket.send":
            import json

            client.hello = json.loads(first["text"])
        else:
            client.closed_with = first.get("code")  # type: ignore[attr-defined]
    return client


def _session_cookie(user: Any) -> str:
    from django.conf import settings
    from django.test import Client as DjangoClient

    django_client = DjangoClient()
    django_client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={django_client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def settle() -> None:
    """Lets the hub's queued layer operations run."""
    for _ in range(5):
        await asyncio.sleep(0.01)
