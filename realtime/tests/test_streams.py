"""Streams: gap-free seqs under concurrent writers, resume, reset and retention."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from realtime.models import Stream, StreamEvent
from realtime.publish import publish, rewrite
from realtime.streams import stream_append, stream_events_deferred, stream_last_seq, stream_resume, stream_trim


def append(topic: str, count: int) -> list[int]:
    seqs = []
    for i in range(count):
        with transaction.atomic():
            seqs.append(publish(topic, "tick", {"i": i}, replayable=True))
    return seqs


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_gap_free_unique_seqs():
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            results.append(append("test:busy", 25))
        except BaseException as error:  # collected and re-raised in the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    every = sorted(seq for seqs in results for seq in seqs)
    assert every == list(range(1, 151))
    stored = list(StreamEvent.objects.filter(topic="test:busy").order_by("seq").values_list("seq", flat=True))
    assert stored == every
    # Each writer saw its own seqs increase.
    assert all(seqs == sorted(seqs) for seqs in results)


@pytest.mark.django_db(transaction=True)
def test_rolled_back_write_leaves_no_gap_and_publishes_nothing():
    append("test:tx", 2)
    with pytest.raises(RuntimeError), transaction.atomic():
        publish("test:tx", "tick", {}, replayable=True)
        raise RuntimeError("rollback")
    assert append("test:tx", 1) == [3]


@pytest.mark.django_db(transaction=True)
def test_resume_returns_exactly_the_missed_events_in_order():
    append("test:r", 30)
    resume = stream_resume(topic="test:r", since=20)
    assert resume.reset is False
    import json

    frames = [json.loads(frame) for frame in resume.frames]
    assert [frame["seq"] for frame in frames] == list(range(21, 31))
    assert frames[0] == {"op": "event", "topic": "test:r", "event": "tick", "payload": {"i": 20}, "seq": 21}
    assert stream_resume(topic="test:r", since=30).frames == []


@pytest.mark.django_db(transaction=True)
@override_settings(REALTIME_HISTORY_LIMIT=5)
def test_resume_past_history_limit_or_ahead_resets():
    append("test:r", 10)
    assert stream_resume(topic="test:r", since=5).reset is False
    assert stream_resume(topic="test:r", since=4).reset is True
    assert stream_resume(topic="test:r", since=11).reset is True


@pytest.mark.django_db(transaction=True)
def test_trim_by_count_and_age_then_resume_resets():
    append("test:t", 10)
    assert stream_trim(keep=4, days=7) == 6
    assert stream_resume(topic="test:t", since=5).reset is True
    assert len(stream_resume(topic="test:t", since=6).frames) == 4
    StreamEvent.objects.filter(topic="test:t", seq__lte=8).update(created_at=timezone.now() - timedelta(days=9))
    assert stream_trim(keep=100, days=7) == 2
    assert stream_resume(topic="test:t", since=8).frames[0].count('"seq":9') == 1
    # seqs keep increasing after a trim
    assert append("test:t", 1) == [11]
    assert stream_last_seq("test:t") == 11


@pytest.mark.django_db(transaction=True)
def test_trim_command_uses_settings(capsys):
    append("test:c", 3)
    with override_settings(REALTIME_RETENTION_COUNT=1):
        call_command("realtime_trim")
    assert "Deleted 2 stream events." in capsys.readouterr().out


@pytest.mark.django_db
def test_rewrite_replaces_stored_payloads_for_later_resumes():
    append("test:redact", 3)

    with transaction.atomic():
        assert rewrite("test:redact", [1, 3, 99], {"i": "redacted"}) == 2

    frames = stream_resume(topic="test:redact", since=0).frames
    assert frames[0] == '{"op":"event","topic":"test:redact","event":"tick","payload":{"i":"redacted"},"seq":1}'
    assert '"payload":{"i":1}' in frames[1] and '"payload":{"i":"redacted"},"seq":3' in frames[2]


@pytest.mark.django_db
def test_an_append_whose_write_did_not_happen_gives_its_seq_back():
    append("test:back", 2)
    with transaction.atomic():
        assert stream_append(topic="test:back", event="tick", encode_frame=lambda seq: None) is None
        assert publish("test:back", "tick", lambda seq: None, replayable=True) is None
    assert stream_last_seq("test:back") == 2
    assert append("test:back", 1) == [3]
    assert list(StreamEvent.objects.filter(topic="test:back").values_list("seq", flat=True)) == [1, 2, 3]
    # A topic's first append given back leaves no stream behind.
    with transaction.atomic():
        assert publish("test:never", "tick", lambda seq: None, replayable=True) is None
    assert not Stream.objects.filter(topic="test:never").exists()
    assert append("test:never", 1) == [1]


@pytest.mark.django_db
def test_deferred_events_are_stored_at_the_end_of_the_block_and_dropped_with_an_error():
    with transaction.atomic(), stream_events_deferred():
        seqs = [publish(topic, "tick", {"n": 1}, replayable=True) for topic in ("test:a", "test:b", "test:a")]
        assert not StreamEvent.objects.filter(topic__in=["test:a", "test:b"]).exists()
    assert seqs == [1, 1, 2]
    stored = StreamEvent.objects.filter(topic__in=["test:a", "test:b"]).order_by("topic", "seq")
    assert [(event.topic, event.seq) for event in stored] == [("test:a", 1), ("test:a", 2), ("test:b", 1)]

    with pytest.raises(RuntimeError), transaction.atomic(), stream_events_deferred():
        publish("test:a", "tick", {"n": 2}, replayable=True)
        raise RuntimeError("the batch failed")
    assert stream_last_seq("test:a") == 2
    assert StreamEvent.objects.filter(topic="test:a").count() == 2
