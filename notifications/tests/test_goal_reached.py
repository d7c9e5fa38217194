"""End to end with the shares app, through its REST API only (apps never import each other):
reaching a goal's target gives its owner an achievement notification."""

import pytest

from notifications.models import Notification

pytestmark = pytest.mark.django_db


def test_reaching_a_goal_notifies_its_owner_once(ann, api_client_as, committed):
    client = api_client_as(ann)
    goal = client.post("/api/goals/", {"title": "Run 100 km", "unit": "km", "target": 100}, format="json")
    assert goal.status_code == 201, goal.json()
    progress_url = f"/api/goals/{goal.json()['id']}/progress/"

    with committed():
        assert client.post(progress_url, {"delta": 60}, format="json").status_code == 201
    assert not Notification.objects.exists()
    with committed():
        assert client.post(progress_url, {"delta": 40}, format="json").status_code == 201

    notification = Notification.objects.get(recipient=ann)
    assert (notification.kind, notification.title) == ("achievement", "Goal reached: Run 100 km")
    assert notification.body == "You reached your target of 100 km."
    assert client.get("/api/notifications/unread-count/").json() == {"count": 1}
