"""Services against the real database: every rule, every refusal, and what each publishes."""

import pytest
from django.db import IntegrityError

from accounts.models import Follow
from accounts.services import user_unfollow
from accounts.tests.factories import FollowFactory, UserFactory, make_friends
from chat import services
from chat.models import Channel, DirectMessage, Membership, Message, MessageEdit
from chat.tests.conftest import join
from chat.tests.factories import ChannelFactory
from config.errors import Conflict, Forbidden, Invalid, NotFound
from realtime.api import unread_for_user
from realtime.testing import stored_events

pytestmark = pytest.mark.django_db


def send(user, channel, body="hello", client_id=None):
    send.counter = getattr(send, "counter", 0) + 1
    message, _ = services.message_create(
        user=user, channel_id=channel.pk, body=body, client_id=client_id or f"c{send.counter}"
    )
    return message


def dm(sender, recipient, body="hi", client_id=None):
    dm.counter = getattr(dm, "counter", 0) + 1
    message, _ = services.dm_send(
        sender=sender, recipient_id=recipient.pk, body=body, client_id=client_id or f"d{dm.counter}"
    )
    return message


def stream(topic):
    return [(stored.seq, stored.event) for stored in stored_events(topic)]


# -- channels --------------------------------------------------------------------


def test_channel_create_makes_creator_admin_and_derives_slug(ann, published, committed):
    with committed():
        channel = services.channel_create(user=ann, name="  Team Talk ", description=" About the team ")

    assert (channel.name, channel.slug, channel.description, channel.is_private) == (
        "Team Talk",
        "team-talk",
        "About the team",
        False,
    )
    assert Membership.objects.get(channel=channel).role == Membership.Role.ADMIN
    assert published.of(f"inbox:{ann.pk}", "unread") == [
        {"dms": 0, "dms_by_user": {}, "notifications": 0, "channels": {str(channel.pk): 0}}
    ]


def test_channel_create_numbers_a_taken_derived_slug_but_refuses_a_taken_explicit_one(ann):
    first = services.channel_create(user=ann, name="Team")
    second = services.channel_create(user=ann, name="Team")
    assert (first.slug, second.slug) == ("team", "team-2")

    with pytest.raises(Invalid) as error:
        services.channel_create(user=ann, name="Other", slug="team")
    assert "slug" in error.value.fields


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "ok", "slug": "Not A Slug"}, "slug"),
        ({"name": "!!!"}, "slug"),
        ({"name": "ok", "description": "d" * 501}, "description"),
    ],
)
def test_channel_create_refuses_invalid_fields(ann, fields, bad):
    with pytest.raises(Invalid) as error:
        services.channel_create(user=ann, **fields)
    assert bad in error.value.fields
    assert not Channel.objects.exists()


def test_channel_join_public_starts_with_everything_read(general, ann, cat):
    send(ann, general)
    send(ann, general)

    membership, created = services.channel_join(user=cat, channel_id=general.pk)
    again, created_again = services.channel_join(user=cat, channel_id=general.pk)

    assert created and not created_again and again.pk == membership.pk
    assert membership.last_read_seq == 2
    assert unread_for_user(user=cat)["channels"] == {str(general.pk): 0}


def test_channel_join_refusals(secret, cat, ann):
    archived = ChannelFactory(is_archived=True)
    with pytest.raises(NotFound):
        services.channel_join(user=cat, channel_id=999_999)
    with pytest.raises(Forbidden):
        services.channel_join(user=cat, channel_id=secret.pk)
    with pytest.raises(Forbidden):
        services.channel_join(user=cat, channel_id=archived.pk)
    assert not Membership.objects.filter(user=cat).exists()
    # A member of a private channel gets their membership back.
    assert services.channel_join(user=ann, channel_id=secret.pk)[1] is False


def test_channel_member_add_by_admin_lets_someone_into_a_private_channel(secret, ann, cat, published, committed):
    with committed():
        membership = services.channel_member_add(user=ann, channel_id=secret.pk, member_id=cat.pk)

    assert membership.role == Membership.Role.MEMBER
    assert published.of(f"inbox:{cat.pk}", "unread")[0]["channels"] == {str(secret.pk): 0}
    with pytest.raises(Conflict):
        services.channel_member_add(user=ann, channel_id=secret.pk, member_id=cat.pk)


def test_channel_member_add_refusals(secret, general, ann, ben, cat):
    with pytest.raises(NotFound):  # someone else's private channel is not revealed
        services.channel_member_add(user=cat, channel_id=secret.pk, member_id=ben.pk)
    with pytest.raises(Forbidden):  # a plain member of a public channel
        services.channel_member_add(user=ben, channel_id=general.pk, member_id=cat.pk)
    with pytest.raises(NotFound):
        services.channel_member_add(user=ann, channel_id=secret.pk, member_id=999_999)
    with pytest.raises(Invalid):
        services.channel_member_add(user=ann, channel_id=secret.pk, member_id=cat.pk, role="owner")


