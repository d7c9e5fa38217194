"""Server-rendered pages of the accounts app."""

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import selectors
from config.throttling import login_wait


def home(request: HttpRequest) -> HttpResponse:
    """What the project offers; signed-in users also see their friends."""
    friends = selectors.friends_of(request.user) if request.user.is_authenticated else None
    return render(request, "home.html", {"friends": friends})


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, counted against the same limits as POST /api/auth/token/."""

    retry_after: int | None = None

    def clean(self) -> dict[str, Any]:
        self.retry_after = login_wait(self.request) if self.request is not None else None
        if self.retry_after is not None:  # refused before the password is even checked
            raise ValidationError(
                f"Too many sign-in attempts; try again in {self.retry_after} seconds.", code="rate_limited"
            )
        return super().clean()


class LoginView(auth_views.LoginView):
    """The sign-in page; over a limit it answers 429 with `Retry-After` and the form's error."""

    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if getattr(form, "retry_after", None) is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response
