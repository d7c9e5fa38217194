"""Selectors: viewer scoping, counters in a fixed number of queries, and the OpenAPI schema."""

import pytest
import yaml
from django.core.management import call_command

from accounts.tests.factories import UserFactory, make_friends
from chat import selectors, services
from chat.tests.conftest import join
from chat.tests.factories import ChannelFactory
from config.errors import NotFound

pytestmark = pytest.mark.django_db


def test_unread_counts_of_many_users_take_two_queries(general, ann, django_assert_num_queries):
    users = [UserFactory() for _ in range(10)]
    for user in users:
        join(user, general)
        make_friends(user, ann)
        services.dm_send(sender=ann, recipient_id=user.pk, body="hi", client_id=f"x{user.pk}")
    services.message_create(user=ann, channel_id=general.pk, body="all", client_id="all")

    with django_assert_num_queries(2):
        counts = selectors.unread_counts(user_ids=[user.pk for user in users])

    expected = {"dms": 1, "dms_by_user": {str(ann.pk): 1}, "channels": {str(general.pk): 1}}
    assert all(counts[user.pk] == expected for user in users)


def test_channel_get_for_user_hides_other_peoples_private_channels(secret, ben, ann):
    with pytest.raises(NotFound):
        selectors.channel_get_for_user(user=ben, channel_id=secret.pk)
    assert selectors.channel_get_for_user(user=ann, channel_id=secret.pk).member_count == 1


def test_message_get_for_user_is_scoped_to_visible_channels(secret, general, ann, cat):
    hidden, _ = services.message_create(user=ann, channel_id=secret.pk, body="x", client_id="h")
    public, _ = services.message_create(user=ann, channel_id=general.pk, body="y", client_id="p")
    with pytest.raises(NotFound):
        selectors.message_get_for_user(user=cat, message_id=hidden.pk)
    assert selectors.message_get_for_user(user=cat, message_id=public.pk) == public


def test_join_history_is_the_last_50_oldest_first(general, ann):
    private = ChannelFactory()
    join(ann, private)
    for i in range(52):
        services.message_create(user=ann, channel_id=general.pk, body=f"m{i}", client_id=f"m{i}")
    services.message_create(user=ann, channel_id=private.pk, body="elsewhere", client_id="e")

    history = selectors.message_list_latest(channel_id=general.pk)

    assert [m.seq for m in history] == list(range(3, 53))


def test_every_chat_endpoint_is_in_the_openapi_schema(tmp_path):
    path = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    paths = yaml.safe_load(path.read_text())["paths"]
    expected = {
        "/api/chat/channels/": {"get", "post"},
        "/api/chat/channels/{channel_id}/": {"get", "patch"},
        "/api/chat/channels/{channel_id}/join/": {"post"},
        "/api/chat/channels/{channel_id}/leave/": {"post"},
        "/api/chat/channels/{channel_id}/members/": {"get", "post"},
        "/api/chat/channels/{channel_id}/members/{user_id}/": {"delete"},
        "/api/chat/channels/{channel_id}/messages/": {"get", "post"},
        "/api/chat/channels/{channel_id}/read/": {"post"},
        "/api/chat/messages/{message_id}/": {"patch", "delete"},
        "/api/chat/conversations/": {"get"},
        "/api/chat/dm/{user_id}/messages/": {"get", "post"},
        "/api/chat/dm/{user_id}/read/": {"post"},
        "/api/chat/dm/messages/{message_id}/": {"patch", "delete"},
        "/api/chat/unread/": {"get"},
    }
    for url, methods in expected.items():
        assert set(paths[url]) >= methods, url
    assert not [url for url in paths if url.startswith("/api/chat/") and url not in expected]