def test_moderator_may_add_members_to_any_channel(secret, mod, cat):
    services.channel_member_add(user=mod, channel_id=secret.pk, member_id=cat.pk)
    assert Membership.objects.filter(channel=secret, user=cat).exists()


def test_channel_leave_revokes_the_topic_for_that_user(general, ben, monkeypatch, committed, published):
    revoked = []
    monkeypatch.setattr(services.channels, "revoke", lambda topic, user_id=None: revoked.append((topic, user_id)))

    with committed():
        services.channel_member_remove(user=ben, channel_id=general.pk, member_id=ben.pk)

    assert not Membership.objects.filter(channel=general, user=ben).exists()
    assert revoked == [(f"chat:{general.pk}", ben.pk)]
    assert published.of(f"chat:{general.pk}", "member.left") == [
        {"user": {"id": ben.pk, "username": "ben", "display_name": "Ben"}}
    ]
    with pytest.raises(NotFound):
        services.channel_member_remove(user=ben, channel_id=general.pk, member_id=ben.pk)


def test_channel_member_remove_of_someone_else_needs_admin(general, ann, ben, cat):
    join(cat, general)
    with pytest.raises(Forbidden):
        services.channel_member_remove(user=ben, channel_id=general.pk, member_id=cat.pk)
    services.channel_member_remove(user=ann, channel_id=general.pk, member_id=cat.pk)
    assert not Membership.objects.filter(channel=general, user=cat).exists()


def test_channel_update_by_admin_publishes_channel_updated(general, ann, published, committed):
    with committed():
        channel = services.channel_update(user=ann, channel_id=general.pk, name="Lobby", description="Hi")

    assert (channel.name, channel.description) == ("Lobby", "Hi")
    [(topic, event, payload, replayable)] = published.events
    assert (topic, event, replayable) == (f"chat:{general.pk}", "channel.updated", True)
    assert payload["channel"]["name"] == "Lobby" and payload["channel"]["member_count"] == 2
    assert stream(f"chat:{general.pk}") == [(1, "channel.updated")]


def test_channel_update_without_change_publishes_nothing(general, ann, published):
    services.channel_update(user=ann, channel_id=general.pk, name="General")
    assert published.events == []


def test_channel_update_refusals(general, secret, ben, cat):
    with pytest.raises(Forbidden):
        services.channel_update(user=ben, channel_id=general.pk, name="Mine")
    with pytest.raises(NotFound):
        services.channel_update(user=cat, channel_id=secret.pk, name="Mine")
    with pytest.raises(NotFound):
        services.channel_update(user=cat, channel_id=999_999, name="Mine")


def test_archived_channel_takes_no_changes_until_unarchived(general, mod):
    services.channel_update(user=mod, channel_id=general.pk, is_archived=True)

    with pytest.raises(Forbidden):
        services.channel_update(user=mod, channel_id=general.pk, name="Renamed")
    channel = services.channel_update(user=mod, channel_id=general.pk, is_archived=False, name="Renamed")
    assert (channel.is_archived, channel.name) == (False, "Renamed")


# -- channel messages ------------------------------------------------------------


def test_message_create_stores_the_seq_of_its_created_event(general, ann, published, committed):
    with committed():
        first = send(ann, general, "  first  ")
        second = send(ann, general, "second")

    assert (first.seq, second.seq) == (1, 2)
    assert first.body == "first"
    assert stream(f"chat:{general.pk}") == [(1, "message.created"), (2, "message.created")]
    payloads = published.of(f"chat:{general.pk}", "message.created")
    assert [p["message"]["seq"] for p in payloads] == [1, 2]
    assert payloads[0]["message"] == {
        "id": first.pk,
        "seq": 1,
        "channel": general.pk,
        "author": {"id": ann.pk, "username": "ann", "display_name": "Ann"},
        "body": "first",
        "client_id": first.client_id,
        "created_at": first.created_at.isoformat().replace("+00:00", "Z"),
        "edited_at": None,
        "deleted": False,
    }
    (stored,) = stored_events(f"chat:{general.pk}", seq=1)
    frame = stored.frame
    assert '"seq":1' in frame and '"topic":"chat:' in frame


def test_message_update_and_delete_get_new_seqs_while_the_message_keeps_its_own(general, ann):
    message = send(ann, general)
    services.message_update(user=ann, message_id=message.pk, body="edited")
    services.message_delete(user=ann, message_id=message.pk)

    message.refresh_from_db()
    assert message.seq == 1
    assert stream(f"chat:{general.pk}") == [(1, "message.created"), (2, "message.updated"), (3, "message.deleted")]


def test_message_create_is_idempotent_by_client_id(general, ann, published):
    first, created = services.message_create(user=ann, channel_id=general.pk, body="one", client_id="abc")
    again, created_again = services.message_create(user=ann, channel_id=general.pk, body="two", client_id="abc")

    assert created and not created_again
    assert again.pk == first.pk and again.body == "one"
    assert Message.objects.count() == 1
    assert len(published.of(event="message.created")) == 1


