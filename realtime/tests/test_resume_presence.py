"""Resume over the WebSocket, publish() from sync code, and coalesced presence."""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import override_settings

from realtime.publish import publish
from realtime.testing import eventually, open_client, token_for

User = get_user_model()
pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def publish_many(topic: str, count: int) -> None:
    for i in range(count):
        with transaction.atomic():
            publish(topic, "tick", {"i": i}, replayable=True)


async def test_rejoin_with_since_returns_the_10_missed_events():
    client = await open_client()
    await client.join("test:room")
    await database_sync_to_async(publish_many)("test:room", 5)
    seen = [(await client.next_event("tick"))["seq"] for _ in range(5)]
    assert seen == [1, 2, 3, 4, 5]
    await client.disconnect()

    await database_sync_to_async(publish_many)("test:room", 10)  # while away
    again = await open_client()
    reply = await again.join("test:room", since=5)
    missed = reply["payload"]["missed"]
    assert [event["seq"] for event in missed] == list(range(6, 16))
    assert all(event["op"] == "event" and event["topic"] == "test:room" for event in missed)
    assert reply["payload"]["reset"] is False
    assert reply["payload"]["seq"] == 15
    await again.disconnect()


@override_settings(REALTIME_HISTORY_LIMIT=500)
async def test_rejoin_after_more_than_500_missed_resets():
    await database_sync_to_async(publish_many)("test:room", 502)
    client = await open_client()
    reply = await client.join("test:room", since=1)
    assert reply["payload"]["reset"] is True and reply["payload"]["missed"] == []
    ok = await client.join("test:room", since=2)
    assert ok["payload"]["reset"] is False and len(ok["payload"]["missed"]) == 500
    await client.disconnect()


async def test_publish_from_sync_code_reaches_clients_after_commit():
    client = await open_client()
    await client.join("test:room")
    await client.drain()

    def write_then_fail() -> None:
        try:
            with transaction.atomic():
                publish("test:room", "tick", {"i": "rolled back"}, replayable=True)
                publish("test:room", "note", {"i": "rolled back"})
                raise RuntimeError
        except RuntimeError:
            pass
        with transaction.atomic():
            publish("test:room", "note", {"i": "committed"})
        with transaction.atomic():
            publish("test:room", "marker", {})

    await database_sync_to_async(write_then_fail)()
    frames = await client.until("marker")
    assert [(frame["event"], frame["payload"]) for frame in frames] == [("note", {"i": "committed"}), ("marker", {})]
    await client.disconnect()


async def test_events_during_join_come_after_the_reply_in_order():
    a = await open_client()
    await a.join("test:room")
    b = await open_client()
    publisher = asyncio.create_task(database_sync_to_async(publish_many)("test:room", 20))
    ref = await b.send(op="join", topic="test:room", params={"since": 0})
    frames = []
    replied = False
    while len([f for f in frames if f.get("event") == "tick"]) < 20:
        frame = await b.receive()
        if frame.get("op") == "reply":
            assert frame["ref"] == ref
            replied = True
            frames.extend(frame["payload"]["missed"])
        elif frame.get("event") == "tick":
            assert replied, "a live event arrived before the join reply"
            frames.append(frame)
    await publisher
    seqs = []
    for frame in frames:
        if frame.get("event") == "tick" and frame["seq"] not in seqs:
            seqs.append(frame["seq"])
    assert seqs == list(range(1, 21))
    await a.disconnect()
    await b.disconnect()


@pytest.fixture
def users():
    def make() -> list[User]:
        return [
            User.objects.create_user(username=name, password="pw-123456789", display_name=name.title())
            for name in ("ann", "ben", "cat")
        ]

    return database_sync_to_async(make)


