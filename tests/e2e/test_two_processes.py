"""Two daphne processes sharing Redis and the database behave as one server."""

import asyncio
import json
import time

import pytest
import websockets
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


class Peer:
    """A protocol v1 client over a real socket."""

    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket
        self.refs = 0
        self.frames: list[dict] = []

    @classmethod
    async def connect(cls, url: str, token: str | None = None) -> "Peer":
        peer = cls(await websockets.connect(url + (f"?token={token}" if token else "")))
        hello = json.loads(await peer.socket.recv())
        assert hello["op"] == "hello"
        return peer

    async def request(self, **frame) -> dict:
        self.refs += 1
        frame["ref"] = str(self.refs)
        await self.socket.send(json.dumps(frame))
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), 10))
            if message.get("ref") == frame["ref"]:
                return message
            self.frames.append(message)

    async def event(self, name: str, timeout: float = 10, where=lambda frame: True) -> dict:
        for frame in self.frames:
            if frame.get("event") == name and where(frame):
                self.frames.remove(frame)
                return frame
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), max(0.01, deadline - time.monotonic())))
            if message.get("event") == name and where(message):
                return message
            self.frames.append(message)


def test_event_published_through_one_process_reaches_the_other(servers, redis_url):
    env = {"REDIS_URL": redis_url}
    # One daphne and one uvicorn process: both supported servers, sharing one Redis.
    a, b = servers(env, name="a"), servers(env, name="b", kind="uvicorn")

    async def scenario() -> None:
        on_b = await Peer.connect(b.ws_url)
        on_a = await Peer.connect(a.ws_url)
        assert (await on_b.request(op="join", topic="test:cross"))["ok"]
        assert (await on_a.request(op="join", topic="test:cross"))["ok"]
        # Idle past redis-py 8's default socket timeout (about 5 s), which once killed
        # idle channels-redis subscribers (STACK.md pitfall 1): delivery must still work.
        await asyncio.sleep(10)
        reply = await on_a.request(op="send", topic="test:cross", event="echo", payload={"text": "from a"})
        for peer in (on_a, on_b):
            event = await peer.event("echoed")
            assert event["payload"] == {"text": "from a"} and event["seq"] == reply["payload"]["seq"]
        await on_a.socket.close()
        await on_b.socket.close()

    asyncio.run(scenario())


def test_presence_spans_processes_and_a_killed_process_users_leave(servers, redis_url):
    ann = User.objects.create_user(username="ann", password="pw-123456789")
    ben = User.objects.create_user(username="ben", password="pw-123456789")
    # A short expiry keeps the test quick; the default (30 s, swept every 10 s) bounds it at 40 s.
    env = {"REDIS_URL": redis_url, "REALTIME_PRESENCE_TTL": "3"}
    a, b = servers(env, name="a"), servers(env, name="b")
    room = f"test:presence{int(time.time())}"

    async def scenario() -> float:
        ann_on_a = await Peer.connect(a.ws_url, str(AccessToken.for_user(ann)))
        ben_on_b = await Peer.connect(b.ws_url, str(AccessToken.for_user(ben)))
        assert (await ann_on_a.request(op="join", topic=room))["ok"]
        reply = await ben_on_b.request(op="join", topic=room)
        assert reply["payload"]["presence_count"] == 2
        assert {member["username"] for member in reply["payload"]["presence"]} == {"ann", "ben"}
        joined = await ann_on_a.event(
            "presence.diff", where=lambda f: any(m["username"] == "ben" for m in f["payload"]["joins"])
        )
        assert joined["payload"]["count"] == 2

        killed_at = time.monotonic()
        a.kill()  # SIGKILL: no clean-up runs in the dead process
        left = await ben_on_b.event("presence.diff", timeout=60, where=lambda f: f["payload"]["leaves"])
        assert [member["username"] for member in left["payload"]["leaves"]] == ["ann"]
        assert left["payload"]["count"] == 1
        await ben_on_b.socket.close()
        return time.monotonic() - killed_at

    assert asyncio.run(scenario()) < 60
