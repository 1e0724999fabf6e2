from pathlib import Path

import pytest

from app.mappings.fields import FieldType, LeadField
from app.mappings.loader import load_mappings
from app.mappings.schemas import Scoring, ScoringRule
from app.scoring.engine import Contribution, ScoreResult, breakdown, matches, score

ROOT = Path(__file__).resolve().parents[2]


def rule(op: str, value: object = None, field: str = LeadField.TITLE) -> ScoringRule:
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
    # comparisons read numbers: they apply to a number field (company_size), not to text
    field = LeadField.COMPANY_SIZE if op in ("gt", "gte", "lt", "lte") else LeadField.TITLE
    assert matches(rule(op, value, field), {field: lead_value}) is expected


TYPES: dict[str, FieldType] = {"views": "number", "demo_on": "date", "seen": "datetime"}
TYPES |= {"optin": "boolean", "products": "list", "title": "text"}


@pytest.mark.parametrize(
    ("field", "op", "value", "lead_value", "expected"),
    [
        ("views", "eq", 3, "3.0", True),  # numbers compare as numbers
        ("views", "in", [1, 2, 3], "2", True),
        ("views", "gte", 3, "lots", False),  # unreadable: no condition but missing holds
        ("views", "missing", None, "lots", True),
        ("demo_on", "gt", "2026-11-01", "2026-11-20", True),
        ("demo_on", "lt", "2026-11-01", "2026-11-20", False),
        ("seen", "gte", "2026-11-20", "2026-11-20T09:00:00Z", True),  # a date: its midnight UTC
        ("seen", "lt", "2026-11-20T10:00:00+01:00", "2026-11-20T08:59:00Z", True),
        ("seen", "gt", "2025-11-19", "1763632800000", True),  # epoch ms: 2025-11-20
        ("optin", "eq", True, "true", True),
        ("optin", "eq", "yes", "True", True),
        ("optin", "ne", True, "false", True),
        ("optin", "eq", True, "maybe", False),
        ("products", "contains", "Paie", "Temps;paie;RH", True),
        ("products", "contains", "Paie", "Temps;RH", False),
        ("products", "in", ["paie", "notes de frais"], "RH;Notes de frais", True),
        ("title", "contains", "rh", "Directrice RH", True),
    ],
)
def test_each_type_reads_its_values_and_compares_as_such(
    field: str, op: str, value: object, lead_value: str | None, expected: bool
) -> None:
    condition = ScoringRule(name="r", field=field, op=op, value=value, points=1)
    assert matches(condition, {field: lead_value}, TYPES) is expected


def test_given_the_shipped_model_when_an_hr_director_of_a_target_firm_then_sales_ready() -> None:
    model = load_mappings(ROOT / "mappings").scoring
    lead: dict[str, str | None] = {
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


def test_the_breakdown_line_lists_points_won_then_lost_and_fits_a_crm_field() -> None:
    result = ScoreResult(
        50, (Contribution("HR director", 60), Contribution("Intern", -50), Contribution("FR", 40)),
        False,
    )  # fmt: skip
    assert breakdown(result) == "50: HR director +60, FR +40; -50 Intern"
    many = ScoreResult(999, tuple(Contribution(f"rule number {i}", 10) for i in range(40)), True)
    line = breakdown(many)
    assert len(line) == 255 and line.endswith("…")
    assert breakdown(ScoreResult(0, (), False)) == "0: no points"
