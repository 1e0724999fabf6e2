"""The routing rules matcher (app/routing/rules.py): the first rule whose conditions hold takes
the lead, rules read the lead's typed fields and its evaluation (score, grade, temperature), and
the rules before the match say which condition did not hold and what value it saw."""

from __future__ import annotations

from typing import Any

import pytest

from app.mappings.fields import BUILTIN_TYPES, FieldType
from app.mappings.schemas import Condition, RoutingRule, Target
from app.routing.rules import Evaluation, NoRuleMatched, Skipped, match
from app.scoring.compiled import Slots, condition
from app.scoring.conditions import met

TYPES: dict[str, FieldType] = {**BUILTIN_TYPES, "sectors": "list", "signed_on": "date"}
LEAD = {
    "country": "France",
    "title": "Directrice RH",
    "company_size": "120",
    "industry": "Construction",
    "sectors": "btp;industrie",
    "signed_on": "2026-03-01",
    "region": None,
}
HOT_A = Evaluation(score=215, grade="A", temperature="hot")


def rule(name: str, when: list[dict[str, Any]] | None = None, **target: str) -> RoutingRule:
    data: dict[str, Any] = {"name": name, **(target or {"pool": "p"})}
    if when is not None:
        data["when"] = when
    return RoutingRule.model_validate(data)


def default(pool: str = "everyone") -> RoutingRule:
    return rule("default", pool=pool)


OPERATORS = [
    # (condition, holds for LEAD with HOT_A)
    ({"field": "country", "op": "eq", "value": "france"}, True),
    ({"field": "country", "op": "eq", "value": "Spain"}, False),
    ({"field": "country", "op": "ne", "value": "Spain"}, True),
    ({"field": "country", "op": "in", "value": ["FR", "France"]}, True),
    ({"field": "country", "op": "not_in", "value": ["FR", "France"]}, False),
    ({"field": "company_size", "op": "gt", "value": 119}, True),
    ({"field": "company_size", "op": "gte", "value": 121}, False),
    ({"field": "company_size", "op": "lt", "value": 250}, True),
    ({"field": "company_size", "op": "lte", "value": 119}, False),
    ({"field": "company_size", "op": "between", "value": [50, 250]}, True),
    ({"field": "company_size", "op": "between", "value": [200, 250]}, False),
    ({"field": "title", "op": "contains", "value": "rh"}, True),
    ({"field": "title", "op": "starts_with", "value": "directrice"}, True),
    ({"field": "title", "op": "starts_with", "value": "RH"}, False),
    ({"field": "sectors", "op": "starts_with", "value": "indus"}, True),
    ({"field": "sectors", "op": "starts_with", "value": "tp"}, False),
    ({"field": "sectors", "op": "contains", "value": "btp"}, True),
    ({"field": "title", "op": "matches", "value": r"^dir\w* rh$"}, True),
    ({"field": "title", "op": "matches", "value": r"^drh"}, False),
    ({"field": "signed_on", "op": "gte", "value": "2026-01-01"}, True),
    ({"field": "region", "op": "exists"}, False),
    ({"field": "region", "op": "missing"}, True),
    ({"field": "region", "op": "starts_with", "value": "ile"}, False),  # no value: no match
    ({"field": "score", "op": "gte", "value": 200}, True),
    ({"field": "score", "op": "between", "value": [0, 150]}, False),
    ({"field": "grade", "op": "in", "value": ["A", "B"]}, True),
    ({"field": "grade", "op": "eq", "value": "b"}, False),
    ({"field": "temperature", "op": "eq", "value": "hot"}, True),
    ({"field": "temperature", "op": "ne", "value": "hot"}, False),
    (
        {
            "all": [
                {"field": "country", "op": "eq", "value": "France"},
                {"field": "grade", "op": "eq", "value": "A"},
            ]
        },
        True,
    ),
    (
        {
            "any": [
                {"field": "country", "op": "eq", "value": "Spain"},
                {"field": "temperature", "op": "eq", "value": "cold"},
            ]
        },
        False,
    ),
    ({"not": {"field": "industry", "op": "starts_with", "value": "constr"}}, False),
]


@pytest.mark.parametrize(("when", "holds"), OPERATORS, ids=[str(c) for c, _ in OPERATORS])
def test_given_a_rule_with_one_condition_when_matched_then_it_takes_the_lead_when_it_holds(
    when: dict[str, Any], holds: bool
) -> None:
    rules = [rule("segment", [when], pool="segment"), default()]

    matched = match(rules, LEAD, HOT_A, TYPES)

    assert matched.index == (0 if holds else 1)
    assert matched.target == (Target("pool", "segment") if holds else Target("pool", "everyone"))


