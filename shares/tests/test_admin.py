"""The admin through the services: moderators hide and restore comments, staff end shares, live."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.test import Client as DjangoClient

from accounts.models import MODERATORS_GROUP
from accounts.tests.factories import UserFactory
from realtime.testing import open_client
from shares import services
from shares.models import Share, ShareComment
from shares.tests.factories import GoalFactory


def moderator_client() -> DjangoClient:
    moderator = UserFactory(username="mod", is_staff=True)
    moderator.groups.add(Group.objects.get(name=MODERATORS_GROUP))
    client = DjangoClient()
    client.force_login(moderator)
    return client


def action(client, model: str, name: str, ids: list[int]):
    return client.post(
        f"/admin/shares/{model}/", {"action": name, "_selected_action": [str(pk) for pk in ids]}, follow=True
    )


@pytest.mark.django_db
def test_moderator_sees_shares_and_comments_but_not_goals(public_share):
    client = moderator_client()
    services.comment_create(token=public_share.token, user=None, address="1", message="hello there")
    assert "hello there" in client.get("/admin/shares/sharecomment/?q=hello").content.decode()
    assert client.get("/admin/shares/share/").status_code == 200
    assert client.get("/admin/shares/goal/").status_code == 403


@pytest.mark.django_db
def test_staff_without_the_group_cannot_moderate(public_share):
    staff = UserFactory(username="staff", is_staff=True)
    client = DjangoClient()
    client.force_login(staff)
    comment = services.comment_create(token=public_share.token, user=None, address="1", message="spam")
    assert client.get("/admin/shares/sharecomment/").status_code == 403
    action(client, "sharecomment", "hide_comments", [comment.pk])
    comment.refresh_from_db()
    assert not comment.is_hidden


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_moderator_hides_and_restores_a_comment_live():
    def setup():
        owner = UserFactory(username="ann")
        GoalFactory(owner=owner)
        share = services.share_create(user=owner, title="Live")
        comment = services.comment_create(token=share.token, user=None, address="1", message="rude words")
        return share, comment, moderator_client()

    share, comment, client = await database_sync_to_async(setup)()
    viewer = await open_client()
    assert (await viewer.join(f"share:{share.token}"))["ok"]
    await database_sync_to_async(action)(client, "sharecomment", "hide_comments", [comment.pk])
    assert (await viewer.next_event("comment.hidden"))["payload"] == {"id": comment.pk}
    await database_sync_to_async(action)(client, "sharecomment", "restore_comments", [comment.pk])
    restored = await viewer.next_event("comment.restored")
    assert restored["payload"]["comment"]["message"] == "rude words"
    assert (await database_sync_to_async(lambda: ShareComment.objects.get(pk=comment.pk).is_hidden)()) is False
    await viewer.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_superuser_ends_a_share_from_the_admin_and_viewers_are_told():
    def setup():
        owner = UserFactory(username="ann")
        admin = UserFactory(username="root", is_staff=True, is_superuser=True)
        first = services.share_create(user=owner, title="First")
        second = services.share_create(user=owner, title="Second")
        client = DjangoClient()
        client.force_login(admin)
        return first, second, client

    first, second, client = await database_sync_to_async(setup)()
    viewer = await open_client()
    other = await open_client()
    assert (await viewer.join(f"share:{first.token}"))["ok"]
    assert (await other.join(f"share:{second.token}"))["ok"]
    await database_sync_to_async(action)(client, "share", "end_shares", [first.pk])
    assert (await viewer.next_event("share.ended"))["payload"] == {"reason": "ended"}

    # Unticking "active" on the change form ends it the same way.
    form = {"is_active": ""}
    response = await database_sync_to_async(client.post)(f"/admin/shares/share/{second.pk}/change/", form)
    assert response.status_code == 302
    assert (await other.next_event("share.ended"))["payload"] == {"reason": "ended"}
    assert not await database_sync_to_async(lambda: Share.objects.filter(is_active=True).exists())()
    await viewer.disconnect()
    await other.disconnect()
