"""The `upload` scenario (bench/run.py): one client uploads a file over tus in 1 MiB PATCHes
to one server process while a watcher follows `upload:<id>` on the same process.

Reported: throughput (MB/s, 10^6 bytes, from the first PATCH to the `completed` event),
the progress events the watcher got (at most 10 per second by design), and the server's
CPU time over the upload, per MiB and per progress event. The per-event figure divides
*all* the server's CPU time in the upload (receiving and writing the bytes, the offset
records, processing) by the events, so it is an upper bound on what an event costs.
Ours only: the Socket.IO peer has no uploads.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from run import Run

CHUNK = 1024 * 1024


def _request(port: int, method: str, path: str, token: str, body: bytes | None = None, **headers: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(method, path, body=body, headers={"Authorization": f"Bearer {token}", **headers})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def _watch(port: int, token: str, topic: str, ready: threading.Event, events: list[tuple[float, str]]) -> None:
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{port}/ws/", max_size=None) as socket:
        json.loads(socket.recv())  # hello
        socket.send(json.dumps({"op": "auth", "ref": "a", "token": token}))
        socket.send(json.dumps({"op": "join", "ref": "j", "topic": topic}))
        while True:
            frame = json.loads(socket.recv(timeout=120))
            if frame.get("op") == "reply" and frame.get("ref") == "j":
                if not frame["ok"]:
                    raise RuntimeError(f"join failed: {frame}")
                ready.set()
            elif frame.get("op") == "event":
                events.append((time.monotonic(), frame["event"]))
                if frame["event"] in ("completed", "failed", "cancelled"):
                    return


def scenario(run: Run) -> list[dict[str, Any]]:
    from run import PEER

    if run.target == PEER:
        return []
    size_mib = 16 if run.bench.args.quick else 64
    content = b"%PDF-1.4\n" + os.urandom(size_mib * CHUNK - 9)
    token = run.token(0)
    assert token is not None
    previous = os.environ.get("MEDIA_ROOT")
    os.environ["MEDIA_ROOT"] = str(run.bench.workdir / f"media-{run.target}")  # the server stores here, not in the repo
    try:
        procs = run.start("upload")
    finally:
        if previous is None:
            os.environ.pop("MEDIA_ROOT", None)
        else:
            os.environ["MEDIA_ROOT"] = previous
    try:
        result = _measure(run, procs, content, size_mib, token)
    finally:
        errors = run.stop(procs)
    result["server_errors"] = errors
    return [result]


def _measure(run: Run, procs: list[Any], content: bytes, size_mib: int, token: str) -> dict[str, Any]:
    from run import Meter, log

    port = procs[0].port
    body = {"category": "personal", "files": [{"name": "bench.pdf", "size": len(content), "type": "application/pdf"}]}
    status, data = _request(
        port, "POST", "/api/uploads/sessions/", token, json.dumps(body).encode(), **{"Content-Type": "application/json"}
    )
    if status != 201:
        raise RuntimeError(f"creating the upload session answered {status}: {data[:300]!r}")
    session = json.loads(data)
    path = "/" + session["files"][0]["upload_url"].split("/", 3)[3]
    events: list[tuple[float, str]] = []
    ready = threading.Event()
    watcher = threading.Thread(target=_watch, args=(port, token, f"upload:{session['id']}", ready, events), daemon=True)
    watcher.start()
    if not ready.wait(30):
        raise RuntimeError("the watcher did not join")
    meter = Meter(run.bench, procs)
    meter.wait_quiet()
    log(f"{run.target}: upload: {size_mib} MiB in 1 MiB PATCHes, one watcher")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    before = meter.snapshot()
    started = time.monotonic()
    for offset in range(0, len(content), CHUNK):
        connection.request(
            "PATCH",
            path,
            body=content[offset : offset + CHUNK],
            headers={
                "Authorization": f"Bearer {token}",
                "Tus-Resumable": "1.0.0",
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": str(offset),
            },
        )
        response = connection.getresponse()
        response.read()
        if response.status != 204:
            raise RuntimeError(f"PATCH at {offset} answered {response.status}")
    connection.close()
    watcher.join(60)
    finished = events[-1][0] if events and events[-1][1] == "completed" else time.monotonic()
    after = meter.snapshot()
    spent = Meter.diff(before, after)
    seconds = max(finished - started, 1e-9)
    progress = [at for at, name in events if name == "progress"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(progress)]
    return {
        "scenario": "upload",
        "server": run.target,
        "mib": size_mib,
        "chunk_bytes": CHUNK,
        "patches": -(-len(content) // CHUNK),
        "seconds": round(seconds, 3),
        "mb_per_s": round(len(content) / seconds / 1e6, 1),
        "completed": bool(events) and events[-1][1] == "completed",
        "progress_events": len(progress),
        "progress_events_per_s": round(len(progress) / seconds, 2),
        "min_gap_ms": round(min(gaps) * 1000, 1) if gaps else None,
        "server_cpu_s": round(spent["server"], 3),
        "server_cpu_cores": round(spent["server"] / max(spent["time"], 1e-9), 3),
        "server_cpu_ms_per_mib": round(spent["server"] * 1000 / size_mib, 2),
        "server_cpu_ms_per_progress_event": round(spent["server"] * 1000 / max(len(progress), 1), 2),
    }
