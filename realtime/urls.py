from django.urls import path

from realtime.views import InboxUnreadApi

urlpatterns = [path("unread/", InboxUnreadApi.as_view(), name="inbox-unread")]
