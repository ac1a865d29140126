"""Django middleware with less work for requests that do not use what it sets up."""

from __future__ import annotations

from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.contrib.messages.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty


class MessageMiddleware(DjangoMessageMiddleware):
    """Django's, with the message storage made when a message is first added or read.

    Django makes it (a cookie storage and a session storage behind it) for every request, API
    requests included, which never use it: 0.04 ms of a lead creation's ~2. A storage nobody
    touched has nothing to store, so the response is left as Django's update would leave it.
    """

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        storage = getattr(request, "_messages", None)
        if isinstance(storage, SimpleLazyObject) and storage._wrapped is empty:
            return response
        return super().process_response(request, response)
