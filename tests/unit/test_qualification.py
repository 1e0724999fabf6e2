"""The qualification stage, pure: which leads go to sales, and why the others do not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.mappings.loader import MappingsError, load_mappings
from app.mappings.schemas import Qualification, ReasonFields
from app.qualification.engine import Qualified, qualify, write_back
from app.scoring.engine import ScoreResult
from connectors.crm import RecordKey

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "qualification.yaml"
HOT = ScoreResult(230, (), True, "hot")
COLD = ScoreResult(40, (), False, "cold")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Qualification:
    """The worked example of docs/mappings.md, loaded with the shipped mappings."""
    folder = tmp_path_factory.mktemp("mappings")
    shutil.copytree(ROOT / "mappings", folder, dirs_exist_ok=True)
    shutil.copy(EXAMPLE, folder / "qualification.yaml")
    m = load_mappings(folder)
    assert m.qualification is not None
    return m.qualification


@pytest.mark.parametrize(
    ("lead", "score", "outcome", "reason"),
    [
        ({"title": "Stagiaire RH", "email": "a@b.fr"}, HOT, "disqualified", "Intern in the title"),
        ({"title": "DRH", "email": "x@payfit.com", "domain": "payfit.com"}, HOT, "disqualified",
         "A competitor"),
        ({"title": "DRH"}, HOT, "incomplete", "No email to reach them"),
        ({"title": "DRH", "email": "a@b.fr"}, HOT, "ready", "score 230 reached the threshold"),
        ({"title": "DRH", "email": "a@b.fr"}, COLD, "nurture", "score 40 is below the threshold"),
    ],
)  # fmt: skip
def test_the_first_rule_that_holds_decides_else_the_threshold(
    model: Qualification, lead: dict[str, str | None], score: ScoreResult, outcome: str, reason: str
) -> None:
    q = qualify(lead, score, model)
    assert (q.outcome, q.reason) == (outcome, reason)
    assert q.ready is (outcome == "ready")


def test_rules_are_read_in_order() -> None:
    model = Qualification.model_validate(
        {
            "rules": [
                {
                    "name": "first",
                    "outcome": "nurture",
                    "when": [{"field": "title", "op": "exists"}],
                },
                {
                    "name": "second",
                    "outcome": "ready",
                    "when": [{"field": "title", "op": "exists"}],
                },
            ]
        }
    )
    assert qualify({"title": "DRH"}, COLD, model).reason == "first"


def test_without_qualification_every_lead_is_ready() -> None:
    q = qualify({}, COLD, None)
    assert q.ready and "every lead is routed" in q.reason


def test_each_outcome_writes_its_values_to_each_crm_object(model: Qualification) -> None:
    contact = RecordKey.hubspot("1")
    lead = RecordKey.salesforce("Lead", "00Q000000000001")
    sf_contact = RecordKey.salesforce("Contact", "003000000000001")
    out = Qualified("disqualified", "A student")
    assert write_back(model, out, contact) == {"hs_lead_status": "UNQUALIFIED"}
    assert write_back(model, out, lead) == {"Status": "Closed - Not Converted"}
    assert write_back(model, out, sf_contact) == {}
    assert write_back(model, Qualified("nurture", "score 10 is below"), lead) == {}
    assert write_back(None, Qualified("ready", "no qualification.yaml"), contact) == {}


def test_given_reason_fields_then_each_outcome_writes_its_reason_in_words(
    model: Qualification,
) -> None:
    with_reason = model.model_copy(
        update={"reason": ReasonFields(hubspot="relais_reason", salesforce_lead="Reason__c")}
    )
    contact = RecordKey.hubspot("1")
    lead = RecordKey.salesforce("Lead", "00Q000000000001")
    out = Qualified("disqualified", "A student (no purchasing power)")

    assert write_back(with_reason, out, contact) == {
        "hs_lead_status": "UNQUALIFIED",
        "relais_reason": "disqualified: A student (no purchasing power)",
    }
    assert str(write_back(with_reason, out, lead)["Reason__c"]).startswith("disqualified: A stu")
    long = write_back(with_reason, Qualified("nurture", "x" * 400), contact)["relais_reason"]
    assert long is not None and len(long) == 255 and long.endswith("…")
    assert write_back(with_reason, out, RecordKey.salesforce("Contact", "003000000000001")) == {}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "  - {name: r, outcome: nurture, when: [{field: titel, op: exists}]}\n",
            "qualification.yaml:2: rules[0].when[0].field: unknown field 'titel', did you mean "
            "'title'?",
        ),
        (
            "  - {name: r, outcome: nurture, when: [{field: company_size, op: contains, "
            "value: x}]}\n",
            "qualification.yaml:2: rules[0].when[0]: company_size (number): contains does not "
            "apply to a number field",
        ),
        (
            "  - {name: r, outcome: maybe, when: [{field: title, op: exists}]}\n",
            "qualification.yaml:2: rules[0].outcome:",
        ),
        ("  - {name: r, outcome: nurture, when: []}\n", "qualification.yaml:2: rules[0].when:"),
    ],
)
def test_a_rule_that_cannot_work_is_refused_with_its_line(
    tmp_path: Path, rule: str, message: str
) -> None:
    shutil.copytree(ROOT / "mappings", tmp_path, dirs_exist_ok=True)
    (tmp_path / "qualification.yaml").write_text("rules:\n" + rule)
    with pytest.raises(MappingsError) as err:
        load_mappings(tmp_path)
    assert any(message in e for e in err.value.errors), "\n".join(err.value.errors)


def test_write_back_values_are_checked_against_the_crms_picklists(tmp_path: Path) -> None:
    from app.mappings.crm_check import check_against_crm
    from connectors.hubspot.fake import InMemoryHubSpot
    from connectors.salesforce.fake import InMemorySalesforce

    shutil.copytree(ROOT / "mappings", tmp_path, dirs_exist_ok=True)
    shutil.copy(EXAMPLE, tmp_path / "qualification.yaml")
    clean = check_against_crm(load_mappings(tmp_path), InMemoryHubSpot(), InMemorySalesforce())
    assert not [p for p in clean if "qualification.yaml" in p], clean

    text = EXAMPLE.read_text().replace("salesqualifiedlead", "sales_qualified")
    (tmp_path / "qualification.yaml").write_text(text.replace("Status: Working", "Statut: Working"))
    problems = check_against_crm(load_mappings(tmp_path), InMemoryHubSpot(), InMemorySalesforce())
    assert any(
        "qualification.yaml:" in p
        and "outcomes.ready.hubspot.lifecyclestage" in p
        and "'sales_qualified' is not a value of the HubSpot contact property 'lifecyclestage'" in p
        for p in problems
    ), problems
    assert any("no Salesforce Lead field 'Statut', did you mean 'Status'?" in p for p in problems)


def test_a_revealing_act_makes_the_lead_ready_whatever_its_score(model: Qualification) -> None:
    quote = ScoreResult(40, (), True, "cold", revealing="Quote requested")
    q = qualify({"title": "DRH", "email": "a@b.fr"}, quote, model)
    assert (q.outcome, q.reason) == ("ready", "revealing act: Quote requested")
