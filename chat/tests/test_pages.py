"""The chat pages' server side: who may see which page, and what the shell carries."""

import json

import pytest
from django.urls import reverse

from accounts import services as account_services
from accounts.models import User
from chat import services as chat_services

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ann() -> User:
    return User.objects.create_user(username="ann", password="unused-pw-1", display_name="Ann")


@pytest.fixture
def ben(ann: User) -> User:
    ben = User.objects.create_user(username="ben", password="unused-pw-1", display_name="Ben")
    account_services.user_follow(follower=ann, followee_id=ben.pk)
    account_services.user_follow(follower=ben, followee_id=ann.pk)
    return ben


@pytest.fixture
def cy() -> User:
    return User.objects.create_user(username="cy", password="unused-pw-1")


@pytest.fixture
def general(ann: User):
    return chat_services.channel_create(user=ann, name="general")


def page_config(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="chat-config" type="application/json">') + len(
        '<script id="chat-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


@pytest.mark.parametrize(
    ("name", "args"), [("chat:index", []), ("chat:channel", [1]), ("chat:dm", ["ben"])], ids=["index", "channel", "dm"]
)
def test_chat_pages_require_login(client, name, args):
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_chat_index_lists_channels_with_unread_and_friends(client, ann, ben, general):
    chat_services.channel_join(user=ben, channel_id=general.pk)
    for i in range(2):
        chat_services.message_create(user=ann, channel_id=general.pk, body=f"hi {i}", client_id=f"c{i}")
    chat_services.dm_send(sender=ann, recipient_id=ben.pk, body="psst", client_id="d1")
    client.force_login(ben)

    response = client.get(reverse("chat:index"))

    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-channel-id="{general.pk}"' in html
    assert response.context["channels"] == [{"id": general.pk, "name": "general", "unread": 2}]
    assert response.context["friends"] == [
        {"id": ann.pk, "username": "ann", "shown_name": "Ann", "online": False, "unread": 1}
    ]
    assert page_config(response)["me"] == {"id": ben.pk, "username": "ben", "display_name": "Ben"}


def test_chat_index_offers_public_channels_not_joined(client, ann, cy, general):
    client.force_login(cy)
    response = client.get(reverse("chat:index"))
    assert list(response.context["public_channels"]) == [general]
    assert response.context["channels"] == []


def test_channel_page_renders_for_a_member(client, ann, general):
    client.force_login(ann)
    response = client.get(reverse("chat:channel", args=[general.pk]))
    assert response.status_code == 200
    assert "#general" in response.content.decode()
    config = page_config(response)
    assert config["mode"] == "channel"
    assert config["channel"]["id"] == general.pk
    assert config["urls"]["history"] == f"/api/chat/channels/{general.pk}/messages/"


def test_channel_page_renders_a_public_channel_for_a_non_member(client, cy, general):
    client.force_login(cy)
    response = client.get(reverse("chat:channel", args=[general.pk]))
    assert response.status_code == 200
    # Listed on the page although the WebSocket join will make the membership.
    assert [item["id"] for item in response.context["channels"]] == [general.pk]


def test_channel_page_is_404_for_a_private_channel_of_others(client, ann, cy):
    secret = chat_services.channel_create(user=ann, name="secret", is_private=True)
    client.force_login(cy)
    assert client.get(reverse("chat:channel", args=[secret.pk])).status_code == 404
    assert client.get(reverse("chat:channel", args=[secret.pk + 1000])).status_code == 404


def test_channel_page_escapes_user_data(client, ann):
    channel = chat_services.channel_create(user=ann, name="</script><script>alert(1)</script>", slug="x")
    client.force_login(ann)
    html = client.get(reverse("chat:channel", args=[channel.pk])).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in html  # the title, escaped
    assert "\\u003C/script\\u003E" in html  # the JSON config, escaped


def test_dm_page_renders_for_a_friend(client, ann, ben):
    client.force_login(ann)
    response = client.get(reverse("chat:dm", args=["ben"]))
    assert response.status_code == 200
    assert response.context["is_friend"] is True
    assert 'id="dm-not-friends"' not in response.content.decode()
    config = page_config(response)
    assert config["peer"] == {"id": ben.pk, "username": "ben", "display_name": "Ben"}
    assert config["urls"]["history"] == f"/api/chat/dm/{ben.pk}/messages/"


def test_dm_page_for_a_non_friend_says_dms_are_for_friends(client, ann, cy):
    client.force_login(ann)
    response = client.get(reverse("chat:dm", args=["cy"]))
    assert response.status_code == 200
    assert response.context["is_friend"] is False
    assert 'id="dm-not-friends"' in response.content.decode()


def test_dm_page_is_404_for_oneself_unknown_or_inactive_users(client, ann, cy):
    cy.is_active = False
    cy.save(update_fields=["is_active"])
    client.force_login(ann)
    for username in ("ann", "nobody", "cy"):
        assert client.get(reverse("chat:dm", args=[username])).status_code == 404


def test_channel_page_says_when_a_channel_is_archived(client, ann, general):
    chat_services.channel_update(user=ann, channel_id=general.pk, is_archived=True)
    client.force_login(ann)
    response = client.get(reverse("chat:channel", args=[general.pk]))
    assert 'id="channel-archived"' in response.content.decode()
    assert page_config(response)["channel"]["is_archived"] is True
