"""``field__any_of``: ``__in`` for long lists of plain values, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from django.core.exceptions import FieldError
from django.db.models import Q
from django.db.models.functions import Upper

from leads.models import Lead
from tests.factories import LeadFactory


@pytest.fixture
def leads(org):
    return [LeadFactory(organization=org, email=f"Lead.{i}@Buyer.test") for i in range(4)]


def test_any_of_selects_the_rows_in_the_collection(leads, django_assert_num_queries):
    wanted = {leads[0].pk, leads[2].pk, 10**12}
    for values in (wanted, frozenset(wanted), list(wanted), tuple(wanted)):
        assert set(Lead.objects.filter(pk__any_of=values).values_list("pk", flat=True)) == wanted - {10**12}
    emails = {"LEAD.1@BUYER.TEST", "lead.3@buyer.test"}
    found = Lead.objects.alias(key=Upper("email")).filter(key__any_of=emails).values_list("pk", flat=True)
    assert list(found) == [leads[1].pk]  # the database's values, compared as given
    with django_assert_num_queries(0):
        assert list(Lead.objects.filter(pk__any_of=set())) == []


def test_any_of_negated_and_combined(leads):
    others = {lead.pk for lead in leads[1:]}
    assert set(Lead.objects.exclude(pk__any_of={leads[0].pk}).values_list("pk", flat=True)) == others
    assert Lead.objects.exclude(pk__any_of=set()).count() == 4
    either = Lead.objects.filter(Q(pk__any_of=set()) | Q(pk=leads[3].pk)).values_list("pk", flat=True)
    assert list(either) == [leads[3].pk]


def test_any_of_takes_only_collections_and_only_on_id_and_text_fields(leads):
    with pytest.raises(TypeError, match="set, list or tuple"):
        Lead.objects.filter(pk__any_of=leads[0].pk)
    with pytest.raises(TypeError, match="set, list or tuple"):
        Lead.objects.filter(email__any_of="a@b.test")
    with pytest.raises(FieldError, match="any_of"):
        Lead.objects.filter(created_at__any_of=[leads[0].created_at])
