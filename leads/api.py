"""REST interface of leads: event ingestion (and, with the leads issue, leads themselves)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from leads.ingestion import MAX_EVENTS, events_ingest
from leads.models import ActivityEvent
from smarketing.api import OrgScopedMixin

EventSerializer = inline_serializer(
    "Event",
    {
        "id": serializers.CharField(max_length=100, help_text="Your unique id; re-sending it is a duplicate."),
        "type": serializers.ChoiceField(ActivityEvent.Type.choices),
        "occurred_at": serializers.DateTimeField(help_text="ISO 8601; no offset means UTC."),
        "email": serializers.EmailField(required=False),
        "anonymous_id": serializers.CharField(required=False, max_length=100),
        "properties": serializers.DictField(required=False, help_text="At most 8 KB of JSON."),
        "lead": serializers.DictField(required=False, help_text="Lead attributes, e.g. first_name, title."),
    },
)


class EventIngest(OrgScopedMixin, APIView):
    """Store a batch of activity events; they are scored in the background.

    Invalid events are reported by index and the valid ones are kept. Unknown emails create
    leads; an event carrying both an email and an anonymous id identifies that visitor.
    """

    permission = "events.ingest"

    @extend_schema(
        request=inline_serializer(
            "EventBatch", {"events": serializers.ListField(child=EventSerializer, max_length=MAX_EVENTS)}
        ),
        responses={
            202: inline_serializer(
                "EventBatchResult",
                {
                    "accepted": serializers.IntegerField(),
                    "duplicates": serializers.IntegerField(),
                    "errors": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
        examples=[
            OpenApiExample(
                "A page view",
                request_only=True,
                value={
                    "events": [
                        {
                            "id": "evt-1",
                            "type": "page_view",
                            "occurred_at": "2026-11-23T09:30:00Z",
                            "email": "ann@buyer.example",
                            "properties": {"url": "https://you.example/pricing"},
                        }
                    ]
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        result = events_ingest(org=self.org, payload=request.data)
        return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)
