"""The users the connect path keeps between connects (realtime.auth.UserCache): a change to a
user is seen by the very next connect, and a storm of connects shares its database reads."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from realtime import auth
from realtime.auth import users
from realtime.testing import open_client, token_for

User = get_user_model()
pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def _save(user, **fields):
    for name, value in fields.items():
        setattr(user, name, value)
    user.save(update_fields=list(fields))


async def test_a_deactivated_user_is_refused_on_the_next_connect(make_user):
    ann = await make_user("ann")
    token = token_for(ann)
    first = await open_client(f"/ws/?token={token}")
    assert first.hello["user"]["username"] == "ann"
    await first.disconnect()
    await _save(ann, is_active=False)
    refused = await open_client(f"/ws/?token={token}")
    assert refused.hello is None and refused.closed_with == 4401
    await refused.disconnect()
    await _save(ann, is_active=True)
    again = await open_client(f"/ws/?token={token}")
    assert again.hello["user"]["username"] == "ann"
    await again.disconnect()


async def test_a_renamed_user_is_shown_by_the_next_hello(make_user):
    ann = await make_user("ann")
    token = token_for(ann)
    first = await open_client(f"/ws/?token={token}")
    assert first.hello["user"] == {"id": ann.pk, "username": "ann", "display_name": "Ann"}
    await _save(ann, username="anne", display_name="Anne")
    second = await open_client(f"/ws/?token={token}")
    assert second.hello["user"] == {"id": ann.pk, "username": "anne", "display_name": "Anne"}
    await first.disconnect()
    await second.disconnect()


async def test_a_deleted_user_is_refused_on_the_next_connect(make_user):
    ann = await make_user("ann")
    token = token_for(ann)
    first = await open_client(f"/ws/?token={token}")
    await first.disconnect()
    await database_sync_to_async(ann.delete)()
    refused = await open_client(f"/ws/?token={token}")
    assert refused.hello is None and refused.closed_with == 4401
    await refused.disconnect()


async def test_connects_at_once_each_get_their_own_user(make_user):
    people = [await make_user(f"user{index}") for index in range(20)]
    # Lookups of one loop iteration share one read (each user asked for twice here).
    found = await asyncio.gather(*(users.get(user.pk, None) for user in people + people))
    assert [user.username for user in found] == [user.username for user in people + people]
    assert len({id(user) for user in found}) == 40  # a fresh instance for every connect
    assert await users.get(max(user.pk for user in people) + 1, None) is None


async def test_a_change_no_signal_reports_is_seen_once_the_row_is_old(make_user, monkeypatch):
    ann = await make_user("ann")
    token = token_for(ann)
    first = await open_client(f"/ws/?token={token}")
    await first.disconnect()
    # QuerySet.update() sends no post_save: only the cache's age bound catches it.
    await database_sync_to_async(User.objects.filter(pk=ann.pk).update)(is_active=False)
    monkeypatch.setattr(auth, "USER_CACHE_SECONDS", 0.0)
    refused = await open_client(f"/ws/?token={token}")
    assert refused.hello is None and refused.closed_with == 4401
    await refused.disconnect()
