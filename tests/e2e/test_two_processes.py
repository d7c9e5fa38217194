"""Two daphne processes sharing Redis and the database behave as one server."""

import asyncio
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from realtime.testing import ROOT, Peer, ServerProcess, run_scenario

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


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

    run_scenario(scenario())


def test_presence_spans_processes_and_a_killed_process_users_leave(servers, redis_url):
    ann = User.objects.create_user(username="ann", password="pw-123456789")
    ben = User.objects.create_user(username="ben", password="pw-123456789")
    # A short expiry keeps the test quick; the default (30 s, swept every 10 s) bounds it at 40 s.
    env = {"REDIS_URL": redis_url, "REALTIME_PRESENCE_TTL": "3"}
    a, b = servers(env, name="a"), servers(env, name="b")
    room = f"test:presence{int(time.time())}"

    async def scenario() -> None:
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

        a.kill()  # SIGKILL: no clean-up runs in the dead process
        # The bound is TTL + TTL/3 = 4 s after the kill; the rest is slack for a loaded machine.
        left = await ben_on_b.event("presence.diff", timeout=10, where=lambda f: f["payload"]["leaves"])
        assert [member["username"] for member in left["payload"]["leaves"]] == ["ann"]
        assert left["payload"]["count"] == 1
        await ben_on_b.socket.close()

    run_scenario(scenario())


def test_removal_with_4403_and_deactivation_close_connections_on_every_process(servers, redis_url):
    ann = User.objects.create_user(username="ann", password="pw-123456789")
    ben = User.objects.create_user(username="ben", password="pw-123456789")
    env = {"REDIS_URL": redis_url}
    a, b = servers(env, name="a"), servers(env, name="b", kind="uvicorn")
    room = f"test:ban{int(time.time())}"
    ann_token, ben_token = str(AccessToken.for_user(ann)), str(AccessToken.for_user(ben))

    async def removal() -> None:
        ann_on_a, ben_on_b = await Peer.connect(a.ws_url, ann_token), await Peer.connect(b.ws_url, ben_token)
        for peer in (ann_on_a, ben_on_b):
            assert (await peer.request(op="join", topic=room))["ok"]
        assert (await ann_on_a.request(op="send", topic=room, event="ban", payload={"user_id": ben.pk}))["ok"]
        banned = await ben_on_b.event("banned")  # the explaining event comes first...
        assert banned["payload"] == {"user_id": ben.pk}
        assert await ben_on_b.close_code() == 4403  # ...then the close, on the other process
        assert (await ann_on_a.request(op="ping"))["op"] == "pong"  # the moderator stays
        await ann_on_a.socket.close()

    async def deactivation() -> None:
        ann_on_a, ann_on_b = await Peer.connect(a.ws_url, ann_token), await Peer.connect(b.ws_url, ann_token)
        ben_on_a = await Peer.connect(a.ws_url, ben_token)
        # A plain save() in a third process that runs no server (a shell, a worker), sharing Redis.
        await asyncio.to_thread(_deactivate_in_a_shell, a, ann.pk)
        # Measured well under a second; the waits only bound a failure on a loaded machine.
        assert await ann_on_a.close_code(timeout=10) == 4403
        assert await ann_on_b.close_code(timeout=10) == 4403
        assert (await ben_on_a.request(op="ping"))["op"] == "pong"
        await ben_on_a.socket.close()

    run_scenario(removal())
    run_scenario(deactivation())

    async def refused() -> None:
        import websockets

        socket = await websockets.connect(f"{b.ws_url}?token={ann_token}")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        await socket.close()

    run_scenario(refused())
    rest = urllib.request.Request(f"{a.url}/api/users/me/", headers={"Authorization": f"Bearer {ann_token}"})  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as refused_rest:
        urllib.request.urlopen(rest, timeout=10)  # noqa: S310 (a local test server)
    assert refused_rest.value.code == 401
    refused_rest.value.close()


def _deactivate_in_a_shell(server: ServerProcess, user_id: int) -> None:
    code = (
        f"from accounts.models import User; user = User.objects.get(pk={user_id}); "
        "user.is_active = False; user.save(update_fields=['is_active'])"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=server.env, check=True, timeout=60)
