"""Inbox `unread` counters across two server processes on Redis: every process counts them for
the inbox connections it serves, from one message per channel window, and every connection
ends with the exact counters after messages, deletes and read marks made on either process."""

import asyncio
import json
import math
import time
from typing import Any

import pytest
import redis
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from chat.models import Channel, Membership
from realtime.api import unread_for_user
from realtime.testing import Peer, run_scenario

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

READERS = ["ben", "cat", "dan", "eve", "fay", "gus", "hal"]


async def last_unread(peer: Peer, quiet: float = 1.5) -> dict[str, Any] | None:
    """The payload of the last `unread` the peer got, once nothing arrived for `quiet` seconds."""
    while True:
        try:
            peer.frames.append(json.loads(await asyncio.wait_for(peer.socket.recv(), quiet)))
        except TimeoutError:
            break
    unread = [frame["payload"] for frame in peer.frames if frame.get("event") == "unread"]
    return unread[-1] if unread else None


def test_unread_counters_are_exact_on_every_process_and_cost_one_publish_per_window(servers, redis_server):
    ann = User.objects.create_user(username="ann", password="pw-123456789")
    readers = {name: User.objects.create_user(username=name, password="pw-123456789") for name in READERS}
    channel = Channel.objects.create(name="Team", slug="team", created_by=ann, is_private=True)
    for user in [ann, *readers.values()]:
        Membership.objects.create(channel=channel, user=user)
    env = {"REDIS_URL": redis_server.url}
    a, b = servers(env, name="a", kind="uvicorn"), servers(env, name="b", kind="uvicorn")
    topic = f"chat:{channel.pk}"
    client = redis.Redis.from_url(redis_server.url)

    def publishes() -> int:
        return int(client.info("commandstats").get("cmdstat_publish", {}).get("calls", 0))

    async def scenario() -> tuple[dict[str, Any], int, float]:
        def token(user: User) -> str:
            return str(AccessToken.for_user(user))

        author = await Peer.connect(a.ws_url, token(ann))
        assert (await author.request(op="join", topic=topic))["ok"]
        # One inbox per reader, alternating processes; ben has a second device on the other one.
        inboxes: dict[str, Peer] = {}
        for number, name in enumerate([*READERS, "ben@b"]):
            user = readers[name.split("@")[0]]
            inboxes[name] = await Peer.connect((a, b)[(number + (name == "ben@b")) % 2].ws_url, token(user))
            reply = await inboxes[name].request(op="join", topic="inbox")
            assert reply["payload"]["unread"]["channels"] == {str(channel.pk): 0}
        ben_chat = await Peer.connect(b.ws_url, token(readers["ben"]))
        assert (await ben_chat.request(op="join", topic=topic))["ok"]

        # The joins' coalesced presence diffs (a PUBLISH each) go out before counting starts.
        await asyncio.sleep(0.6)
        await asyncio.to_thread(client.config_resetstat)
        started = time.monotonic()
        seqs = []
        for number in range(10):
            reply = await author.request(
                op="send",
                topic=topic,
                event="message.create",
                payload={"body": f"m{number}", "client_id": f"m{number}"},
            )
            seqs.append(reply["payload"]["message"]["seq"])
        burst = time.monotonic() - started
        await asyncio.sleep(1)  # the last window's counters go out
        burst_publishes = await asyncio.to_thread(publishes)

        # Changes on both processes: ben reads up to the 4th message (on b), ann deletes the
        # 7th and edits the 8th (on a).
        assert (await ben_chat.request(op="send", topic=topic, event="read", payload={"seq": seqs[3]}))["ok"]
        ids = [frame["payload"]["message"]["id"] for frame in author.frames if frame.get("event") == "message.created"]
        deleted = await author.request(op="send", topic=topic, event="message.delete", payload={"id": ids[6]})
        assert deleted["ok"]
        edit = {"id": ids[7], "body": "edited"}
        assert (await author.request(op="send", topic=topic, event="message.update", payload=edit))["ok"]
        last = {name: await last_unread(peer) for name, peer in inboxes.items()}
        for peer in [author, ben_chat, *inboxes.values()]:
            await peer.socket.close()
        return last, burst_publishes, burst

    try:
        last, burst_publishes, burst = run_scenario(scenario())
    finally:
        client.close()
    for name, payload in last.items():
        expected = unread_for_user(user=readers[name.split("@")[0]])
        assert payload == expected, name
    assert last["ben"]["channels"] == last["ben@b"]["channels"] == {str(channel.pk): 10 - 4 - 1}
    assert last["cat"]["channels"] == {str(channel.pk): 10 - 1}
    # 10 `message.created` and one recount message per 0.5 s window; before, each window
    # published to all 7 readers' inboxes (and asked Redis who was online).
    windows = math.ceil(burst / 0.5) + 1
    assert burst_publishes <= 10 + windows, (burst_publishes, burst)
