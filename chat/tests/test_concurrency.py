"""Chat services under real concurrency: threads with their own database connections.

Like the stream seq test (realtime/tests/test_streams.py) these run on both databases:
on PostgreSQL the threads really interleave (row locks, unique index waits, deadlock
detection); on SQLite, whose IMMEDIATE transactions take the write lock up front,
writers queue, so what is left to race is a check made before the transaction.
"""

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import connection, transaction

from chat import services
from chat.models import DirectMessage, Membership
from chat.services import channels as channel_services
from chat.services import direct as direct_services
from realtime.api import inbox_topic
from realtime.testing import Client, open_client, token_for

pytestmark = pytest.mark.django_db(transaction=True)

# Generous: a thread that has not finished by then is stuck (a deadlock nobody detected).
THREAD_TIMEOUT = 30


def run_in_threads(*targets: Callable[[], Any]) -> list[Any]:
    """Runs each target in its own thread (its own connection), all started together;
    returns their results in order, or re-raises the first exception one of them raised."""
    start = threading.Barrier(len(targets), timeout=5)
    results: list[Any] = [None] * len(targets)
    errors: list[BaseException] = []

    def run(index: int, target: Callable[[], Any]) -> None:
        try:
            start.wait()
            results[index] = target()
        except BaseException as error:  # collected and re-raised in the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, target), daemon=True) for i, target in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    if errors:
        raise errors[0]
    return results


class AtomicGate:
    """Stands in for `transaction` in a service module: `atomic()` first waits until
    `parties` threads have called it, so every thread has made the checks the service
    makes before its transaction (the worst interleaving) before any of them writes."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=5)
        self.lock = threading.Lock()
        self.passed = 0

    def atomic(self, *args: Any, **kwargs: Any) -> Any:
        self.barrier.wait()
        with self.lock:
            self.passed += 1
        return transaction.atomic(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(transaction, name)


# -- channel_join against the unique (channel, user) constraint ------------------------


def test_concurrent_joins_of_one_user_make_one_membership(general, cat, monkeypatch):
    gate = AtomicGate(4)
    monkeypatch.setattr(channel_services, "transaction", gate)

    def join() -> tuple[int, bool]:
        membership, created = services.channel_join(user=cat, channel_id=general.pk)
        return membership.pk, created

    results = run_in_threads(join, join, join, join)

    assert gate.passed == 4, "every join must have raced to its write"
    [membership] = Membership.objects.filter(channel=general, user=cat)
    assert sorted(results, key=lambda result: result[1]) == [
        (membership.pk, False),
        (membership.pk, False),
        (membership.pk, False),
        (membership.pk, True),
    ]


def test_concurrent_join_requests_answer_201_and_200_never_500(general, cat, api_client_as, monkeypatch):
    gate = AtomicGate(2)
    monkeypatch.setattr(channel_services, "transaction", gate)

    def post() -> tuple[int, dict[str, Any]]:
        response = api_client_as(cat).post(f"/api/chat/channels/{general.pk}/join/")
        return response.status_code, response.json()

    results = run_in_threads(post, post)

    assert gate.passed == 2
    assert sorted(status for status, _ in results) == [200, 201]
    for _, body in results:
        assert (body["id"], body["member_count"]) == (general.pk, 3)
    assert Membership.objects.filter(channel=general, user=cat).count() == 1


# -- direct messages crossing: the lock order of _publish_to_both ----------------------


class FirstCrossing:
    """Wraps `publish` in chat.services.direct so that the first send of each thread,
    once it holds its first inbox stream's row lock, waits until the other thread holds
    one too or is blocked behind this one (PostgreSQL). With the lock order right, the
    second sender waits on the first's lock; taken in opposite orders, the two first
    sends are sure to deadlock, rather than only when the scheduler happens to cross them."""

    def __init__(self) -> None:
        self.holding: list[threading.Event] = [threading.Event(), threading.Event()]
        self.backend_pids: list[int | None] = [None, None]
        self.local = threading.local()
        self.original = direct_services.publish

    def enter(self, index: int) -> None:
        self.local.index, self.local.armed = index, True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.backend_pids[index] = cursor.fetchone()[0]

    def publish(self, *args: Any, **kwargs: Any) -> Any:
        seq = self.original(*args, **kwargs)
        if getattr(self.local, "armed", False):
            self.local.armed = False
            me = self.local.index
            self.holding[me].set()
            self.wait_for(1 - me)
        return seq

    def wait_for(self, other: int) -> None:
        deadline = time.monotonic() + 5
        with connection.cursor() as cursor:
            while not self.holding[other].is_set():
                if self.backend_pids[other] is not None:
                    cursor.execute("SELECT cardinality(pg_blocking_pids(%s)) > 0", [self.backend_pids[other]])
                    if cursor.fetchone()[0]:
                        return
                if time.monotonic() > deadline:
                    raise AssertionError("the other sender neither took a lock nor waited for one")
                time.sleep(0.005)


async def inbox_client(user: Any, **params: Any) -> tuple[Client, dict[str, Any]]:
    """A new connection of `user` that joined their inbox: (client, join reply payload)."""
    client = await open_client(f"/ws/?token={token_for(user)}")
    reply = await client.join("inbox", **params)
    assert reply["ok"], reply
    return client, reply["payload"]


def sends(me: Any, other: Any, count: int, before: Callable[[], None] = lambda: None) -> Callable[[], list[int]]:
    """A thread's work: `count` DMs from `me` to `other`, in order; returns their ids."""

    def send_all() -> list[int]:
        before()
        ids = []
        for i in range(count):
            message, created = services.dm_send(
                sender=me, recipient_id=other.pk, body=f"{me.username} {i}", client_id=f"{me.username}-{i}"
            )
            assert created
            ids.append(message.pk)
        return ids

    return send_all


