"""routing.yaml's rules, pools and fallback as `relais mappings check` sees them: each mistake
refused with its file and line, and each key the engine does not act on yet refused with "not
supported yet (issue 10)" until ``ENGINE_SUPPORTS`` names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.mappings import loader
from app.mappings.loader import MappingsError, load_mappings
from app.mappings.schemas import Target

TEAM = (
    "reps:\n"
    "  - {email: a@x.fr, name: A, segments: [construction]}\n"  # line 2
    "  - {email: b@x.fr, name: B, segments: [industry]}\n"
    "  - {email: c@x.fr, name: C, weight: 1.5, segments: [construction]}\n"
    "  - {email: d@x.fr, name: D, active: false}\n"
    "queues:\n  - {name: nurture, salesforce_queue: Relais_Nurture}\n"
)
SCORING = "threshold: 10\nrules:\n  - {name: r, field: title, op: eq, value: DRH, points: 5}\n"
FIELDS = (
    "fields:\n  - {field: email, hubspot: email, salesforce_lead: Email}\n"
    "  - {field: sector, type: text, hubspot: sector}\n"
)
POOLS = (
    "pools:\n"
    "  - name: all\n"  # line 2
    "    type: round_robin\n"
    "    members: [a@x.fr, b@x.fr]\n"
)
RULES = (
    POOLS + "rules:\n"  # line 5
    "  - name: Construction\n"  # line 6
    "    when:\n"
    "      - {field: sector, op: starts_with, value: constr}\n"  # line 8
    "      - {field: temperature, op: in, value: [hot, warm]}\n"  # line 9
    "    rep: a@x.fr\n"  # line 10
    "  - name: default\n"  # line 11
    "    pool: all\n"
)
EVERYTHING = frozenset(loader.NOT_SUPPORTED)


def load(tmp: Path, routing: str, team: str = TEAM) -> loader.Mappings:
    files = {
        "team.yaml": team,
        "routing.yaml": routing,
        "scoring.yaml": SCORING,
        "fields.yaml": FIELDS,
    }
    for name, text in files.items():
        (tmp / name).write_text(text)
    return load_mappings(tmp)


def errors(tmp: Path, routing: str, team: str = TEAM) -> list[str]:
    with pytest.raises(MappingsError) as err:
        load(tmp, routing, team)
    return [e.removeprefix(f"{tmp}/") for e in err.value.errors]


@pytest.fixture
def engine_supports_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "ENGINE_SUPPORTS", EVERYTHING)


def test_given_todays_routing_when_loaded_then_the_pipeline_reads_the_same_attributes(
    tmp_path: Path,
) -> None:
    m = load(tmp_path, POOLS + "default_pool: all\nfallback_owner: B@x.fr\n")

    assert (m.routing.default_pool, m.routing.fallback_owner) == ("all", "b@x.fr")
    assert [p.members for p in m.routing.pools] == [["a@x.fr", "b@x.fr"]]


@pytest.mark.usefixtures("engine_supports_all")
def test_given_rules_when_the_engine_supports_them_then_they_load_with_a_default_pool(
    tmp_path: Path,
) -> None:
    m = load(tmp_path, RULES + "fallback: {rep: b@x.fr}\n")

    assert m.routing.rules is not None
    assert [r.target for r in m.routing.rules] == [Target("rep", "a@x.fr"), Target("pool", "all")]
    assert m.routing.default_pool == "all"  # the default rule's pool, for today's pipeline
    assert m.routing.fallback_owner == "b@x.fr"
    # account_owner_first is unset until the engine looks the company up (not supported yet)
    assert m.routing.rules[0].account_owner_first is None
    assert m.routing.rules[0].when_nobody == "fallback"


def test_given_rules_when_the_engine_does_not_support_them_then_they_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "ENGINE_SUPPORTS", frozenset())
    assert errors(tmp_path, RULES) == [
        "routing.yaml:5: rules: not supported yet (issue 10): every lead goes to default_pool "
        "until then"
    ]


NOT_YET = [
    # (routing.yaml, feature, line, key path)
    (POOLS.replace("round_robin", "weighted") + "default_pool: all\n", "weighted", 3,
     "pools[0].type"),
    (POOLS.replace("round_robin", "least_loaded") + "default_pool: all\n", "least_loaded", 3,
     "pools[0].type"),
    (POOLS.replace("members: [a@x.fr, b@x.fr]", "members_from_segment: industry")
     + "default_pool: all\n", "members_from_segment", 4, "pools[0].members_from_segment"),
    (RULES.replace("    rep: a@x.fr\n", "    rep: a@x.fr\n    account_owner_first: false\n"),
     "account_owner_first", 11, "rules[0].account_owner_first"),
    (RULES.replace("    rep: a@x.fr\n", "    rep: a@x.fr\n    when_nobody: hold\n"), "hold", 11,
     "rules[0].when_nobody"),
    (RULES.replace("rep: a@x.fr", "queue: nurture"), "queue", 10, "rules[0].queue"),
    (POOLS + "default_pool: all\nfallback: {queue: nurture}\n", "queue", 6, "fallback.queue"),
]  # fmt: skip


@pytest.mark.parametrize(("routing", "feature", "line", "path"), NOT_YET)
def test_given_a_key_the_engine_does_not_act_on_yet_then_it_is_refused_until_switched_on(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    routing: str,
    feature: str,
    line: int,
    path: str,
) -> None:
    monkeypatch.setattr(loader, "ENGINE_SUPPORTS", frozenset({"rules"}))
    [error] = errors(tmp_path, routing)
    assert error.startswith(f"routing.yaml:{line}: {path}: not supported yet (issue 10)")

    monkeypatch.setattr(loader, "ENGINE_SUPPORTS", EVERYTHING)
    load(tmp_path, routing)


CHECKS = [
    # (routing.yaml, line, message)
    (
        POOLS.replace("b@x.fr]", "bb@x.fr]") + "default_pool: all\n",
        4,
        "pools[0].members[1]: bb@x.fr is not a rep in team.yaml, did you mean 'b@x.fr'?",
    ),
    (
        POOLS.replace("members: [a@x.fr, b@x.fr]", "members_from_segment: constructoin")
        + "default_pool: all\n",
        4,
        "pools[0].members_from_segment: no rep of team.yaml has the segment 'constructoin', "
        "did you mean 'construction'?",
    ),
    (
        POOLS.replace("[a@x.fr, b@x.fr]", "[]") + "default_pool: all\n",
        4,
        "pools[0].members: pool 'all' has no members",
    ),
    (
        POOLS + "default_pool: all\nfallback_owner: d@x.fr\n",
        6,
        "fallback_owner: d@x.fr is inactive in team.yaml: the fallback must be able to take leads",
    ),
    (
        POOLS + "default_pool: all\nfallback: {rep: d@x.fr}\n",
        6,
        "fallback.rep: d@x.fr is inactive in team.yaml: the fallback must be able to take leads",
    ),
    (
        POOLS + "default_pool: all\nfallback: {queue: nurtur}\n",
        6,
        "fallback.queue: nurtur is not a queue in team.yaml, did you mean 'nurture'?",
    ),
    (
        POOLS + "default_pool: all\nfallback: {rep: b@x.fr}\nfallback_owner: b@x.fr\n",
        7,
        "fallback_owner: fallback_owner is the older spelling of fallback",
    ),
    (POOLS, 1, "default_pool: missing key 'default_pool' (or rules)"),
    (RULES + "default_pool: all\n", 13, "default_pool: default_pool or rules, not both"),
    (
        RULES.replace("field: sector,", "field: secteur,"),
        8,
        "rules[0].when[0].field: unknown field 'secteur', did you mean 'sector'? (nobody "
        "feeds it: a rule reads a built-in field, one declared in fields.yaml with its type, "
        "or score, grade, temperature)",
    ),
    (
        RULES.replace("value: [hot, warm]", "value: [hot, tepid]"),
        9,
        "rules[0].when[1].value: 'tepid' is not a temperature (expected one of: hot, warm, cold)",
    ),
    (
        RULES.replace("op: in", "op: gte"),
        9,
        "rules[0].when[1]: temperature (text): gte does not apply to a text field",
    ),
    (
        RULES.replace("rep: a@x.fr", "rep: aa@x.fr"),
        10,
        "rules[0].rep: aa@x.fr is not a rep in team.yaml, did you mean 'a@x.fr'?",
    ),
    (
        RULES.replace("rep: a@x.fr", "pool: al"),
        10,
        "rules[0].pool: al is not a pool of routing.yaml, did you mean 'all'?",
    ),
    (
        RULES.replace("rep: a@x.fr", "queue: nurtur"),
        10,
        "rules[0].queue: nurtur is not a queue in team.yaml, did you mean 'nurture'?",
    ),
    (
        RULES.replace("    rep: a@x.fr\n", "    rep: a@x.fr\n    pool: all\n"),
        6,
        "rules[0]: expected exactly one target: pool, rep or queue (found pool, rep)",
    ),
    (
        RULES.replace("default\n    pool: all\n", "default\n    pool: all\n    when: []\n"),
        13,
        "rules[1].when: expected at least 1 item(s)",
    ),
    (
        RULES + "  - name: Construction\n    pool: all\n",
        13,
        "rules[2].name: the rule name 'Construction' is already used by rules[0]",
    ),
]


@pytest.mark.usefixtures("engine_supports_all")
@pytest.mark.parametrize(("routing", "line", "message"), CHECKS)
def test_given_a_routing_mistake_then_check_names_the_file_and_line(
    tmp_path: Path, routing: str, line: int, message: str
) -> None:
    found = errors(tmp_path, routing)

    assert any(e.startswith(f"routing.yaml:{line}: {message}") for e in found), found


SHADOWED = RULES.replace(
    "  - name: default\n",
    "  - name: Same again\n"  # line 11
    "    when:\n"
    "      - {field: temperature, op: in, value: [hot, warm]}\n"
    "      - {field: sector, op: starts_with, value: constr}\n"
    "    pool: all\n"
    "  - name: Narrower\n"  # line 16
    "    when:\n"
    "      - {field: sector, op: starts_with, value: constr}\n"
    "      - {field: temperature, op: in, value: [hot, warm]}\n"
    "      - {field: score, op: gte, value: 100}\n"
    "    pool: all\n"
    "  - name: default\n",
)


@pytest.mark.usefixtures("engine_supports_all")
def test_given_a_rule_an_earlier_one_always_takes_then_it_can_never_match(
    tmp_path: Path,
) -> None:
    assert errors(tmp_path, SHADOWED) == [
        "routing.yaml:11: rules[1]: rule 'Same again' can never match: rule 'Construction' "
        "(line 6) comes first and has the same conditions",
        "routing.yaml:16: rules[2]: rule 'Narrower' can never match: rule 'Construction' "
        "(line 6) comes first and has conditions all among this rule's: it takes every lead "
        "this one would",
    ]


@pytest.mark.usefixtures("engine_supports_all")
def test_given_the_default_rule_not_last_then_it_and_the_rules_after_it_are_refused(
    tmp_path: Path,
) -> None:
    routing = POOLS + (
        "rules:\n"
        "  - {name: everyone, pool: all}\n"  # line 6
        "  - name: Hot\n"  # line 7
        "    when: [{field: temperature, op: eq, value: hot}]\n"
        "    pool: all\n"
    )

    assert errors(tmp_path, routing) == [
        "routing.yaml:6: rules[0]: rule 'everyone' has no when: it is the default, and must "
        "come last",
        "routing.yaml:7: rules[1]: rule 'Hot' can never match: rule 'everyone' (line 6) comes "
        "first and has no when: it takes every lead",
        "routing.yaml:5: rules: the last rule must be the default: a rule without when, which "
        "takes every lead no rule before it took (e.g. - {name: default, pool: inbound})",
    ]


WEIGHTED_IN_ROUND_ROBIN = POOLS.replace("[a@x.fr, b@x.fr]", "[a@x.fr, c@x.fr]") + (
    "  - name: builders\n"  # line 5
    "    type: round_robin\n"
    "    members_from_segment: construction\n"  # line 7
    "default_pool: all\n"
)


def test_given_a_weighted_rep_in_a_round_robin_pool_then_it_is_refused_once_weights_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "ENGINE_SUPPORTS", frozenset({"members_from_segment"}))
    load(tmp_path, WEIGHTED_IN_ROUND_ROBIN)  # no weighted pools yet: nowhere else to put it

    monkeypatch.setattr(loader, "ENGINE_SUPPORTS", EVERYTHING)
    message = (
        "c@x.fr has weight 1.5 in team.yaml, and this pool is a round robin: weights apply "
        "to weighted pools (type: weighted)"
    )
    assert errors(tmp_path, WEIGHTED_IN_ROUND_ROBIN) == [
        f"routing.yaml:4: pools[0].members[1]: {message}",
        f"routing.yaml:7: pools[1].members_from_segment: {message}",
    ]
    load(tmp_path, WEIGHTED_IN_ROUND_ROBIN.replace("round_robin", "weighted"))


def test_given_a_weighted_pool_whose_members_all_weigh_zero_then_it_is_refused(
    tmp_path: Path,
) -> None:
    team = TEAM.replace("name: A,", "name: A, weight: 0,").replace(
        "name: B,", "name: B, weight: 0,"
    )
    routing = POOLS.replace("round_robin", "weighted") + "default_pool: all\n"

    assert errors(tmp_path, routing, team) == [
        "routing.yaml:3: pools[0].type: every member of the weighted pool 'all' has weight 0 in "
        "team.yaml: it would give no lead to anyone"
    ]


def test_given_working_hours_without_a_day_then_they_are_refused(tmp_path: Path) -> None:
    team = TEAM.replace("name: A,", "name: A, working_hours: {timezone: Europe/Paris, days: []},")

    [error] = errors(tmp_path, POOLS + "default_pool: all\n", team)

    assert error.startswith("team.yaml:") and "working_hours.days" in error
