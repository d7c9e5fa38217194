"""Streams: gap-free per-topic `seq`, stored replayable events, resume and retention.

A seq is taken with one `UPDATE ... RETURNING` on the topic's Stream row inside the
caller's transaction. The row lock (PostgreSQL) or the database write lock (SQLite
in IMMEDIATE mode) holds other writers of the topic until commit, and a rollback
gives the number back, so seqs are strictly increasing and gap-free.
"""

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from realtime.models import Stream, StreamEvent


@dataclass(slots=True)
class Resume:
    """What a rejoining client missed: the stored frames, or `reset` when they cannot all be given.

    `seq` is the stream's head when read, so a client that saw no event yet knows where to resume.
    """

    frames: list[str]
    reset: bool
    seq: int


def _next_seq(topic: str) -> int:
    table = connection.ops.quote_name(Stream._meta.db_table)
    with connection.cursor() as cursor:
        for _ in range(2):
            cursor.execute(f"UPDATE {table} SET last_seq = last_seq + 1 WHERE topic = %s RETURNING last_seq", [topic])  # noqa: S608
            row = cursor.fetchone()
            if row is not None:
                return int(row[0])
            # First event of this topic: create the row (a concurrent creator wins harmlessly).
            cursor.execute(
                f"INSERT INTO {table} (topic, last_seq) VALUES (%s, 0) ON CONFLICT (topic) DO NOTHING",  # noqa: S608
                [topic],
            )
    raise RuntimeError(f"Could not allocate a seq for {topic!r}.")


def stream_append(*, topic: str, event: str, encode_frame: Callable[[int], str | None]) -> tuple[int, str] | None:
    """Assigns the next seq of `topic` and stores the event frame, in the caller's transaction.

    `encode_frame(seq)` returns the frame text for that seq, or None when the write it
    describes did not happen after all: then the seq is given back and nothing is stored
    (None is returned). Returns (seq, frame). An exception (from `encode_frame` too) fails
    the caller's whole transaction: no savepoint of its own, which would cost two more
    statements per event.
    """
    with transaction.atomic(savepoint=False):
        seq = _next_seq(topic)
        frame = encode_frame(seq)
        if frame is None:
            # This transaction holds the stream's row (or SQLite's write lock) since it took
            # the seq, so no later seq was taken: one step back leaves the stream gap-free.
            _give_back_seq(topic)
            return None
        deferred = getattr(_deferred, "rows", None)
        if deferred is not None:
            deferred.append((topic, seq, event, frame))
        else:
            _insert_events([(topic, seq, event, frame)], timezone.now())
    return seq, frame


# The event rows of the innermost `stream_events_deferred` block of this thread, if any.
_deferred = threading.local()


@contextmanager
def stream_events_deferred() -> Iterator[None]:
    """Within this block (inside a transaction), `stream_append` keeps the event rows and
    the block stores them when it ends, with one multi-row insert per 500 instead of one
    statement per event: for a group commit of many sends. Seqs are still taken at once.
    The rows are dropped when the block ends by an exception (the caller's transaction
    then rolls back the seqs too). Nothing in the block may read the events it appended.
    """
    if getattr(_deferred, "rows", None) is not None:  # already deferring: the outer block stores them
        yield
        return
    rows: list[tuple[str, int, str, str]] = []
    _deferred.rows = rows
    try:
        yield
    finally:
        _deferred.rows = None
    now = timezone.now()
    for start in range(0, len(rows), BULK_CHUNK):
        _insert_events(rows[start : start + BULK_CHUNK], now)


def _give_back_seq(topic: str) -> None:
    table = connection.ops.quote_name(Stream._meta.db_table)
    with connection.cursor() as cursor:
        # Giving back seq 1 leaves a stream without events: remove the row rather than keep
        # one behind for every topic anyone tried to write to (a post to a missing channel).
        cursor.execute(f"DELETE FROM {table} WHERE topic = %s AND last_seq = 1", [topic])  # noqa: S608
        if cursor.rowcount == 0:
            cursor.execute(f"UPDATE {table} SET last_seq = last_seq - 1 WHERE topic = %s", [topic])  # noqa: S608


# Topics per statement in the bulk path: well under SQLite's and PostgreSQL's parameter limits.
BULK_CHUNK = 500