def test_message_create_same_client_id_in_another_channel_conflicts(general, ann):
    other = ChannelFactory()
    join(ann, other)
    services.message_create(user=ann, channel_id=general.pk, body="one", client_id="abc")
    with pytest.raises(Conflict):
        services.message_create(user=ann, channel_id=other.pk, body="one", client_id="abc")


def test_message_create_race_on_client_id_returns_the_first(general, ann, monkeypatch):
    first, _ = services.message_create(user=ann, channel_id=general.pk, body="one", client_id="abc")
    # The race: the duplicate check ran before the other send committed.
    real = services.messages._existing_message
    calls = []

    def late(*args):
        calls.append(args)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(services.messages, "_existing_message", late)
    again, created = services.message_create(user=ann, channel_id=general.pk, body="two", client_id="abc")

    assert not created and again.pk == first.pk
    assert Message.objects.count() == 1
    assert stream(f"chat:{general.pk}") == [(1, "message.created")]  # the seq was given back


def test_message_create_other_authors_may_reuse_a_client_id(general, ann, ben):
    services.message_create(user=ann, channel_id=general.pk, body="one", client_id="abc")
    services.message_create(user=ben, channel_id=general.pk, body="two", client_id="abc")
    assert Message.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "client_id", "bad"),
    [
        ("", "a", "body"),
        ("   \n ", "a", "body"),
        ("x" * 4001, "a", "body"),
        ("ok", "", "client_id"),
        ("ok", "c" * 65, "client_id"),
    ],
)
def test_message_create_refuses_invalid_content(general, ann, body, client_id, bad):
    with pytest.raises(Invalid) as error:
        services.message_create(user=ann, channel_id=general.pk, body=body, client_id=client_id)
    assert bad in error.value.fields
    assert not Message.objects.exists()
    assert stored_events() == []


def test_message_create_accepts_4000_characters_after_trimming(general, ann):
    message = send(ann, general, "  " + "x" * 4000 + "  ")
    assert len(message.body) == 4000


def test_message_create_refusals_come_before_content_checks(general, secret, cat, ann, mod):
    with pytest.raises(NotFound):
        services.message_create(user=cat, channel_id=999_999, body="", client_id="a")
    with pytest.raises(NotFound):  # a private channel one is not in is not revealed
        services.message_create(user=cat, channel_id=secret.pk, body="", client_id="a")
    with pytest.raises(Forbidden):  # public, but not a member
        services.message_create(user=cat, channel_id=general.pk, body="", client_id="a")
    services.channel_update(user=mod, channel_id=general.pk, is_archived=True)
    with pytest.raises(Forbidden):
        services.message_create(user=ann, channel_id=general.pk, body="", client_id="a")
    assert not Message.objects.exists()


def test_message_update_keeps_the_previous_body_for_moderators(general, ann, published):
    message = send(ann, general, "first")
    published.clear()

    updated = services.message_update(user=ann, message_id=message.pk, body=" second ")

    assert updated.body == "second" and updated.edited_at is not None
    assert list(MessageEdit.objects.filter(message=message).values_list("body", "edited_by")) == [("first", ann.pk)]
    [payload] = published.of(f"chat:{general.pk}", "message.updated")
    assert payload["message"]["body"] == "second" and payload["message"]["seq"] == 1
    assert payload["message"]["edited_at"] is not None


def test_message_update_with_the_same_body_changes_nothing(general, ann, published):
    message = send(ann, general, "same")
    published.clear()
    services.message_update(user=ann, message_id=message.pk, body="  same ")
    assert published.events == [] and not MessageEdit.objects.exists()


def test_message_update_refusals(general, secret, ann, ben, cat):
    message = send(ann, general)
    hidden = send(ann, secret)
    with pytest.raises(NotFound):
        services.message_update(user=ben, message_id=999_999, body="x")
    with pytest.raises(NotFound):  # in a private channel ben is not in
        services.message_update(user=ben, message_id=hidden.pk, body="x")
    with pytest.raises(NotFound):  # not in the channel the topic names
        services.message_update(user=ann, message_id=message.pk, body="x", channel_id=secret.pk)
    with pytest.raises(Forbidden):
        services.message_update(user=ben, message_id=message.pk, body="x")
    with pytest.raises(Invalid):
        services.message_update(user=ann, message_id=message.pk, body=" ")
    services.message_delete(user=ann, message_id=message.pk)
    with pytest.raises(Conflict):
        services.message_update(user=ann, message_id=message.pk, body="x")


def test_message_update_by_an_author_who_left_is_refused(general, ben, ann):
    message = send(ben, general)
    services.channel_member_remove(user=ben, channel_id=general.pk, member_id=ben.pk)
    with pytest.raises(Forbidden):
        services.message_update(user=ben, message_id=message.pk, body="x")


def test_moderator_may_edit_and_delete_others_messages(general, ann, mod):
    message = send(ann, general, "rude")
    services.message_update(user=mod, message_id=message.pk, body="[removed]")
    assert MessageEdit.objects.get(message=message).edited_by == mod
    deleted = services.message_delete(user=mod, message_id=message.pk)
    assert deleted.deleted_by == mod


