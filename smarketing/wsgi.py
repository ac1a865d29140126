import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from smarketing.collector import settle_for_serving

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarketing.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 (imports the views now, not at the first request)
settle_for_serving()  # the app is loaded: the full collections stop walking it (smarketing.collector)
