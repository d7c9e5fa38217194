"""chat.history: a join reads a channel's recent messages from the copy while it is current."""

import pytest

from chat import services
from chat.history import RecentMessages

pytestmark = pytest.mark.django_db


def test_a_current_copy_costs_one_query_for_its_authors_and_none_without_messages(
    general, ann, django_assert_num_queries
):
    recent = RecentMessages()
    head = 0  # the channel's stream head: no event yet
    assert recent.get(channel_id=general.pk, head=head) == []
    with django_assert_num_queries(0):
        assert recent.get(channel_id=general.pk, head=head) == []
    message, _ = services.message_create(user=ann, channel_id=general.pk, body="hello", client_id="1")
    head = message.seq  # its event is the stream's last
    first = recent.get(channel_id=general.pk, head=head)
    with django_assert_num_queries(1):  # the authors' rows, not the messages
        assert recent.get(channel_id=general.pk, head=head) is first
    with django_assert_num_queries(1):  # no head (a caller that read none): read, not kept
        assert recent.get(channel_id=general.pk, head=None) == first
