"""A Redis restart (SHUTDOWN NOSAVE: everything in it lost) during traffic: the server stays up,
writes keep committing, a client that missed events gets them by resume, and live delivery and
presence come back by themselves once Redis is back."""

import asyncio
import time

import pytest
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken

from realtime.testing import Peer, run_scenario

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("kind", ["uvicorn", "daphne"])
def test_a_redis_restart_loses_no_committed_event_and_live_delivery_recovers(servers, redis_server, kind):
    ann = get_user_model().objects.create_user(username="ann", password="pw-123456789")
    token = str(AccessToken.for_user(ann))
    server = servers({"REDIS_URL": redis_server.url}, kind=kind)

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
        await reader.socket.close()  # its clean-up meets a Redis that is not there
        await asyncio.sleep(3)  # the outage lasts 3 s
        redis_server.start()
        back_at = time.monotonic()

        # The reader comes back and resumes from the last seq it saw: the event it missed is replayed,
        # and ann's presence, lost with Redis' data, was written back by her server.
        resumed = await Peer.connect(server.ws_url)
        reply = await resumed.request(op="join", topic="test:outage", params={"since": before["payload"]["seq"]})
        assert [(f["event"], f["payload"]) for f in reply["payload"]["missed"]] == [("echoed", {"text": "during"})]
        # Live delivery recovers within 10 s of Redis returning.
        while True:
            sent = await writer.request(op="send", topic="test:outage", event="echo", payload={"text": "after"})
            try:
                live = await resumed.event("echoed", timeout=0.5)
                break
            except TimeoutError:
                assert time.monotonic() - back_at < 10, "live delivery did not recover within 10 s"
        assert live["seq"] <= sent["payload"]["seq"]
        # ann's presence is written back too, within the same 10 s.
        while True:
            members = (await resumed.request(op="join", topic="test:outage"))["payload"]["presence"]
            if "ann" in [member.get("username") for member in members]:
                break
            assert time.monotonic() - back_at < 10, f"ann's presence was not written back within 10 s: {members}"
            await asyncio.sleep(0.2)
        await writer.socket.close()
        await resumed.socket.close()

    run_scenario(scenario())
    assert server.process is not None and server.process.poll() is None
    # Delivery can come back before the hub's rebuild ends (channels-redis reconnects on its
    # own), so the rebuild's log line may come a little after the scenario.
    deadline = time.monotonic() + 10
    while "Redis is back" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "Redis is back" in server.log()
