"""The load generator: asyncio WebSocket clients in several worker processes.

Each worker process runs one event loop (uvloop when installed) holding many clients,
and obeys commands from the orchestrator (bench/run.py) sent over a pipe: connect
clients (and join a topic), publish messages, chat, report what was received.

Two client dialects share everything but the framing of their messages:

- `v1`: this project's protocol v1 (docs/protocol.md): `hello`, `join` with a reply
  carrying the topic's seq head, `send` `message.create`, and `event` frames
  `message.created` with a `seq`. A connection that drops unexpectedly reconnects
  and re-joins with `since` = the last seq it saw (protocol section 5), as every
  client is told to.
- `sio`: Socket.IO 4 over a raw WebSocket (Engine.IO 4, `transport=websocket`):
  `0{...}` open, `40` namespace connect, `42[...]` events, `43<id>[...]` acks, and
  `2`/`3` ping/pong.

Every message's body is the JSON `{"t": send time, "i": message id, "p": phase}`, so
receivers measure end-to-end latency (same machine, same clock) and count, per
receiving client, each message id once: repeats are duplicates, ids never seen are
lost. Receivers also check that `seq` grows by exactly one (order, no gaps).

The WebSocket client is a small RFC 6455 implementation on `asyncio.Protocol` rather
than the `websockets` package: receiving is where the load generator spends its time
(it shares the machine with the server), and parsing frames directly costs a few
microseconds per message instead of tens.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import multiprocessing
import os
import random
import sys
import threading
import time
import traceback
from abc import ABC, abstractmethod
from array import array
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, cast

import orjson

loads = orjson.loads
dumps = orjson.dumps


# -- WebSocket framing ---------------------------------------------------------------


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client-to-server frame (clients must mask, RFC 6455 section 5.3)."""
    length = len(payload)
    if length < 126:
        header = bytes((0x80 | opcode, 0x80 | length))
    elif length < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
    mask = os.urandom(4)
    if not payload:
        return header + mask
    repeated = (mask * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")
    return header + mask + masked


class WebSocket(asyncio.Protocol):
    """One client WebSocket: handshake, unmasked server frames in, masked frames out.

    `on_text(bytes)` gets each complete text message; `on_open()` and
    `on_close(code)` bracket the connection. Pings are answered, a close is echoed.
    No extensions are offered (no permessage-deflate), as for every server here.
    """

    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        on_open: Callable[[], None],
        on_text: Callable[[bytes], None],
        on_close: Callable[[int | None], None],
    ) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.on_open = on_open
        self.on_text = on_text
        self.on_close = on_close
        self.transport: asyncio.Transport | None = None
        self.open = False
        self.buffer = b""
        self.fragments: list[bytes] | None = None
        self.close_code: int | None = None
        self.closing = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # create_connection() on a TCP socket gives a full transport; uvloop's is not an
        # asyncio.Transport subclass, so this is a cast rather than an isinstance check.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.lost = True
        self.on_close(self.close_code)

    def data_received(self, data: bytes) -> None:
        if not self.open:
            self.buffer += data
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = self.buffer[: self.buffer.find(b"\r\n")]
            data, self.buffer = self.buffer[end + 4 :], b""
            if b" 101 " not in status:
                self.close_code = -int(status.split()[1]) if len(status.split()) > 1 else -1
                assert self.transport is not None  # data arrives only after connection_made()
                self.transport.close()
                return
            self.open = True
            self.on_open()
            if not data:
                return
        buffer = self.buffer + data if self.buffer else data
        size = len(buffer)
        pos = 0
        on_text = self.on_text
        while size - pos >= 2:
            first = buffer[pos]
            length = buffer[pos + 1] & 0x7F
            masked = buffer[pos + 1] & 0x80
            header = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 4], "big")
                header = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 10], "big")
                header = 10
            if masked:  # servers never mask; tolerate it anyway
                header += 4
            end = pos + header + length
            if end > size:
                break
            payload = buffer[pos + header : end]
            if masked:
                mask = buffer[end - length - 4 : end - length]
                repeated = (mask * (length // 4 + 1))[:length]
                payload = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")
            pos = end
            opcode = first & 0x0F
            if opcode == 1 and first & 0x80:
                on_text(payload)
            elif opcode in (0, 1, 2):  # fragmented message
                if opcode:
                    self.fragments = [payload]
                elif self.fragments is not None:
                    self.fragments.append(payload)
                if first & 0x80 and self.fragments is not None:
                    whole, self.fragments = b"".join(self.fragments), None
                    on_text(whole)
            elif opcode == 9:
                assert self.transport is not None  # data arrives only after connection_made()
                self.transport.write(_masked_frame(10, payload))
            elif opcode == 8:
                assert self.transport is not None  # data arrives only after connection_made()
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                if not self.closing:
                    self.closing = True
                    self.transport.write(_masked_frame(8, payload[:2]))
                self.transport.close()
                break
        self.buffer = buffer[pos:] if pos < size else b""

    def send_text(self, text: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_masked_frame(1, text))

    def close(self, code: int = 1000) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if self.open and not self.closing:
            self.closing = True
            self.transport.write(_masked_frame(8, code.to_bytes(2, "big")))
            # The server answers with its close frame, then we close the socket.
            asyncio.get_running_loop().call_later(2.0, self.transport.close)
        else:
            self.transport.close()


# -- statistics ----------------------------------------------------------------------


class PhaseStats:
    """What the clients of one worker received in one phase (messages carry their phase)."""

    __slots__ = ("duplicated", "first", "last", "latencies", "seq_gaps", "seq_repeats", "unique")

    def __init__(self) -> None:
        self.unique = 0
        self.duplicated = 0
        self.seq_gaps = 0  # an event skipped seqs (v1: the client re-joins to fill the gap)
        self.seq_repeats = 0  # an event with a seq already seen (v1: dropped, as the protocol says)
        self.latencies = array("d")
        self.first = 0.0
        self.last = 0.0

    def summary(self) -> dict[str, Any]:
        return {"unique": self.unique, "duplicated": self.duplicated, "last": self.last}


class Stats:
    def __init__(self) -> None:
        self.phases: dict[int, PhaseStats] = {}
        self.disconnects = 0
        self.resumes = 0
        self.frame_errors = 0
        self.errors: list[str] = []

    def phase(self, code: int) -> PhaseStats:
        stats = self.phases.get(code)
        if stats is None:
            stats = self.phases[code] = PhaseStats()
        return stats

    def error(self, text: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(text)


# -- clients -------------------------------------------------------------------------


class Client(ABC):
    """One connection of either dialect; subclasses parse and build the frames."""

    path = "/"

    def __init__(self, worker: Worker, host: str, port: int, token: str | None, record: bool) -> None:
        self.worker = worker
        self.host = host
        self.port = port
        self.token = token
        self.record = record  # receivers record deliveries; the publisher does not
        self.ws: WebSocket | None = None
        self.ready: asyncio.Future[None] | None = None
        self.pending: dict[str, asyncio.Future[Any]] = {}
        self.seen: set[int] = set()
        self.last_seq: int | None = None
        self.topic: str | None = None
        self.refs = 0
        self.closing = False
        self.connected = False

    async def connect(self, timeout: float = 60) -> None:
        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        ws = self.ws = WebSocket(self.host, self.port, self.path, self._on_open, self._on_text_checked, self._on_close)
        await asyncio.wait_for(loop.create_connection(lambda: ws, self.host, self.port), timeout)
        await asyncio.wait_for(self.ready, timeout)
        self.connected = True

    def next_ref(self) -> str:
        self.refs += 1
        return str(self.refs)

    def request(self, frame: bytes, ref: str) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        self.pending[ref] = future
        assert self.ws is not None, "request() before connect()"
        self.ws.send_text(frame)
        return future

    def _on_open(self) -> None:  # noqa: B027 - an optional hook
        """Called when the WebSocket handshake completes; clients wait for their first frame instead."""

    @abstractmethod
    def _on_text(self, raw: bytes) -> None:
        """Handles one text frame of this dialect."""

    @abstractmethod
    async def join(self, topic: str, since: int | None = None) -> None:
        """Joins `topic` (from seq `since`, where the dialect has seqs) and waits for the reply."""

    async def join_inbox(self) -> None:
        """Joins the user's inbox besides the topic (protocol v1 only)."""
        raise NotImplementedError(f"{type(self).__name__} has no inbox")

    @abstractmethod
    def send_message(self, body: str, client_id: str) -> asyncio.Future[Any]:
        """Publishes `body` to the joined topic; the future gets the server's reply."""

    @staticmethod
    @abstractmethod
    def reply_ok(reply: Any) -> bool:
        """Whether the reply to `send_message` (decoded JSON of the dialect) accepted the message."""

    def _on_text_checked(self, raw: bytes) -> None:
        try:
            self._on_text(raw)
        except Exception as error:  # a frame we could not handle: reported, never fatal
            self.worker.stats.frame_errors += 1
            self.worker.stats.error(f"frame {raw[:120]!r}: {error!r}")

    def _on_close(self, code: int | None) -> None:
        if self.ready is not None and not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before ready (code {code})"))
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"closed (code {code})"))
        self.pending.clear()
        if self.connected and not self.closing:
            self.worker.stats.disconnects += 1
            self.worker.stats.error(f"unexpected close {code}")
            self.connected = False
            self.on_lost()

    def on_lost(self) -> None:  # noqa: B027 - an optional hook
        """Called when a connection that was ready drops."""

    def count(self, body: str) -> None:
        """One message delivered to the application: latency, and counted once per message id."""
        now = time.time()
        try:
            data = loads(body)
            ident = data["i"]
            sent = data["t"]
            code = data["p"]
        except (ValueError, KeyError, TypeError):
            return
        stats = self.worker.stats.phase(code)
        if ident in self.seen:
            stats.duplicated += 1
        else:
            self.seen.add(ident)
            stats.unique += 1
        stats.latencies.append(now - sent)
        if not stats.first:
            stats.first = now
        stats.last = now

    def phase_of(self, body: str) -> PhaseStats | None:
        try:
            return self.worker.stats.phase(loads(body)["p"])
        except (ValueError, KeyError, TypeError):
            return None

    def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            self.ws.close()


class V1Client(Client):
    """Protocol v1 (docs/protocol.md), including what section 5 asks of every client: drop an
    event whose seq was seen, re-join with `since` on a gap, and resume after a reconnect."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.path = f"/ws/?token={self.token}" if self.token else "/ws/"
        self.join_refs: set[str] = set()
        self.refilling = False

    def _on_text(self, raw: bytes) -> None:
        frame = loads(raw)
        op = frame.get("op")
        if op == "event":
            if frame.get("event") == "message.created" and self.record:
                self.on_message(frame["payload"]["message"]["body"], frame.get("seq"))
        elif op == "reply":
            ref = frame.get("ref")
            if ref in self.join_refs:
                # Before any later frame of this read: the missed events precede the live ones.
                self.join_refs.discard(ref)
                self.on_join_reply(frame)
            future = self.pending.pop(ref, None)
            if future is not None and not future.done():
                future.set_result(frame)
        elif op == "hello":
            if self.ready is not None and not self.ready.done():
                self.ready.set_result(None)
        elif op == "error":
            self.worker.stats.error(f"error frame {frame.get('error')}")

    def on_message(self, body: str, seq: int | None) -> None:
        if seq is not None and self.last_seq is not None:
            if seq <= self.last_seq:
                stats = self.phase_of(body)
                if stats is not None:
                    stats.seq_repeats += 1
                return
            if seq > self.last_seq + 1:
                # Dropped here; the re-join's `missed` brings it with the ones skipped.
                stats = self.phase_of(body)
                if stats is not None:
                    stats.seq_gaps += 1
                if not self.refilling:
                    self.refilling = True
                    asyncio.get_running_loop().create_task(self._refill())
                return
        if seq is not None:
            self.last_seq = seq
        self.count(body)

    def on_join_reply(self, reply: dict[str, Any]) -> None:
        if not reply.get("ok"):
            return
        payload = reply["payload"]
        if self.last_seq is None:
            # Section 8: the reply carries the stream head; live events follow it.
            self.last_seq = payload.get("seq", 0)
        for missed in payload.get("missed") or ():
            # The same frames as sent live, so the same handler (section 5).
            self._on_text(dumps(missed))
        if payload.get("reset"):
            self.worker.stats.error("join reply with reset: missed events are lost")

    async def join(self, topic: str, since: int | None = None) -> None:
        ref = self.next_ref()
        frame: dict[str, Any] = {"op": "join", "ref": ref, "topic": topic}
        if since is not None:
            frame["params"] = {"since": since}
        self.join_refs.add(ref)
        reply = await asyncio.wait_for(self.request(dumps(frame), ref), 120)
        if not reply.get("ok"):
            raise RuntimeError(f"join {topic} failed: {reply.get('error')}")
        self.topic = topic

    async def join_inbox(self) -> None:
        """Joins the user's inbox besides the topic; its events (`unread`) are not counted."""
        ref = self.next_ref()
        reply = await asyncio.wait_for(self.request(dumps({"op": "join", "ref": ref, "topic": "inbox"}), ref), 120)
        if not reply.get("ok"):
            raise RuntimeError(f"join inbox failed: {reply.get('error')}")

    async def _refill(self) -> None:
        try:
            if self.topic is None:  # a gap seen before join() recorded its topic
                raise RuntimeError("no topic joined yet")
            await self.join(self.topic, since=self.last_seq)
        except Exception as error:
            self.worker.stats.error(f"re-join after a gap failed: {error!r}")
        finally:
            self.refilling = False

    def send_message(self, body: str, client_id: str) -> asyncio.Future[Any]:
        ref = self.next_ref()
        frame = {
            "op": "send",
            "ref": ref,
            "topic": self.topic,
            "event": "message.create",
            "payload": {"body": body, "client_id": client_id},
        }
        return self.request(dumps(frame), ref)

    @staticmethod
    def reply_ok(reply: Any) -> bool:
        return bool(reply.get("ok"))

    def on_lost(self) -> None:
        # Resume like every client must (protocol section 5): reconnect, re-join with since.
        if self.topic is not None:
            asyncio.get_running_loop().create_task(self._resume(self.topic))

    async def _resume(self, topic: str) -> None:
        for attempt in range(10):
            await asyncio.sleep(0.2 * (attempt + 1))
            try:
                await self.connect()
                await self.join(topic, since=self.last_seq)
                self.worker.stats.resumes += 1
                return
            except Exception as error:
                self.worker.stats.error(f"resume failed: {error!r}")


class SioClient(Client):
    """Socket.IO 4 (Engine.IO 4) over a WebSocket, namespace `/`."""

    path = "/socket.io/?EIO=4&transport=websocket"

    def _on_text(self, raw: bytes) -> None:
        kind = raw[:2]
        if kind == b"42":
            name, payload = loads(raw[2:])
            if name == "message" and self.record:
                self.on_message(payload["message"]["body"], payload["message"].get("seq"))
        elif kind == b"43":
            bracket = raw.index(b"[")
            future = self.pending.pop(raw[2:bracket].decode(), None)
            if future is not None and not future.done():
                future.set_result(loads(raw[bracket:]))
        elif raw == b"2":
            assert self.ws is not None  # frames come from self.ws
            self.ws.send_text(b"3")
        elif kind[:1] == b"0":
            assert self.ws is not None  # frames come from self.ws
            self.ws.send_text(b"40")  # Engine.IO open: connect the main namespace
        elif kind == b"40":
            if self.ready is not None and not self.ready.done():
                self.ready.set_result(None)
        elif kind in (b"41", b"44"):
            self.worker.stats.error(f"namespace refused: {raw[:200]!r}")

    def on_message(self, body: str, seq: int | None) -> None:
        # Socket.IO has no resume: gaps and repeats are only counted.
        if seq is not None and self.last_seq is not None and seq != self.last_seq + 1:
            stats = self.phase_of(body)
            if stats is not None:
                if seq > self.last_seq:
                    stats.seq_gaps += 1
                else:
                    stats.seq_repeats += 1
        if seq is not None and (self.last_seq is None or seq > self.last_seq):
            self.last_seq = seq
        self.count(body)

    async def join(self, topic: str, since: int | None = None) -> None:
        ref = self.next_ref()
        reply = await asyncio.wait_for(self.request(b"42" + ref.encode() + dumps(["join", topic]), ref), 120)
        self.topic = topic
        self.last_seq = reply[0].get("seq", 0)

    def send_message(self, body: str, client_id: str) -> asyncio.Future[Any]:
        ref = self.next_ref()
        frame = b"42" + ref.encode() + dumps(["publish", {"room": self.topic, "body": body, "client_id": client_id}])
        return self.request(frame, ref)

    @staticmethod
    def reply_ok(reply: Any) -> bool:
        return bool(reply and reply[0].get("message"))


class ShareClient(V1Client):
    """A `share:<token>` viewer or its owner (the share scenario): a progress entry's note carries
    the message body, and `room.updated` frames are counted. The owner's topic is given as
    `share:<token>#<goal id>`, the goal its `progress.publish` records progress on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.goal: int | None = None
        self.rooms = 0
        self.last_viewers: int | None = None

    def _on_text(self, raw: bytes) -> None:
        frame = loads(raw)
        if frame.get("op") != "event":
            super()._on_text(raw)
        elif frame.get("event") == "room.updated":
            self.rooms += 1
            self.last_viewers = frame["payload"]["viewers"]
        elif frame.get("event") == "progress.updated" and self.record:
            entry = frame["payload"].get("entry")
            if entry is not None:
                self.on_message(entry["note"], frame.get("seq"))

    async def join(self, topic: str, since: int | None = None) -> None:
        topic, _, goal = topic.partition("#")
        if goal:
            self.goal = int(goal)
        await super().join(topic, since)

    def send_message(self, body: str, client_id: str) -> asyncio.Future[Any]:
        ref = self.next_ref()
        data = {"goal": self.goal, "delta": 1, "note": body}
        frame = {
            "op": "send",
            "ref": ref,
            "topic": self.topic,
            "event": "progress.publish",
            "payload": {"type": "progress", "data": data, "client_id": client_id},
        }
        return self.request(dumps(frame), ref)


CLIENTS: dict[str, type[Client]] = {"v1": V1Client, "sio": SioClient, "share": ShareClient}


def message_body(ident: int, phase: int) -> str:
    return f'{{"t":{time.time():.6f},"i":{ident},"p":{phase}}}'


# -- worker process ------------------------------------------------------------------


class Worker:
    """One load-generator process: its clients and the commands it obeys."""

    def __init__(self, pipe: Any, index: int) -> None:
        self.pipe = pipe
        self.index = index
        self.clients: list[Client] = []
        self.stats = Stats()
        self.done = asyncio.get_running_loop().create_future()

    def read_commands(self, loop: asyncio.AbstractEventLoop) -> None:
        """In a thread: blocking reads of the pipe (large commands arrive in pieces)."""
        while True:
            try:
                call_id, command, kwargs = self.pipe.recv()
            except (EOFError, OSError):
                loop.call_soon_threadsafe(self.finish)
                return
            loop.call_soon_threadsafe(self.start_command, call_id, command, kwargs)

    def start_command(self, call_id: int, command: str, kwargs: dict[str, Any]) -> None:
        asyncio.get_running_loop().create_task(self.run_command(call_id, command, kwargs))

    def finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    async def run_command(self, call_id: int, command: str, kwargs: dict[str, Any]) -> None:
        try:
            result: Any = await getattr(self, "cmd_" + command)(**kwargs)
            reply = (call_id, True, result)
        except Exception:
            reply = (call_id, False, traceback.format_exc())
        self.pipe.send(reply)

    async def cmd_exit(self) -> None:
        asyncio.get_running_loop().call_later(0.1, self.finish)

    async def cmd_connect(
        self,
        kind: str,
        targets: list[tuple[str, int]],
        tokens: list[str | None],
        topics: list[str | None],
        concurrency: int,
        record: bool = True,
        timeout: float = 60,
        inbox: bool = False,
    ) -> dict[str, Any]:
        """Connects one client per token (to targets[i % len]) and joins its topic, if any (and,
        with `inbox`, its inbox: protocol v1 only)."""
        client_class = CLIENTS[kind]
        limit = asyncio.Semaphore(concurrency)
        started = time.time()
        ready_times: list[float] = []
        failures: list[str] = []

        async def one(index: int, token: str | None, topic: str | None) -> None:
            host, port = targets[index % len(targets)]
            client = client_class(self, host, port, token, record)
            async with limit:
                try:
                    await client.connect(timeout)
                    ready_times.append(time.time())
                    if topic is not None:
                        await client.join(topic)
                    if inbox:
                        await client.join_inbox()
                    self.clients.append(client)
                except Exception as error:
                    failures.append(repr(error))
                    client.close()

        await asyncio.gather(
            *(one(i, token, topic) for i, (token, topic) in enumerate(zip(tokens, topics, strict=True)))
        )
        return {
            "ready": len(self.clients),
            "failed": len(failures),
            "failures": failures[:5],
            "started": started,
            "ready_times": ready_times,
            "joined_at": time.time(),
        }

    async def cmd_publish(
        self, phase: int, first_id: int, count: int, interval: float, window: int, max_seconds: float
    ) -> dict[str, Any]:
        """The first client sends `count` messages: every `interval` s, or (interval 0) as fast as
        replies come back with at most `window` unanswered; stops early after `max_seconds`."""
        client = self.clients[0]
        loop = asyncio.get_running_loop()
        outstanding: set[asyncio.Future[Any]] = set()
        slots = asyncio.Semaphore(window)
        errors: list[str] = []
        acked = 0
        sent = 0

        def answered(future: asyncio.Future[Any]) -> None:
            nonlocal acked
            outstanding.discard(future)
            slots.release()
            if future.cancelled() or future.exception() is not None:
                errors.append(repr(future.exception()))
            elif client.reply_ok(future.result()):
                acked += 1
            elif len(errors) < 5:
                errors.append(str(future.result())[:300])

        started = time.time()
        start_clock = loop.time()
        for n in range(count):
            if interval:
                delay = start_clock + n * interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            await slots.acquire()
            if time.time() - started > max_seconds:
                slots.release()
                break
            ident = first_id + n
            future = client.send_message(message_body(ident, phase), f"b{phase}-{ident}")
            sent += 1
            outstanding.add(future)
            future.add_done_callback(answered)
        last_send = time.time()
        if outstanding:
            await asyncio.wait(set(outstanding), timeout=120)
        return {
            "sent": sent,
            "acked": acked,
            "errors": errors[:5],
            "started": started,
            "last_send": last_send,
            "last_ack": time.time(),
        }

    async def cmd_chat(self, phase: int, id_base: int, per_client: int, max_seconds: float) -> dict[str, Any]:
        """Every client sends `per_client` messages to its topic, each after the previous reply
        (none started after `max_seconds`)."""
        errors: list[str] = []
        acked = 0
        sent = 0
        started = time.time()

        async def talk(client: Client, slot: int) -> None:
            nonlocal acked, sent
            for n in range(per_client):
                if time.time() - started > max_seconds:
                    return
                sent += 1
                ident = id_base + slot * per_client + n
                try:
                    reply = await asyncio.wait_for(
                        client.send_message(message_body(ident, phase), f"c{phase}-{ident}"), 60
                    )
                except Exception as error:
                    errors.append(repr(error))
                    continue
                if client.reply_ok(reply):
                    acked += 1
                elif len(errors) < 5:
                    errors.append(str(reply)[:300])

        await asyncio.gather(*(talk(client, slot) for slot, client in enumerate(self.clients)))
        return {"sent": sent, "acked": acked, "errors": errors[:5], "started": started, "finished": time.time()}

    async def cmd_status(self) -> dict[int, dict[str, Any]]:
        return {code: stats.summary() for code, stats in self.stats.phases.items()}

    async def cmd_report(self, phase: int) -> dict[str, Any]:
        stats = self.stats.phase(phase)
        return {
            "unique": stats.unique,
            "duplicated": stats.duplicated,
            "seq_gaps": stats.seq_gaps,
            "seq_repeats": stats.seq_repeats,
            "first": stats.first,
            "last": stats.last,
            "latencies": stats.latencies.tobytes(),
            "disconnects": self.stats.disconnects,
            "resumes": self.stats.resumes,
            "frame_errors": self.stats.frame_errors,
            "errors": self.stats.errors[:10],
            "clients": len(self.clients),
        }

    async def cmd_drop(self, count: int) -> int:
        """Aborts the TCP connections of `count` clients (no close frame), to exercise resuming."""
        dropped = 0
        for client in random.sample(self.clients, min(count, len(self.clients))):
            if client.ws is not None and client.ws.transport is not None:
                client.ws.transport.abort()
                dropped += 1
        return dropped

    async def cmd_rooms(self) -> list[tuple[int, int | None]]:
        """(room.updated frames, viewers in the last one) of each recording share client."""
        return [(c.rooms, c.last_viewers) for c in self.clients if isinstance(c, ShareClient) and c.record]

    async def cmd_close(self) -> dict[str, Any]:
        for client in self.clients:
            client.close()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(c.ws and c.ws.transport and not c.ws.lost for c in self.clients):
            await asyncio.sleep(0.02)
        closed = len(self.clients)
        self.clients = []
        self.stats = Stats()
        return {"closed": closed}


def _worker_main(pipe: Any, index: int, cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()

    async def serve() -> None:
        worker = Worker(pipe, index)
        loop = asyncio.get_running_loop()
        threading.Thread(target=worker.read_commands, args=(loop,), daemon=True).start()
        await worker.done

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


# -- orchestrator side ---------------------------------------------------------------


class LoadGenerator:
    """The worker processes, driven by blocking calls from the orchestrator."""

    def __init__(self, workers: int, cpus: set[int] | None = None) -> None:
        context = multiprocessing.get_context("fork")
        self.pipes: list[Connection] = []
        self.processes: list[BaseProcess] = []
        self.pids: list[int] = []
        self.calls = 0
        for index in range(workers):
            parent, child = context.Pipe()
            process = context.Process(target=_worker_main, args=(child, index, cpus), daemon=True)
            process.start()
            child.close()
            assert process.pid is not None  # set by start()
            self.pipes.append(parent)
            self.processes.append(process)
            self.pids.append(process.pid)

    def send(self, worker: int, command: str, **kwargs: Any) -> int:
        self.calls += 1
        self.pipes[worker].send((self.calls, command, kwargs))
        return self.calls

    def wait(self, worker: int, call_id: int, timeout: float = 600) -> Any:
        pipe = self.pipes[worker]
        if not pipe.poll(timeout):
            raise TimeoutError(f"load generator worker {worker} did not answer in {timeout} s")
        got, ok, result = pipe.recv()
        if got != call_id:
            raise RuntimeError(f"worker {worker}: answer {got} to call {call_id}")
        if not ok:
            raise RuntimeError(f"load generator worker {worker} failed:\n{result}")
        return result

    def call(self, worker: int, command: str, timeout: float = 600, **kwargs: Any) -> Any:
        return self.wait(worker, self.send(worker, command, **kwargs), timeout)

    def call_each(self, calls: dict[int, dict[str, Any]], command: str, timeout: float = 600) -> dict[int, Any]:
        """The same command to several workers at once (each with its own arguments)."""
        ids = {worker: self.send(worker, command, **kwargs) for worker, kwargs in calls.items()}
        return {worker: self.wait(worker, call_id, timeout) for worker, call_id in ids.items()}

    def stop(self) -> None:
        for worker, process in enumerate(self.processes):
            if process.is_alive():
                with contextlib.suppress(Exception):
                    self.send(worker, "exit")
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)


def main_guard() -> None:  # pragma: no cover - a helpful message when run directly
    sys.exit("bench/loadgen.py is a module of bench/run.py; run .venv/bin/python bench/run.py --help")


if __name__ == "__main__":
    main_guard()
