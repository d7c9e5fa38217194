"""The HTTP transport on real server processes: uvicorn and daphne stream events unbuffered,
and on Redis a session's requests may alternate between processes."""

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from realtime.testing import Peer, run_scenario


def create_user_in_a_thread(username: str) -> User:
    """From a worker thread: its own database connection, closed before the thread is reused
    (left open, it is garbage-collected during a later test, whose ResourceWarning fails it)."""
    try:
        return User.objects.create_user(username=username, password="pw-123456789")
    finally:
        connection.close()


pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


class HttpPeer:
    """A protocol v1 client over the HTTP transport of real servers (any request to any of `urls`)."""

    def __init__(self, http: aiohttp.ClientSession, session: str) -> None:
        self.http = http
        self.session = session
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.skipped: list[dict[str, Any]] = []
        self.close: int | None = None
        self.last_id = 0
        self.reader: asyncio.Task[None] | None = None
        self.refs = 0

    @classmethod
    async def create(cls, http: aiohttp.ClientSession, url: str, token: str | None = None) -> "HttpPeer":
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with http.post(f"{url}/rt/session", headers=headers) as response:
            assert response.status == 201, await response.text()
            return cls(http, (await response.json())["session"])

    def stream(self, url: str) -> None:
        self.reader = asyncio.ensure_future(self._read(url))

    async def _read(self, url: str) -> None:
        headers = {"Last-Event-ID": str(self.last_id)} if self.last_id else {}
        async with self.http.get(f"{url}/rt/events?session={self.session}", headers=headers) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            event, data, event_id = "message", "", None
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and data:
                    if event == "close":
                        self.close = json.loads(data)["code"]
                        return
                    if event_id:
                        self.last_id = int(event_id)
                    self.frames.put_nowait(json.loads(data))
                    event, data, event_id = "message", "", None

    async def stop_stream(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)

    async def post(self, url: str, *frames: dict[str, Any]) -> None:
        body = json.dumps(list(frames))
        async with self.http.post(
            f"{url}/rt/send?session={self.session}", data=body, headers={"Content-Type": "text/plain"}
        ) as response:
            assert response.status == 202, await response.text()

    async def request(self, url: str, **frame: Any) -> dict[str, Any]:
        self.refs += 1
        frame["ref"] = str(self.refs)
        await self.post(url, frame)
        return await self.next(lambda f: f.get("ref") == frame["ref"])

    async def next(self, where: Any, timeout: float = 10) -> dict[str, Any]:
        """The first frame matching `where`; the others are kept for later calls (a topic's
        event may come before the reply to the send that published it)."""
        for frame in self.skipped:
            if where(frame):
                self.skipped.remove(frame)
                return frame
        deadline = time.monotonic() + timeout
        while True:
            frame = await asyncio.wait_for(self.frames.get(), max(0.01, deadline - time.monotonic()))
            if where(frame):
                return frame
            self.skipped.append(frame)


@pytest.mark.parametrize("kind", ["uvicorn", "daphne"])
def test_events_stream_unbuffered_and_the_session_id_stays_out_of_the_logs(servers, kind):
    server = servers(name=kind, kind=kind)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            peer = await HttpPeer.create(http, server.url)
            peer.stream(server.url)
            hello = await peer.next(lambda frame: True)
            assert hello["op"] == "hello" and hello["user"] is None
            assert (await peer.request(server.url, op="join", topic="test:e2e"))["ok"]
            started = time.monotonic()
            reply = await peer.request(server.url, op="send", topic="test:e2e", event="echo", payload={"text": "hi"})
            echoed = await peer.next(lambda frame: frame.get("event") == "echoed")
            assert echoed["seq"] == reply["payload"]["seq"]
            assert time.monotonic() - started < 2  # not held back by a buffer
            async with http.delete(f"{server.url}/rt/session?session={peer.session}") as response:
                assert response.status == 204
            await asyncio.wait_for(peer.reader, 5)  # the stream ends
            assert peer.close == 1001
            async with http.get(f"{server.url}/rt/poll?session={peer.session}&cursor=0") as response:
                assert response.status == 404
            session = peer.session
        time.sleep(0.5)  # the access log line is written after the response
        log = server.log()
        assert "/rt/events" in log or kind == "daphne"
        assert session not in log

    run_scenario(scenario())


def test_a_sessions_requests_alternate_between_two_processes_on_redis(servers, redis_url):
    ann = User.objects.create_user(username="ann", password="pw-123456789")
    env = {"REDIS_URL": redis_url}
    a, b = servers(env, name="a", kind="uvicorn"), servers(env, name="b", kind="daphne")

    async def scenario() -> None:
        watcher = await Peer.connect(b.ws_url)
        assert (await watcher.request(op="join", topic="test:alternate"))["ok"]
        async with aiohttp.ClientSession() as http:
            peer = await HttpPeer.create(http, a.url, str(AccessToken.for_user(ann)))
            peer.stream(b.url)  # the stream is served by the other process
            hello = await peer.next(lambda frame: True)
            assert hello["user"]["username"] == "ann"
            assert (await peer.request(b.url, op="join", topic="test:alternate"))["ok"]
            seqs = []
            for n in range(10):
                url = (a.url, b.url)[n % 2]
                reply = await peer.request(
                    url, op="send", topic="test:alternate", event="echo", payload={"text": str(n)}
                )
                assert reply["ok"], reply
                seqs.append(reply["payload"]["seq"])
            # Frames posted without waiting, alternating processes, are handled in order.
            for n in range(10, 20):
                await peer.post((a.url, b.url)[n % 2], {"op": "ping", "ref": f"p{n}"})
            pongs = [(await peer.next(lambda frame: frame["op"] == "pong"))["ref"] for _ in range(10)]
            assert pongs == [f"p{n}" for n in range(10, 20)]
            texts = []
            while len(texts) < 10:
                texts.append((await watcher.event("echoed"))["payload"]["text"])
            assert texts == [str(n) for n in range(10)]
            # A stream moved to the other process resumes after its last id: no loss, no duplicate.
            peer.skipped.clear()  # its own echoes, which the watcher's check above covers
            await peer.stop_stream()
            await peer.post(a.url, {"op": "ping", "ref": "while-away"})
            peer.stream(a.url)
            assert (await peer.next(lambda frame: True))["ref"] == "while-away"
            # Polls on either process share the numbering.
            async with http.get(f"{b.url}/rt/poll?session={peer.session}&cursor={peer.last_id - 1}") as response:
                polled = await response.json()
            assert polled["cursor"] == peer.last_id and polled["frames"][0]["ref"] == "while-away"
            # Another identity's credentials get 404 on every process.
            ben = await asyncio.to_thread(create_user_in_a_thread, "ben")
            headers = {"Authorization": f"Bearer {AccessToken.for_user(ben)}"}
            for url in (a.url, b.url):
                async with http.get(f"{url}/rt/poll?session={peer.session}&cursor=0", headers=headers) as response:
                    assert response.status == 404
            async with http.delete(f"{b.url}/rt/session?session={peer.session}") as response:
                assert response.status == 204
            await asyncio.wait_for(peer.reader, 5)
            assert peer.close == 1001
        await watcher.socket.close()

    run_scenario(scenario())