def test_superuser_counts_as_moderator(general, ann):
    root = UserFactory(is_superuser=True)
    message = send(ann, general)

    deleted = services.message_delete(user=root, message_id=message.pk)

    assert deleted.deleted_by == root and Message.objects.get(pk=message.pk).deleted_by == root


def test_message_delete_is_soft_and_the_text_never_leaves_the_database(general, ann, published, committed):
    message = send(ann, general, "secret words")
    published.clear()

    with committed():
        deleted = services.message_delete(user=ann, message_id=message.pk)

    assert deleted.deleted_at is not None and deleted.deleted_by == ann
    assert Message.objects.get(pk=message.pk).body == "secret words"
    [payload] = published.of(f"chat:{general.pk}", "message.deleted")
    assert payload["message"]["deleted"] is True and payload["message"]["body"] == ""
    (stored,) = stored_events(f"chat:{general.pk}", event="message.deleted")
    frame = stored.frame
    assert "secret words" not in frame


def test_message_delete_twice_changes_nothing(general, ann, published):
    message = send(ann, general)
    services.message_delete(user=ann, message_id=message.pk)
    published.clear()
    services.message_delete(user=ann, message_id=message.pk)
    assert published.events == []


def test_message_delete_refusals(general, ann, ben, mod):
    message = send(ann, general)
    with pytest.raises(Forbidden):
        services.message_delete(user=ben, message_id=message.pk)
    services.channel_update(user=mod, channel_id=general.pk, is_archived=True)
    with pytest.raises(Forbidden):  # archived: read-only for authors
        services.message_delete(user=ann, message_id=message.pk)
    services.message_delete(user=mod, message_id=message.pk)  # moderators still moderate


def test_message_restore_is_for_moderators_and_publishes_the_body_again(general, ann, mod, published):
    message = send(ann, general, "back")
    services.message_delete(user=ann, message_id=message.pk)
    with pytest.raises(Forbidden):
        services.message_restore(user=ann, message_id=message.pk)
    published.clear()

    restored = services.message_restore(user=mod, message_id=message.pk)

    assert restored.deleted_at is None and restored.deleted_by is None
    [payload] = published.of(f"chat:{general.pk}", "message.updated")
    assert payload["message"]["body"] == "back" and payload["message"]["deleted"] is False


# -- read marks and unread counters ----------------------------------------------


def test_unread_counts_others_messages_after_the_mark_not_deleted(general, ann, ben):
    send(ann, general)
    send(ben, general)  # ben's own: not unread for ben
    gone = send(ann, general)
    send(ann, general)
    services.message_delete(user=ann, message_id=gone.pk)

    assert unread_for_user(user=ben) == {
        "dms": 0,
        "dms_by_user": {},
        "notifications": 0,
        "channels": {str(general.pk): 2},
    }
    assert unread_for_user(user=ann)["channels"] == {str(general.pk): 1}


def test_unread_counts_stay_exact_through_edits_deletes_restores_and_read_marks(general, ann, ben, cat, mod):
    """The counters come from message numbers and read marks; compare them with counting
    the unread messages themselves after every kind of change."""
    join(cat, general)
    members = [ann, ben, cat]

    def counted(user):
        mark = Membership.objects.get(channel=general, user=user).last_read_seq
        others = Message.objects.filter(channel=general, seq__gt=mark, deleted_at=None).exclude(author=user)
        return others.count()

    def check():
        for user in members:
            assert unread_for_user(user=user)["channels"] == {str(general.pk): counted(user)}

    sent = [send(members[i % 3], general, f"m{i}") for i in range(9)]
    check()
    services.message_update(user=ann, message_id=sent[0].pk, body="edited")
    services.message_delete(user=ben, message_id=sent[1].pk)
    services.message_delete(user=mod, message_id=sent[3].pk)
    check()
    services.channel_mark_read(user=cat, channel_id=general.pk, seq=sent[4].seq)
    services.channel_mark_read(user=ben, channel_id=general.pk, seq=sent[1].seq)  # a deleted message's seq
    check()
    services.message_restore(user=mod, message_id=sent[1].pk)
    sent += [send(cat, general), send(ann, general)]
    services.message_delete(user=cat, message_id=sent[-2].pk)
    check()
    services.channel_mark_read(user=ann, channel_id=general.pk)
    check()
    assert [m.number for m in Message.objects.filter(channel=general).order_by("seq")] == list(range(1, 12))


def test_a_removed_member_cannot_post_the_next_message(general, secret, ann, ben):
    send(ben, general)
    services.channel_member_remove(user=ben, channel_id=general.pk, member_id=ben.pk)
    with pytest.raises(Forbidden):
        send(ben, general)
    join(ben, secret)
    send(ben, secret)
    services.channel_member_remove(user=ann, channel_id=secret.pk, member_id=ben.pk)
    with pytest.raises(NotFound):
        send(ben, secret)
    assert Message.objects.filter(author=ben).count() == 2