STARTS_WITH = [
    ("text", "Directrice RH", "direc", True),
    ("text", "  Directrice RH", "DIRECTRICE", True),  # trimmed, without case
    ("text", "Directrice RH", "rh", False),
    ("text", None, "d", False),
    ("list", "btp;Industrie", "indus", True),
    ("list", "btp;industrie", "tp", False),
    ("list", None, "b", False),
]


@pytest.mark.parametrize(("kind", "value", "prefix", "holds"), STARTS_WITH)
def test_given_starts_with_when_evaluated_then_the_reference_and_the_compiled_test_agree(
    kind: FieldType, value: str | None, prefix: str, holds: bool
) -> None:
    c = Condition.model_validate({"field": "f", "op": "starts_with", "value": prefix})
    slots = Slots()
    test = condition(c, {"f": kind}, slots)

    assert met(c, {"f": value}, {"f": kind}) is holds
    assert test(slots.read({"f": value})) is holds


def test_given_several_rules_that_hold_when_matched_then_the_first_in_order_wins() -> None:
    rules = [
        rule("Spain", [{"field": "country", "op": "eq", "value": "Spain"}], pool="iberia"),
        rule("France", [{"field": "country", "op": "eq", "value": "France"}], rep="a@x.fr"),
        rule("Hot", [{"field": "temperature", "op": "eq", "value": "hot"}], queue="hot"),
        default(),
    ]

    matched = match(rules, LEAD, HOT_A, TYPES)

    assert (matched.index, matched.rule.name, matched.target) == (
        1,
        "France",
        Target("rep", "a@x.fr"),
    )


def test_given_a_rule_with_several_conditions_when_one_fails_then_the_rule_is_skipped() -> None:
    both: list[dict[str, Any]] = [
        {"field": "country", "op": "eq", "value": "France"},
        {"field": "company_size", "op": "gte", "value": 250},
    ]
    matched = match([rule("Big French", both), default()], LEAD, HOT_A, TYPES)

    assert matched.rule.name == "default"


def test_given_rules_before_the_match_then_each_says_the_first_condition_that_failed() -> None:
    spain = {"field": "country", "op": "eq", "value": "Spain"}
    big = {"field": "company_size", "op": "gte", "value": 250}
    cold_or_c = {
        "any": [
            {"field": "temperature", "op": "eq", "value": "cold"},
            {"field": "grade", "op": "eq", "value": "C"},
        ]
    }
    rules = [
        rule("Spain", [spain]),
        rule(
            "French and big", [{"all": [{"field": "country", "op": "eq", "value": "France"}, big]}]
        ),
        rule("Cold or C", [{"field": "region", "op": "missing"}, cold_or_c]),
        default(),
    ]

    matched = match(rules, LEAD, HOT_A, TYPES)

    assert matched.index == 3
    assert [(s.rule, s.condition.field, s.seen) for s in matched.skipped] == [
        ("Spain", "country", "France"),
        ("French and big", "company_size", "120"),  # inside all: the member that failed
        ("Cold or C", None, "hot"),  # an any group fails as a whole: its first field's value
    ]
    assert isinstance(matched.skipped[0], Skipped) and matched.skipped[0] == (
        "Spain",
        rules[0].when[0] if rules[0].when else None,
        "France",
    )


def test_given_the_first_rule_matches_then_nothing_is_skipped() -> None:
    matched = match([default("first")], LEAD, HOT_A, TYPES)

    assert (matched.index, matched.skipped, matched.target) == (0, (), Target("pool", "first"))


def test_given_no_evaluation_then_the_pseudo_fields_are_missing() -> None:
    rules = [
        rule("Unscored", [{"field": "score", "op": "missing"}], pool="unscored"),
        default(),
    ]

    assert match(rules, LEAD, Evaluation(), TYPES).rule.name == "Unscored"
    assert match(rules, LEAD, HOT_A, TYPES).rule.name == "default"


def test_given_a_lead_field_named_like_a_pseudo_field_then_the_evaluation_wins() -> None:
    lead = {**LEAD, "score": "5", "grade": "D"}
    rules = [rule("A", [{"field": "grade", "op": "eq", "value": "A"}]), default()]

    matched = match(rules, lead, Evaluation(score=300.0, grade="A"), TYPES)

    assert matched.rule.name == "A"


def test_given_a_fractional_score_then_it_is_compared_as_a_number() -> None:
    rules = [rule("Above", [{"field": "score", "op": "gt", "value": 149.5}]), default()]

    assert match(rules, LEAD, Evaluation(score=149.75), TYPES).rule.name == "Above"
    assert match(rules, LEAD, Evaluation(score=1e7), TYPES).rule.name == "Above"


def test_given_rules_without_a_default_when_none_holds_then_no_rule_matched_is_raised() -> None:
    rules = [rule("Spain", [{"field": "country", "op": "eq", "value": "Spain"}])]

    with pytest.raises(NoRuleMatched):
        match(rules, LEAD, HOT_A, TYPES)
