"""The chat REST API through APIClient: status, body and database state for every permission branch."""

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import user_unfollow
from accounts.tests.factories import FollowFactory, UserFactory, make_friends
from chat import services
from chat.models import Channel, DirectMessage, Membership, Message, MessageEdit
from chat.tests.conftest import join
from chat.tests.factories import ChannelFactory
from realtime.api import unread_for_user

pytestmark = pytest.mark.django_db

CHANNEL_KEYS = {"id", "name", "slug", "description", "is_private", "is_archived", "created_at", "member_count"}
M_KEYS = {"id", "seq", "channel", "author", "body", "client_id", "created_at", "edited_at", "deleted"}
D_KEYS = {"id", "from", "to", "body", "client_id", "created_at", "edited_at", "read_at", "deleted"}


def u(user: User) -> dict:
    return {"id": user.pk, "username": user.username, "display_name": user.display_name}


def assert_no_email(response) -> None:
    body = response.content.decode()
    assert "@example.com" not in body


def send(user, channel, body="hello", client_id=None):
    send.counter = getattr(send, "counter", 0) + 1
    return services.message_create(
        user=user, channel_id=channel.pk, body=body, client_id=client_id or f"c{send.counter}"
    )[0]


def dm(sender, recipient, body="hi"):
    dm.counter = getattr(dm, "counter", 0) + 1
    return services.dm_send(sender=sender, recipient_id=recipient.pk, body=body, client_id=f"d{dm.counter}")[0]


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/chat/channels/"),
        ("post", "/api/chat/channels/"),
        ("get", "/api/chat/channels/1/"),
        ("patch", "/api/chat/channels/1/"),
        ("post", "/api/chat/channels/1/join/"),
        ("post", "/api/chat/channels/1/leave/"),
        ("get", "/api/chat/channels/1/members/"),
        ("post", "/api/chat/channels/1/members/"),
        ("delete", "/api/chat/channels/1/members/1/"),
        ("get", "/api/chat/channels/1/messages/"),
        ("post", "/api/chat/channels/1/messages/"),
        ("post", "/api/chat/channels/1/read/"),
        ("patch", "/api/chat/messages/1/"),
        ("delete", "/api/chat/messages/1/"),
        ("get", "/api/chat/conversations/"),
        ("get", "/api/chat/dm/1/messages/"),
        ("post", "/api/chat/dm/1/messages/"),
        ("post", "/api/chat/dm/1/read/"),
        ("patch", "/api/chat/dm/messages/1/"),
        ("delete", "/api/chat/dm/messages/1/"),
        ("get", "/api/chat/unread/"),
        ("get", "/api/inbox/unread/"),
    ],
)
def test_every_endpoint_needs_a_signed_in_user(method, url):
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert response.status_code == 401


# -- channels --------------------------------------------------------------------


