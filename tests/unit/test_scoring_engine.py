from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.mappings.fields import OPERATORS, FieldType, LeadField
from app.mappings.loader import load_mappings
from app.mappings.schemas import Condition, Scoring, ScoringRule
from app.mappings.typed import read
from app.scoring import compiled, conditions
from app.scoring.engine import (
    Contribution,
    Lead,
    ScoreResult,
    breakdown,
    grade,
    level,
    matches,
    months_between,
    score,
    temperature,
)

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


# -- the compiled engine answers as the rules read plainly ---------------------------------------

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
# One field of each type, and one undeclared (read as text; as a datetime by the decay).
PLAIN: dict[str, FieldType] = {"title": "text", "size": "number", "day": "date"}
PLAIN |= {"seen": "datetime", "optin": "boolean", "products": "list"}
LEAD_VALUES: dict[str, list[str | None]] = {
    "title": ["DRH", "Responsable RH", "Stagiaire", "ceo", " ", None],
    "size": ["3", "12,5", "1 200", "500", "0", "-2", "many", None],
    "day": ["2026-11-01", "2026-11-30", "1763632800000", "bad", None],
    "seen": ["2026-11-20T10:00:00Z", "2026-11-20T10:00:00+01:00", "2020-01-01", "x", None],
    "optin": ["true", "no", "maybe", None],
    "products": ["Paie;Temps", "Temps", "RH;Notes de frais", "", None],
    "country": ["France", "FR", "Belgique", None],
}
RULE_VALUES: dict[str, list[object]] = {  # some unreadable as their type: they match nothing
    "title": ["rh", "DRH", "stagiaire", "", "ceo"],
    "size": [0, 3, 12.5, 500, "1 200", "many"],
    "day": ["2026-11-01", "2026-11-30", "never"],
    "seen": ["2026-11-20T09:00:00Z", "2026-11-20", "2020-01-01"],
    "optin": [True, False, "yes"],
    "products": ["paie", "temps", "rh"],
    "country": ["France", "fr", "Belgique"],
}
PATTERNS = ["^drh", "rh$", "stagiaire|ceo", r"\bpai", "^$"]


@st.composite
def field_tests(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(sorted(LEAD_VALUES)))
    kind = PLAIN.get(field, "text")
    op = draw(st.sampled_from(OPERATORS[kind]))
    one = st.sampled_from(RULE_VALUES[field])
    if op in ("exists", "missing"):
        return {"field": field, "op": op}
    if op == "matches":
        value: object = draw(st.sampled_from(PATTERNS))
    elif op in ("in", "not_in"):
        value = draw(st.one_of(one, st.lists(one, min_size=1, max_size=3)))
    elif op == "between":
        value = draw(st.lists(one, min_size=2, max_size=2))
    else:
        value = draw(one)
    return {"field": field, "op": op, "value": value}


