"""Content negotiation for the API (``DEFAULT_CONTENT_NEGOTIATION_CLASS``).

Its own module, importing nothing of DRF's views: ``rest_framework.views`` reads the setting
while it defines ``APIView``, so a module that imports those views cannot hold the class.
"""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, with its answer for a request that accepts anything given without work.

    A request with no ``Accept`` header, or ``Accept: */*`` (what API clients, ``curl`` and
    ``requests`` send), and no format asked for (``?format=``, a ``.json`` suffix) gets the first
    renderer and its media type: what DRF works out by parsing the header into media types and
    ranking them against every renderer (0.1 ms of a lead creation's ~3). Anything else is DRF's.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            renderers
            and ";" not in renderers[0].media_type  # DRF would pass over one with parameters
            and not format_suffix
            and request.META.get("HTTP_ACCEPT", "*/*") == "*/*"
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