def test_archiving_refuses_the_next_message_and_unarchiving_accepts_it(general, ann, mod):
    services.channel_update(user=mod, channel_id=general.pk, is_archived=True)
    with pytest.raises(Forbidden):
        send(ann, general)
    services.channel_update(user=mod, channel_id=general.pk, is_archived=False)
    assert send(ann, general).number == 1


def test_channel_mark_read_moves_forward_publishes_read_and_unread(general, ann, ben, published, committed):
    for _ in range(3):
        send(ann, general)
    published.clear()

    with committed():
        membership = services.channel_mark_read(user=ben, channel_id=general.pk, seq=2)

    assert membership.last_read_seq == 2
    assert published.of(f"chat:{general.pk}", "read") == [
        {"user": {"id": ben.pk, "username": "ben", "display_name": "Ben"}, "seq": 2}
    ]
    assert published.of(f"inbox:{ben.pk}", "unread") == [
        {"dms": 0, "dms_by_user": {}, "notifications": 0, "channels": {str(general.pk): 1}}
    ]


def test_channel_mark_read_never_moves_back_nor_past_the_last_message(general, ann, ben, published):
    send(ann, general)
    send(ann, general)
    assert services.channel_mark_read(user=ben, channel_id=general.pk, seq=99).last_read_seq == 2
    published.clear()
    assert services.channel_mark_read(user=ben, channel_id=general.pk, seq=1).last_read_seq == 2
    assert published.events == []
    assert services.channel_mark_read(user=ben, channel_id=general.pk).last_read_seq == 2


def test_channel_mark_read_refusals(general, secret, cat, ben):
    with pytest.raises(NotFound):
        services.channel_mark_read(user=cat, channel_id=secret.pk, seq=1)
    with pytest.raises(Forbidden):
        services.channel_mark_read(user=cat, channel_id=general.pk, seq=1)
    with pytest.raises(Invalid):
        services.channel_mark_read(user=ben, channel_id=general.pk, seq=-1)


def test_new_message_sends_unread_to_the_other_members_only(general, ann, ben, published, committed):
    with committed():
        send(ann, general)

    assert published.of(f"inbox:{ben.pk}", "unread") == [
        {"dms": 0, "dms_by_user": {}, "notifications": 0, "channels": {str(general.pk): 1}}
    ]
    assert published.of(f"inbox:{ann.pk}", "unread") == []


def test_unread_is_sent_only_to_online_users(general, ann, ben, published, monkeypatch, committed):
    published.online_user_ids = set()
    with committed():
        send(ann, general)
    assert published.of(event="unread") == []


# -- direct messages -------------------------------------------------------------


def test_dm_send_to_a_friend_reaches_both_inboxes_with_their_own_seqs(ann, ben, friends, published, committed):
    dm(ben, ann, "earlier")  # ben's inbox and ann's inbox are at 1 now
    FollowFactory(follower=ann, followee=UserFactory())
    published.clear()

    with committed():
        message, created = services.dm_send(sender=ann, recipient_id=ben.pk, body=" hello ", client_id="x1")

    assert created and message.body == "hello"
    assert stream(f"inbox:{ann.pk}") == [(1, "dm.created"), (2, "dm.created")]
    assert stream(f"inbox:{ben.pk}") == [(1, "dm.created"), (2, "dm.created")]
    created_events = published.of(event="dm.created")
    assert len(created_events) == 2 and created_events[0] == created_events[1]
    assert created_events[0]["message"] == {
        "id": message.pk,
        "from": {"id": ann.pk, "username": "ann", "display_name": "Ann"},
        "to": {"id": ben.pk, "username": "ben", "display_name": "Ben"},
        "body": "hello",
        "client_id": "x1",
        "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
        "edited_at": None,
        "read_at": None,
        "deleted": False,
    }
    assert published.of(f"inbox:{ben.pk}", "unread") == [
        {"dms": 1, "dms_by_user": {str(ann.pk): 1}, "notifications": 0, "channels": {}}
    ]
    assert published.of(f"inbox:{ann.pk}", "unread") == []


def test_dm_send_to_a_non_friend_is_forbidden_and_stores_nothing(ann, ben, cat):
    FollowFactory(follower=ann, followee=cat)  # one-way follow is not friendship
    for recipient in (ben, cat, ann):
        with pytest.raises(Forbidden):
            services.dm_send(sender=ann, recipient_id=recipient.pk, body="hi", client_id=f"x{recipient.pk}")
    assert not DirectMessage.objects.exists()
    assert stored_events() == []


def test_dm_send_refusals_in_order(ann, ben, friends):
    inactive = UserFactory(is_active=False)
    with pytest.raises(NotFound):
        services.dm_send(sender=ann, recipient_id=999_999, body="", client_id="x")
    with pytest.raises(NotFound):
        services.dm_send(sender=ann, recipient_id=inactive.pk, body="", client_id="x")
    with pytest.raises(Invalid):
        services.dm_send(sender=ann, recipient_id=ben.pk, body="", client_id="x")
    with pytest.raises(Invalid):
        services.dm_send(sender=ann, recipient_id=ben.pk, body="x" * 4001, client_id="x")
    assert not DirectMessage.objects.exists()


