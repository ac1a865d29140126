"""The authentication backend: Django's ``ModelBackend``, with the signed-in user read by a
prepared statement on every request (``smarketing.prepared``: ≈ 0.08 ms of Python against
≈ 0.27 for the ORM's ``get``)."""

from __future__ import annotations

from functools import cache

from django.contrib.auth import backends, get_user_model
from django.core.exceptions import ValidationError

from smarketing.prepared import PreparedRead


@cache
def _user_by_id() -> PreparedRead:
    User = get_user_model()
    return PreparedRead(lambda pk: User._default_manager.filter(pk=pk).order_by()[:1], pk=int)


class ModelBackend(backends.ModelBackend):
    def get_user(self, user_id):
        try:
            pk = get_user_model()._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        user = next(iter(_user_by_id()(pk=pk)), None)
        return user if user is not None and self.user_can_authenticate(user) else None