def test_channel_list_shows_public_channels_and_own_private_ones(api_client_as, general, secret, ben, cat):
    hidden = ChannelFactory(name="Hidden", is_private=True)
    join(cat, hidden)

    response = api_client_as(ben).get("/api/chat/channels/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [c["slug"] for c in body["results"]] == ["general"]
    assert set(body["results"][0]) == CHANNEL_KEYS
    assert body["results"][0]["member_count"] == 2
    assert [c["slug"] for c in api_client_as(cat).get("/api/chat/channels/").json()["results"]] == [
        "general",
        hidden.slug,
    ]


def test_channel_list_filters(api_client_as, general, secret, ann, cat):
    archived = ChannelFactory(name="Old", slug="old", is_archived=True)
    client = api_client_as(cat)

    def slugs(**query):
        return [c["slug"] for c in client.get("/api/chat/channels/", query).json()["results"]]

    assert slugs() == ["general", "old"]
    assert slugs(joined="false") == ["general", "old"]
    assert slugs(joined="true") == []
    assert slugs(archived="true") == [archived.slug]
    assert slugs(search="gen") == ["general"]
    assert [c["slug"] for c in api_client_as(ann).get("/api/chat/channels/", {"joined": "true"}).json()["results"]] == [
        "general",
        "secret",
    ]


def test_channel_list_query_count_does_not_grow_with_channels(api_client_as, ann, django_assert_max_num_queries):
    for _ in range(15):
        join(ann, ChannelFactory())
    with django_assert_max_num_queries(4):
        assert len(api_client_as(ann).get("/api/chat/channels/").json()["results"]) == 15


def test_channel_create(api_client_as, ann):
    response = api_client_as(ann).post(
        "/api/chat/channels/", {"name": "Design", "description": "Pixels", "is_private": True}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": body["id"],
        "name": "Design",
        "slug": "design",
        "description": "Pixels",
        "is_private": True,
        "is_archived": False,
        "created_at": body["created_at"],
        "member_count": 1,
    }
    assert Membership.objects.get(channel_id=body["id"]).role == "admin"


def test_channel_create_invalid(api_client_as, ann, general):
    response = api_client_as(ann).post("/api/chat/channels/", {"name": "Other", "slug": "general"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "slug" in response.json()["fields"]
    assert api_client_as(ann).post("/api/chat/channels/", {}, format="json").status_code == 400


def test_channel_detail(api_client_as, general, secret, ben, ann):
    assert api_client_as(ben).get(f"/api/chat/channels/{general.pk}/").json()["name"] == "General"
    assert api_client_as(ben).get(f"/api/chat/channels/{secret.pk}/").status_code == 404
    assert api_client_as(ann).get(f"/api/chat/channels/{secret.pk}/").status_code == 200
    assert api_client_as(ann).get("/api/chat/channels/999999/").status_code == 404


def test_channel_patch_by_admin_member_and_outsider(api_client_as, general, secret, ann, ben, cat):
    response = api_client_as(ann).patch(
        f"/api/chat/channels/{general.pk}/", {"description": "All hands"}, format="json"
    )
    assert response.status_code == 200 and response.json()["description"] == "All hands"

    assert (
        api_client_as(ben).patch(f"/api/chat/channels/{general.pk}/", {"name": "x"}, format="json").status_code == 403
    )
    assert api_client_as(cat).patch(f"/api/chat/channels/{secret.pk}/", {"name": "x"}, format="json").status_code == 404
    assert Channel.objects.get(pk=general.pk).name == "General"


def test_archiving_makes_the_channel_read_only(api_client_as, general, ann, ben, mod):
    response = api_client_as(mod).patch(f"/api/chat/channels/{general.pk}/", {"is_archived": True}, format="json")
    assert response.status_code == 200 and response.json()["is_archived"] is True

    sent = api_client_as(ben).post(f"/api/chat/channels/{general.pk}/messages/", {"body": "hi"}, format="json")
    assert sent.status_code == 403 and sent.json()["code"] == "forbidden"
    assert (
        api_client_as(ann).patch(f"/api/chat/channels/{general.pk}/", {"name": "x"}, format="json").status_code == 403
    )
    assert api_client_as(ben).get(f"/api/chat/channels/{general.pk}/messages/").status_code == 200


def test_channel_join_and_leave(api_client_as, general, cat):
    client = api_client_as(cat)
    joined = client.post(f"/api/chat/channels/{general.pk}/join/")
    assert joined.status_code == 201 and joined.json()["member_count"] == 3
    assert client.post(f"/api/chat/channels/{general.pk}/join/").status_code == 200

    assert client.post(f"/api/chat/channels/{general.pk}/leave/").status_code == 204
    assert not Membership.objects.filter(channel=general, user=cat).exists()
    assert client.post(f"/api/chat/channels/{general.pk}/leave/").status_code == 404


def test_channel_join_refusals(api_client_as, secret, cat):
    archived = ChannelFactory(is_archived=True)
    client = api_client_as(cat)
    assert client.post(f"/api/chat/channels/{secret.pk}/join/").status_code == 403
    assert client.post(f"/api/chat/channels/{archived.pk}/join/").status_code == 403
    assert client.post("/api/chat/channels/999999/join/").status_code == 404
    assert not Membership.objects.filter(user=cat).exists()


def test_channel_members_list_add_and_remove(api_client_as, secret, ann, ben, cat):
    added = api_client_as(ann).post(f"/api/chat/channels/{secret.pk}/members/", {"user_id": ben.pk}, format="json")
    assert added.status_code == 201
    assert added.json() == {"user": u(ben), "role": "member", "joined_at": added.json()["joined_at"]}

    members = api_client_as(ben).get(f"/api/chat/channels/{secret.pk}/members/")
    assert members.status_code == 200
    assert [m["user"]["username"] for m in members.json()["results"]] == ["ann", "ben"]
    assert_no_email(members)

    assert api_client_as(cat).get(f"/api/chat/channels/{secret.pk}/members/").status_code == 404
    forbidden = api_client_as(ben).post(f"/api/chat/channels/{secret.pk}/members/", {"user_id": cat.pk}, format="json")
    assert forbidden.status_code == 403
    again = api_client_as(ann).post(f"/api/chat/channels/{secret.pk}/members/", {"user_id": ben.pk}, format="json")
    assert again.status_code == 409

    assert api_client_as(ben).delete(f"/api/chat/channels/{secret.pk}/members/{ann.pk}/").status_code == 403
    assert api_client_as(ann).delete(f"/api/chat/channels/{secret.pk}/members/{ben.pk}/").status_code == 204
    assert api_client_as(ben).get(f"/api/chat/channels/{secret.pk}/").status_code == 404


# -- channel messages ------------------------------------------------------------


def test_message_post_appears_with_its_seq_and_is_idempotent(api_client_as, general, ben):
    client = api_client_as(ben)
    url = f"/api/chat/channels/{general.pk}/messages/"

    first = client.post(url, {"body": "  hello  ", "client_id": "k1"}, format="json")
    again = client.post(url, {"body": "other", "client_id": "k1"}, format="json")

    assert first.status_code == 201 and again.status_code == 200
    body = first.json()
    assert set(body) == M_KEYS
    assert body["body"] == "hello" and body["seq"] == 1 and body["author"] == u(ben)
    assert body["channel"] == general.pk and body["deleted"] is False and body["client_id"] == "k1"
    assert again.json() == body
    assert Message.objects.count() == 1


def test_message_post_without_client_id_gets_one(api_client_as, general, ben):
    response = api_client_as(ben).post(f"/api/chat/channels/{general.pk}/messages/", {"body": "hi"}, format="json")
    assert response.status_code == 201 and len(response.json()["client_id"]) == 32


@pytest.mark.parametrize("body", ["", "   ", "x" * 4001])
def test_message_post_invalid_body(api_client_as, general, ben, body):
    response = api_client_as(ben).post(f"/api/chat/channels/{general.pk}/messages/", {"body": body}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "body" in response.json()["fields"]
    assert not Message.objects.exists()


def test_message_post_refusals(api_client_as, general, secret, cat):
    client = api_client_as(cat)
    assert client.post(f"/api/chat/channels/{general.pk}/messages/", {"body": "x"}, format="json").status_code == 403
    assert client.post(f"/api/chat/channels/{secret.pk}/messages/", {"body": "x"}, format="json").status_code == 404
    assert not Message.objects.exists()


def test_message_history_cursor_pages(api_client_as, general, ann, ben):
    messages = [send(ann, general, f"m{i}") for i in range(1, 8)]  # seqs 1..7
    client = api_client_as(ben)
    url = f"/api/chat/channels/{general.pk}/messages/"

    newest = client.get(url, {"limit": 3}).json()
    assert set(newest) == {"results", "previous", "next"}
    assert [m["seq"] for m in newest["results"]] == [5, 6, 7]
    assert newest["next"] is None
    assert "before=5" in newest["previous"] and "limit=3" in newest["previous"]

    older = client.get(newest["previous"]).json()
    assert [m["seq"] for m in older["results"]] == [2, 3, 4]
    oldest = client.get(older["previous"]).json()
    assert [m["seq"] for m in oldest["results"]] == [1]
    assert oldest["previous"] is None and "after=1" in oldest["next"]

    forward = client.get(url, {"after": 2, "limit": 2}).json()
    assert [m["seq"] for m in forward["results"]] == [3, 4]
    assert "after=4" in forward["next"] and "before=3" in forward["previous"]
    assert [m["seq"] for m in client.get(url, {"after": 2, "before": 5}).json()["results"]] == [3, 4]
    assert client.get(url, {"after": 7}).json() == {"results": [], "previous": None, "next": None}
    assert client.get(url).json()["results"][0]["id"] == messages[0].pk  # default limit 50
    assert client.get(url, {"limit": 0}).status_code == 400
    assert client.get(url, {"limit": 201}).status_code == 400


def test_message_history_shows_deleted_messages_without_text(api_client_as, general, ann, ben):
    message = send(ann, general, "regrettable")
    services.message_delete(user=ann, message_id=message.pk)

    response = api_client_as(ben).get(f"/api/chat/channels/{general.pk}/messages/")

    [item] = response.json()["results"]
    assert item["deleted"] is True and item["body"] == ""
    assert "regrettable" not in response.content.decode()


def test_message_history_visibility(api_client_as, general, secret, ann, cat):
    send(ann, secret, "hush")
    assert api_client_as(cat).get(f"/api/chat/channels/{secret.pk}/messages/").status_code == 404
    # Public channels can be read before joining.
    assert api_client_as(cat).get(f"/api/chat/channels/{general.pk}/messages/").status_code == 200


def test_message_history_query_count_is_constant(api_client_as, general, ann, ben, django_assert_max_num_queries):
    for i in range(30):
        send(ann if i % 2 else ben, general)
    with django_assert_max_num_queries(5):
        assert len(api_client_as(ben).get(f"/api/chat/channels/{general.pk}/messages/").json()["results"]) == 30


def test_message_patch_and_delete_permissions(api_client_as, general, secret, ann, ben, cat, mod):
    message = send(ann, general, "draft")
    url = f"/api/chat/messages/{message.pk}/"

    assert api_client_as(ben).patch(url, {"body": "hijack"}, format="json").status_code == 403
    assert api_client_as(cat).patch(url, {"body": "hijack"}, format="json").status_code == 403
    edited = api_client_as(ann).patch(url, {"body": "final"}, format="json")
    assert edited.status_code == 200 and edited.json()["body"] == "final" and edited.json()["edited_at"]
    moderated = api_client_as(mod).patch(url, {"body": "moderated"}, format="json")
    assert moderated.status_code == 200 and moderated.json()["body"] == "moderated"
    # Every earlier body is kept for moderators, with who replaced it.
    edits = list(MessageEdit.objects.filter(message=message).values_list("body", "edited_by"))
    assert edits == [("draft", ann.pk), ("final", mod.pk)]
    assert api_client_as(ann).patch(url, {"body": " "}, format="json").status_code == 400

    assert api_client_as(ben).delete(url).status_code == 403
    assert api_client_as(ann).delete(url).status_code == 204
    assert api_client_as(ann).patch(url, {"body": "again"}, format="json").status_code == 409
    assert Message.objects.get(pk=message.pk).deleted_at is not None

    hidden = send(ann, secret)
    assert api_client_as(cat).patch(f"/api/chat/messages/{hidden.pk}/", {"body": "x"}, format="json").status_code == 404
    assert api_client_as(cat).delete(f"/api/chat/messages/{hidden.pk}/").status_code == 404
    assert api_client_as(cat).delete("/api/chat/messages/999999/").status_code == 404


def test_channel_read(api_client_as, general, ann, ben, cat):
    for _ in range(3):
        send(ann, general)
    response = api_client_as(ben).post(f"/api/chat/channels/{general.pk}/read/", {"seq": 2}, format="json")
    assert response.status_code == 200 and response.json() == {"last_read_seq": 2, "unread_count": 1}
    everything = api_client_as(ben).post(f"/api/chat/channels/{general.pk}/read/", {}, format="json")
    assert everything.json() == {"last_read_seq": 3, "unread_count": 0}

    assert api_client_as(cat).post(f"/api/chat/channels/{general.pk}/read/", {}, format="json").status_code == 403
    assert (
        api_client_as(ben).post(f"/api/chat/channels/{general.pk}/read/", {"seq": -1}, format="json").status_code == 400
    )


# -- direct messages -------------------------------------------------------------


def test_dm_post_to_a_friend_and_idempotency(api_client_as, ann, ben, friends):
    url = f"/api/chat/dm/{ben.pk}/messages/"
    first = api_client_as(ann).post(url, {"body": "hey", "client_id": "q1"}, format="json")
    again = api_client_as(ann).post(url, {"body": "hey", "client_id": "q1"}, format="json")

    assert first.status_code == 201 and again.status_code == 200 and again.json() == first.json()
    body = first.json()
    assert set(body) == D_KEYS
    assert body["from"] == u(ann) and body["to"] == u(ben) and body["read_at"] is None
    assert_no_email(first)


def test_dm_post_to_a_non_friend_is_forbidden_and_nothing_is_stored(api_client_as, ann, ben, cat):
    FollowFactory(follower=ann, followee=ben)
    response = api_client_as(ann).post(f"/api/chat/dm/{ben.pk}/messages/", {"body": "hey"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert api_client_as(ann).post("/api/chat/dm/999999/messages/", {"body": "hey"}, format="json").status_code == 404
    assert api_client_as(ann).post(f"/api/chat/dm/{ann.pk}/messages/", {"body": "me"}, format="json").status_code == 403
    assert not DirectMessage.objects.exists()


def test_dm_history_is_only_the_viewers_own_conversation(api_client_as, ann, ben, cat, friends):
    make_friends(cat, ben)
    dm(ann, ben, "for ben from ann")
    dm(cat, ben, "for ben from cat")

    response = api_client_as(cat).get(f"/api/chat/dm/{ben.pk}/messages/")

    assert [m["body"] for m in response.json()["results"]] == ["for ben from cat"]
    assert "from ann" not in response.content.decode()
    assert api_client_as(cat).get("/api/chat/dm/999999/messages/").status_code == 404
    assert api_client_as(cat).get(f"/api/chat/dm/{cat.pk}/messages/").status_code == 404


def test_dm_history_cursor_pages(api_client_as, ann, ben, friends):
    sent = [dm(ann if i % 2 else ben, ann if not i % 2 else ben, f"m{i}") for i in range(6)]
    client = api_client_as(ann)
    url = f"/api/chat/dm/{ben.pk}/messages/"

    newest = client.get(url, {"limit": 4}).json()
    assert [m["body"] for m in newest["results"]] == ["m2", "m3", "m4", "m5"]
    assert newest["next"] is None and f"before={sent[2].pk}" in newest["previous"]
    older = client.get(newest["previous"]).json()
    assert [m["body"] for m in older["results"]] == ["m0", "m1"]
    assert older["previous"] is None and f"after={sent[1].pk}" in older["next"]
    assert [m["body"] for m in client.get(older["next"]).json()["results"]] == ["m2", "m3", "m4", "m5"]

    stranger = dm(ann, make_friend_of(ann), "elsewhere")
    bad = client.get(url, {"before": stranger.pk})
    assert bad.status_code == 400 and "before" in bad.json()["fields"]


def make_friend_of(user: User) -> User:
    friend = UserFactory()
    make_friends(user, friend)
    return friend


def test_dm_read_patch_and_delete(api_client_as, ann, ben, cat, friends):
    first, second = dm(ben, ann, "one"), dm(ben, ann, "two")

    read = api_client_as(ann).post(f"/api/chat/dm/{ben.pk}/read/", {"up_to": first.pk}, format="json")
    assert read.status_code == 200 and read.json() == {"up_to": first.pk, "marked": 1}
    assert api_client_as(ann).post(f"/api/chat/dm/{ben.pk}/read/", {}, format="json").json() == {
        "up_to": second.pk,
        "marked": 1,
    }

    url = f"/api/chat/dm/messages/{first.pk}/"
    assert api_client_as(ann).patch(url, {"body": "x"}, format="json").status_code == 403
    assert api_client_as(cat).patch(url, {"body": "x"}, format="json").status_code == 404
    edited = api_client_as(ben).patch(url, {"body": "uno"}, format="json")
    assert edited.status_code == 200 and edited.json()["body"] == "uno"
    assert api_client_as(cat).delete(url).status_code == 404
    assert api_client_as(ann).delete(url).status_code == 403
    assert api_client_as(ben).delete(url).status_code == 204
    assert api_client_as(ben).patch(url, {"body": "x"}, format="json").status_code == 409
    history = api_client_as(ann).get(f"/api/chat/dm/{ben.pk}/messages/").json()["results"]
    assert [(m["body"], m["deleted"]) for m in history] == [("", True), ("two", False)]


def test_conversations_list_friends_with_messages_newest_first(api_client_as, ann, ben, cat, friends):
    make_friends(ann, cat)
    make_friend_of(ann)  # a friend without messages is not a conversation
    dm(ben, ann, "from ben")
    dm(ben, ann, "again ben")
    dm(ann, cat, "to cat")

    response = api_client_as(ann).get("/api/chat/conversations/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    entries = body["results"]
    assert [e["user"] for e in entries] == [u(cat), u(ben)]
    assert entries[0]["last_message"]["body"] == "to cat" and entries[0]["unread_count"] == 0
    assert entries[1]["last_message"]["body"] == "again ben" and entries[1]["unread_count"] == 2
    assert all(e["is_online"] is False for e in entries)
    assert set(entries[0]) == {"user", "last_message", "unread_count", "is_online"}
    assert_no_email(response)


def test_conversations_hide_deleted_text_and_drop_former_friends(api_client_as, ann, ben, friends):
    message = dm(ben, ann, "never mind")
    services.dm_delete(user=ben, message_id=message.pk)

    [entry] = api_client_as(ann).get("/api/chat/conversations/").json()["results"]
    assert entry["last_message"]["deleted"] is True and entry["last_message"]["body"] == ""
    assert entry["unread_count"] == 0

    services.dm_send(sender=ben, recipient_id=ann.pk, body="hi", client_id="z")
    user_unfollow(follower=ben, followee_id=ann.pk)
    assert api_client_as(ann).get("/api/chat/conversations/").json()["results"] == []
    assert api_client_as(ann).get("/api/chat/unread/").json()["dms"] == 0


def test_conversations_query_count_is_constant(api_client_as, ann, django_assert_max_num_queries):
    for _ in range(12):
        friend = make_friend_of(ann)
        dm(friend, ann)
    with django_assert_max_num_queries(4):
        assert len(api_client_as(ann).get("/api/chat/conversations/").json()["results"]) == 12


def test_unread_endpoint_matches_the_inbox_counters(api_client_as, general, ann, ben, friends):
    send(ann, general)
    dm(ann, ben)

    response = api_client_as(ben).get("/api/chat/unread/")

    assert response.status_code == 200
    assert response.json() == {
        "dms": 1,
        "dms_by_user": {str(ann.pk): 1},
        "notifications": 0,
        "channels": {str(general.pk): 1},
    }
    assert response.json() == unread_for_user(user=ben)
    # The inbox's own endpoint gives the same object: the counters moved to the core, the old path stays.
    assert api_client_as(ben).get("/api/inbox/unread/").json() == response.json()


def test_no_response_shows_another_users_email(api_client_as, general, ann, ben, friends):
    message = send(ann, general)
    dm(ann, ben)
    client = api_client_as(ben)
    for url in [
        "/api/chat/channels/",
        f"/api/chat/channels/{general.pk}/",
        f"/api/chat/channels/{general.pk}/members/",
        f"/api/chat/channels/{general.pk}/messages/",
        "/api/chat/conversations/",
        f"/api/chat/dm/{ann.pk}/messages/",
    ]:
        response = client.get(url)
        assert response.status_code == 200
        assert ann.email not in response.content.decode()
    assert (
        ann.email not in api_client_as(ann).patch(f"/api/chat/messages/{message.pk}/", {"body": "e"}).content.decode()
    )


def test_ids_beyond_the_database_range_are_not_found_or_invalid(api_client_as, general, ben):
    huge = "9" * 30
    client = api_client_as(ben)
    assert client.get(f"/api/chat/channels/{huge}/").status_code == 404
    assert client.patch(f"/api/chat/messages/{huge}/", {"body": "x"}, format="json").status_code == 404
    assert client.get(f"/api/chat/channels/{general.pk}/messages/", {"before": huge}).status_code == 400
    assert client.post(f"/api/chat/channels/{general.pk}/read/", {"seq": int(huge)}, format="json").status_code == 400
    assert client.get(f"/api/chat/channels/{'9' * 18}/").status_code == 404
