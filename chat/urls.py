from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.chat_index, name="index"),
    path("<int:channel_id>/", views.channel_detail, name="channel"),
    path("dm/<str:username>/", views.dm_detail, name="dm"),
]
