"""One notification to many users: the bulk service (`notifications_bulk_create`) timed
against the one-at-a-time path it replaces.

    .venv/bin/python bench/notifications_bulk.py                      # SQLite in a temp dir, 10,000 users
    .venv/bin/python bench/notifications_bulk.py --db-url postgres://postgres@127.0.0.1:5432 --redis-url redis://127.0.0.1:6379/0

With `--db-url` a database `bench_notify_<pid>` is created there and dropped at the end;
with `--redis-url` every event is published through the Redis channel layer (as a
management command or a worker without a realtime hub does). Each run: seed the users
(bulk inserts), then time one bulk call to all of them (stored, stream events, one
publish per inbox after commit, `unread` for the online ones), then a second one with a
`group_key` that replaces the first (updates instead of inserts), then `--single`
recipients through `notification_create` one by one, for the per-recipient cost of the
path the bulk one replaces. With `--online N` (needs `--redis-url`), N of the users
first connect to a uvicorn process (bench/servers.py, production settings) and join
their inbox, and the first bulk call is also timed until the last of them has received
its `notification.created`. Prints a markdown table and JSON.
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import servers  # noqa: E402 (bench/servers.py, found through the path above)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--single", type=int, default=300, help="recipients notified one at a time")
    parser.add_argument("--db-url", default="", help="PostgreSQL server URL (without database); default SQLite")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--online", type=int, default=0, help="users connected to a server (needs --redis-url)")
    args = parser.parse_args()
    if args.online and not args.redis_url:
        parser.error("--online needs --redis-url: the server process and this one share Redis")
    # The server's settings (secret key, production mode), so its tokens are valid here too.
    os.environ.update(servers.SERVER_ENV)

    tmp = tempfile.TemporaryDirectory()
    database = f"bench_notify_{os.getpid()}"
    if args.db_url:
        import psycopg

        with psycopg.connect(f"{args.db_url}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        os.environ["DATABASE_URL"] = f"{args.db_url}/{database}"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp.name}/bench.sqlite3"
    if args.redis_url:
        os.environ["REDIS_URL"] = args.redis_url
        os.environ["REALTIME_REDIS_PREFIX"] = f"bench{os.getpid()}"
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    try:
        results = run(args, Path(tmp.name))
    finally:
        if args.db_url:
            from django.db import connections

            connections.close_all()
            import psycopg

            with psycopg.connect(f"{args.db_url}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        tmp.cleanup()
    backend = ("postgresql" if args.db_url else "sqlite") + (" + redis" if args.redis_url else " + in-memory layer")
    print(f"\n{backend}, {args.users} users\n")
    print("| step | recipients | seconds | per recipient |")
    print("|---|---|---|---|")
    for name, count, seconds in results:
        print(f"| {name} | {count} | {seconds:.2f} | {seconds / max(count, 1) * 1000:.2f} ms |")
    print(json.dumps({"backend": backend, "results": results}))


def run(args: argparse.Namespace, workdir: Path) -> list[tuple[str, int, float]]:
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import User
    from notifications.models import Notification
    from notifications.services import notification_create, notifications_bulk_create
    from realtime.models import StreamEvent

    password = make_password(None)
    User.objects.bulk_create(
        [User(username=f"bench{i}", password=password, display_name=f"Bench {i}") for i in range(args.users)],
        batch_size=1000,
    )
    results: list[tuple[str, int, float]] = []

    def first_bulk() -> int:
        return notifications_bulk_create(user_ids=None, kind="system", title="Maintenance tonight", body="22:00 UTC")

    if args.online:
        count, stored, delivered = online_run(args, workdir, first_bulk)
        results.append(("bulk: new notification to every user (stored and published)", count, stored))
        results.append((f"bulk: ... until the last of {args.online} online users has it", args.online, delivered))
    else:
        started = time.perf_counter()
        count = first_bulk()
        results.append(("bulk: new notification to every user", count, time.perf_counter() - started))
    assert Notification.objects.count() == args.users == count
    assert StreamEvent.objects.filter(event="notification.created").count() == args.users

    started = time.perf_counter()
    count = notifications_bulk_create(
        user_ids=None, kind="system", title="Maintenance moved", body="23:00 UTC", group_key="maintenance"
    )
    results.append(
        ("bulk: second one, new rows again (no unread one has its key)", count, time.perf_counter() - started)
    )
    started = time.perf_counter()
    count = notifications_bulk_create(
        user_ids=None, kind="system", title="Maintenance done", body="", group_key="maintenance"
    )
    results.append(("bulk: replacing the unread one of the same group key", count, time.perf_counter() - started))

    users = list(User.objects.order_by("pk")[: args.single])
    started = time.perf_counter()
    for user in users:
        notification_create(recipient=user, kind="system", title="One at a time")
    results.append(("one at a time (notification_create per user)", len(users), time.perf_counter() - started))
    return results


def online_run(args: argparse.Namespace, workdir: Path, bulk: Any) -> tuple[int, float, float]:
    """Connects `args.online` users to a uvicorn process (from a separate listener process,
    so their receiving does not slow down this one), then times `bulk()`: until it returns,
    and until the last of them has received its notification."""
    import multiprocessing

    from django.db import connection
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    tokens = [str(AccessToken.for_user(user)) for user in User.objects.order_by("pk")[: args.online]]
    connection.close()  # the server process opens its own
    port = servers.free_port()
    server = servers.start_ours("uvicorn", port, os.environ["DATABASE_URL"], workdir, None, redis_url=args.redis_url)
    ours, theirs = multiprocessing.Pipe()
    listener = multiprocessing.get_context("spawn").Process(target=listen, args=(port, tokens, theirs))
    listener.start()
    theirs.close()  # so a listener that dies ends the wait below instead of blocking it
    try:
        try:
            joined = ours.recv() if ours.poll(120) else None
        except EOFError:  # the listener died
            joined = None
        if joined != "joined":
            raise RuntimeError(f"The listener could not join every inbox:\n{server.log_tail()}")
        started = time.perf_counter()
        count = bulk()
        stored = time.perf_counter() - started
        if not ours.poll(120):
            raise RuntimeError("Not every online user got the notification within 120 s.")
        last_arrival = ours.recv()
        return count, stored, last_arrival - started
    finally:
        listener.join(10)
        if listener.is_alive():
            listener.kill()
        server.stop()


def listen(port: int, tokens: list[str], pipe: Any) -> None:
    """The listener process: joins each user's inbox, says "joined", then sends the
    time.perf_counter() (system-wide monotonic on Linux) of the last notification.created."""
    import websockets

    async def main() -> None:
        arrived: list[float] = []
        sockets = []
        for start in range(0, len(tokens), 100):  # connect in groups, not all at once
            sockets += await asyncio.gather(*(join(token) for token in tokens[start : start + 100]))
        pipe.send("joined")

        async def receive(socket: Any) -> None:
            while json.loads(await socket.recv()).get("event") != "notification.created":
                pass
            arrived.append(time.perf_counter())

        await asyncio.gather(*(receive(socket) for socket in sockets))
        pipe.send(max(arrived))
        await asyncio.gather(*(socket.close() for socket in sockets))

    async def join(token: str) -> Any:
        socket = await websockets.connect(f"ws://127.0.0.1:{port}/ws/?token={token}", max_queue=None)
        await socket.recv()  # hello
        await socket.send(json.dumps({"op": "join", "ref": "1", "topic": "inbox"}))
        while json.loads(await socket.recv()).get("ref") != "1":
            pass
        return socket

    asyncio.run(main())


if __name__ == "__main__":
    main()
