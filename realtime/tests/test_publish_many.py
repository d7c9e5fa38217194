"""publish_many(): the bulk path for replayable events to many topics (stream_append_many)."""

import json

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from realtime.models import StreamEvent
from realtime.publish import publish, publish_many
from realtime.streams import stream_last_seq, stream_resume
from realtime.testing import captured_publishes, open_client


@pytest.mark.django_db(transaction=True)
def test_bulk_seqs_continue_each_stream_gap_free_and_consecutive_per_topic():
    with transaction.atomic():
        publish("test:a", "tick", {"i": 0}, replayable=True)
        publish("test:a", "tick", {"i": 1}, replayable=True)

    with transaction.atomic():
        seqs = publish_many([("test:a", "bulk", {"n": 1}), ("test:b", "bulk", {"n": 2}), ("test:a", "bulk", {"n": 3})])

    assert seqs == [3, 1, 4]
    assert (stream_last_seq("test:a"), stream_last_seq("test:b")) == (4, 1)
    # Stored exactly as publish() stores one: the frame a resuming client gets.
    frames = [json.loads(frame) for frame in stream_resume(topic="test:a", since=2).frames]
    assert frames == [
        {"op": "event", "topic": "test:a", "event": "bulk", "payload": {"n": 1}, "seq": 3},
        {"op": "event", "topic": "test:a", "event": "bulk", "payload": {"n": 3}, "seq": 4},
    ]
    with transaction.atomic():
        assert publish("test:b", "tick", {}, replayable=True) == 2


@pytest.mark.django_db(transaction=True)
def test_bulk_rolled_back_stores_nothing_and_leaves_no_gap():
    with pytest.raises(RuntimeError), transaction.atomic():
        publish_many([(f"test:r{i}", "bulk", {}) for i in range(3)])
        raise RuntimeError("rollback")

    assert not StreamEvent.objects.filter(topic__startswith="test:r").exists()
    with transaction.atomic():
        assert publish_many([("test:r0", "bulk", {})]) == [1]


@pytest.mark.django_db(transaction=True)
def test_bulk_to_many_topics_takes_a_few_statements_not_two_per_event():
    events = [(f"test:many{i}", "bulk", {"i": i}) for i in range(1200)]
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        seqs = publish_many(events)

    assert seqs == [1] * 1200
    assert StreamEvent.objects.filter(topic__startswith="test:many").count() == 1200
    # Per 500 topics: create missing rows, lock, advance; then the inserts (SQLite may split them).
    assert len(queries) < 40, len(queries)


@pytest.mark.django_db(transaction=True)
def test_bulk_records_for_tests_and_publishes_nothing_for_an_empty_list():
    with captured_publishes() as recorder, transaction.atomic():
        assert publish_many([]) == []
        publish_many([("test:x", "bulk", {"x": 1})])
    assert recorder.events == [("test:x", "bulk", {"x": 1}, True)]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_bulk_events_reach_connected_clients_after_commit_in_order():
    a, b = await open_client(), await open_client()
    await a.join("test:one")
    await b.join("test:two")

    def bulk() -> None:
        with transaction.atomic():
            publish_many(
                [("test:one", "bulk", {"n": 1}), ("test:two", "bulk", {"n": 2}), ("test:one", "bulk", {"n": 3})]
            )

    await database_sync_to_async(bulk)()

    assert (await a.next_event("bulk"))["payload"] == {"n": 1}
    assert await a.next_event("bulk") == {
        "op": "event",
        "topic": "test:one",
        "event": "bulk",
        "payload": {"n": 3},
        "seq": 2,
    }
    assert await b.next_event("bulk") == {
        "op": "event",
        "topic": "test:two",
        "event": "bulk",
        "payload": {"n": 2},
        "seq": 1,
    }
    for client in (a, b):
        assert [frame for frame in await client.drain() if frame.get("event") == "bulk"] == []
    await a.disconnect()
    await b.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_ephemeral_bulk_events_have_no_seq_store_nothing_and_reach_clients():
    a = await open_client()
    await a.join("test:eph")

    def bulk() -> None:
        with transaction.atomic():
            assert publish_many([("test:eph", "note", {"n": 1}), ("test:other", "note", {})], replayable=False) == []
            assert not StreamEvent.objects.exists()

    await database_sync_to_async(bulk)()

    assert await a.next_event("note") == {"op": "event", "topic": "test:eph", "event": "note", "payload": {"n": 1}}
    assert not await database_sync_to_async(StreamEvent.objects.exists)()
    await a.disconnect()


@pytest.mark.django_db(transaction=True)
def test_without_a_hub_bulk_events_go_through_redis_pipelines_in_order(redis_url, monkeypatch):
    """A process without a hub (a management command, a script) publishes
    through channels_redis' pub/sub layer in pipelines; each group keeps its order."""
    from asgiref.sync import async_to_sync
    from channels_redis.pubsub import RedisPubSubChannelLayer

    from realtime import publish as publishing
    from realtime.hub import group_name

    layer = RedisPubSubChannelLayer(hosts=[{"address": redis_url, "socket_timeout": None}], prefix="test-bulk")
    monkeypatch.setattr(publishing, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(publishing, "running_hub", lambda: None)
    monkeypatch.setattr(publishing, "PIPELINE_SIZE", 7)  # several pipelines

    async def scenario() -> list[list[dict]]:
        channel = await layer.new_channel()
        for topic in ("test:p1", "test:p2"):
            await layer.group_add(group_name(topic), channel)

        def bulk() -> None:
            with transaction.atomic():
                events = [("test:p1", "bulk", {"n": n}) for n in range(10)]
                events += [("test:p2", "bulk", {"n": n}) for n in range(10)]
                events += [(f"test:nobody{n}", "bulk", {}) for n in range(5)]
                publish_many(events)

        await database_sync_to_async(bulk)()
        received = [await layer.receive(channel) for _ in range(20)]
        await layer.flush()
        return received

    received = async_to_sync(scenario)()
    for topic in ("test:p1", "test:p2"):
        frames = [json.loads(message["frame"]) for message in received if message["key"] == topic]
        assert [frame["payload"]["n"] for frame in frames] == list(range(10))
        assert [frame["seq"] for frame in frames] == list(range(1, 11))
