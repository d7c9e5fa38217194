"""Graceful drain: SIGTERM makes a server close every socket with 1001 and exit 0 within 10 s;
its clients reconnect to another process and resume without losing anything."""

import asyncio
import signal
import time

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.tests.factories import UserFactory
from realtime.testing import Peer, run_scenario

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("kind", ["uvicorn", "daphne"])
def test_sigterm_closes_with_1001_exits_0_and_clients_resume_elsewhere(servers, redis_server, kind):
    token = str(AccessToken.for_user(UserFactory(username="ann")))
    env = {"REDIS_URL": redis_server.url, "REALTIME_RATE": "1000/1000"}
    stopping, staying = servers(env, name="stopping", kind=kind), servers(env, name="staying", kind=kind)

    async def scenario() -> float:
        writer = await Peer.connect(staying.ws_url, token)
        readers = [await Peer.connect(stopping.ws_url) for _ in range(3)]
        assert (await writer.request(op="join", topic="test:drain"))["ok"]
        for reader in readers:
            assert (await reader.request(op="join", topic="test:drain"))["ok"]
        first = await writer.request(op="send", topic="test:drain", event="echo", payload={"text": "before"})
        for reader in readers:
            assert (await reader.event("echoed"))["seq"] == first["payload"]["seq"]

        started = time.monotonic()
        stopping.process.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*(reader.close_code(timeout=10) for reader in readers))
        assert codes == [1001, 1001, 1001]
        # Meanwhile the other process keeps taking writes; the readers resume there by seq.
        missed = await writer.request(op="send", topic="test:drain", event="echo", payload={"text": "meanwhile"})
        for _ in readers:
            back = await Peer.connect(staying.ws_url)
            reply = await back.request(op="join", topic="test:drain", params={"since": first["payload"]["seq"]})
            assert [frame["seq"] for frame in reply["payload"]["missed"]] == [missed["payload"]["seq"]]
            await back.socket.close()
        await writer.socket.close()
        return started

    started = run_scenario(scenario())
    assert stopping.process.wait(timeout=10) == 0
    assert time.monotonic() - started < 10
    assert "Draining: closing 3 connections with 1001" in stopping.log()
