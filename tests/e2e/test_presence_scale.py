"""Presence across real server processes on Redis, as an operator sees it: a killed process's
users are reported gone once within the TTL, idle connections cost Redis nothing each, and a
deployment can shard over two Redis hosts."""

import asyncio
import os
import time
import zlib

import pytest
import redis
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from realtime.testing import Peer, run_scenario

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

TTL = 3  # seconds; processes beat every TTL/3
PREFIX = os.environ["REALTIME_REDIS_PREFIX"]  # this test run's (realtime.testing sets it)


def leaves_of(peer: Peer) -> list[str]:
    """Usernames in the `leaves` of the presence diffs the peer received so far."""
    return [
        member["username"]
        for frame in peer.frames
        if frame.get("event") == "presence.diff"
        for member in frame["payload"]["leaves"]
    ]


def test_a_killed_process_users_are_reported_gone_once_within_the_ttl(servers, redis_server):
    ann, ben, cat = (User.objects.create_user(username=name, password="pw-123456789") for name in ("ann", "ben", "cat"))
    env = {"REDIS_URL": redis_server.url, "REALTIME_PRESENCE_TTL": str(TTL)}
    doomed, b, c = servers(env, name="doomed"), servers(env, name="b", kind="uvicorn"), servers(env, name="c")
    room = "test:scale-kill"

    async def scenario() -> None:
        ann_there = await Peer.connect(doomed.ws_url, str(AccessToken.for_user(ann)))
        watchers = [
            await Peer.connect(b.ws_url, str(AccessToken.for_user(ben))),
            await Peer.connect(c.ws_url, str(AccessToken.for_user(cat))),
        ]
        assert (await ann_there.request(op="join", topic=room))["ok"]
        for watcher in watchers:
            assert (await watcher.request(op="join", topic=room))["ok"]
        reply = await watchers[1].request(op="join", topic=room)
        assert reply["payload"]["presence_count"] == 3

        doomed.kill()  # SIGKILL: no clean-up runs in the dead process
        killed_at = time.monotonic()
        # Two live processes sweep; whichever does reports ann's departure, once, to everyone.
        for watcher in watchers:
            left = await watcher.event("presence.diff", timeout=15, where=lambda f: f["payload"]["leaves"])
            assert [member["username"] for member in left["payload"]["leaves"]] == ["ann"]
            assert left["payload"]["count"] == 2
        # The bound is the TTL plus one heartbeat interval; the rest is slack for a loaded machine.
        assert time.monotonic() - killed_at < TTL + TTL / 3 + 3
        # Several more heartbeats of both survivors: nobody reports ann again.
        await asyncio.sleep(2 * TTL)
        for watcher in watchers:
            assert (await watcher.request(op="ping"))["op"] == "pong"
            assert leaves_of(watcher) == []
        reply = await watchers[0].request(op="join", topic=room)
        assert sorted(member["username"] for member in reply["payload"]["presence"]) == ["ben", "cat"]
        for watcher in watchers:
            await watcher.socket.close()

    run_scenario(scenario())


def test_idle_connections_cost_redis_no_commands_each(servers, redis_server):
    env = {"REDIS_URL": redis_server.url, "REALTIME_PRESENCE_TTL": str(TTL)}
    a, b = servers(env, name="a", kind="uvicorn"), servers(env, name="b", kind="uvicorn")
    client = redis.Redis.from_url(redis_server.url)
    window = 2 * TTL  # six heartbeats per process

    def commands_over_window() -> int:
        client.config_resetstat()
        time.sleep(window)
        stats = client.info("commandstats")
        return sum(int(value["calls"]) for name, value in stats.items() if name != "cmdstat_config|resetstat")

    async def open_idle(count: int, start: int) -> list[Peer]:
        peers = []
        for number in range(start, start + count):
            peer = await Peer.connect((a, b)[number % 2].ws_url)
            assert (await peer.request(op="join", topic=f"test:idle{number % 7}"))["ok"]
            peers.append(peer)
        await asyncio.sleep(1)  # presence diffs of the joins go out before the window
        return peers

    async def scenario() -> tuple[int, int]:
        peers = await open_idle(10, 0)
        with_10 = await asyncio.to_thread(commands_over_window)
        peers += await open_idle(90, 10)
        with_100 = await asyncio.to_thread(commands_over_window)
        for peer in peers:
            await peer.socket.close()
        return with_10, with_100

    try:
        with_10, with_100 = run_scenario(scenario())
    finally:
        client.close()
    # Each process: one INFO a second (the outage watch) and a heartbeat script of five
    # commands every TTL/3, whatever its connections; before, each connection's entries
    # cost three commands a heartbeat (100 connections: over 900 in this window).
    per_window = 2 * (window + 1) * (1 + 5)
    assert with_10 <= per_window and with_100 <= per_window, (with_10, with_100)


