"""The admin as a moderator: search, filters, edit history, and actions that go through the services."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import Client as DjangoClient

from accounts.tests.factories import UserFactory, make_friends
from chat import services
from chat.models import Channel, DirectMessage, Membership, Message
from chat.tests.conftest import join, make_moderator
from chat.tests.factories import ChannelFactory
from realtime.testing import open_client, stored_events, token_for


def send(user, channel, body):
    send.counter = getattr(send, "counter", 0) + 1
    return services.message_create(user=user, channel_id=channel.pk, body=body, client_id=f"a{send.counter}")[0]


@pytest.fixture
def mod_client(mod):
    client = DjangoClient()
    client.force_login(mod)
    return client


def action(client, model: str, name: str, ids: list[int]):
    return client.post(
        f"/admin/chat/{model}/", {"action": name, "_selected_action": [str(pk) for pk in ids]}, follow=True
    )


@pytest.mark.django_db
def test_moderator_sees_channels_memberships_and_messages_but_not_direct_messages(mod_client, general, ann, ben):
    make_friends(ann, ben)
    services.dm_send(sender=ann, recipient_id=ben.pk, body="private words", client_id="p")

    for model in ("channel", "membership", "message"):
        assert mod_client.get(f"/admin/chat/{model}/").status_code == 200
    assert mod_client.get("/admin/chat/directmessage/").status_code == 403
    index = mod_client.get("/admin/").content.decode()
    assert "Channels" in index and "Direct messages" not in index


@pytest.mark.django_db
def test_superuser_sees_direct_messages_read_only(admin_client, ann, ben):
    make_friends(ann, ben)
    message, _ = services.dm_send(sender=ann, recipient_id=ben.pk, body="private words", client_id="p")

    listing = admin_client.get("/admin/chat/directmessage/")
    assert listing.status_code == 200 and "private words" in listing.content.decode()
    assert admin_client.get(f"/admin/chat/directmessage/{message.pk}/change/").status_code == 200
    assert admin_client.post(f"/admin/chat/directmessage/{message.pk}/delete/", {"post": "yes"}).status_code == 403
    assert DirectMessage.objects.filter(pk=message.pk).exists()


@pytest.mark.django_db
def test_staff_without_the_group_cannot_moderate(general, ann):
    staff = UserFactory(is_staff=True)
    client = DjangoClient()
    client.force_login(staff)
    assert client.get("/admin/chat/message/").status_code == 403


@pytest.mark.django_db
def test_message_search_and_filters(mod_client, general, ann, ben):
    other = ChannelFactory(name="Random", slug="random")
    join(ann, other)
    hello = send(ann, general, "hello world")
    bye = send(ben, general, "goodbye")
    elsewhere = send(ann, other, "hello random")
    services.message_delete(user=ann, message_id=elsewhere.pk)

    def listed(**query):
        response = mod_client.get("/admin/chat/message/", query)
        assert response.status_code == 200
        return {message.pk for message in response.context["cl"].result_list}

    assert listed(q="hello") == {hello.pk, elsewhere.pk}
    assert listed(q="ben") == {bye.pk}
    assert listed(channel__id__exact=general.pk) == {hello.pk, bye.pk}
    assert listed(author__id__exact=ann.pk) == {hello.pk, elsewhere.pk}
    assert listed(deleted="yes") == {elsewhere.pk}
    assert listed(deleted="no") == {hello.pk, bye.pk}
    day = hello.created_at.replace(hour=0, minute=0, second=0, microsecond=0)
    assert listed(created_at__gte=str(day), created_at__lt=str(day + timedelta(days=1))) == {
        hello.pk,
        bye.pk,
        elsewhere.pk,
    }
    assert listed(created_at__lt=str(day)) == set()
    titles = {spec.title for spec in mod_client.get("/admin/chat/message/").context["cl"].filter_specs}
    assert {"deleted", "channel", "author", "created at"} <= titles


@pytest.mark.django_db
def test_message_page_shows_deleted_text_and_edit_history_to_moderators(mod_client, general, ann):
    message = send(ann, general, "first words")
    services.message_update(user=ann, message_id=message.pk, body="second words")
    services.message_delete(user=ann, message_id=message.pk)

    page = mod_client.get(f"/admin/chat/message/{message.pk}/change/").content.decode()

    assert "second words" in page  # the deleted text, for moderators only
    assert "first words" in page  # the edit history
    assert "edit history" in page.lower()


@pytest.mark.django_db
def test_delete_and_restore_actions_go_through_the_services(mod_client, mod, general, ann):
    message = send(ann, general, "rude")

    response = action(mod_client, "message", "delete_messages", [message.pk])

    assert response.status_code == 200 and "Deleted 1." in response.content.decode()
    message.refresh_from_db()
    assert message.deleted_by == mod and message.body == "rude"
    events = stored_events(f"chat:{general.pk}")
    assert [stored.event for stored in events] == ["message.created", "message.deleted"]
    assert "rude" not in events[-1].frame

    action(mod_client, "message", "restore_messages", [message.pk])
    message.refresh_from_db()
    assert message.deleted_at is None
    restored = stored_events(f"chat:{general.pk}")[-1]
    assert restored.event == "message.updated" and '"body":"rude"' in restored.frame


@pytest.mark.django_db
def test_archive_action_makes_a_channel_read_only(mod_client, general, ann):
    response = action(mod_client, "channel", "archive_channels", [general.pk])

    assert "Archived 1." in response.content.decode()
    assert Channel.objects.get(pk=general.pk).is_archived
    assert [stored.event for stored in stored_events(f"chat:{general.pk}")] == ["channel.updated"]
    action(mod_client, "channel", "unarchive_channels", [general.pk])
    assert not Channel.objects.get(pk=general.pk).is_archived


@pytest.mark.django_db
def test_channel_change_form_goes_through_the_service(mod_client, general):
    response = mod_client.post(
        f"/admin/chat/channel/{general.pk}/change/",
        {
            "name": "Lobby",
            "description": "Say hi",
            "is_private": "",
            "memberships-TOTAL_FORMS": "2",
            "memberships-INITIAL_FORMS": "2",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Channel.objects.get(pk=general.pk).name == "Lobby"
    assert [stored.event for stored in stored_events(f"chat:{general.pk}")] == ["channel.updated"]


@pytest.mark.django_db
def test_membership_add_and_delete_in_the_admin_use_the_services(mod_client, secret, cat):
    added = mod_client.post("/admin/chat/membership/add/", {"channel": secret.pk, "user": cat.pk, "role": "member"})
    assert added.status_code == 302
    membership = Membership.objects.get(channel=secret, user=cat)
    assert membership.last_read_seq == 0

    deleted = mod_client.post(f"/admin/chat/membership/{membership.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not Membership.objects.filter(channel=secret, user=cat).exists()


@pytest.mark.django_db
def test_moderators_group_has_the_permissions_it_needs(mod):
    for permission in ("chat.view_message", "chat.moderate_message", "chat.change_channel", "chat.add_membership"):
        assert mod.has_perm(permission)
    assert not mod.has_perm("chat.view_directmessage")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_admin_delete_action_reaches_connected_clients_live():
    def setup():
        ann = UserFactory(username="ann")
        mod = make_moderator(UserFactory(username="mod"))
        channel = ChannelFactory()
        join(ann, channel)
        message = send(ann, channel, "to be removed")
        return ann, mod, channel, message

    ann, mod, channel, message = await database_sync_to_async(setup)()
    client = await open_client(f"/ws/?token={token_for(ann)}")
    assert (await client.join(f"chat:{channel.pk}"))["ok"]

    def moderate():
        django_client = DjangoClient()
        django_client.force_login(mod)
        return action(django_client, "message", "delete_messages", [message.pk]).status_code

    assert await database_sync_to_async(moderate)() == 200
    event = await client.next_event("message.deleted")
    assert event["payload"]["message"]["id"] == message.pk and event["payload"]["message"]["body"] == ""

    def archive():
        django_client = DjangoClient()
        django_client.force_login(mod)
        return action(django_client, "channel", "archive_channels", [channel.pk]).status_code

    assert await database_sync_to_async(archive)() == 200
    assert (await client.next_event("channel.updated"))["payload"]["channel"]["is_archived"] is True
    refused = await client.request(
        op="send", topic=f"chat:{channel.pk}", event="message.create", payload={"body": "x", "client_id": "y"}
    )
    assert refused["error"]["code"] == "forbidden"
    await client.disconnect()
    assert not await database_sync_to_async(Message.objects.filter(body="x").exists)()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_moderation_in_the_admin_shows_in_the_next_join_reply():
    def setup():
        ann = UserFactory(username="ann")
        mod = make_moderator(UserFactory(username="mod"))
        channel = ChannelFactory()
        join(ann, channel)
        return ann, mod, channel, send(ann, channel, "to be removed")

    ann, mod, channel, message = await database_sync_to_async(setup)()

    async def history() -> list[tuple[str, bool]]:
        client = await open_client(f"/ws/?token={token_for(ann)}")
        reply = await client.join(f"chat:{channel.pk}")
        await client.disconnect()
        return [(m["body"], m["deleted"]) for m in reply["payload"]["messages"]]

    def moderate(name: str) -> int:
        django_client = DjangoClient()
        django_client.force_login(mod)
        return action(django_client, "message", name, [message.pk]).status_code

    assert await history() == [("to be removed", False)]  # now kept for the next joins
    assert await database_sync_to_async(moderate)("delete_messages") == 200
    assert await history() == [("", True)]
    assert await database_sync_to_async(moderate)("restore_messages") == 200
    assert await history() == [("to be removed", False)]
