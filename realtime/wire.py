"""Writing WebSocket frames straight to the socket, for the servers where that is safe.

A server-to-client text frame is the same bytes for every recipient (servers never
mask), so fan-out builds it once and writes that one `bytes` object to each
connection's transport. Going through ASGI `send` instead costs a coroutine, the
server's own framing and, on daphne, autobahn's per-message work, for every
recipient. A `RawWriter` exists only for servers whose protocol objects we know
(daphne, uvicorn's default websockets-sansio implementation); anywhere else the
consumer falls back to ASGI `send`.

Each writer also reports how many bytes wait unsent, which is how the consumer
bounds a client that stops reading (daphne applies no backpressure at all).
"""

from collections.abc import Callable
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


class RawWriter:
    """Writes prepared frames to one connection's transport while its WebSocket is open."""

    __slots__ = ("abort", "buffered", "close", "is_open", "transport")

    def __init__(
        self,
        transport: Any,
        is_open: Callable[[], bool],
        buffered: Callable[[], int],
        abort: Callable[[], None],
        close: Callable[[int], None] | None = None,
    ) -> None:
        self.transport = transport
        self.is_open = is_open
        self.buffered = buffered
        self.abort = abort
        # Starts the closing handshake with a code the server's own close refuses
        # (None: ASGI's websocket.close takes every code).
        self.close = close

    def write(self, frame: bytes) -> bool:
        """Writes the frame; False when the WebSocket is no longer open (nothing written)."""
        if not self.is_open():
            return False
        self.transport.write(frame)
        return True


def raw_writer_for(send: Any) -> RawWriter | None:
    """A RawWriter for the connection behind an ASGI server's `send`, or None if unknown."""
    if isinstance(send, partial) and send.args:
        return _daphne(send.args[0])
    server_protocol = getattr(send, "__self__", None)
    if server_protocol is not None and type(server_protocol).__module__.startswith("uvicorn.protocols.websockets"):
        return _uvicorn_sansio(server_protocol)
    return None


def _daphne(protocol: Any) -> RawWriter | None:
    # daphne's send is partial(Server.handle_reply, protocol); the protocol is autobahn's.
    transport = getattr(protocol, "transport", None)
    if transport is None or not hasattr(protocol, "STATE_OPEN") or not hasattr(transport, "dataBuffer"):
        return None

    def buffered() -> int:
        # Twisted keeps unsent bytes in dataBuffer (from offset) plus a list of pending writes.
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen

    return RawWriter(
        transport,
        is_open=lambda: protocol.state == protocol.STATE_OPEN,
        buffered=buffered,
        abort=lambda: protocol.dropConnection(abort=True),
        # autobahn's sendClose (daphne's websocket.close) refuses 1001 and 1011, which the
        # protocol uses (draining, server error); its close-frame writer takes any code.
        close=lambda code: protocol.sendCloseFrame(code=code),
    )


def _uvicorn_sansio(protocol: Any) -> RawWriter | None:
    transport = getattr(protocol, "transport", None)
    conn = getattr(protocol, "conn", None)
    # uvloop's transports are not asyncio.Transport subclasses; check for what is used.
    if (
        transport is None
        or not hasattr(transport, "get_write_buffer_size")
        or conn is None
        or not hasattr(protocol, "close_sent")
    ):
        return None
    from websockets.protocol import State

    return RawWriter(
        transport,
        is_open=lambda: not protocol.close_sent and conn.state is State.OPEN and not transport.is_closing(),
        buffered=transport.get_write_buffer_size,
        abort=transport.abort,
    )
