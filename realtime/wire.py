"""Writing WebSocket frames straight to the socket, for the servers where that is safe.

A server-to-client text frame is the same bytes for every recipient (servers never
mask), so fan-out builds it once and writes that one `bytes` object to each
connection's transport. Going through ASGI `send` instead costs a coroutine, the
server's own framing and, on daphne, autobahn's per-message work, for every
recipient. A `RawWriter` exists only for servers whose protocol objects we know
(daphne, uvicorn's default websockets-sansio implementation); anywhere else the
consumer falls back to ASGI `send`.

Each writer also refuses a frame once the connection's unsent output would pass its
bound, which is how the consumer drops a client that stops reading (daphne applies no
backpressure at all).

Made once the WebSocket is accepted, a writer also lets go of what the server keeps of
the handshake and never reads again (request and response headers, the query string with
the token, on daphne the upgraded HTTP channel), 3-4 KB on every idle connection
(docs/performance.md).
"""

from abc import ABC, abstractmethod
from functools import partial
from typing import Any


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented text frame (RFC 6455 section 5.2)."""
    length = len(payload)
    if length < 126:
        header = bytes((0x81, length))
    elif length < 65536:
        header = bytes((0x81, 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + length.to_bytes(8, "big")
    return header + payload


class RawWriter(ABC):
    """Writes prepared frames to one connection's socket while its WebSocket is open.

    One subclass per server; `send` is the whole per-recipient write of a fan-out (no
    further Python calls), so keep it short.
    """

    __slots__ = ("limit", "protocol", "transport")
    # Starts the closing handshake with a code the server's own close refuses
    # (False: ASGI's websocket.close takes every code).
    can_close_any_code = False

    def __init__(self, protocol: Any, transport: Any, limit: int) -> None:
        self.protocol = protocol
        self.transport = transport
        # Unsent bytes past which the client counts as not reading (REALTIME_MAX_BUFFERED_BYTES).
        self.limit = limit

    @abstractmethod
    def send(self, frame: bytes) -> bool:
        """Writes the frame (nothing once the WebSocket is closing); False, with nothing
        written, when the connection's unsent output would pass the limit."""

    @abstractmethod
    def abort(self) -> None:
        """Drops the TCP connection at once, unsent output and all."""

    def close(self, code: int) -> None:
        """Starts the closing handshake with `code`: only writers whose server's own close
        refuses some codes (`can_close_any_code`) do it; the others close through ASGI."""
        raise NotImplementedError(f"{type(self).__name__} closes through the server's websocket.close")


def raw_writer_for(send: Any, limit: int) -> RawWriter | None:
    """A RawWriter for the connection behind an ASGI server's `send`, or None if unknown."""
    if isinstance(send, partial) and send.args:
        return _daphne(send.args[0], limit)
    server_protocol = getattr(send, "__self__", None)
    if server_protocol is not None and type(server_protocol).__module__.startswith("uvicorn.protocols.websockets"):
        return _uvicorn_sansio(server_protocol, limit)
    return None


class DaphneWriter(RawWriter):
    """daphne: autobahn's protocol on a Twisted TCP transport.

    Twisted's `write` only buffers and registers the socket with the reactor; its asyncio
    reactor then adds the file descriptor to epoll, writes on the next loop turn and removes
    it again: two `epoll_ctl` calls and a loop callback per frame, most of daphne's fan-out
    cost. When Twisted has nothing buffered, the frame goes straight to the non-blocking
    socket instead (what uvloop's `write` does); only what the kernel does not take, and
    every frame behind it, goes through Twisted's buffer, so the order holds.
    """

    __slots__ = ()
    can_close_any_code = True

    def send(self, frame: bytes) -> bool:
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return True
        transport = self.transport
        pending = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        if not pending and transport.connected and not transport.disconnecting:
            try:
                sent = transport.socket.send(frame)
            except OSError:
                # Full (EAGAIN) or broken: Twisted's own write below retries, or meets the
                # error and loses the connection the way it always does.
                sent = 0
            if sent == len(frame):
                return True
            frame = frame[sent:]
        elif pending + len(frame) > self.limit:
            return False
        transport.write(frame)
        return True

    def abort(self) -> None:
        self.protocol.dropConnection(abort=True)

    def close(self, code: int) -> None:
        # autobahn's sendClose (daphne's websocket.close) refuses 1001 and 1011, which the
        # protocol uses (draining, server error); its close-frame writer takes any code.
        self.protocol.sendCloseFrame(code=code)


def _daphne(protocol: Any, limit: int) -> RawWriter | None:
    # daphne's send is partial(Server.handle_reply, protocol); the protocol is autobahn's.
    transport = getattr(protocol, "transport", None)
    if (
        transport is None
        or not hasattr(protocol, "STATE_OPEN")
        or not hasattr(transport, "dataBuffer")
        or not hasattr(transport, "socket")
        or getattr(transport, "TLS", False)  # bytes must go through the TLS layer
    ):
        return None
    if protocol.state == protocol.STATE_OPEN:
        _release_daphne_handshake(protocol, transport)
    return DaphneWriter(protocol, transport, limit)


def _release_daphne_handshake(protocol: Any, transport: Any) -> None:
    from twisted.web.http import HTTPChannel  # only under daphne

    # The HTTP channel that upgraded the connection stays the transport's producer, which
    # keeps it and its request (headers, body buffer) alive; it pauses nothing while its
    # request is in progress, which the upgraded one always is, so nothing changes without it.
    if isinstance(transport.producer, HTTPChannel):
        transport.unregisterProducer()
    # autobahn's parsed request (its headers and query parameters are the dicts the
    # ConnectionRequest holds, so they are emptied in place; daphne logs request.path later),
    # the raw request and daphne's copies of the headers and query string: read only while
    # the handshake runs (pinned daphne 4.2.3, autobahn 26.11.1).
    protocol.http_headers.clear()
    protocol.http_request_params.clear()
    protocol.http_request_data = b""
    protocol.http_status_line = ""
    protocol.http_request_uri = ""
    protocol.clean_headers = []
    protocol._raw_query_string = b""


class UvicornWriter(RawWriter):
    """uvicorn's websockets-sansio protocol on an asyncio (uvloop) transport, whose `write`
    already sends at once when nothing is buffered.

    Every way uvicorn's protocol stops being open (the client's close, a keepalive timeout,
    a parser error, shutdown) closes the transport, and our own close marks the connection
    closed first, so `is_closing()` is the whole open check."""

    __slots__ = ()

    def send(self, frame: bytes) -> bool:
        transport = self.transport
        if transport.is_closing():
            return True
        if transport.get_write_buffer_size() + len(frame) > self.limit:
            return False
        transport.write(frame)
        return True

    def abort(self) -> None:
        self.transport.abort()


def _uvicorn_sansio(protocol: Any, limit: int) -> RawWriter | None:
    transport = getattr(protocol, "transport", None)
    # uvloop's transports are not asyncio.Transport subclasses; check for what is used.
    if (
        transport is None
        or not hasattr(transport, "get_write_buffer_size")
        or getattr(protocol, "conn", None) is None
        or not hasattr(protocol, "close_sent")
    ):
        return None
    if protocol.handshake_complete:
        _release_uvicorn_handshake(protocol)
    return UvicornWriter(protocol, transport, limit)


def _release_uvicorn_handshake(protocol: Any) -> None:
    # uvicorn reads its request and response only until the handshake completes (pinned
    # uvicorn 0.54.0); websockets' parser generator keeps the request object alive too, so
    # its headers are emptied in place.
    protocol.request.headers.clear()
    protocol.request = protocol.response = None