CONDITIONS = st.recursive(
    field_tests(),
    lambda inner: st.one_of(
        st.builds(lambda cs: {"all": cs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda cs: {"any": cs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, inner),
    ),
    max_leaves=5,
)
LEADS = st.fixed_dictionaries({}, optional={f: st.sampled_from(v) for f, v in LEAD_VALUES.items()})


@st.composite
def rules(draw: st.DrawFn, i: int) -> dict[str, Any]:
    points = draw(st.integers(-60, 60))
    if draw(st.integers(0, 5)) == 0:  # a counted rule
        counted = {"per": "size", "max": draw(st.none() | st.integers(0, 100))}
        return {"name": f"counted {i}", "points": points, **counted}
    return {"name": f"rule {i}", "points": points, **draw(CONDITIONS)}


@st.composite
def models(draw: st.DrawFn) -> Scoring:
    groups = {g: draw(st.lists(rules(i), max_size=6)) for i, g in enumerate(GROUPS)}
    decay = {"field": draw(st.sampled_from(["seen", "day", "last_activity"])), "floor": -30}
    caps = {"fit": 100, "engagement": 60, "negative": 50}
    return Scoring.model_validate(
        {
            "threshold": draw(st.integers(0, 200)),
            "bands": {"hot": 150, "warm": 80, "cold": 20},
            "grades": {"A": 90, "B": 50, "C": 20},
            "levels": {"3": 40, "2": 10},
            "caps": draw(st.none() | st.just(caps)),
            "max_total": draw(st.none() | st.integers(50, 250)),
            "decay": draw(st.none() | st.just({**decay, "points_per_month": -5})),
            "revealing": [{"name": "act", **c} for c in draw(st.lists(CONDITIONS, max_size=2))],
            **groups,
        }
    )


GROUPS = ("fit", "engagement", "negative")
PROPERTY = settings(max_examples=150, deadline=None)


@PROPERTY
@given(condition=CONDITIONS, leads=st.lists(LEADS, min_size=1, max_size=5))
def test_a_compiled_condition_holds_exactly_when_the_condition_read_plainly_does(
    condition: dict[str, Any], leads: list[dict[str, str | None]]
) -> None:
    c = Condition.model_validate(condition)
    slots = compiled.Slots()
    test = compiled.condition(c, PLAIN, slots)
    for lead in leads:
        assert test(slots.read(lead)) is conditions.met(c, lead, PLAIN)


@PROPERTY
@given(model=models(), leads=st.lists(LEADS, min_size=1, max_size=5), now=st.none() | st.just(NOW))
def test_given_any_model_and_leads_the_engine_scores_as_the_rules_read_plainly(
    model: Scoring, leads: list[dict[str, str | None]], now: datetime | None
) -> None:
    for lead in leads:
        assert score(lead, model, PLAIN, now) == plain_score(lead, model, PLAIN, now)


def test_given_other_field_types_then_the_same_model_reads_the_lead_as_those() -> None:
    model = Scoring.model_validate(
        {
            "threshold": 1,
            "fit": [{"name": "big", "field": "size", "op": "gt", "value": 9, "points": 1}],
        }
    )
    lead: dict[str, str | None] = {"size": "10"}
    assert score(lead, model, {"size": "number"}).total == 1
    assert score(lead, model, {"size": "text"}).total == 0  # as text, "10" < "9"
    assert score(lead, model, {"size": "number"}).total == 1


def plain_score(
    lead: Lead, model: Scoring, types: Mapping[str, FieldType], now: datetime | None
) -> ScoreResult:
    """The scoring rules read plainly, each condition by ``conditions.met`` as the engine did
    before it was compiled (docs/benchmarks.md, scoring): the answers the engine must give."""
    contributions: list[Contribution] = []
    points: dict[str, int] = {}
    for group, _, group_rules in model.groups():
        fired = [c for r in group_rules if (c := _plain_rule(group, r, lead, types)) is not None]
        subtotal = sum(c.points for c in fired)
        cap = getattr(model.caps, group) if model.caps is not None else None
        if cap is not None and group == "negative" and subtotal < -cap:
            fired.append(Contribution(f"negative capped at -{cap}", -cap - subtotal, group))
        elif cap is not None and group != "negative" and subtotal > cap:
            fired.append(Contribution(f"{group} capped at {cap}", cap - subtotal, group))
        contributions += fired
        points[group] = sum(c.points for c in fired)
    d = model.decay
    since = read(types.get(d.field, "datetime"), lead.get(d.field)) if d else None
    if now is not None and d is not None and isinstance(since, datetime):
        months = months_between(since, now.astimezone(UTC))
        lost = max(months * d.points_per_month, d.floor if d.floor is not None else -(10**9))
        if lost:
            contributions.append(
                Contribution(f"no activity for {months} months", lost, "decay", lead.get(d.field))
            )
    total = sum(c.points for c in contributions)
    if model.max_total is not None and total > model.max_total:
        capped = Contribution(
            f"total capped at {model.max_total}", model.max_total - total, "total"
        )
        contributions.append(capped)
        total = model.max_total
    act = next((a.name for a in model.revealing if conditions.met(a, lead, types)), None)
    return ScoreResult(
        total,
        tuple(contributions),
        total >= model.threshold or act is not None,
        temperature(total, model),
        grade(points["fit"], model),
        level(points["engagement"], model),
        act,
    )


def _plain_rule(
    group: str, rule: ScoringRule, lead: Lead, types: Mapping[str, FieldType]
) -> Contribution | None:
    if not conditions.met(rule, lead, types):
        return None
    if rule.per is None:
        if rule.field is not None:
            return Contribution(rule.name, rule.points, group, lead.get(rule.field))
        values = [
            (conditions.met(leaf, lead, types), value)
            for _, leaf in conditions.leaves(rule)
            if (value := lead.get(leaf.field or "")) is not None
        ]
        shown = next((v for held, v in values if held), values[0][1] if values else None)
        return Contribution(rule.name, rule.points, group, shown)
    count = read("number", lead.get(rule.per))
    n = int(count) if count is not None and count > 0 else 0
    if n == 0:
        return None
    p = rule.points * n
    if rule.max is not None:
        p = max(-rule.max, min(rule.max, p))
    return Contribution(f"{rule.name} x{n}", p, group, lead.get(rule.per))


INT32 = 2**31 - 1


@pytest.mark.parametrize(
    ("points", "views", "expected_total", "expected_rule"),
    [
        (15, "1e300", 15 * 1_000_000, "Pricing page x1000000"),  # counted at most 1,000,000
        (15, "3", 45, "Pricing page x3"),
        (100_000, "1e300", 1_000_000_000, "Pricing page x1000000"),  # total bound: 1e9
        (-100_000, "1e300", -1_000_000_000, "Pricing page x1000000"),
    ],
)
def test_given_a_counted_rule_without_max_and_a_huge_count_then_the_score_stays_storable(
    points: int, views: str, expected_total: int, expected_rule: str
) -> None:
    model = Scoring.model_validate(
        {"threshold": 1, "fit": [{"name": "Pricing page", "per": "views", "points": points}]}
    )
    result = score({"views": views}, model, {"views": "number"})
    assert result.total == expected_total and abs(result.total) <= INT32
    assert result.contributions[0].rule == expected_rule
    assert sum(c.points for c in result.contributions) == result.total  # the lines add up
