import pytest

from accounts import selectors
from accounts.api.serializers import PublicUserSerializer
from accounts.models import User
from accounts.tests.factories import FollowFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dan(db):
    return UserFactory(username="dan", display_name="Annabel")


def relationship(users):
    return [(user.username, user.is_followed, user.follows_you, user.is_friend) for user in users]


def test_user_public_has_public_fields_only(ann):
    assert selectors.user_public(ann) == {"id": ann.pk, "username": "ann", "display_name": "Ann"}


def test_user_public_reads_only_the_user_public_fields(ann, ben, django_assert_num_queries):
    # Copies of U are checked against these columns alone (chat's join history): a field
    # user_public reads beyond them would be loaded here, and copies would miss its changes.
    loaded = User.objects.only(*selectors.USER_PUBLIC_FIELDS).get(pk=ann.pk)
    with django_assert_num_queries(0):
        assert selectors.user_public(loaded) == selectors.user_public(ann)
    assert selectors.user_public_row(loaded) == (ann.pk, "ann", "Ann")
    assert selectors.user_public_rows([ben.pk, ann.pk, ann.pk, 10**9]) == {
        selectors.user_public_row(ann),
        selectors.user_public_row(ben),
    }
    assert selectors.user_public_rows([]) == frozenset()


def test_user_public_matches_public_user_serializer(ann):
    assert selectors.user_public(ann) == PublicUserSerializer(ann).data


def test_user_list_annotates_relationship_to_viewer(ann, ben, cat):
    FollowFactory(follower=ann, followee=ben)
    FollowFactory(follower=ben, followee=ann)
    FollowFactory(follower=cat, followee=ann)

    assert relationship(selectors.user_list(viewer=ann)) == [
        ("ann", False, False, False),
        ("ben", True, True, True),
        ("cat", False, True, False),
    ]


def test_user_list_searches_username_and_display_name_prefix(ann, ben, dan):
    found = selectors.user_list(viewer=ben, search="AN")

    assert [user.username for user in found] == ["ann", "dan"]


def test_user_list_search_is_a_prefix_not_a_substring(ann, ben):
    assert list(selectors.user_list(viewer=ann, search="nn")) == []


def test_user_list_leaves_out_inactive_users(ann):
    UserFactory(username="gone", is_active=False)

    assert [user.username for user in selectors.user_list(viewer=ann)] == ["ann"]


def test_user_get_returns_annotated_user_or_none(ann, ben):
    FollowFactory(follower=ben, followee=ann)
    inactive = UserFactory(is_active=False)

    user = selectors.user_get(viewer=ann, user_id=ben.pk)

    assert relationship([user]) == [("ben", False, True, False)]
    assert selectors.user_get(viewer=ann, user_id=inactive.pk) is None
    assert selectors.user_get(viewer=ann, user_id=10**9) is None


def test_friend_lists_of_viewer(ann, ben, cat, dan):
    FollowFactory(follower=ann, followee=ben)
    FollowFactory(follower=ben, followee=ann)
    FollowFactory(follower=ann, followee=cat)
    FollowFactory(follower=dan, followee=ann)
    FollowFactory(follower=ben, followee=cat)

    assert relationship(selectors.user_list_friends(viewer=ann)) == [("ben", True, True, True)]
    assert relationship(selectors.user_list_following(viewer=ann)) == [
        ("ben", True, True, True),
        ("cat", True, False, False),
    ]
    assert relationship(selectors.user_list_followers(viewer=ann)) == [
        ("ben", True, True, True),
        ("dan", False, True, False),
    ]
    assert selectors.friend_ids_of(ann) == {ben.pk}
    assert selectors.are_friends(ann, ben)
    assert not selectors.are_friends(ann, cat)
    assert not selectors.are_friends(ann, ann)


def test_friend_lists_leave_out_inactive_users(ann, ben):
    FollowFactory(follower=ann, followee=ben)
    FollowFactory(follower=ben, followee=ann)
    ben.is_active = False
    ben.save(update_fields=["is_active"])

    assert list(selectors.user_list_friends(viewer=ann)) == []
    assert list(selectors.user_list_following(viewer=ann)) == []
    assert list(selectors.user_list_followers(viewer=ann)) == []


def test_user_list_runs_one_query(ann, django_assert_num_queries):
    for _ in range(5):
        FollowFactory(follower=ann, followee=UserFactory())

    with django_assert_num_queries(1):
        relationship(selectors.user_list(viewer=ann))