def test_dm_send_is_idempotent_by_client_id(ann, ben, cat, friends, published):
    make_friends(ann, cat)
    first, _ = services.dm_send(sender=ann, recipient_id=ben.pk, body="one", client_id="same")
    again, created = services.dm_send(sender=ann, recipient_id=ben.pk, body="two", client_id="same")

    assert not created and again.pk == first.pk and DirectMessage.objects.count() == 1
    assert len(published.of(event="dm.created")) == 2  # one per inbox, once
    with pytest.raises(Conflict):
        services.dm_send(sender=ann, recipient_id=cat.pk, body="one", client_id="same")


def test_dm_send_race_on_client_id_returns_the_first(ann, ben, friends, monkeypatch):
    first, _ = services.dm_send(sender=ann, recipient_id=ben.pk, body="one", client_id="same")
    real, calls = services.direct._existing_dm, []

    def late(*args):
        calls.append(args)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(services.direct, "_existing_dm", late)
    again, created = services.dm_send(sender=ann, recipient_id=ben.pk, body="two", client_id="same")

    assert not created and again.pk == first.pk
    assert stream(f"inbox:{ann.pk}") == [(1, "dm.created")]


def test_dm_update_reaches_both_inboxes(ann, ben, friends, published):
    message = dm(ann, ben, "frist")
    published.clear()

    services.dm_update(user=ann, message_id=message.pk, body="first")

    updates = published.of(event="dm.updated")
    assert [topic for topic, event, _, _ in published.events if event == "dm.updated"] == sorted(
        [f"inbox:{ann.pk}", f"inbox:{ben.pk}"], key=lambda t: int(t.split(":")[1])
    )
    assert updates[0]["message"]["body"] == "first" and updates[0]["message"]["edited_at"] is not None


def test_dm_update_refusals(ann, ben, cat, friends):
    message = dm(ann, ben)
    with pytest.raises(NotFound):  # not cat's conversation
        services.dm_update(user=cat, message_id=message.pk, body="x")
    with pytest.raises(Forbidden):  # the recipient
        services.dm_update(user=ben, message_id=message.pk, body="x")
    with pytest.raises(Invalid):
        services.dm_update(user=ann, message_id=message.pk, body="")
    Follow.objects.filter(follower=ben, followee=ann).delete()
    with pytest.raises(Forbidden):  # no longer friends
        services.dm_update(user=ann, message_id=message.pk, body="x")
    FollowFactory(follower=ben, followee=ann)  # friends again: only the deletion refuses now
    services.dm_delete(user=ann, message_id=message.pk)
    with pytest.raises(Conflict):
        services.dm_update(user=ann, message_id=message.pk, body="x")


def test_dm_delete_reaches_both_inboxes_and_hides_the_text(ann, ben, friends, published, committed):
    message = dm(ann, ben, "oops")
    published.clear()

    with committed():
        services.dm_delete(user=ann, message_id=message.pk)

    deleted = published.of(event="dm.deleted")
    assert len(deleted) == 2 and deleted[0]["message"]["body"] == "" and deleted[0]["message"]["deleted"]
    assert DirectMessage.objects.get(pk=message.pk).body == "oops"
    assert published.of(f"inbox:{ben.pk}", "unread") == [
        {"dms": 0, "dms_by_user": {}, "notifications": 0, "channels": {}}
    ]
    with pytest.raises(Forbidden):
        services.dm_delete(user=ben, message_id=message.pk)


def test_dm_mark_read_marks_up_to_and_tells_both_sides(ann, ben, friends, published, committed):
    first, second, third = dm(ben, ann), dm(ben, ann), dm(ben, ann)
    mine = dm(ann, ben)
    published.clear()

    with committed():
        marked, up_to = services.dm_mark_read(user=ann, other_id=ben.pk, up_to=second.pk)

    assert (marked, up_to) == (2, second.pk)
    assert DirectMessage.objects.filter(read_at__isnull=False).count() == 2
    assert DirectMessage.objects.get(pk=mine.pk).read_at is None
    ann_u = {"id": ann.pk, "username": "ann", "display_name": "Ann"}
    ben_u = {"id": ben.pk, "username": "ben", "display_name": "Ben"}
    # Ann's inbox: "I read Ben's messages" (reader is the owner); Ben's: "Ann read mine" (reader is `with`).
    assert published.of(f"inbox:{ann.pk}", "dm.read") == [{"with": ben_u, "up_to": second.pk, "reader": ann_u}]
    assert published.of(f"inbox:{ben.pk}", "dm.read") == [{"with": ann_u, "up_to": second.pk, "reader": ann_u}]
    assert published.of(f"inbox:{ann.pk}", "unread") == [
        {"dms": 1, "dms_by_user": {str(ben.pk): 1}, "notifications": 0, "channels": {}}
    ]
    # Up to `second`: the older one is read, the newer one is not.
    assert DirectMessage.objects.get(pk=first.pk).read_at is not None
    assert DirectMessage.objects.get(pk=third.pk).read_at is None


