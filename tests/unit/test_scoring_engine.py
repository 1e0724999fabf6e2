from pathlib import Path

import pytest

from app.mappings.fields import LeadField
from app.mappings.loader import load_mappings
from app.mappings.schemas import Scoring, ScoringRule
from app.scoring.engine import matches, score

ROOT = Path(__file__).resolve().parents[2]


def rule(op: str, value: object = None, field: LeadField = LeadField.TITLE) -> ScoringRule:
    return ScoringRule(name="r", field=field, op=op, value=value, points=1)


@pytest.mark.parametrize(
    ("op", "value", "lead_value", "expected"),
    [
        ("eq", "DRH", "drh", True),
        ("eq", "DRH", "DRH adjoint", False),
        ("ne", "DRH", "CEO", True),
        ("ne", "DRH", None, False),
        ("contains", "RH", "Responsable RH", True),
        ("contains", "paie", "Gestionnaire PAIE", True),
        ("contains", "RH", None, False),
        ("in", ["FR", "France"], "france", True),
        ("in", ["FR", "France"], "Belgique", False),
        ("gte", 30, "30", True),
        ("gte", 30, "29", False),
        ("gt", 500, "1 200", True),
        ("lt", 50, "12,5", True),
        ("lte", 50, "many", False),
        ("exists", None, " ", False),
        ("exists", None, "+33 1 23", True),
        ("missing", None, None, True),
        ("missing", None, "x", False),
    ],
)
def test_operators(op: str, value: object, lead_value: str | None, expected: bool) -> None:
    assert matches(rule(op, value), {LeadField.TITLE: lead_value}) is expected


def test_given_the_shipped_model_when_an_hr_director_of_a_target_firm_then_sales_ready() -> None:
    model = load_mappings(ROOT / "mappings").scoring
    lead = {
        LeadField.TITLE: "DRH",
        LeadField.COMPANY_SIZE: "120",
        LeadField.INDUSTRY: "CONSTRUCTION",
        LeadField.COUNTRY: "France",
        LeadField.PHONE: "+33 1 02 03 04 05",
    }
    result = score(lead, model)
    assert result.total == 60 + 40 + 50 + 20 + 10
    assert result.sales_ready
    assert next(c.rule for c in result.contributions) == "HR director or HR manager"


def test_given_an_intern_of_a_big_firm_then_negative_points_keep_it_cold() -> None:
    model = Scoring(
        threshold=150,
        rules=[
            ScoringRule(
                name="intern", field=LeadField.TITLE, op="contains", value="stagiaire", points=-50
            ),
            ScoringRule(name="big", field=LeadField.COMPANY_SIZE, op="gt", value=500, points=-60),
        ],
    )
    result = score({LeadField.TITLE: "Stagiaire RH", LeadField.COMPANY_SIZE: "2000"}, model)
    assert result.total == -110
    assert not result.sales_ready


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (215, "hot"),
        (300, "hot"),
        (214, "warm"),
        (140, "warm"),
        (139, "cold"),
        (30, "cold"),
        (29, None),
    ],
)
def test_the_bands_give_the_temperature_each_from_its_own_score_up(
    total: int, expected: str | None
) -> None:
    model = Scoring.model_validate(
        {
            "threshold": 150,
            "bands": {"hot": 215, "warm": 140, "cold": 30},
            "rules": [{"name": "p", "field": "title", "op": "exists", "points": total}],
        }
    )
    result = score({LeadField.TITLE: "DRH"}, model)
    assert (result.total, result.temperature) == (total, expected)
    assert result.sales_ready is (total >= 150)


def test_without_bands_there_is_no_temperature() -> None:
    model = Scoring.model_validate({"threshold": 10, "rules": []})
    assert score({}, model).temperature is None
