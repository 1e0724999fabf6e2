"""The mappings language: the shipped files load, their JSON Schema agrees, and every broken file
gets a message with the right file, line and key path."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from app.mappings.json_schema import json_schemas
from app.mappings.loader import FILES, MappingsError, load_mappings

ROOT = Path(__file__).resolve().parents[2]
TEAM = "reps:\n  - email: a@x.fr\n    name: A\n  - email: b@x.fr\n    name: B\n"
ROUTING = (
    "pools:\n  - name: p\n    type: round_robin\n    members: [a@x.fr, b@x.fr]\ndefault_pool: p\n"
)
SCORING = (
    "threshold: 10\nrules:\n  - name: r\n    field: title\n    op: eq\n    value: DRH\n"
    "    points: 5\n"
)
BASE = {"team.yaml": TEAM, "routing.yaml": ROUTING, "scoring.yaml": SCORING}
FIELDS_OK = "fields:\n  - {field: email, hubspot: email, salesforce_lead: Email}\n"


def write(tmp: Path, files: dict[str, str | None]) -> Path:
    for name, text in {**BASE, **files}.items():
        if text is not None:
            (tmp / name).write_text(text)
    return tmp


# Enrichment is each company's choice (its providers call out): an example in docs/examples.
NOT_SHIPPED = {"enrichment.yaml"}


def test_every_shipped_mappings_file_loads_and_tells_the_story() -> None:
    m = load_mappings(ROOT / "mappings")
    assert set(m.files) == set(FILES) - NOT_SHIPPED
    assert m.qualification is not None  # only ready leads reach a rep (seed 000 rule 4)
    outcomes = {r.outcome for r in m.qualification.rules}
    assert outcomes == {"disqualified", "incomplete"}  # nurture and ready come from the score
    assert set(m.qualification.outcomes) == {"disqualified", "incomplete", "nurture", "ready"}
    assert m.scoring.threshold == 150 and m.scoring.bands is not None
    assert (m.scoring.bands.hot, m.scoring.bands.warm, m.scoring.bands.cold) == (215, 140, 30)
    weights = {r.weight for r in m.team.reps}
    assert len(weights) > 1  # new hires and top performers do not weigh the same
    assert all(r.segments for r in m.team.reps)


def test_the_json_schema_validates_the_same_files() -> None:
    schemas = json_schemas()
    for name in FILES:
        folder = ROOT / ("docs/examples" if name in NOT_SHIPPED else "mappings")
        data = yaml.safe_load((folder / name).read_text())
        plain = json.loads(json.dumps(data, default=str))  # dates and times as text
        jsonschema.validate(plain, schemas[name])


def test_the_json_schema_rejects_what_the_loader_rejects() -> None:
    bad = yaml.safe_load("reps:\n  - email: a@x.fr\n    name: A\n    weigth: 2\n")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, json_schemas()["team.yaml"])


CASES = [
    # (file, content, line, expected message)
    (
        "team.yaml",
        TEAM + "  - email: c@x.fr\n    name: C\n    weight: two\n",
        8,
        'reps[2].weight: expected a number, found "two"',
    ),
    (
        "team.yaml",
        TEAM.replace("    name: B\n", "    name: B\n    weight: -1\n"),
        6,
        "reps[1].weight: expected a number >= 0, found -1",
    ),
    (
        "team.yaml",
        TEAM.replace("    name: A\n", "    name: A\n    weigth: 2\n"),
        4,
        "reps[0].weigth: unknown key 'weigth', did you mean 'weight'?",
    ),
    (
        "team.yaml",
        TEAM.replace("  - email: b@x.fr\n    name: B\n", "  - email: b@x.fr\n"),
        4,
        "reps[1].name: missing key 'name'",
    ),
    ("team.yaml", TEAM.replace("b@x.fr", "a@x.fr"), 4, "reps[1].email: a@x.fr appears twice"),
    (
        "team.yaml",
        TEAM.replace("email: b@x.fr", "email: b-at-x.fr"),
        4,
        "reps[1].email: expected an email address, found 'b-at-x.fr'",
    ),
    (
        "team.yaml",
        TEAM + "    working_hours: {timezone: Europe/Pariss}\n",
        6,
        "reps[1].working_hours.timezone: expected an IANA time zone",
    ),
    (
        "team.yaml",
        TEAM + "    working_hours: {timezone: Europe/Paris, start: '18:00', end: '09:00'}\n",
        6,
        "reps[1].working_hours: end (09:00) must be after start (18:00)",
    ),
    (
        "team.yaml",
        TEAM + "    out_of_office:\n      - {start: 2026-12-01, end: 2026-12-10}\n"
        "      - {start: 2026-12-08, end: 2026-12-20}\n",
        6,
        "reps[1].out_of_office: absences overlap: 2026-12-01..2026-12-10 and 2026-12-08",
    ),
    (
        "team.yaml",
        TEAM + "    out_of_office:\n      - {start: 2026-12-10, end: 2026-12-01}\n",
        7,
        "reps[1].out_of_office[0]: end (2026-12-01) is before start (2026-12-10)",
    ),
    (
        "team.yaml",
        TEAM + "    out_of_office:\n      - {start: 2026-13-40, end: 2026-12-01}\n",
        7,
        "reps[1].out_of_office[0].start: expected a date YYYY-MM-DD",
    ),
    (
        "team.yaml",
        TEAM.replace("    name: A\n", "    name: A\n    active: maybe\n"),
        4,
        'reps[0].active: expected true or false, found "maybe"',
    ),
    (
        "team.yaml",
        TEAM + "    capacity: {per_day: ten}\n",
        6,
        'reps[1].capacity.per_day: expected a whole number, found "ten"',
    ),
    (
        "team.yaml",
        TEAM + "teams:\n  - name: Nord\n    members: [a@x.fr, c@x.fr]\n",
        8,
        "teams[0].members[1]: c@x.fr is not a rep",
    ),
    ("team.yaml", "reps:\n  - email: a@x.fr\n    name: [A\n", 3, "invalid YAML"),
    (
        "routing.yaml",
        ROUTING.replace("b@x.fr]", "bb@x.fr]"),
        4,
        "pools[0].members[1]: bb@x.fr is not a rep in team.yaml, did you mean 'b@x.fr'?",
    ),
    (
        "routing.yaml",
        ROUTING.replace("default_pool: p", "default_pool: pp"),
        5,
        "default_pool: no pool named 'pp', did you mean 'p'?",
    ),
    (
        "routing.yaml",
        ROUTING + "fallback_owner: boss@x.fr\n",
        6,
        "fallback_owner: boss@x.fr is not a rep in team.yaml",
    ),
    ("routing.yaml", ROUTING.replace("round_robin", "least_loaded"), 3, "pools[0]"),
    (
        "scoring.yaml",
        SCORING.replace("op: eq", "op: equal"),
        5,
        "rules[0].op: unknown operator 'equal', did you mean 'eq'?",
    ),
    (
        "scoring.yaml",
        SCORING.replace("field: title", "field: job_title"),
        4,
        "rules[0].field: unknown field 'job_title', did you mean 'title'?",
    ),
    (
        "scoring.yaml",
        SCORING.replace("threshold: 10", "threshold: high"),
        1,
        'threshold: expected a whole number, found "high"',
    ),
    (
        "values.yaml",
        "value_maps:\n  - name: stages\n    default: unknown\n    values:\n"
        "      - {value: lead, hubspot: lead}\n",
        3,
        "value_maps[0].default: 'unknown' is not one of this map's values",
    ),
    (
        "fields.yaml",
        FIELDS_OK + "  - {field: industry, hubspot: industry, value_map: sectors}\n",
        3,
        "fields[1].value_map: no value map named 'sectors' in values.yaml",
    ),
    (
        "fields.yaml",
        FIELDS_OK + "  - {field: email, hubspot: email}\n",
        3,
        "fields[1].field: 'email' is mapped twice",
    ),
    (
        "fields.yaml",
        FIELDS_OK + "  - {field: phone, hubspot: phone, sync: both}\n",
        3,
        "fields[1].sync: sync 'both' needs a HubSpot property and a Salesforce field",
    ),
    (
        "fields.yaml",
        "fields:\n  - {field: phone, hubspot: phone}\n",
        1,
        "fields: the email field must be mapped",
    ),
    (
        "sync.yaml",
        "owner:\n  source_of_truth: pipedrive\n",
        2,
        "owner.source_of_truth: unknown value 'pipedrive'",
    ),
    ("teams.yaml", "reps: []\n", 1, "unknown file, did you mean 'team.yaml'?"),
    (
        "team.yaml",
        TEAM + "    working_hours: {timezone: Europe/Paris, start: 9:00}\n",
        6,
        'reps[1].working_hours.start: expected a time HH:MM, found "9:00"',
    ),
    (
        "team.yaml",
        TEAM.replace("    name: A\n", "    name: A\n    name: AA\n"),
        4,
        "invalid YAML: the key 'name' appears twice in one mapping",
    ),
    (
        "scoring.yaml",
        "threshold: 10\nrules: &a [*a]\n",
        2,
        "invalid YAML: aliases (*name) are not allowed in mappings files",
    ),
    (
        "team.yaml",
        TEAM.replace("    name: A\n", "    name: A\n    weight: 1e999\n"),
        4,
        "reps[0].weight: Input should be a finite number",
    ),
    ("routing.yaml", None, 1, "routing.yaml:1: missing file"),
    (
        "scoring.yaml",
        "threshold: 150\nbands: {hot: 140, warm: 215, cold: 30}\n",
        2,
        "bands: bands must rise from cold to warm to hot, each above the one before: "
        "cold 30, warm 215, hot 140",
    ),
    (
        "scoring.yaml",
        "threshold: 150\nbands:\n  hot: 215\n  warm: 140\n  cold: 140\n",
        2,
        "bands must rise from cold to warm to hot",  # overlapping: warm and cold equal
    ),
    (
        "scoring.yaml",
        "rules: []\nbands: {hot: 215, warm: 140, cold: 30}\nthreshold: 300\n",
        3,
        "threshold: the threshold 300 is outside the bands: it must lie between cold (30) "
        "and hot (215)",
    ),
]


@pytest.mark.parametrize(
    ("file", "content", "line", "message"), CASES, ids=[f"{c[0]}:{c[3][:40]}" for c in CASES]
)
def test_a_broken_file_gets_its_file_line_and_key_path(
    tmp_path: Path, file: str, content: str | None, line: int, message: str
) -> None:
    folder = write(tmp_path, {file: content} if content is not None else {})
    if content is None:
        (folder / file).unlink()
    with pytest.raises(MappingsError) as err:
        load_mappings(folder)
    expected_prefix = f"{folder}/{file}:{line}:"
    assert any(e.startswith(expected_prefix) and message in e for e in err.value.errors), (
        f"wanted {expected_prefix} ... {message}\ngot:\n" + "\n".join(err.value.errors)
    )


def test_every_error_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    team = "reps:\n  - email: nope\n    name: A\n    weight: two\n  - email: b@x.fr\n    nmae: B\n"
    with pytest.raises(MappingsError) as err:
        load_mappings(write(tmp_path, {"team.yaml": team}))
    joined = "\n".join(err.value.errors)
    assert "team.yaml:2: reps[0].email" in joined
    assert "team.yaml:4: reps[0].weight" in joined
    assert "team.yaml:6: reps[1].nmae: unknown key 'nmae', did you mean 'name'?" in joined
    assert "team.yaml:5: reps[1].name: missing key 'name'" in joined


def test_value_maps_turn_each_crms_picklist_values_canonical() -> None:
    from app.mappings.fields import LeadField
    from app.records.schemas import FieldMaps
    from connectors.crm import Crm

    m = load_mappings(ROOT / "mappings")
    maps = FieldMaps(m.hubspot_properties(), {"Lead": m.salesforce_fields("Lead")}, m.value_maps())
    hs = maps.canonical(
        Crm.HUBSPOT, {LeadField.INDUSTRY: "CONSTRUCTION", LeadField.LEAD_STATUS: "IN_PROGRESS"}
    )
    sf = maps.canonical(
        Crm.SALESFORCE,
        {LeadField.INDUSTRY: "Construction", LeadField.LEAD_STATUS: "Working - Contacted"},
    )
    assert hs[LeadField.INDUSTRY] == sf[LeadField.INDUSTRY] == "construction"
    assert hs[LeadField.LEAD_STATUS] == sf[LeadField.LEAD_STATUS] == "working"
    unknown = maps.canonical(Crm.SALESFORCE, {LeadField.INDUSTRY: "Retail", LeadField.TITLE: "DRH"})
    assert unknown[LeadField.INDUSTRY] == "other"  # the map's default
    assert unknown[LeadField.TITLE] == "DRH"  # fields without a value map are left as they are


def test_a_scoring_rule_on_a_mapped_field_must_use_the_maps_values(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        {
            "fields.yaml": FIELDS_OK + "  - {field: industry, hubspot: industry, "
            "value_map: industries}\n",
            "values.yaml": "value_maps:\n  - name: industries\n    default: other\n    values:\n"
            "      - {value: construction, hubspot: CONSTRUCTION}\n"
            "      - {value: other, hubspot: OTHER}\n",
            "scoring.yaml": "threshold: 10\nrules:\n  - name: r\n    field: industry\n"
            "    op: in\n    value: [construction, Constructions]\n    points: 5\n",
        },
    )
    with pytest.raises(MappingsError) as err:
        load_mappings(folder)
    assert any(
        e.startswith(
            f"{folder}/scoring.yaml:6: rules[0].value[1]: 'Constructions' is "
            "not a value of the value map 'industries', did you mean "
            "'construction'?"
        )
        for e in err.value.errors
    ), err.value.errors


def test_one_bad_value_map_entry_does_not_cascade_into_false_errors(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        {
            "fields.yaml": FIELDS_OK + "  - {field: industry, hubspot: industry, "
            "value_map: industries}\n",
            "values.yaml": "value_maps:\n  - name: industries\n    default: other\n    values:\n"
            "      - {value: other, hubspot: [not, text]}\n",
        },
    )
    with pytest.raises(MappingsError) as err:
        load_mappings(folder)
    assert len(err.value.errors) == 1, err.value.errors
    assert "values.yaml:5: value_maps[0].values[0].hubspot: expected text" in err.value.errors[0]


DECLARED = (
    "fields:\n"
    "  - {field: email, hubspot: email, salesforce_lead: Email}\n"
    "  - field: pricing_page_views\n"
    "    type: number\n"
    "    description: Pricing page views, counted by a HubSpot workflow\n"
    "    hubspot: pricing_page_views\n"
    "    salesforce_lead: Pricing_Page_Views__c\n"
    "  - {field: quote_requested, type: boolean, hubspot: quote_requested}\n"
)


def test_an_admin_declares_a_field_and_scores_on_it(tmp_path: Path) -> None:
    scoring = (
        "threshold: 10\nrules:\n"
        "  - {name: Pricing page, field: pricing_page_views, op: gte, value: 3, points: 15}\n"
        "  - {name: Quote, field: quote_requested, op: eq, value: true, points: 100}\n"
    )
    m = load_mappings(write(tmp_path, {"fields.yaml": DECLARED, "scoring.yaml": scoring}))
    assert m.field_types()["pricing_page_views"] == "number"
    assert m.field_types()["company_size"] == "number"  # the built-in ones stay
    assert m.hubspot_properties()["quote_requested"] == "quote_requested"
    assert m.salesforce_fields("Lead")["pricing_page_views"] == "Pricing_Page_Views__c"


DECLARED_CASES = [
    (
        "fields.yaml",
        FIELDS_OK + "  - {field: pricing_views, hubspot: pricing_views}\n",
        3,
        "fields[1].field: 'pricing_views' is not a built-in field: to declare it, give its "
        "type (text, number, date, datetime, boolean, list)",
    ),
    (
        "fields.yaml",
        FIELDS_OK + "  - {field: company_size, type: text, hubspot: numberofemployees}\n",
        3,
        "fields[1].type: company_size is a built-in number field: its type cannot be text",
    ),
    (
        "fields.yaml",
        FIELDS_OK + "  - {field: Pricing-Views, type: number, hubspot: x}\n",
        3,
        "fields[1].field:",
    ),
    (
        "scoring.yaml",
        "threshold: 10\nrules:\n  - {name: r, field: title, op: gte, value: 3, points: 1}\n",
        3,
        "rules[0]: title (text): gte does not apply to a text field (use eq, ne, in, "
        "not_in, contains, starts_with, matches, exists, missing)",
    ),
    (
        "scoring.yaml",
        "threshold: 10\nrules:\n  - {name: r, field: company_size, op: gt, value: many, "
        "points: 1}\n",
        3,
        "rules[0]: company_size (number): 'many' is not a number value",
    ),
    (
        "scoring.yaml",
        "threshold: 10\nrules:\n  - {name: r, field: last_activity, op: lt, value: yesterday, "
        "points: 1}\n",
        3,
        "rules[0]: last_activity (datetime): 'yesterday' is not a datetime value",
    ),
    (
        "scoring.yaml",
        "threshold: 10\nrules:\n  - {name: r, field: phone, op: exists, value: yes, points: 1}\n",
        3,
        "rules[0]: phone (text): exists takes no value",
    ),
    (
        "scoring.yaml",
        "threshold: 10\nrules:\n  - {name: r, field: title, op: eq, value: [a, b], points: 1}\n",
        3,
        "rules[0]: title (text): eq takes one value, not a list (use in for several)",
    ),
]


@pytest.mark.parametrize(
    ("file", "content", "line", "message"),
    DECLARED_CASES,
    ids=[f"{c[0]}:{c[3][:40]}" for c in DECLARED_CASES],
)
def test_a_declared_field_or_a_rule_that_does_not_fit_its_type_is_refused(
    tmp_path: Path, file: str, content: str, line: int, message: str
) -> None:
    files: dict[str, str | None] = {file: content, "fields.yaml": FIELDS_OK}
    files[file] = content
    with pytest.raises(MappingsError) as err:
        load_mappings(write(tmp_path, files))
    expected_prefix = f"{tmp_path}/{file}:{line}:"
    assert any(e.startswith(expected_prefix) and message in e for e in err.value.errors), (
        f"wanted {expected_prefix} ... {message}\ngot:\n" + "\n".join(err.value.errors)
    )


# -- sync.yaml: enriched values written back ----------------------------------------------------

ENRICHMENT = "providers: [email, phone, siren, register]\n"
FIELDS_FR = FIELDS_OK + (
    "  - {field: naf_code, hubspot: naf_code, salesforce_lead: NAF_Code__c}\n"
    "  - {field: phone_e164, hubspot: phone_e164}\n"
)
FIELDS_MAPPED = FIELDS_FR + "  - {field: industry, hubspot: industry, value_map: industries}\n"
VALUES_OK = (
    "value_maps:\n  - name: industries\n    default: other\n    values:\n      - {value: other}\n"
)

SYNC_CASES = [
    (
        "enrichment:\n  - {field: naf_code, to: [hubspot]}\n  - {field: nafcode, to: [hubspot]}\n",
        3,
        "enrichment[1].field: 'nafcode' is set by none of the providers enrichment.yaml turns on "
        "(email, phone, siren, register), did you mean 'naf_code'?",
    ),
    (
        "enrichment:\n  - {field: title, to: [hubspot]}\n",
        2,
        "enrichment[0].field: 'title' is set by none of the providers",
    ),
    (
        "enrichment:\n  - {field: naf_code, to: [hubspot]}\n"
        "  - {field: naf_code, to: [salesforce]}\n",
        3,
        "enrichment[1].field: 'naf_code' is written back twice",
    ),
    (
        "enrichment:\n  - field: phone_e164\n    to:\n      - hubspot\n"
        "      - salesforce_contact\n",
        5,
        "enrichment[0].to[1]: phone_e164 is not mapped to a salesforce_contact property or field "
        "in fields.yaml: nowhere to write it (add salesforce_contact: <name> to its entry",
    ),
    (
        "enrichment:\n  - {field: naf_code, to: [pipedrive]}\n",
        2,
        "enrichment[0].to[0]: unknown value 'pipedrive'",
    ),
    (
        "enrichment:\n  - {field: naf_code, to: []}\n",
        2,
        "enrichment[0].to: expected at least 1 item(s)",
    ),
    (
        "enrichment:\n  - {field: naf_code, to: [hubspot], overwite: true}\n",
        2,
        "enrichment[0].overwite: unknown key 'overwite', did you mean 'overwrite'?",
    ),
]


@pytest.mark.parametrize(
    ("sync", "line", "message"), SYNC_CASES, ids=[c[2][:50] for c in SYNC_CASES]
)
def test_given_an_enrichment_write_back_that_cannot_take_effect_when_checked_then_file_and_line(
    tmp_path: Path, sync: str, line: int, message: str
) -> None:
    folder = write(
        tmp_path,
        {"sync.yaml": sync, "enrichment.yaml": ENRICHMENT, "fields.yaml": FIELDS_FR},
    )
    with pytest.raises(MappingsError) as err:
        load_mappings(folder)
    prefix = f"{folder}/sync.yaml:{line}:"
    assert any(e.startswith(prefix) and message in e for e in err.value.errors), (
        f"wanted {prefix} ... {message}\ngot:\n" + "\n".join(err.value.errors)
    )


def test_given_no_enrichment_yaml_when_sync_writes_an_enriched_field_then_it_is_refused(
    tmp_path: Path,
) -> None:
    folder = write(tmp_path, {"sync.yaml": "enrichment:\n  - {field: naf_code, to: [hubspot]}\n"})
    with pytest.raises(MappingsError) as err:
        load_mappings(folder)
    assert err.value.errors == [
        f"{folder}/sync.yaml:2: enrichment[0].field: naf_code: there is no enrichment.yaml, "
        "nothing is enriched to write back"
    ]


def test_given_a_value_mapped_field_when_written_back_then_not_supported_yet(
    tmp_path: Path,
) -> None:
    http = (
        "providers: [http]\nhttp:\n  url: https://enrich.example.fr/v1\n  send: [email]\n"
        "  fields: {industry: company.sector}\n"
    )
    folder = write(
        tmp_path,
        {
            "sync.yaml": "enrichment:\n  - {field: industry, to: [hubspot]}\n",
            "enrichment.yaml": http,
            "fields.yaml": FIELDS_MAPPED,
            "values.yaml": VALUES_OK,
        },
    )
    with pytest.raises(MappingsError) as err:
        load_mappings(folder)
    assert any(
        "sync.yaml:2: enrichment[0].field: industry has a value map" in e
        and "not supported yet" in e
        for e in err.value.errors
    ), err.value.errors


def test_given_enriched_fields_mapped_where_written_when_loaded_then_sync_takes_them(
    tmp_path: Path,
) -> None:
    sync = (
        "enrichment:\n"
        "  - {field: naf_code, to: [hubspot, salesforce]}\n"
        "  - {field: phone_e164, to: [hubspot], overwrite: true}\n"
    )
    m = load_mappings(
        write(
            tmp_path, {"sync.yaml": sync, "enrichment.yaml": ENRICHMENT, "fields.yaml": FIELDS_FR}
        )
    )
    naf, phone = m.sync.enrichment
    assert (naf.field, naf.to, naf.overwrite) == ("naf_code", ["hubspot", "salesforce"], False)
    assert phone.overwrite is True
    schema = json_schemas()["sync.yaml"]
    import jsonschema

    jsonschema.validate(yaml.safe_load(sync), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"enrichment": [{"field": "naf_code", "to": ["pipedrive"]}]}, schema)
