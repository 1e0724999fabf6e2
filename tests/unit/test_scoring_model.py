"""The scoring model (scoring.yaml, issue 9 point 3): groups, operators, condition groups,
counted rules, decay, caps, revealing acts, grades and levels, and the errors of a bad model."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.mappings.fields import FieldType
from app.mappings.loader import MappingsError, load_mappings
from app.mappings.schemas import Qualification, Scoring, ScoringRule
from app.qualification.engine import qualify
from app.scoring.engine import Contribution, months_between, score

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
TYPES: dict[str, FieldType] = {
    "title": "text",
    "company_size": "number",
    "country": "text",
    "views": "number",
    "forms": "number",
    "demo_on": "date",
    "last_activity": "datetime",
    "products": "list",
    "quote_requested": "boolean",
    "unsubscribed": "boolean",
}


def model(**data: Any) -> Scoring:
    return Scoring.model_validate({"threshold": 150, **data})


def one_rule(condition: dict[str, Any]) -> Scoring:
    return model(fit=[{"name": "r", "points": 1, **condition}])


@pytest.mark.parametrize(
    ("condition", "lead", "expected"),
    [
        ({"field": "title", "op": "matches", "value": r"^(drh|dir\w* rh)"}, "Directrice RH", True),
        ({"field": "title", "op": "matches", "value": r"^(drh|dir\w* rh)"}, "Assistante RH", False),
        ({"field": "title", "op": "matches", "value": r"\bRH\b"}, "resp. rh groupe", True),
        ({"field": "products", "op": "matches", "value": "^pai"}, "Temps;Paie", True),
        ({"field": "products", "op": "matches", "value": "^pai"}, "Temps", False),
        ({"field": "company_size", "op": "between", "value": [30, 500]}, "30", True),
        ({"field": "company_size", "op": "between", "value": [30, 500]}, "500", True),
        ({"field": "company_size", "op": "between", "value": [30, 500]}, "501", False),
        ({"field": "company_size", "op": "between", "value": [30, 500]}, None, False),
        ({"field": "demo_on", "op": "between", "value": ["2026-11-01", "2026-11-30"]},
         "2026-11-30", True),
        ({"field": "last_activity", "op": "between",
          "value": ["2026-11-01T00:00:00Z", "2026-11-02"]}, "2026-11-02T00:00:00Z", True),
        ({"field": "country", "op": "not_in", "value": ["France", "FR"]}, "Belgique", True),
        ({"field": "country", "op": "not_in", "value": ["France", "FR"]}, "france", False),
        ({"field": "country", "op": "not_in", "value": ["France"]}, None, False),
        ({"field": "company_size", "op": "not_in", "value": [1, 2]}, "3", True),
        ({"field": "products", "op": "not_in", "value": ["paie"]}, "Temps;RH", True),
        ({"field": "products", "op": "not_in", "value": ["paie"]}, "Temps;Paie", False),
    ],
)  # fmt: skip
def test_the_new_operators_read_each_type(
    condition: dict[str, Any], lead: str | None, expected: bool
) -> None:
    result = score({condition["field"]: lead}, one_rule(condition), TYPES)
    assert (result.total == 1) is expected


@pytest.mark.parametrize(
    ("condition", "lead", "expected"),
    [
        ({"all": [{"field": "title", "op": "contains", "value": "rh"},
                  {"field": "company_size", "op": "gte", "value": 30}]},
         {"title": "DRH", "company_size": "40"}, True),
        ({"all": [{"field": "title", "op": "contains", "value": "rh"},
                  {"field": "company_size", "op": "gte", "value": 30}]},
         {"title": "DRH", "company_size": "10"}, False),
        ({"any": [{"field": "title", "op": "contains", "value": "rh"},
                  {"field": "title", "op": "contains", "value": "paie"}]},
         {"title": "Gestionnaire paie"}, True),
        ({"not": {"field": "country", "op": "in", "value": ["France"]}},
         {"country": "Spain"}, True),
        ({"not": {"any": [{"field": "country", "op": "eq", "value": "France"},
                          {"field": "country", "op": "missing"}]}}, {}, False),
    ],
)  # fmt: skip
def test_condition_groups_stand_in_for_a_condition(
    condition: dict[str, Any], lead: dict[str, str | None], expected: bool
) -> None:
    assert (score(lead, one_rule(condition), TYPES).total == 1) is expected


def test_a_group_rule_shows_the_value_it_fired_on() -> None:
    m = one_rule({"any": [{"field": "country", "op": "eq", "value": "Belgique"},
                          {"field": "title", "op": "contains", "value": "rh"}]})  # fmt: skip
    (fired,) = score({"country": "France", "title": "DRH"}, m, TYPES).contributions
    assert fired.value == "DRH"


def test_a_rule_is_a_condition_or_a_group_not_both() -> None:
    with pytest.raises(ValueError, match="either field/op/value or one of all, any, not"):
        ScoringRule.model_validate(
            {
                "name": "r",
                "points": 1,
                "field": "title",
                "op": "exists",
                "not": {"field": "x", "op": "exists"},
            }
        )


@pytest.mark.parametrize(
    ("views", "points"), [(None, 0), ("0", 0), ("1", 15), ("3", 45), ("7", 45)]
)
def test_a_counted_rule_gives_points_per_occurrence_up_to_its_max(
    views: str | None, points: int
) -> None:
    m = model(engagement=[{"name": "Pricing page", "per": "views", "points": 15, "max": 45}])
    result = score({"views": views}, m, TYPES)
    assert result.total == points
    if points:
        (fired,) = result.contributions
        assert (fired.group, fired.points, fired.value) == ("engagement", points, views)


DECAY = {"field": "last_activity", "points_per_month": -5, "floor": -30}


def test_seed_004_two_leads_with_250_points_differ_by_the_15_point_decay() -> None:
    m = model(bands={"hot": 215, "warm": 140, "cold": 30}, decay=DECAY,
              fit=[{"name": "p", "field": "title", "op": "exists", "points": 250}])  # fmt: skip
    active = score({"title": "DRH", "last_activity": "2026-11-16T10:00:00Z"}, m, TYPES, NOW)
    idle = score({"title": "DRH", "last_activity": "2026-08-20T10:00:00Z"}, m, TYPES, NOW)
    assert (active.total, idle.total) == (250, 235)
    assert idle.contributions[-1] == Contribution(
        "no activity for 3 months", -15, "decay", "2026-08-20T10:00:00Z"
    )
    never = score({"title": "DRH"}, m, TYPES, NOW)  # no date: no decay
    assert never.total == 250
    long_ago = score({"title": "DRH", "last_activity": "2020-01-01"}, m, TYPES, NOW)
    assert long_ago.total == 220  # the floor: -30 at most


@pytest.mark.parametrize(
    ("since", "months"),
    [
        (datetime(2026, 10, 26, 10, 0, tzinfo=UTC), 1),
        (datetime(2026, 10, 26, 10, 1, tzinfo=UTC), 0),
        (datetime(2026, 1, 31, tzinfo=UTC), 9),
        (datetime(2027, 1, 1, tzinfo=UTC), 0),  # in the future: no decay
    ],
)
def test_months_are_whole_calendar_months(since: datetime, months: int) -> None:
    assert months_between(since, NOW) == months


@pytest.mark.parametrize(
    ("total", "temperature", "ready"),
    [(215, "hot", True), (150, "warm", True), (140, "warm", False), (30, "cold", False)],
)
def test_seed_004_bands_and_threshold(total: int, temperature: str, ready: bool) -> None:
    m = model(bands={"hot": 215, "warm": 140, "cold": 30},
              fit=[{"name": "p", "field": "title", "op": "exists", "points": total}])  # fmt: skip
    result = score({"title": "x"}, m, TYPES, NOW)
    assert (result.temperature, result.sales_ready) == (temperature, ready)


GROUPED = {
    "fit": [
        {"name": "HR", "field": "title", "op": "contains", "value": "rh", "points": 60},
        {"name": "Size", "field": "company_size", "op": "gte", "value": 30, "points": 40},
    ],
    "engagement": [{"name": "Views", "per": "views", "points": 15, "max": 45},
                   {"name": "Forms", "per": "forms", "points": 20}],
    "negative": [
        {"name": "Unsubscribed", "field": "unsubscribed", "op": "eq", "value": True, "points": -40},
        {"name": "Intern", "field": "title", "op": "contains", "value": "stagiaire",
         "points": -50},
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("caps", "max_total", "lead", "total", "cap_line"),
    [
        (None, None, {"title": "DRH", "company_size": "50", "views": "3"}, 145, None),
        ({"fit": 80}, None, {"title": "DRH", "company_size": "50"}, 80,
         Contribution("fit capped at 80", -20, "fit")),
        ({"engagement": 50}, None, {"views": "3", "forms": "2"}, 50,
         Contribution("engagement capped at 50", -35, "engagement")),
        ({"negative": 60}, None, {"title": "stagiaire RH", "unsubscribed": "true"}, 0,
         Contribution("negative capped at -60", 30, "negative")),
        (None, 120, {"title": "DRH", "company_size": "50", "views": "3"}, 120,
         Contribution("total capped at 120", -25, "total")),
    ],
)  # fmt: skip
def test_caps_bound_each_group_and_the_total_and_show_in_the_breakdown(
    caps: dict[str, int] | None,
    max_total: int | None,
    lead: dict[str, str | None],
    total: int,
    cap_line: Contribution | None,
) -> None:
    m = model(**GROUPED, caps=caps, max_total=max_total)
    result = score(lead, m, TYPES, NOW)
    assert result.total == total == sum(c.points for c in result.contributions)
    if cap_line is not None:
        assert cap_line in result.contributions


def test_the_breakdown_says_each_rules_group_and_the_value_that_triggered_it() -> None:
    result = score({"title": "Stagiaire RH", "views": "2"}, model(**GROUPED), TYPES, NOW)
    assert result.contributions == (
        Contribution("HR", 60, "fit", "Stagiaire RH"),
        Contribution("Views x2", 30, "engagement", "2"),
        Contribution("Intern", -50, "negative", "Stagiaire RH"),
    )


def test_a_revealing_act_makes_a_lead_sales_ready_whatever_its_score() -> None:
    m = model(**GROUPED, revealing=[
        {"name": "Quote requested", "field": "quote_requested", "op": "eq", "value": True},
        {"name": "Demo booked", "field": "demo_on", "op": "exists"},
    ])  # fmt: skip
    cold = score({"title": "CEO"}, m, TYPES, NOW)
    assert (cold.sales_ready, cold.revealing) == (False, None)
    quote = score({"title": "CEO", "quote_requested": "true"}, m, TYPES, NOW)
    assert (quote.total, quote.sales_ready, quote.revealing) == (0, True, "Quote requested")
    assert qualify({}, quote, Qualification()).ready


@pytest.mark.parametrize(
    ("lead", "grade", "level"),
    [
        ({"title": "DRH", "company_size": "50"}, "B", 1),
        ({"title": "DRH", "company_size": "50", "views": "2"}, "B", 2),
        ({"title": "DRH", "views": "2", "forms": "2"}, "C", 3),
        ({"title": "Stagiaire RH", "company_size": "50"}, "B", 1),  # negatives: not fit
        ({"company_size": "5"}, "D", 1),
    ],
)
def test_fit_grade_and_engagement_level(
    lead: dict[str, str | None], grade: str, level: int
) -> None:
    m = model(**GROUPED, grades={"A": 120, "B": 80, "C": 40}, levels={3: 60, 2: 20})
    result = score(lead, m, TYPES, NOW)
    assert (result.grade, result.level) == (grade, level)
    assert score(lead, model(**GROUPED), TYPES, NOW).grade is None  # no grades: no grade


def test_the_older_rules_list_is_the_fit_group() -> None:
    old = model(rules=[{"name": "HR", "field": "title", "op": "contains", "value": "rh",
                        "points": 60}], grades={"A": 60, "B": 30, "C": 10})  # fmt: skip
    result = score({"title": "DRH"}, old, TYPES, NOW)
    assert (result.total, result.grade, result.contributions[0].group) == (60, "A", "fit")


def test_qualification_conditions_take_the_same_groups() -> None:
    rules = Qualification.model_validate({"rules": [{"name": "Not HR", "outcome": "disqualified",
        "when": [{"not": {"field": "title", "op": "matches", "value": "rh|paie"}}]}]})  # fmt: skip
    nothing = score({}, model(), TYPES, NOW)
    assert qualify({"title": "CEO"}, nothing, rules, TYPES).outcome == "disqualified"
    assert qualify({"title": "DRH"}, nothing, rules, TYPES).outcome == "nurture"


# -- scoring.yaml errors: file, line, key path -------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
TEAM = "reps:\n  - email: a@x.fr\n    name: A\n"
ROUTING = "pools:\n  - name: p\n    type: round_robin\n    members: [a@x.fr]\ndefault_pool: p\n"
FIELDS = (
    "fields:\n  - {field: email, hubspot: email}\n"
    "  - {field: views, type: number, hubspot: views}\n"
)
BAD_MODELS = [
    ("threshold: 10\nfit:\n  - {name: r, field: title, op: matches, value: 'dr(h', points: 1}\n",
     3, "fit[0]: matches: 'dr(h' is not a regular expression"),
    ("threshold: 10\nfit: []\ncaps:\n  fit: -5\n", 4, "caps.fit: expected a number >= 0"),
    ("threshold: 10\nfit: []\nrules: []\n", 3,
     "rules: rules is the older spelling of fit: use one or the other, not both"),
    ("threshold: 10\nengagement:\n  - {name: v, per: title, points: 5}\n", 3,
     "engagement[0].per: title is a text field: expected number"),
    ("threshold: 10\nnegative:\n  - {name: n, field: title, op: exists, points: 5}\n", 3,
     "negative[0].points: a negative rule takes points: 5 must be below 0"),
    ("threshold: 10\nfit:\n  - {name: r, field: company_size, op: between, value: [500, 30], "
     "points: 1}\n", 3, "fit[0]: company_size (number): between takes the low value first"),
    ("threshold: 10\nfit:\n  - {name: r, field: company_size, op: between, value: 30, "
     "points: 1}\n", 3, "between takes two values, [low, high]"),
    ("threshold: 10\nfit:\n  - name: r\n    points: 1\n    any:\n      - {field: title, op: exists}"
     "\n      - {field: titel, op: exists}\n", 7,
     "fit[0].any[1].field: unknown field 'titel', did you mean 'title'?"),
    ("threshold: 10\ndecay: {field: title, points_per_month: -5}\n", 2,
     "decay.field: title is a text field: expected date or datetime"),
    ("threshold: 10\ndecay: {points_per_month: 5}\n", 2, "decay.points_per_month:"),
    ("threshold: 10\ncaps: {engagement: 30}\n", 2, "caps.engagement: no engagement rules"),
    ("threshold: 10\ngrades: {A: 40, B: 80, C: 20}\n", 2, "grades must fall from A to B to C"),
    ("threshold: 10\nlevels: {3: 20, 2: 60}\n", 2, "level 3 must need more points than level 2"),
    ("threshold: 100\nmax_total: 90\n", 2, "max_total 90 is below the threshold 100"),
    ("threshold: 10\nfit:\n  - {name: r, points: 1}\n", 3, "fit[0]: a condition is"),
    ("threshold: 10\nfit:\n  - {name: r, field: title, op: exists, points: 1, max: 3}\n", 3,
     "max applies to a counted rule only"),
    ("threshold: 10\nrevealing:\n  - {name: Quote, field: quote, op: eq, value: true}\n", 3,
     "revealing[0].field: unknown field 'quote'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "line", "message"), BAD_MODELS, ids=[c[2][:40] for c in BAD_MODELS]
)
def test_a_bad_scoring_model_is_refused_with_file_and_line(
    tmp_path: Path, content: str, line: int, message: str
) -> None:
    files = {"team.yaml": TEAM, "routing.yaml": ROUTING, "fields.yaml": FIELDS,
             "scoring.yaml": content}  # fmt: skip
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(MappingsError) as err:
        load_mappings(tmp_path)
    prefix = f"{tmp_path}/scoring.yaml:{line}:"
    assert any(e.startswith(prefix) and message in e for e in err.value.errors), (
        f"wanted {prefix} ... {message}\ngot:\n" + "\n".join(err.value.errors)
    )


def test_the_shipped_model_keeps_its_rules_in_groups_and_the_seed_decay() -> None:
    m = load_mappings(ROOT / "mappings").scoring
    lead = {"title": "DRH", "company_size": "120", "industry": "construction", "country": "France"}
    assert score(lead, m, now=NOW).total == 170
    assert score({**lead, "last_activity": "2026-09-20T00:00:00Z"}, m, now=NOW).total == 160
    intern = score({"title": "Stagiaire", "company_size": "600"}, m, now=NOW)
    assert [(c.rule, c.group) for c in intern.contributions] == [
        ("Company of 30 employees or more", "fit"),
        ("Intern (no decision power)", "negative"),
        ("Company over 500 employees (out of our target)", "negative"),
    ]
    assert (score(lead, m).grade, intern.grade) == ("A", "C")  # negatives take no fit points