async def test_presence_counts_users_once_and_diffs_on_first_and_last(users):
    ann, ben, cat = await users()
    watcher = await open_client(f"/ws/?token={token_for(ben)}")
    await watcher.join("test:room")
    await watcher.drain()

    tab1 = await open_client(f"/ws/?token={token_for(ann)}")
    tab2 = await open_client(f"/ws/?token={token_for(ann)}")
    reply1 = await tab1.join("test:room")
    reply2 = await tab2.join("test:room")
    assert reply2["payload"]["presence_count"] == 2
    assert {member["username"] for member in reply2["payload"]["presence"]} == {"ann", "ben"}
    assert reply1["payload"]["presence_count"] == 2

    diff = await watcher.next_event("presence.diff")
    assert diff["payload"] == {
        "joins": [{"id": ann.pk, "username": "ann", "display_name": "Ann"}],
        "leaves": [],
        "count": 2,
    }
    assert "seq" not in diff
    # Cat's join is the marker: had ann's second tab counted, its diff would come first or be merged in.
    cat_client = await open_client(f"/ws/?token={token_for(cat)}")
    await cat_client.join("test:room")
    frames = await watcher.until("presence.diff")
    cat_u = {"id": cat.pk, "username": "cat", "display_name": "Cat"}
    assert frames[-1]["payload"] == {"joins": [cat_u], "leaves": [], "count": 3}
    assert [frame for frame in frames if frame.get("event") == "presence.diff"] == frames[-1:]

    await tab1.disconnect()  # ann still has a tab open: no leave for her
    await cat_client.disconnect()
    frames = await watcher.until("presence.diff")
    assert frames[-1]["payload"] == {"joins": [], "leaves": [cat_u], "count": 2}
    await tab2.disconnect()
    leave = await watcher.next_event("presence.diff")
    assert leave["payload"]["leaves"] == [{"id": ann.pk, "username": "ann", "display_name": "Ann"}]
    assert leave["payload"]["count"] == 1
    await watcher.disconnect()


async def test_presence_diffs_are_coalesced():
    watcher = await open_client()
    await watcher.join("test:room")
    await watcher.drain()
    clients = [await open_client() for _ in range(40)]
    started = time.monotonic()
    for client in clients:
        await client.join("test:room")
    arrivals: list[tuple[float, dict]] = []
    while not arrivals or arrivals[-1][1]["payload"]["count"] < 41:
        frame = await watcher.next_event("presence.diff")
        arrivals.append((time.monotonic(), frame))
    # Each anonymous connection joins once, in at most one diff per window of the time the joins
    # took (arrival gaps vary with delivery, on Redis too; the rate is the server's promise).
    assert sum(len(frame["payload"]["joins"]) for _, frame in arrivals) == 40
    window = settings.REALTIME_PRESENCE_WINDOW_MS / 1000
    windows = (arrivals[-1][0] - started) / window
    assert len(arrivals) <= windows + 2, f"{len(arrivals)} diffs in {windows:.1f} windows"
    for client in clients:
        await client.disconnect()
    await watcher.disconnect()


async def test_user_online_signal_once_per_user_and_online_ids(users):
    from realtime.hub import online_user_ids
    from realtime.signals import user_presence_changed

    ann, ben, _ = await users()
    received: list[tuple[int, bool]] = []

    def receiver(sender, changes: list[tuple[int, bool]], **kwargs):
        received.extend(changes)

    user_presence_changed.connect(receiver, dispatch_uid="test-online")
    try:
        tab1 = await open_client(f"/ws/?token={token_for(ann)}")
        tab2 = await open_client(f"/ws/?token={token_for(ann)}")
        await tab2.request(op="ping")
        assert await database_sync_to_async(online_user_ids)([ann.pk, ben.pk]) == {ann.pk}
        await tab1.disconnect()
        await tab2.request(op="ping")
        assert received == [(ann.pk, True)]
        await tab2.disconnect()
        await eventually(lambda: len(received) == 2, what="the offline signal")
        assert received == [(ann.pk, True), (ann.pk, False)]
        assert await database_sync_to_async(online_user_ids)([ann.pk]) == set()
    finally:
        user_presence_changed.disconnect(dispatch_uid="test-online")


async def test_debounce_merges_calls_within_the_window():
    from realtime.hub import get_hub
    from realtime.publish import debounce

    await get_hub()
    runs: list[int] = []
    ran_at: list[float] = []
    started = time.monotonic()
    for i in range(5):
        debounce("test:merge", 0.2, lambda i=i: (runs.append(i), ran_at.append(time.monotonic())))
    await eventually(lambda: bool(runs), what="the debounced run")
    assert runs == [0] and ran_at[0] - started >= 0.19  # once, at the end of the window
    debounce("test:merge", 0.05, lambda: runs.append(9))  # a new window after the run
    await eventually(lambda: len(runs) == 2, what="the second window's run")
    assert runs == [0, 9]


async def test_debounce_from_the_database_thread_runs_orm_code():
    from realtime.db import db_call
    from realtime.hub import get_hub
    from realtime.models import Stream
    from realtime.publish import debounce

    await get_hub()
    counts: list[int] = []
    # As a service does after commit: from the worker thread, with a func that queries.
    await db_call(lambda: debounce("test:orm", 0.05, lambda: counts.append(Stream.objects.count())))()
    await eventually(lambda: bool(counts), what="the debounced query")
    assert counts == [0]
