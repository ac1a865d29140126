"""Every asset a page loads ships with the app: no CDN, no third-party host."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

ASSET = re.compile(r'<(?:script|link|img)\b[^>]*?(?:src|href)="([^"]+)"', re.I)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url_name", "signed_in"),
    [("index", False), ("accounts:login", False), ("accounts:signup", False), ("api-docs", True), ("home", True)],
)
def test_pages_load_only_local_assets(client, login, admin, url_name, signed_in):
    body = (login(admin) if signed_in else client).get(reverse(url_name)).content.decode()
    assets = ASSET.findall(body)
    assert assets, "expected the page to load stylesheets and scripts"
    for url in assets:
        assert url.startswith("/static/"), f"{url_name} loads {url}"
        assert finders.find(url.removeprefix("/static/")), f"{url} is not in the app's static files"


@pytest.mark.django_db
def test_htmx_is_available_on_every_page(client):
    body = client.get(reverse("accounts:login")).content.decode()
    assert re.search(r'<script src="/static/django_htmx/htmx[^"]*\.js"', body)