def test_dm_mark_read_all_then_again_changes_nothing(ann, ben, friends, published):
    dm(ben, ann)
    last = dm(ben, ann)
    assert services.dm_mark_read(user=ann, other_id=ben.pk) == (2, last.pk)
    published.clear()
    assert services.dm_mark_read(user=ann, other_id=ben.pk)[0] == 0
    assert published.events == []


def test_dm_mark_read_refusals(ann):
    with pytest.raises(NotFound):
        services.dm_mark_read(user=ann, other_id=999_999)
    with pytest.raises(NotFound):
        services.dm_mark_read(user=ann, other_id=ann.pk)
    with pytest.raises(Invalid):
        services.dm_mark_read(user=ann, other_id=UserFactory().pk, up_to=0)


def test_dm_unread_counts_only_friends_unread_undeleted_messages(ann, ben, cat, friends):
    dm(ben, ann)
    gone = dm(ben, ann)
    services.dm_delete(user=ben, message_id=gone.pk)
    make_friends(cat, ann)
    dm(cat, ann)
    Follow.objects.filter(follower=cat, followee=ann).delete()  # cat is no longer a friend
    assert unread_for_user(user=ann)["dms"] == 1
    assert unread_for_user(user=ann)["dms_by_user"] == {str(ben.pk): 1}


def test_dm_unread_counts_per_friend_add_up_to_the_total(ann, ben, cat, friends):
    make_friends(cat, ann)
    dm(ben, ann)
    dm(ben, ann)
    first_from_cat = dm(cat, ann)
    dm(ann, ben)  # sent by ann: unread for ben only
    dm(cat, ann)
    services.dm_mark_read(user=ann, other_id=cat.pk, up_to=first_from_cat.pk)

    assert unread_for_user(user=ann) == {
        "dms": 3,
        "dms_by_user": {str(ben.pk): 2, str(cat.pk): 1},
        "notifications": 0,
        "channels": {},
    }
    assert unread_for_user(user=ben)["dms_by_user"] == {str(ann.pk): 1}
    services.dm_mark_read(user=ann, other_id=ben.pk)
    assert unread_for_user(user=ann)["dms_by_user"] == {str(cat.pk): 1}


def test_dm_check_constraint_refuses_messages_to_oneself(ann):
    with pytest.raises(IntegrityError):
        DirectMessage.objects.create(sender=ann, recipient=ann, body="x", client_id="x")


# -- presence --------------------------------------------------------------------


def test_presence_announce_tells_online_friends_only(ann, ben, cat, published, monkeypatch):
    make_friends(ann, ben)
    make_friends(ann, cat)
    published.online_user_ids = {ben.pk}

    services.presence_announce(changes=[(ann.pk, True)])

    assert published.names() == [(f"inbox:{ben.pk}", "presence")]
    assert published.of()[0] == {"user": {"id": ann.pk, "username": "ann", "display_name": "Ann"}, "online": True}


def test_presence_announce_of_a_batch_tells_each_friend_each_change_once_in_order(
    ann, ben, cat, published, django_assert_max_num_queries
):
    dan = UserFactory(username="dan")
    make_friends(ann, ben)
    make_friends(ann, cat)
    make_friends(ben, cat)
    make_friends(ann, dan)
    published.online_user_ids = {ann.pk, ben.pk, cat.pk}  # dan stays offline

    def change(user, online):
        return {"user": {"id": user.pk, "username": user.username, "display_name": user.display_name}, "online": online}

    # ben and cat come online together with ann; ann's tab closes and reopens in the same batch.
    with django_assert_max_num_queries(2):  # the users and their friends, whatever the batch size
        services.presence_announce(
            changes=[(ben.pk, True), (ann.pk, True), (cat.pk, True), (ann.pk, False), (ann.pk, True), (0, True)]
        )

    assert published.of(f"inbox:{ann.pk}") == [change(ben, True), change(cat, True)]
    ann_flaps = [change(ann, True), change(ann, False), change(ann, True)]
    assert published.of(f"inbox:{ben.pk}") == [ann_flaps[0], change(cat, True), *ann_flaps[1:]]
    assert published.of(f"inbox:{cat.pk}") == [change(ben, True), *ann_flaps]
    assert published.of(f"inbox:{dan.pk}") == []


# -- redaction of stored events --------------------------------------------------


def frames(topic):
    return [stored.frame for stored in stored_events(topic)]


def test_edit_rewrites_stored_events_so_resumes_never_replay_the_old_text(general, ann):
    message = send(ann, general, "first draft")
    services.message_update(user=ann, message_id=message.pk, body="second draft")
    services.message_update(user=ann, message_id=message.pk, body="final")

    stored = frames(f"chat:{general.pk}")
    assert len(stored) == 3 and all('"body":"final"' in frame for frame in stored)
    assert not any("draft" in frame for frame in stored)
    assert list(MessageEdit.objects.order_by("id").values_list("body", flat=True)) == ["first draft", "second draft"]


