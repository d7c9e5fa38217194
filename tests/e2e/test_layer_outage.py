"""The hub survives its channel layer failing (Redis stops and comes back): the server keeps
answering, writes keep committing, and a client that missed events gets them by resume."""

import asyncio

import pytest
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken

from realtime.testing import Peer

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def test_a_redis_outage_loses_no_committed_event(servers, redis_server):
    ann = get_user_model().objects.create_user(username="ann", password="pw-123456789")
    token = str(AccessToken.for_user(ann))
    server = servers({"REDIS_URL": redis_server.url}, kind="uvicorn")

    async def scenario() -> None:
        writer, reader = await Peer.connect(server.ws_url, token), await Peer.connect(server.ws_url)
        assert (await writer.request(op="join", topic="test:outage"))["ok"]
        assert (await reader.request(op="join", topic="test:outage"))["ok"]
        before = await writer.request(op="send", topic="test:outage", event="echo", payload={"text": "before"})
        assert (await reader.event("echoed"))["seq"] == before["payload"]["seq"]

        redis_server.stop()
        during = await writer.request(op="send", topic="test:outage", event="echo", payload={"text": "during"})
        assert during["ok"] and during["payload"]["seq"] == before["payload"]["seq"] + 1  # committed
        assert (await reader.request(op="ping"))["op"] == "pong"  # the server is still up
        await reader.socket.close()

        redis_server.start()
        # The reader comes back and resumes from the last seq it saw: the event it missed is replayed.
        resumed = await Peer.connect(server.ws_url)
        reply = await resumed.request(op="join", topic="test:outage", params={"since": before["payload"]["seq"]})
        assert [(f["event"], f["payload"]) for f in reply["payload"]["missed"]] == [("echoed", {"text": "during"})]
        await writer.socket.close()
        await resumed.socket.close()

    asyncio.run(scenario())
    assert server.process is not None and server.process.poll() is None
