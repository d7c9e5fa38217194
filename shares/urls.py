from django.urls import path

from shares import views

app_name = "shares"

urlpatterns = [
    path("shares/", views.dashboard, name="dashboard"),
    path("s/<str:token>/", views.shared_view, name="view"),
]
