"""publish(): the one way any code sends a realtime event (docs/protocol.md section 6)."""

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from realtime import protocol, registry
from realtime.hub import CLOSE_REMOVED, EVENT_TYPE, USERS_GROUP, group_name, running_hub
from realtime.models import StreamEvent
from realtime.streams import stream_append, stream_append_many

logger = logging.getLogger(__name__)

# Lists that record every publish while a test's `captured_publishes()` is active
# (realtime.testing); empty in production, so publishing pays one truth test.
recorders: list[list[tuple[str, str, Any, bool]]] = []
# Channel-layer sends publish_many keeps in flight at once, in a process without a hub.
BULK_SENDS_IN_FLIGHT = 64
# Messages per Redis pipeline in publish_many's sends (channels_redis' pub/sub layer).
PIPELINE_SIZE = 1000


def publish(
    topic: str, event: str, payload: Any, *, replayable: bool = False, exclude: str | None = None
) -> int | None:
    """Sends `event` to every connection on `topic` (a topic key), in every server process.

    Replayable events get the topic's next `seq` and are stored in the caller's
    transaction (so call it inside the service's `transaction.atomic()`), then go
    out after commit; a rolled-back write publishes nothing. Ephemeral events go out
    after commit too when called inside a transaction, else at once. `exclude` is a
    connection id that must not receive it (typing). Works from sync and async code;
    the frame is encoded here, once. Returns the seq of a replayable event.

    `payload` may be a callable taking the assigned seq and returning the payload, for
    objects that carry their own seq (a chat message is stored with it); when it returns
    None (it wrote nothing after all), nothing is stored or published, the seq is given
    back and None is returned, with no savepoint needed to undo the seq.
    """
    client_topic = registry.client_topic(topic)
    if replayable:

        def encode_frame(seq: int) -> str | None:
            data = payload(seq) if callable(payload) else payload
            if data is None:
                return None
            for recorder in recorders:
                recorder.append((topic, event, data, True))
            return protocol.event_frame(client_topic, event, data, seq)

        appended = stream_append(topic=topic, event=event, encode_frame=encode_frame)
        if appended is None:
            return None
        seq, frame = appended
        transaction.on_commit(lambda: broadcast(topic, frame, exclude), robust=True)
        return seq
    for recorder in recorders:
        recorder.append((topic, event, payload, False))
    frame = protocol.event_frame(client_topic, event, payload)
    if _on_event_loop():
        broadcast(topic, frame, exclude)
    else:
        transaction.on_commit(lambda: broadcast(topic, frame, exclude), robust=True)
    return None


def publish_many(events: Iterable[tuple[str, str, Any]], *, replayable: bool = True) -> list[int]:
    """Publishes many events, (topic key, event, payload) each, like `publish()` one by one:
    replayable ones stored with bulk statements (`stream_append_many`), and all of them
    handed to the channel layer in one hop after commit.

    For one change that reaches many topics (a notification to 10,000 inboxes, their
    `unread` counters). Call it inside the service's transaction (ephemeral events outside
    one go out at once); the frames go out after commit, each encoded once, in the order
    given within each topic. Returns the seqs of replayable events, in that order.
    """
    if not replayable:
        frames = []
        for topic, event, payload in events:
            for recorder in recorders:
                recorder.append((topic, event, payload, False))
            frames.append((topic, protocol.event_frame(registry.client_topic(topic), event, payload)))
        if frames and _on_event_loop():
            _broadcast_many(frames)
        elif frames:
            transaction.on_commit(lambda: _broadcast_many(frames), robust=True)
        return []
    items = [(topic, event, _frame_encoder(topic, event, payload)) for topic, event, payload in events]
    results = stream_append_many(items=items)
    frames = [(topic, frame) for (topic, _, _), (_, frame) in zip(items, results, strict=True)]
    transaction.on_commit(lambda: _broadcast_many(frames), robust=True)
    return [seq for seq, _ in results]


