"""Hostile input at the limits of what the models hold: stored as given, never a server error."""

import pytest

from shares import services as share_services
from shares.models import COMMENT_NAME_MAX_LENGTH, ShareComment

pytestmark = pytest.mark.django_db


def test_a_signed_in_viewer_with_the_longest_display_name_can_comment(ann, ben, api_client_as):
    """A display name holds 100 characters, a comment's name 40 (PostgreSQL refused the
    longer one with a DataError: a 500 for every comment of such a user)."""
    ben.display_name = ("<img src=x onerror=__xss=1>" * 4)[:100]
    ben.save(update_fields=["display_name"])
    share = share_services.share_create(user=ann, title="My year")
    response = api_client_as(ben).post(f"/api/s/{share.token}/comments/", {"message": "Go"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["name"] == ben.display_name[:COMMENT_NAME_MAX_LENGTH]
    assert ShareComment.objects.get().name == ben.display_name[:COMMENT_NAME_MAX_LENGTH]
