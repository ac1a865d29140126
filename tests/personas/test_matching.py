from __future__ import annotations

import pytest

from personas import services
from personas.matching import FIT_POINTS, match_persona
from personas.services import PersonaInput
from smarketing.errors import InvalidInput

pytestmark = pytest.mark.django_db


def persona(org, name, **criteria):
    return services.persona_create(org=org, data=PersonaInput(name=name, **criteria))


@pytest.fixture
def personas(org):
    return {
        "marketer": persona(
            org,
            "Marketing Mary",
            industries=["Software", "SaaS"],
            company_size_min=50,
            company_size_max=1000,
            title_keywords=["marketing", "demand gen"],
            countries=["GB", "DE"],
        ),
        "founder": persona(org, "Founder Fiona", company_size_max=50, seniorities=["owner", "c_level"]),
    }


def test_best_match_with_points_and_reasons(org, personas):
    found, points, reasons = match_persona(
        {"title": "Head of Marketing", "industry": "saas", "company_size": 200, "country": "gb"}, org=org
    )
    assert found == personas["marketer"]
    assert points == FIT_POINTS["industry"] + FIT_POINTS["title"] + FIT_POINTS["company_size"] + FIT_POINTS["country"]
    assert any("contains “marketing”" in r for r in reasons)
    assert any("Company size 200 is within 50–1000" in r for r in reasons)


def test_keywords_match_whole_words_only(org, personas):
    found, _, _ = match_persona({"title": "Supermarketing intern"}, org=org)
    assert found is None


def test_no_match_is_none_with_a_reason(org, personas):
    assert match_persona({"title": "Chef", "country": "FR"}, org=org) == (
        None,
        0,
        ["No persona's fit criteria match this lead."],
    )


def test_no_personas_at_all(org):
    assert match_persona({"title": "CEO"}, org=org) == (None, 0, ["No personas are defined yet."])


def test_tie_on_points_goes_to_the_more_specific_persona(org):
    broad = persona(org, "Broad", industries=["Software"], countries=["US"], title_keywords=["cto"])
    narrow = persona(org, "Narrow", industries=["Software"])
    found, points, reasons = match_persona({"industry": "Software"}, org=org)
    # Both earn the industry points; Narrow passed 1 of 1 criteria, Broad 1 of 3.
    assert (found, points) == (narrow, FIT_POINTS["industry"])
    assert "Tied on points with Broad" in reasons[-1]
    assert broad.pk < narrow.pk  # not decided by age


def test_full_tie_goes_to_the_oldest_persona(org):
    older = persona(org, "Older", industries=["Software"], countries=["US"])
    persona(org, "Newer", industries=["Software"], countries=["DE"])
    found, _, _ = match_persona({"industry": "Software"}, org=org)
    assert found == older


def test_archived_personas_are_not_matched(org, personas):
    services.persona_archive(persona=personas["founder"])
    found, _, _ = match_persona({"company_size": 10, "seniority": "owner"}, org=org)
    assert found is None


def test_preloaded_personas_need_no_queries(org, personas, django_assert_num_queries):
    loaded = list(personas.values())
    with django_assert_num_queries(0):
        found, _, _ = match_persona({"company_size": 10, "seniority": "owner"}, personas=loaded)
    assert found == personas["founder"]


def test_match_needs_org_or_personas():
    with pytest.raises(TypeError):
        match_persona({"title": "CEO"})


def test_identical_criteria_are_refused(org, personas):
    with pytest.raises(InvalidInput, match="Founder Fiona") as exc:
        persona(org, "Copy", company_size_max=50, seniorities=["c_level", "owner"])
    assert exc.value.field == "industries"