def stream_append_many(*, items: Sequence[tuple[str, str, Callable[[int], str]]]) -> list[tuple[int, str]]:
    """`stream_append` for many events at once, in the caller's transaction: (topic, event,
    encode_frame) each; returns (seq, frame) for each, in the order given.

    For fan-outs to many topics (a notification to 10,000 inboxes): the seqs of each
    chunk of topics are taken with one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`
    (creating the streams that do not exist yet) and the frames stored with one
    multi-row insert, instead of two statements per event. Events of one topic get
    consecutive seqs in the order given. Rows are written in topic order, so two bulk
    appends over overlapping topics lock them in the same order and cannot deadlock.
    """
    counts = Counter(topic for topic, _, _ in items)
    first_seq: dict[str, int] = {}
    topics = sorted(counts)
    results: list[tuple[int, str]] = []
    with transaction.atomic(savepoint=False):
        for start in range(0, len(topics), BULK_CHUNK):
            for topic, last_seq in _advance([(topic, counts[topic]) for topic in topics[start : start + BULK_CHUNK]]):
                first_seq[topic] = last_seq - counts[topic] + 1
        rows: list[tuple[str, int, str, str]] = []
        for topic, event, encode_frame in items:
            seq = first_seq[topic]
            first_seq[topic] = seq + 1
            frame = encode_frame(seq)
            results.append((seq, frame))
            rows.append((topic, seq, event, frame))
        now = timezone.now()
        for start in range(0, len(rows), BULK_CHUNK):
            _insert_events(rows[start : start + BULK_CHUNK], now)
    return results


def _advance(counts: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Adds each count to its topic's last seq (a missing stream starts at 0); the new last seqs."""
    table = connection.ops.quote_name(Stream._meta.db_table)
    values = ", ".join(["(%s, %s)"] * len(counts))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (topic, last_seq) VALUES {values} "  # noqa: S608
            f"ON CONFLICT (topic) DO UPDATE SET last_seq = {table}.last_seq + excluded.last_seq "
            "RETURNING topic, last_seq",
            [value for pair in counts for value in pair],
        )
        rows = [(str(topic), int(last_seq)) for topic, last_seq in cursor.fetchall()]
    if len(rows) != len(counts):
        raise RuntimeError("Could not allocate seqs for every topic.")
    return rows


def _insert_events(rows: list[tuple[str, int, str, str]], created_at: datetime) -> None:
    """One multi-row insert of stored events (without the ORM: no model instance per row)."""
    table = connection.ops.quote_name(StreamEvent._meta.db_table)
    stamp = StreamEvent._meta.get_field("created_at").get_db_prep_save(created_at, connection)
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (topic, seq, event, frame, created_at) VALUES {values}",  # noqa: S608
            [value for row in rows for value in (*row, stamp)],
        )


def stream_last_seq(topic: str) -> int:
    """The topic's head: the seq of its last event, 0 before the first.

    Raw SQL: every join reads it, and the ORM took fifty times longer to compile the
    query than SQLite to answer it.
    """
    table = connection.ops.quote_name(Stream._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_seq FROM {table} WHERE topic = %s", [topic])  # noqa: S608 (a table name)
        row = cursor.fetchone()
    return int(row[0]) if row is not None else 0


def stream_resume(*, topic: str, since: int | None, last: int | None = None) -> Resume:
    """Every event of `topic` after `since`, in order, or `reset` when more than the history
    limit were missed, when some were trimmed, or when `since` is ahead of the stream.
    With `since` None (a first join) nothing is missed. `last` is the head if the caller
    already read it (a join reads it before the state its reply carries)."""
    limit = settings.REALTIME_HISTORY_LIMIT
    last = stream_last_seq(topic) if last is None else last
    if since is None or since == last:
        return Resume(frames=[], reset=False, seq=last)
    if since > last or last - since > limit:
        return Resume(frames=[], reset=True, seq=last)
    rows = list(
        StreamEvent.objects.filter(topic=topic, seq__gt=since).order_by("seq").values_list("seq", "frame")[: limit + 1]
    )
    if not rows or rows[0][0] != since + 1 or len(rows) > limit:
        return Resume(frames=[], reset=True, seq=last)
    return Resume(frames=[frame for _, frame in rows], reset=False, seq=max(last, rows[-1][0]))


def stream_trim(*, keep: int | None = None, days: int | None = None) -> int:
    """Deletes events past the retention count per topic or older than the retention age.

    Stream rows stay, so seqs keep increasing after a trim. Returns the number deleted.
    """
    keep = settings.REALTIME_RETENTION_COUNT if keep is None else keep
    days = settings.REALTIME_RETENTION_DAYS if days is None else days
    deleted, _ = StreamEvent.objects.filter(created_at__lt=timezone.now() - timedelta(days=days)).delete()
    for topic, last_seq in Stream.objects.filter(last_seq__gt=keep).values_list("topic", "last_seq").iterator():
        count, _ = StreamEvent.objects.filter(topic=topic, seq__lte=last_seq - keep).delete()
        deleted += count
    return deleted
