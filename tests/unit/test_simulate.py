"""The dry run's service: input checked precisely, the read, enrichment and evaluate stages (the
score with the fields' types, qualification) as the live path runs them, nothing written (the
in-memory CRMs, no database; the register on respx)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx

from app.enrichment.register import URL as REGISTER_URL
from app.enrichment.registry import Reach
from app.mappings.loader import Mappings, load_mappings
from app.qualification.engine import qualify
from app.records.service import RecordReader
from app.records.sources import Parallel, record_sources
from app.scoring.engine import score
from app.simulate.schemas import SimulationRequest
from app.simulate.service import (
    CrmNotConfigured,
    CrmUnavailable,
    InvalidInput,
    RecordNotFound,
    SimulationError,
    TooLarge,
    evaluate,
    file_request,
    parse_at,
    parse_body,
    parse_json,
    parse_lead,
    parse_record,
    simulate,
)
from connectors.crm import Crm, RecordKey
from connectors.errors import CrmError
from connectors.hubspot.fake import InMemoryHubSpot
from connectors.salesforce.fake import InMemorySalesforce
from tests.unit.test_enrichment_register import SIREN, company, search

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = load_mappings(ROOT / "mappings")
KNOWN = MAPPINGS.field_names()
AT = datetime(2026, 12, 1, 10, tzinfo=UTC)


def _reader(hubspot: InMemoryHubSpot | None, salesforce: InMemorySalesforce | None) -> RecordReader:
    return RecordReader(record_sources(hubspot, salesforce), Parallel(1))


def _errors(raised: pytest.ExceptionInfo[SimulationError]) -> str:
    return "\n".join(raised.value.errors)


# -- a lead given as fields -----------------------------------------------------------------


def test_given_a_lead_as_fields_when_simulated_then_it_gets_the_score_the_live_path_computes() -> (
    None
):
    lead = parse_lead({"title": "DRH", "company_size": 250, "country": "France"}, KNOWN)
    result = simulate(SimulationRequest(lead=lead), MAPPINGS, _reader(None, None), AT)
    types = MAPPINGS.field_types()
    expected = score(lead, MAPPINGS.scoring, types)  # what the pipeline's evaluate records
    assert result.score == expected.total == 120
    assert [(r.rule, r.points) for r in result.breakdown] == [
        (c.rule, c.points) for c in expected.contributions
    ]
    assert (result.sales_ready, result.temperature) == (False, "cold")
    qualified = qualify(lead, expected, MAPPINGS.qualification, types)
    assert (result.qualification.outcome, result.qualification.reason, result.routed) == (
        qualified.outcome,
        qualified.reason,
        qualified.ready,
    )
    out = result.to_json()
    assert out["at"] == "2026-12-01T10:00:00Z"
    assert out["mappings_version"] == MAPPINGS.version
    assert out["record"] is None
    assert out["lead"] == {"company_size": "250", "country": "France", "title": "DRH"}
    assert out["breakdown"][0] == {
        "rule": "HR director or HR manager", "points": 60, "group": "fit", "value": "DRH"
    }  # fmt: skip
    assert out["qualification"] == {"outcome": qualified.outcome, "reason": qualified.reason}
    assert out["routed"] is qualified.ready
    assert json.loads(json.dumps(out)) == out  # plain JSON, nothing left to convert


def test_given_a_hot_lead_when_evaluated_then_it_is_sales_ready_and_hot() -> None:
    lead = {"title": "Responsable RH et paie", "company_size": "250", "industry": "construction"}
    lead |= {"country": "FR", "phone": "+33 1 23 45 67 89"}
    result = evaluate(parse_lead(lead, KNOWN), MAPPINGS, AT)
    assert (result.score, result.sales_ready, result.temperature) == (220, True, "hot")


@pytest.mark.parametrize(
    ("given", "evaluated"),
    [(250, "250"), (12.5, "12.5"), (True, "true"), (False, "false"), (None, None), ("", "")],
)
def test_given_json_values_when_parsed_then_they_are_text_as_the_crms_give_them(
    given: object, evaluated: str | None
) -> None:
    assert parse_lead({"company_size": given}, KNOWN) == {"company_size": evaluated}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"title": "DRH",}', "the lead is not JSON: Expecting property name"),
        (b'{"title": "DRH"', "line 1 column"),
        (b"\xff\xfe{}", "is not UTF-8 (byte 0)"),
        (b'{"title": "a", "title": "b"}', "field 'title' is given twice"),
        (b'{"company_size": NaN}', "NaN is not a number JSON allows"),
        (b"[" * 5000 + b"]" * 5000, "the lead is "),
    ],
)
def test_given_bytes_that_are_not_a_json_lead_when_parsed_then_the_error_says_why(
    raw: bytes, message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_lead(parse_json(raw, "the lead"), KNOWN)
    assert message in _errors(raised)


def test_given_a_body_over_64_kib_when_parsed_then_it_is_refused_as_too_large() -> None:
    raw = json.dumps({"title": "x" * 70_000}).encode()
    with pytest.raises(TooLarge) as raised:
        parse_json(raw, "the lead")
    assert raised.value.status_code == 413
    assert "larger than 64 KiB" in _errors(raised)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["DRH"], "the lead must be a JSON object of canonical fields"),
        ("DRH", "not a string"),
        ({"title": {"fr": "DRH"}}, "field 'title': an object is not a value"),
        ({"title": ["DRH"]}, "field 'title': a list is not a value"),
    ],
)
def test_given_json_that_is_not_a_lead_when_parsed_then_the_error_says_why(
    value: object, message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_lead(value, KNOWN)
    assert message in _errors(raised)


def test_given_unknown_fields_when_parsed_then_each_is_listed_with_a_suggestion_and_the_known_ones() -> (  # noqa: E501
    None
):
    with pytest.raises(InvalidInput) as raised:
        parse_lead({"titel": "DRH", "compagny_size": 3, "zzz": 1}, KNOWN)
    unknown_title, unknown_size, unknown_zzz, known = raised.value.errors
    assert unknown_title == "unknown field 'titel', did you mean 'title'?"
    assert unknown_size == "unknown field 'compagny_size', did you mean 'company_size'?"
    assert unknown_zzz == "unknown field 'zzz'"
    assert known.startswith("known fields: company, company_active, company_size, country")
    assert raised.value.status_code == 422


# -- typed fields and qualification ----------------------------------------------------------

PRICING_FIELD = "  - {field: pricing_visits, type: number, hubspot: pricing_visits}\n"
PRICING_RULE = (
    "  - {name: Pricing page seen 3 times, field: pricing_visits, op: gte, value: 3, points: 45}\n"
)


def _mappings_copy(folder: Path, extra: dict[str, str]) -> Mappings:
    """The shipped mappings but qualification.yaml, with text appended to some files (a new
    file when absent)."""
    shutil.copytree(ROOT / "mappings", folder, ignore=shutil.ignore_patterns("qualification.yaml"))
    for name, text in extra.items():
        with (folder / name).open("a") as f:
            f.write(text)
    return load_mappings(folder)


def test_given_a_declared_number_field_when_evaluated_then_it_compares_as_a_number(
    tmp_path: Path,
) -> None:
    m = _mappings_copy(tmp_path / "m", {"fields.yaml": PRICING_FIELD, "scoring.yaml": PRICING_RULE})
    lead = parse_lead({"title": "DRH", "pricing_visits": 12}, m.field_names())
    assert score(lead, m.scoring).total == 60  # as text, "12" < "3": the rule would not fire
    result = evaluate(lead, m, AT)
    assert [r.rule for r in result.breakdown] == [
        "HR director or HR manager",
        "Pricing page seen 3 times",  # 12 >= 3 as numbers
    ]
    assert result.score == 105
    few = evaluate(parse_lead({"pricing_visits": "2"}, m.field_names()), m, AT)
    assert few.breakdown == ()


@pytest.fixture(scope="module")
def qualifying(tmp_path_factory: pytest.TempPathFactory) -> Mappings:
    """The shipped mappings with docs/examples/qualification.yaml copied in."""
    example = (ROOT / "docs" / "examples" / "qualification.yaml").read_text()
    return _mappings_copy(tmp_path_factory.mktemp("q") / "m", {"qualification.yaml": example})


HOT = {"title": "Responsable RH", "company_size": 250, "industry": "construction", "country": "FR"}


@pytest.mark.parametrize(
    ("lead", "outcome", "reason", "routed"),
    [
        (
            {"title": "DRH", "email": "rh@btp.fr"},
            "nurture",
            "score 60 is below the threshold",
            False,
        ),
        (HOT | {"email": "rh@btp.fr"}, "ready", "score 170 reached the threshold", True),
        # sales-ready by its score, yet not routed: the first rule that holds decides
        (
            HOT | {"email": "rh@payfit.com", "domain": "payfit.com"},
            "disqualified",
            "A competitor",
            False,
        ),
        (
            {"title": "Stagiaire RH", "email": "s@btp.fr"},
            "disqualified",
            "Intern in the title",
            False,
        ),
        (HOT, "incomplete", "No email to reach them", False),
    ],
)
def test_given_qualification_yaml_when_a_lead_is_simulated_then_its_outcome_decides_the_routing(
    qualifying: Mappings, lead: dict[str, object], outcome: str, reason: str, routed: bool
) -> None:
    given = parse_lead(lead, qualifying.field_names())
    result = simulate(SimulationRequest(lead=given), qualifying, _reader(None, None), AT)
    assert (result.qualification.outcome, result.qualification.reason) == (outcome, reason)
    assert result.routed is routed
    assert result.to_json()["qualification"] == {"outcome": outcome, "reason": reason}


def test_given_no_qualification_yaml_when_a_cold_lead_is_simulated_then_it_is_routed(
    tmp_path: Path,
) -> None:
    m = _mappings_copy(tmp_path / "m", {})
    assert m.qualification is None
    result = evaluate(parse_lead({"title": "DRH"}, KNOWN), m, AT)
    assert (result.score, result.sales_ready) == (60, False)
    assert result.qualification.outcome == "ready" and result.routed
    assert result.qualification.reason == "no qualification.yaml: every lead is routed"


# -- the record -------------------------------------------------------------------------------

LEAD_15, LEAD_18 = "00Q5g00000AbCdE", "00Q5g00000AbCdEEAV"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("hubspot:123", RecordKey.hubspot("123")),
        ("hubspot:contact:123", RecordKey.hubspot("123")),
        (f"salesforce:{LEAD_15}", RecordKey.salesforce("Lead", LEAD_18)),
        (f"salesforce:{LEAD_18}", RecordKey.salesforce("Lead", LEAD_18)),
        ("salesforce:0035g00000AbCdE", RecordKey.salesforce("Contact", "0035g00000AbCdE")),
        (f"salesforce:Lead:{LEAD_15}", RecordKey.salesforce("Lead", LEAD_18)),
    ],
)
def test_given_a_record_named_on_the_command_line_when_parsed_then_it_is_its_key(
    text: str, key: RecordKey
) -> None:
    assert parse_record(text) == key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hubspt:123", "unknown CRM 'hubspt', did you mean 'hubspot'?"),
        ("123", "unknown CRM '123'"),
        ("hubspot:abc", "a HubSpot contact id is a number, not 'abc'"),
        ("hubspot:", "a HubSpot contact id is a number"),
        ("hubspot:deal:123", "Relais reads HubSpot contacts"),
        ("salesforce:0015g00000AbCdE", "neither a Lead id (00Q...) nor a Contact id (003...)"),
        ("salesforce:00Q12", "a Salesforce id has 15 or 18 letters and digits"),
        (f"salesforce:Account:{LEAD_15}", "Relais reads Salesforce Leads and Contacts"),
        ("salesforce:Lead:", "not a record key"),
    ],
)
def test_given_a_record_that_is_not_one_when_parsed_then_the_error_says_what_is_expected(
    text: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_record(text)
    assert message in _errors(raised)


def _mapped(m: Mappings) -> tuple[InMemoryHubSpot, str]:
    hubspot = InMemoryHubSpot()
    contact = hubspot.create_contact(
        email="rh@btp.example", jobtitle="DRH", numberofemployees="250", industry="CONSTRUCTION"
    )
    return hubspot, contact


def test_given_a_hubspot_record_when_simulated_then_it_is_read_mapped_and_evaluated_without_a_write() -> (  # noqa: E501
    None
):
    hubspot, contact = _mapped(MAPPINGS)
    request = SimulationRequest(record=parse_record(f"hubspot:{contact}"))
    result = simulate(request, MAPPINGS, _reader(hubspot, None), AT)
    assert result.record == f"hubspot:contact:{contact}"
    # CONSTRUCTION, HubSpot's value, went through values.yaml as the pipeline's read does
    assert result.lead["industry"] == "construction"
    assert "Industry or construction" in [r.rule for r in result.breakdown]
    assert result.score == 150 and result.sales_ready
    assert hubspot.calls("read_contacts") == 1
    assert hubspot.calls("update_contacts") == 0 and hubspot.applied_updates() == []


def test_given_a_salesforce_lead_when_simulated_then_its_fields_are_read_and_evaluated() -> None:
    salesforce = InMemorySalesforce()
    [lead] = salesforce.create_records(
        "Lead", [{"Email": "p@x.fr", "LastName": "P", "Title": "Gestionnaire paie"}]
    )
    request = SimulationRequest(record=parse_record(f"salesforce:{lead[:15]}"))
    result = simulate(request, MAPPINGS, _reader(None, salesforce), AT)
    assert result.record == f"salesforce:Lead:{lead}"
    assert result.lead["title"] == "Gestionnaire paie"
    assert [r.rule for r in result.breakdown] == ["Payroll manager"]
    assert salesforce.calls("update_records") == 0


def test_given_a_record_not_in_its_crm_when_simulated_then_not_found_names_the_crm() -> None:
    request = SimulationRequest(record=RecordKey.hubspot("404"))
    with pytest.raises(RecordNotFound) as raised:
        simulate(request, MAPPINGS, _reader(InMemoryHubSpot(), None), AT)
    assert raised.value.status_code == 404
    assert _errors(raised).startswith("hubspot:contact:404 not found in HubSpot")


def test_given_a_crm_not_configured_when_a_record_is_simulated_then_the_error_says_what_to_set() -> (  # noqa: E501
    None
):
    request = SimulationRequest(record=parse_record(f"salesforce:{LEAD_15}"))
    hints = {Crm.SALESFORCE: "set RELAIS_SALESFORCE_CLIENT_ID"}
    with pytest.raises(CrmNotConfigured) as raised:
        simulate(request, MAPPINGS, _reader(InMemoryHubSpot(), None), AT, hints)
    assert _errors(raised) == (
        "Salesforce is not configured in this process: set RELAIS_SALESFORCE_CLIENT_ID"
    )


def test_given_a_crm_that_fails_the_read_when_simulated_then_the_error_is_a_bad_gateway() -> None:
    hubspot, contact = _mapped(MAPPINGS)
    hubspot.fail("read_contacts", CrmError("HubSpot answered 500", crm=Crm.HUBSPOT), times=5)
    request = SimulationRequest(record=RecordKey.hubspot(contact))
    with pytest.raises(CrmUnavailable) as raised:
        simulate(request, MAPPINGS, _reader(hubspot, None), AT)
    assert raised.value.status_code == 502
    assert f"reading hubspot:contact:{contact} from HubSpot failed" in _errors(raised)


# -- the two edges' requests ------------------------------------------------------------------


def test_given_a_body_with_a_lead_or_a_record_when_parsed_then_it_is_that_request() -> None:
    raw = json.dumps({"lead": {"title": "DRH"}}).encode()
    assert parse_body(raw, KNOWN) == SimulationRequest(lead={"title": "DRH"})
    raw = json.dumps({"record": "hubspot:7"}).encode()
    assert parse_body(raw, KNOWN) == SimulationRequest(record=RecordKey.hubspot("7"))


def test_given_a_body_with_a_time_when_parsed_then_it_is_the_instant_simulated() -> None:
    raw = json.dumps({"lead": {"title": "DRH"}, "at": "2026-12-01T11:00:00+01:00"}).encode()
    assert parse_body(raw, KNOWN).at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("2026-12-01", "'2026-12-01' has no time zone: add Z or an offset"),
        ("tomorrow", "'tomorrow' is not an ISO 8601 instant"),
        (1764583200, '"at" must be a string (ISO 8601)'),
    ],
)
def test_given_a_time_that_is_not_an_instant_then_it_is_refused(at: object, message: str) -> None:
    raw = json.dumps({"lead": {"title": "DRH"}, "at": at}).encode()
    with pytest.raises(InvalidInput) as raised:
        parse_body(raw, KNOWN)
    assert any(message in e for e in raised.value.errors), raised.value.errors


def test_given_an_old_activity_when_simulated_later_then_the_decay_takes_more() -> None:
    lead: dict[str, str | None] = {"title": "DRH", "last_activity": "2026-08-20T10:00:00Z"}
    three = evaluate(lead, MAPPINGS, datetime(2026, 11, 21, tzinfo=UTC))
    five = evaluate(lead, MAPPINGS, datetime(2027, 1, 21, tzinfo=UTC))
    assert three.score - five.score == 10  # two more months at -5 (shipped scoring.yaml)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "the body must be a JSON object"),
        ({"leed": {}}, "unknown key 'leed', did you mean 'lead'?"),
        ({}, 'give "lead" (canonical fields) or "record", one of them'),
        ({"lead": {}, "record": "hubspot:1"}, "one of them"),
        ({"record": 123}, '"record" must be a string'),
        ({"lead": {}, "recrd": "hubspot:1"}, "unknown key 'recrd', did you mean 'record'?"),
        ({"lead": []}, '"lead" must be a JSON object'),
        ({"lead": {"titel": "x"}}, "did you mean 'title'?"),
    ],
)
def test_given_a_body_that_is_not_a_request_when_parsed_then_the_error_says_why(
    body: object, message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_body(json.dumps(body).encode(), KNOWN)
    assert message in _errors(raised)


def test_given_a_lead_file_when_read_then_it_is_the_request(tmp_path: Path) -> None:
    path = tmp_path / "lead.json"
    path.write_text('{"title": "DRH"}')
    assert file_request(path, None, KNOWN) == SimulationRequest(lead={"title": "DRH"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file or directory"),
        (b"title: DRH", "lead.json is not JSON"),
        (b"\xef\xbb\xbf" + b'{"titel": 1}', "did you mean 'title'?"),  # a BOM is fine
        (b"x" * (64 * 1024 + 1), "lead.json is larger than 64 KiB"),
    ],
)
def test_given_a_lead_file_that_is_not_a_lead_when_read_then_the_error_names_it(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "lead.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SimulationError) as raised:
        file_request(path, None, KNOWN)
    assert message in _errors(raised)


def test_given_both_a_file_and_a_record_or_neither_when_asked_then_it_is_refused(
    tmp_path: Path,
) -> None:
    for lead_file, record in [(tmp_path / "lead.json", "hubspot:1"), (None, None)]:
        with pytest.raises(InvalidInput, match=r"give a LEAD\.json file or --record, one of them"):
            file_request(lead_file, record, KNOWN)


# -- enrichment -------------------------------------------------------------------------------

ENRICHMENT = "providers: [email, phone, siren, register]\ntimeout_seconds: 2\n"


@pytest.fixture(scope="module")
def enriching(tmp_path_factory: pytest.TempPathFactory) -> Mappings:
    """The shipped mappings with enrichment.yaml turned on."""
    return _mappings_copy(tmp_path_factory.mktemp("m") / "m", {"enrichment.yaml": ENRICHMENT})


@pytest.fixture
def reach() -> Iterator[Reach]:
    with httpx.Client() as client:
        yield Reach(client, None, keep_answers=False)


def test_given_enrichment_yaml_when_a_lead_is_simulated_then_it_shows_what_enrichment_did(
    enriching: Mappings, reach: Reach
) -> None:
    given = parse_lead(
        {"title": "DRH", "email": " Ana@Acme.FR", "phone": "06 12 34 56 78", "siren": SIREN},
        enriching.field_names(),
    )
    with respx.mock(assert_all_called=True) as register:
        register.get(REGISTER_URL).respond(json=search(company()))
        result = simulate(
            SimulationRequest(lead=given), enriching, _reader(None, None), AT, None, reach
        )
    assert result.enrichment is not None
    assert result.enrichment.providers == ("email", "phone", "siren", "register")
    assert result.enrichment.gaps == ()
    assert result.enrichment.found["email"] == "ana@acme.fr"
    assert result.enrichment.replaced["email"] == " Ana@Acme.FR"  # the value given
    assert result.enrichment.found["naf_code"] == "62.01Z"
    assert result.enrichment.replaced["naf_code"] is None  # none was given
    assert (result.lead["phone_e164"], result.lead["naf_section"]) == ("+33612345678", "J")
    assert not [f for f in result.lead if "." in f]  # the CRM's values are under "replaced"
    printed = result.to_json()
    assert printed["enrichment"]["gaps"] == [] and printed["lead"]["email"] == "ana@acme.fr"
    json.dumps(printed)  # JSON as it is


def test_given_the_register_down_when_simulated_then_the_lead_is_scored_and_the_gap_shown(
    enriching: Mappings, reach: Reach
) -> None:
    given = parse_lead({"title": "DRH", "siren": SIREN}, enriching.field_names())
    with respx.mock() as register:
        register.get(REGISTER_URL).respond(503)
        result = simulate(
            SimulationRequest(lead=given), enriching, _reader(None, None), AT, None, reach
        )
    assert result.enrichment is not None
    [gap] = result.enrichment.gaps
    assert gap.provider == "register" and "503" in gap.reason
    assert result.lead["enrichment_gaps"] == "register"
    assert "enrichment_gap_reasons" not in result.lead  # shown once, as the gap
    assert result.score == evaluate(parse_lead({"title": "DRH"}, KNOWN), MAPPINGS, AT).score


def test_given_no_enrich_when_simulated_then_the_lead_is_scored_as_given(
    enriching: Mappings, reach: Reach
) -> None:
    given = parse_lead({"title": "DRH", "email": " Ana@Acme.FR"}, enriching.field_names())
    with respx.mock() as nothing:  # no call out
        result = simulate(
            SimulationRequest(lead=given, enrich=False), enriching, _reader(None, None), AT, None,
            reach,
        )  # fmt: skip
    assert not nothing.calls
    assert result.enrichment is None and result.lead == given
    assert result.to_json()["enrichment"] is None


def test_given_no_enrichment_yaml_when_simulated_then_there_is_no_enrichment(reach: Reach) -> None:
    given = parse_lead({"title": "DRH"}, KNOWN)
    result = simulate(SimulationRequest(lead=given), MAPPINGS, _reader(None, None), AT, None, reach)
    assert result.enrichment is None and result.lead == given


@pytest.mark.parametrize(
    ("body", "enrich"),
    [(b'{"lead": {}}', True), (b'{"lead": {}, "enrich": false}', False)],
)
def test_given_a_body_with_enrich_when_parsed_then_enrichment_is_on_or_off(
    body: bytes, enrich: bool
) -> None:
    assert parse_body(body, KNOWN).enrich is enrich


def test_given_enrich_that_is_not_a_boolean_when_parsed_then_it_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_body(b'{"lead": {}, "enrich": "no"}', KNOWN)
    assert _errors(raised) == '"enrich" must be true or false, not a string'


def test_given_no_enrich_on_the_command_line_when_read_then_the_request_skips_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lead.json"
    path.write_text('{"title": "DRH"}')
    assert file_request(path, None, KNOWN).enrich is True
    assert file_request(path, None, KNOWN, enrich=False).enrich is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9999-12-31T23:59:59-05:00", "is out of range"),
        ("0001-01-01T00:00:00+05:00", "is out of range"),
        ("2026-12-01T10:00:00", "has no time zone"),
        ("tomorrow", "is not an ISO 8601 instant"),
    ],
)
def test_given_an_instant_out_of_range_or_unreadable_when_simulated_at_then_invalid_input(
    text: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_at(text)


def test_given_the_last_instant_in_utc_when_simulated_at_then_it_is_read() -> None:
    assert parse_at("9999-12-31T23:59:59Z") == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