def test_delete_redacts_every_stored_event_of_the_message(general, ann, mod):
    message = send(ann, general, "secret one")
    services.message_update(user=ann, message_id=message.pk, body="secret two")
    other = send(ann, general, "stays")
    services.message_delete(user=ann, message_id=message.pk)

    stored = frames(f"chat:{general.pk}")
    assert not any("secret" in frame for frame in stored)
    assert '"body":"stays"' in stored[2]
    assert '"event":"message.created"' in stored[0] and '"deleted":true' in stored[0]
    # Restored and deleted again: the restore's event is redacted too.
    services.message_restore(user=mod, message_id=message.pk)
    assert '"body":"secret two"' in frames(f"chat:{general.pk}")[-1]
    services.message_delete(user=mod, message_id=message.pk)
    assert not any("secret" in frame for frame in frames(f"chat:{general.pk}"))
    assert other.body == "stays"


def test_dm_edit_and_delete_redact_both_inboxes(ann, ben, friends):
    message = dm(ann, ben, "secret one")
    services.dm_update(user=ann, message_id=message.pk, body="secret two")
    assert not any("secret one" in f for f in frames(f"inbox:{ann.pk}") + frames(f"inbox:{ben.pk}"))

    services.dm_delete(user=ann, message_id=message.pk)

    for topic in (f"inbox:{ann.pk}", f"inbox:{ben.pk}"):
        stored = frames(topic)
        assert [('"dm.created"' in f, '"dm.updated"' in f, '"dm.deleted"' in f) for f in stored] == [
            (True, False, False),
            (False, True, False),
            (False, False, True),
        ]
        assert not any("secret" in f for f in stored)
    assert DirectMessage.objects.get(pk=message.pk).body == "secret two"


def test_ending_a_friendship_refreshes_both_unread_counters(ann, ben, friends, published, committed):
    dm(ben, ann)
    published.clear()

    with committed():
        user_unfollow(follower=ann, followee_id=ben.pk)

    assert published.of(f"inbox:{ann.pk}", "unread") == [
        {"dms": 0, "dms_by_user": {}, "notifications": 0, "channels": {}}
    ]
    assert published.of(f"inbox:{ben.pk}", "unread") == [
        {"dms": 0, "dms_by_user": {}, "notifications": 0, "channels": {}}
    ]


# -- group commit ----------------------------------------------------------------


def test_message_create_many_commits_the_accepted_and_answers_each(general, secret, ann, ben, cat):
    services.message_create(user=ann, channel_id=secret.pk, body="elsewhere", client_id="taken")
    sends = [
        services.MessageSend(user=ann, channel_id=general.pk, body="one", client_id="a1"),
        services.MessageSend(user=cat, channel_id=general.pk, body="not a member", client_id="c1"),
        services.MessageSend(user=ann, channel_id=general.pk, body="used", client_id="taken"),
        services.MessageSend(user=ben, channel_id=general.pk, body=" ", client_id="b1"),
        services.MessageSend(user=ben, channel_id=general.pk, body="two", client_id="b2"),
        services.MessageSend(user=ann, channel_id=general.pk, body="one again", client_id="a1"),
    ]
    one, not_member, conflict, blank, two, resend = services.message_create_many(sends=sends)

    assert isinstance(not_member, Forbidden) and isinstance(conflict, Conflict) and isinstance(blank, Invalid)
    assert one[1] and two[1] and not resend[1] and resend[0].pk == one[0].pk
    assert [(m.body, m.seq, m.number) for m in Message.objects.filter(channel=general).order_by("seq")] == [
        ("one", 1, 1),
        ("two", 2, 2),
    ]
    assert stream(f"chat:{general.pk}") == [(1, "message.created"), (2, "message.created")]
    # The refused sends gave their seqs back: the stream's head is the last stored event.
    after, _ = services.message_create(user=ben, channel_id=general.pk, body="three", client_id="b3")
    assert (after.seq, after.number) == (3, 3)


def test_message_create_many_retries_each_alone_when_the_batch_fails(general, ann, ben):
    unsaved = UserFactory.build()  # a database error deep in the batch (an unsaved author)
    sends = [
        services.MessageSend(user=ann, channel_id=general.pk, body="one", client_id="a1"),
        services.MessageSend(user=unsaved, channel_id=general.pk, body="bad", client_id="x"),
        services.MessageSend(user=ben, channel_id=general.pk, body="two", client_id="b1"),
    ]
    one, failed, two = services.message_create_many(sends=sends)

    assert isinstance(failed, Exception) and one[1] and two[1]
    assert sorted(Message.objects.values_list("client_id", flat=True)) == ["a1", "b1"]
    assert [seq for seq, _ in stream(f"chat:{general.pk}")] == [1, 2]
