"""A client that stops reading is dropped before it can grow daphne's memory without bound."""

import asyncio
import json
import socket

import pytest
import websockets

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.mark.parametrize("kind", ["daphne", "uvicorn"])
def test_connection_that_stops_reading_is_dropped(servers, kind):
    server = servers(
        {"REALTIME_MAX_BUFFERED_BYTES": str(1024 * 1024), "REALTIME_RATE": "100000/100000"}, name="slow", kind=kind
    )
    text = "x" * 30_000

    async def scenario() -> tuple[bool, int]:
        # max_queue=1 and no recv(): the client library stops reading the socket, like a stuck tab.
        stuck = await websockets.connect(server.ws_url, max_queue=1)
        await stuck.send(json.dumps({"op": "join", "ref": "1", "topic": "test:firehose"}))
        writer = await websockets.connect(server.ws_url)
        await writer.recv()  # hello
        await writer.send(json.dumps({"op": "join", "ref": "1", "topic": "test:firehose"}))
        while json.loads(await writer.recv()).get("ref") != "1":
            pass
        baseline = rss_kib(server.process.pid)
        # ~18 MB for the stuck client, 18 times the bound and far past kernel buffers, sent in
        # full even after the drop: a server that buffered without bound would grow by all of it.
        for i in range(600):
            await writer.send(
                json.dumps(
                    {"op": "send", "ref": f"s{i}", "topic": "test:firehose", "event": "echo", "payload": {"text": text}}
                )
            )
            while True:
                frame = json.loads(await writer.recv())
                if frame.get("ref") == f"s{i}":
                    break
        growth = rss_kib(server.process.pid) - baseline
        await writer.close()
        # The stuck tab reads again: it gets what was buffered before the drop, then the end.
        received = 0
        try:
            while True:
                received += len(await asyncio.wait_for(stuck.recv(), 10))
        except websockets.ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else 1006
        return "not reading its frames" in server.log(), growth, received, code

    dropped, growth_kib, received, code = asyncio.run(scenario())
    assert dropped, server.log()[-2000:]
    assert code == 1006  # the TCP connection was aborted: no close frame behind the unread data
    # At most the bound plus what kernel buffers held, never the 18 MB that was published.
    assert received < 8 * 1024 * 1024, f"the stuck client still got {received} bytes"
    # Measured: 3-4 MiB on both servers (it was 22 MiB while DEBUG logged every query).
    assert growth_kib < 6 * 1024, f"server grew by {growth_kib} KiB"


@pytest.mark.parametrize("kind", ["daphne", "uvicorn"])
def test_connection_that_reads_late_gets_every_frame_whole_and_in_order(servers, kind):
    # Frames go straight to the socket until the kernel takes no more; the rest of a frame,
    # and every frame behind it, waits in the server's buffer. Odd sizes split frames anywhere.
    server = servers(
        {"REALTIME_MAX_BUFFERED_BYTES": str(64 * 1024 * 1024), "REALTIME_RATE": "100000/100000"}, name="late", kind=kind
    )
    count = 200

    async def scenario() -> list[dict]:
        # A small receive buffer, so the kernel holds little of what the server writes.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        sock.connect(("127.0.0.1", server.port))
        late = await websockets.connect(server.ws_url, sock=sock, max_queue=1, max_size=None)
        await late.recv()  # hello
        await late.send(json.dumps({"op": "join", "ref": "1", "topic": "test:firehose"}))
        await late.recv()  # the join reply; from here on this client reads nothing for a while
        writer = await websockets.connect(server.ws_url, max_size=None)
        await writer.recv()
        await writer.send(json.dumps({"op": "join", "ref": "1", "topic": "test:firehose"}))
        while json.loads(await writer.recv()).get("ref") != "1":
            pass
        for i in range(count):  # 10 MB: far past what the kernel holds for a reader that waits
            text = str(i) * (50_001 // len(str(i)))
            await writer.send(
                json.dumps(
                    {"op": "send", "ref": f"s{i}", "topic": "test:firehose", "event": "echo", "payload": {"text": text}}
                )
            )
            while json.loads(await writer.recv()).get("ref") != f"s{i}":
                pass
        await writer.close()
        events: list[dict] = []
        while len(events) < count:
            frame = json.loads(await asyncio.wait_for(late.recv(), 10))
            if frame.get("event") == "echoed":  # (presence frames come in between)
                events.append(frame)
        await late.close()
        return events

    events = asyncio.run(scenario())
    assert [event["payload"]["text"] for event in events] == [str(i) * (50_001 // len(str(i))) for i in range(count)]
    assert [event["seq"] for event in events] == list(range(events[0]["seq"], events[0]["seq"] + count))
    assert "not reading its frames" not in server.log()
