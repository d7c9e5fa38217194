"""kill -9 of a server process during chat traffic: every client reconnects (full jitter) to
the process left and resumes, and a send whose reply never came is resent with the same
`client_id` there. Counted against the REST history: 0 lost, 0 duplicated, order kept."""

import asyncio
import json
import random

import pytest
import websockets
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from accounts.tests.factories import UserFactory
from chat.models import Message
from chat.services import channel_create, channel_join
from realtime.testing import Peer, run_scenario

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

MESSAGES = 60


def stored(client_id: str) -> bool:
    """From a worker thread: its own database connection, closed before the thread is reused."""
    try:
        return Message.objects.filter(client_id=client_id).exists()
    finally:
        connection.close()


async def connect_with_jitter(urls: list[str], token: str, attempt_cap: float = 1.0) -> Peer:
    """Reconnects across the given servers with full-jitter backoff, as the JS client does."""
    for attempt in range(30):
        for url in urls:
            try:
                return await Peer.connect(url, token, open_timeout=2)
            except (OSError, websockets.WebSocketException, TimeoutError):
                continue
        await asyncio.sleep(random.uniform(0, min(attempt_cap, 0.05 * 2**attempt)))
    raise AssertionError("could not reconnect")


def test_kill_9_during_chat_traffic_loses_and_duplicates_nothing(servers, redis_server, api_client_as):
    ann, ben = UserFactory(username="ann"), UserFactory(username="ben")
    channel = channel_create(user=ann, name="Kill test")
    channel_join(user=ben, channel_id=channel.pk)
    topic = f"chat:{channel.pk}"
    env = {"REDIS_URL": redis_server.url, "REALTIME_RATE": "1000/1000"}
    doomed, survivor = servers(env, name="doomed", kind="uvicorn"), servers(env, name="survivor", kind="uvicorn")
    ann_token, ben_token = str(AccessToken.for_user(ann)), str(AccessToken.for_user(ben))

    async def scenario() -> list[dict]:
        sender = await Peer.connect(doomed.ws_url, ann_token)
        reader = await Peer.connect(doomed.ws_url, ben_token)
        assert (await sender.request(op="join", topic=topic))["ok"]
        assert (await reader.request(op="join", topic=topic))["ok"]
        seen: dict[int, dict] = {}  # seq -> message, as ben's client keeps it

        async def read_live(peer: Peer) -> None:
            try:
                while True:
                    frame = await peer.event("message.created", timeout=30)
                    seen[frame["seq"]] = frame["payload"]["message"]
            except (websockets.ConnectionClosed, TimeoutError):
                return

        reading = asyncio.create_task(read_live(reader))
        for i in range(MESSAGES):
            payload = {"body": f"m{i}", "client_id": f"ann-{i}"}
            if i == MESSAGES // 2:
                # The send is committed, then the process dies before its reply is read.
                frame = {"op": "send", "ref": "lost", "topic": topic, "event": "message.create", "payload": payload}
                await sender.socket.send(json.dumps(frame))
                while not await asyncio.to_thread(stored, f"ann-{i}"):
                    await asyncio.sleep(0.01)
                # Live delivery worked from the process's first event (its hub waits for its
                # layer to deliver before it serves anyone), so ben has some of them already.
                assert seen, "no event reached ben live in the doomed process's first 30 sends"
                doomed.kill()
                # The client reconnects to the process left and resends with the same client_id.
                sender = await connect_with_jitter([doomed.ws_url, survivor.ws_url], ann_token)
                assert (await sender.request(op="join", topic=topic))["ok"]
            reply = await sender.request(op="send", topic=topic, event="message.create", payload=payload)
            assert reply["ok"], reply
        await reading
        # Ben reconnects too and resumes from the last seq his client saw.
        reader = await connect_with_jitter([doomed.ws_url, survivor.ws_url], ben_token)
        reply = await reader.request(op="join", topic=topic, params={"since": max(seen)})
        assert reply["payload"]["reset"] is False
        for frame in reply["payload"]["missed"]:
            if frame["event"] == "message.created":
                seen[frame["seq"]] = frame["payload"]["message"]
        await sender.socket.close()
        await reader.socket.close()
        return [seen[seq] for seq in sorted(seen)]

    received = run_scenario(scenario())
    history = api_client_as(ben).get(f"/api/chat/channels/{channel.pk}/messages/?limit=200").json()["results"]
    bodies = [message["body"] for message in sorted(history, key=lambda message: message["seq"])]
    assert bodies == [f"m{i}" for i in range(MESSAGES)]  # each once, in order: the resend made no copy
    assert [message["body"] for message in received] == bodies  # ben got every one, live or by resume
