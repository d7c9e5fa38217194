"""Fills a freshly migrated database with the benchmark's users, channels and tokens.

Run by bench/run.py in a subprocess with the server's environment (DATABASE_URL,
SECRET_KEY): `python bench/seed.py --out seed.json --fanout 100,1000,5000 --chat 500x4`.

The publisher, every channel and each channel's first member go through the chat and
accounts services. The thousands of other users and memberships are bulk inserts of
what those services would write: registering each user through `user_register` hashes
a password each time (about 0.3 s apiece), which would make seeding 8,000 users take
most of an hour. Clients sign in with access tokens, never with passwords.

Writes JSON: `{"publisher": {"id", "token"}, "fanout": {"<size>": {"channel", "users": [...]}},
"chat": [{"channel", "users": [...]}], "users": [{"id", "token"}, ...], "share": {"token", "goal"}}`
where users are indexes into `users` (the share is the publisher's).
"""

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--fanout", default="100,1000,5000", help="subscriber counts, one channel each")
    parser.add_argument("--chat", default="500x4", help="CHANNELSxMEMBERS")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from accounts.services import user_register
    from chat.models import Membership
    from chat.services import channel_create
    from shares.services import goal_create, share_create

    sizes = [int(size) for size in args.fanout.split(",") if size]
    channels, members = (int(part) for part in args.chat.split("x"))
    total = sum(sizes) + channels * members

    publisher = user_register(username="bench-publisher", password=secrets.token_urlsafe(16))
    password = make_password(None)  # unusable: these users only ever sign in with a token
    with transaction.atomic():
        users = User.objects.bulk_create(
            [User(username=f"bench{i}", display_name=f"Bench {i}", password=password) for i in range(total)],
            batch_size=1000,
        )
    if users[0].pk is None:  # databases that do not return ids from bulk inserts
        users = list(User.objects.filter(username__startswith="bench").exclude(pk=publisher.pk).order_by("pk"))

    result: dict = {
        "publisher": {"id": publisher.pk, "token": str(AccessToken.for_user(publisher))},
        "fanout": {},
        "chat": [],
    }
    start = 0
    memberships = []
    for size in sizes:
        channel = channel_create(user=publisher, name=f"Fan-out {size}")
        indexes = list(range(start, start + size))
        memberships += [Membership(channel=channel, user=users[i]) for i in indexes]
        result["fanout"][str(size)] = {"channel": channel.pk, "users": indexes}
        start += size
    for number in range(channels):
        indexes = list(range(start, start + members))
        channel = channel_create(user=users[indexes[0]], name=f"Chat {number}", is_private=True)
        memberships += [Membership(channel=channel, user=users[i]) for i in indexes[1:]]
        result["chat"].append({"channel": channel.pk, "users": indexes})
        start += members
    with transaction.atomic():
        Membership.objects.bulk_create(memberships, batch_size=1000)
    result["users"] = [{"id": user.pk, "token": str(AccessToken.for_user(user))} for user in users]
    # The share scenario: a public share of one goal of the publisher's, watched anonymously.
    goal = goal_create(user=publisher, title="Bench goal", target=10**9)
    share = share_create(user=publisher, title="Bench share", goals=[goal.pk])
    result["share"] = {"token": share.token, "goal": goal.pk}
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    Path(args.out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