def rooms_on_both_hosts() -> list[str]:
    """Eight test topics: for each host, two whose pub/sub group it carries and two whose
    presence keys it holds (where channels-redis puts a group depends on the run's prefix)."""
    from channels_redis.utils import _consistent_hash

    def shard_index(room: str, hosts: int) -> int:  # presence's placement (docs/deployment.md)
        return zlib.crc32(room.encode()) % hosts

    def host_of_group(room: str) -> int:
        return int(_consistent_hash(f"{PREFIX}:asgi__group__rt.{room.replace(':', '.')}", 2))

    candidates = [f"test:shard{number}" for number in range(200)]
    rooms: list[str] = []
    for host in (0, 1):
        rooms += [room for room in candidates if host_of_group(room) == host][:2]
        rooms += [room for room in candidates if shard_index(room, 2) == host and room not in rooms][:2]
    return rooms


def test_a_deployment_sharded_over_two_redis_hosts_delivers_and_keeps_presence(servers, two_redis_servers):
    ann, ben = (User.objects.create_user(username=name, password="pw-123456789") for name in ("ann", "ben"))
    env = {"REDIS_URL": ",".join(server.url for server in two_redis_servers), "REALTIME_PRESENCE_TTL": str(TTL)}
    a, b = servers(env, name="a", kind="uvicorn"), servers(env, name="b")
    rooms = rooms_on_both_hosts()

    def is_ann(frame: dict) -> bool:
        return any(member["username"] == "ann" for member in frame["payload"]["joins"])

    async def scenario() -> None:
        ann_on_a = await Peer.connect(a.ws_url, str(AccessToken.for_user(ann)))
        ben_on_b = await Peer.connect(b.ws_url, str(AccessToken.for_user(ben)))
        for room in rooms:
            assert (await ann_on_a.request(op="join", topic=room))["ok"]
            reply = await ben_on_b.request(op="join", topic=room)
            assert sorted(member["username"] for member in reply["payload"]["presence"]) == ["ann", "ben"]
        for room in rooms:  # ann's arrival, announced in each topic before she goes (else they coalesce)
            await ben_on_b.event("presence.diff", where=lambda f, room=room: f["topic"] == room and is_ann(f))
        # Both hosts carry part of it: topics' presence keys and pub/sub channels are spread over them.
        for server in two_redis_servers:
            client = redis.Redis.from_url(server.url)
            try:
                assert client.keys(f"{PREFIX}:p:test:shard*:m") and client.pubsub_channels(f"{PREFIX}:asgi*")
            finally:
                client.close()
        for room in rooms:  # every topic's events cross processes, whichever host carries its group
            sent = await ann_on_a.request(op="send", topic=room, event="echo", payload={"text": room})
            echoed = await ben_on_b.event("echoed", where=lambda f, room=room: f["topic"] == room)
            assert echoed["seq"] == sent["payload"]["seq"]
        await ann_on_a.socket.close()
        for room in rooms:  # ann's last connection went: ben hears it on every topic
            await ben_on_b.event(
                "presence.diff", where=lambda f, room=room: f["topic"] == room and bool(f["payload"]["leaves"])
            )
        await ben_on_b.socket.close()

    run_scenario(scenario())