@pytest.mark.asyncio
async def test_crossing_dms_never_deadlock_and_reach_both_inboxes_once(ann, ben, friends, monkeypatch):
    count = 25
    ann_sends, ben_sends = sends(ann, ben, count), sends(ben, ann, count)
    if connection.vendor == "postgresql":
        crossing = FirstCrossing()
        monkeypatch.setattr(direct_services, "publish", crossing.publish)
        ann_sends = sends(ann, ben, count, before=lambda: crossing.enter(0))
        ben_sends = sends(ben, ann, count, before=lambda: crossing.enter(1))
    clients: list[Client] = []
    try:
        inboxes = {}
        for user in (ann, ben):
            inboxes[user.pk], _ = await inbox_client(user)
            clients.append(inboxes[user.pk])

        # The senders run in threads while this event loop (the realtime hub's) delivers.
        ann_ids, ben_ids = await sync_to_async(run_in_threads, thread_sensitive=False)(ann_sends, ben_sends)
        every_id = sorted(ann_ids + ben_ids)

        # Stored once each, and each knows the seq it got in both inboxes (for redaction).
        messages = await database_sync_to_async(lambda: list(DirectMessage.objects.order_by("pk")))()
        assert [message.pk for message in messages] == every_id
        recorded = {message.pk: dict(message.stream_events) for message in messages}

        for user in (ann, ben):
            topic = inbox_topic(user.pk)
            # What a client resuming the inbox from the start gets: every message once, gap-free seqs.
            resumed, payload = await inbox_client(user, since=0)
            clients.append(resumed)
            frames = payload["missed"]
            assert payload["reset"] is False
            assert [frame["seq"] for frame in frames] == list(range(1, 2 * count + 1))
            assert {frame["event"] for frame in frames} == {"dm.created"}
            by_seq = {frame["seq"]: frame["payload"]["message"]["id"] for frame in frames}
            assert sorted(by_seq.values()) == every_id
            assert all(recorded[pk][topic] == seq for seq, pk in by_seq.items())
            # Each sender's messages in the order sent.
            for ids in (ann_ids, ben_ids):
                assert [pk for pk in by_seq.values() if pk in set(ids)] == ids
            # And live, on the connected inbox: every event once, with its stored seq (arrival
            # order may differ: a later commit can broadcast first; clients order by seq).
            live = []
            while len(live) < 2 * count:
                frame = await inboxes[user.pk].next_event("dm.created", timeout=5)
                live.append((frame["seq"], frame["payload"]["message"]["id"]))
            assert sorted(live) == sorted(by_seq.items())
    finally:
        for client in clients:
            await client.disconnect()