def _frame_encoder(topic: str, event: str, payload: Any) -> Callable[[int], str]:
    client_topic = registry.client_topic(topic)

    def encode_frame(seq: int) -> str:
        for recorder in recorders:
            recorder.append((topic, event, payload, True))
        return protocol.event_frame(client_topic, event, payload, seq)

    return encode_frame


def _broadcast_many(frames: list[tuple[str, str]]) -> None:
    """`broadcast` of each (topic, frame), through one hop to the hub's loop or the layer; never raises."""
    send_hub_messages(
        [
            (
                group_name(topic),
                {"type": EVENT_TYPE, "key": topic, "frame": frame, "exclude": None, "revoke_user": None, "close": None},
            )
            for topic, frame in frames
        ]
    )


def send_hub_messages(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Sends each (group, hub message) to the processes subscribed to the group, in order
    within each group: through one hop to this process's hub, or the layer; never raises."""
    try:
        hub = running_hub()
        if hub is not None:

            def send_all() -> None:
                for group, message in messages:
                    hub.send_group(group, message)

            if _on_event_loop(hub.loop):
                send_all()
            else:
                hub.loop.call_soon_threadsafe(send_all)
            return
        layer = get_channel_layer()
        by_group: dict[str, list[dict[str, Any]]] = {}
        for group, message in messages:
            by_group.setdefault(group, []).append(message)
        # Round trips to Redis overlap across groups; each group's events stay in order.
        limit = asyncio.Semaphore(BULK_SENDS_IN_FLIGHT)

        async def send_group(group: str, group_messages: list[dict[str, Any]]) -> None:
            async with limit:
                for message in group_messages:
                    try:
                        await layer.group_send(group, message)
                    except Exception:
                        logger.exception("Publishing to %s failed", message.get("key") or group)

        async def send_through_layer() -> None:
            if not await _send_pipelined(layer, by_group):
                await asyncio.gather(*(send_group(group, items) for group, items in by_group.items()))

        if _on_event_loop():
            asyncio.get_running_loop().create_task(send_through_layer())
        else:
            async_to_sync(send_through_layer)()
    except Exception:
        # The writes these events describe are committed; clients recover them by seq.
        logger.exception("Publishing %d events failed", len(messages))


async def _send_pipelined(layer: Any, by_group: dict[str, list[dict[str, Any]]]) -> bool:
    """Publishes every message through Redis pipelines (a round trip per 1,000, not one per
    message) when `layer` is channels_redis' pub/sub layer; False for any other layer.

    channels_redis publishes one message per round trip behind a per-shard lock, so
    10,000 inbox events cost about 7 s on this machine. This takes the same lock, uses the
    same group channel names, shards and serialisation (channels_redis 4.3, pinned), and
    keeps each group's messages in order.
    """
    loop_layer_of = getattr(layer, "_get_layer", None)
    if loop_layer_of is None or not hasattr(layer, "serialize"):
        return False
    loop_layer = loop_layer_of()
    by_shard: dict[Any, list[tuple[str, bytes]]] = {}
    for group, group_messages in by_group.items():
        channel = loop_layer._get_group_channel_name(group)
        shard = loop_layer._get_shard(channel)
        by_shard.setdefault(shard, []).extend((channel, layer.serialize(message)) for message in group_messages)
    for shard, items in by_shard.items():
        async with shard._lock:
            shard._ensure_redis()
            for start in range(0, len(items), PIPELINE_SIZE):
                batch = items[start : start + PIPELINE_SIZE]
                try:
                    async with shard._redis.pipeline(transaction=False) as pipe:
                        for channel, data in batch:
                            pipe.publish(channel, data)
                        await pipe.execute()
                except Exception:
                    # Committed writes: their clients recover the events by seq.
                    logger.exception("Publishing %d events through Redis failed", len(batch))
    return True


def rewrite(topic: str, seqs: Iterable[int], payload: Any) -> int:
    """Replaces the payload of stored replayable events of `topic`, keeping their event names and seqs.

    For redaction: once a message is deleted (or edited), clients that resume must not
    be replayed the text its earlier events carried. Call it inside the transaction of
    the change, which publishes its own event for connected clients; nothing is sent
    here. Events already trimmed are skipped. Returns how many events were rewritten.
    """
    client_topic = registry.client_topic(topic)
    rewritten = 0
    for stored in StreamEvent.objects.filter(topic=topic, seq__in=list(seqs)).only("pk", "seq", "event"):
        stored.frame = protocol.event_frame(client_topic, stored.event, payload, stored.seq)
        stored.save(update_fields=["frame"])
        rewritten += 1
    return rewritten


def debounce(key: str, seconds: float, func: Callable[[], None]) -> None:
    """Runs `func` (sync, may use the ORM and publish) once, `seconds` after the first call
    with `key`; calls with the same key until then are merged into that one run.

    For derived state that many writes change at once (unread counters after each
    message in a busy channel): clients get the state after the burst, not once per
    write. Call it after commit. Without a running hub (a management command, a
    worker) `func` runs at once.
    """
    hub = running_hub()
    if hub is None:
        func()
    elif _on_event_loop(hub.loop):
        hub.debounce(key, seconds, func)
    else:
        hub.loop.call_soon_threadsafe(hub.debounce, key, seconds, func)


def revoke(topic: str, *, user_id: int | None = None, conn_id: str | None = None, close: bool = False) -> None:
    """Removes every connection of `user_id` (or the one connection `conn_id`, or everyone)
    from `topic`, in every process.

    For memberships that ended (a user left or was removed, a share ended): their
    connections stop receiving the topic and leave its presence; a later send gets
    `not_joined` and a re-join is authorised afresh. With `close`, those connections
    are closed with 4403 instead, for removals the client must not undo by rejoining
    (a ban, a kicked viewer). Publish the event that explains it first: it arrives
    before the removal. Takes effect after commit.
    """
    code = CLOSE_REMOVED if close else None
    transaction.on_commit(
        lambda: broadcast(topic, None, revoke_user=user_id, revoke_conn=conn_id, close=code), robust=True
    )


def disconnect_user(user_id: int) -> None:
    """Closes every connection of the user, on every process, with 4403 (after commit).

    For a user who may no longer be connected at all (deactivated): their identity is
    refused from then on, so the client does not get back in by reconnecting.
    """
    message = {"type": EVENT_TYPE, "key": None, "frame": None, "disconnect_user": user_id, "close": CLOSE_REMOVED}
    transaction.on_commit(lambda: _send(USERS_GROUP, message, topic=None), robust=True)


def broadcast(
    topic: str,
    frame: str | None,
    exclude: str | None = None,
    *,
    revoke_user: int | None = None,
    revoke_conn: str | None = None,
    close: int | None = None,
) -> None:
    """Delivers an encoded frame (or a revocation when `frame` is None) to every process
    subscribed to `topic`; never raises."""
    message = {
        "type": EVENT_TYPE,
        "key": topic,
        "frame": frame,
        "exclude": exclude,
        "revoke_user": revoke_user,
        "revoke_conn": revoke_conn,
        "close": close,
    }
    _send(group_name(topic), message, topic=topic)


def _send(group: str, message: dict[str, Any], *, topic: str | None) -> None:
    """Sends a hub message to a group: through this process's hub (ordered with its
    other sends) or, in a process without one, through the channel layer; never raises."""
    try:
        hub = running_hub()
        if hub is not None:
            if _on_event_loop(hub.loop):
                hub.send_group(group, message)
            else:
                hub.loop.call_soon_threadsafe(hub.send_group, group, message)
            return
        # No hub in this process (a management command, a worker): send through the layer.
        layer = get_channel_layer()
        if _on_event_loop():
            asyncio.get_running_loop().create_task(layer.group_send(group, message))
        else:
            async_to_sync(layer.group_send)(group, message)
    except Exception:
        # The write this event describes is committed; clients recover it by seq.
        logger.exception("Publishing to %s failed", topic or group)


def _on_event_loop(loop: asyncio.AbstractEventLoop | None = None) -> bool:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        return False
    return loop is None or running is loop
