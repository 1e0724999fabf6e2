"""Rescoring as time passes: every known lead scored again, only what changed written."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.db import utcnow
from app.decisions.service import DecisionService
from app.evaluations.models import LeadEvaluation
from app.inbox.repository import InboxRepository
from app.rescore import service as rescore_module
from app.rescore.schedule import DailyRescore
from app.rescore.service import Progress, Rescorer
from app.routing.schemas import Outcome
from connectors.hubspot.fake import InMemoryHubSpot
from connectors.salesforce.fake import InMemorySalesforce
from tests.service.helpers import (
    SCORE_LEAD_FIELDS,
    SCORE_PROPERTIES,
    Service,
    hubspot_account,
    hubspot_key,
    salesforce_org,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "qualification.yaml"
WRITE = """
write:
  hubspot: {score: relais_score, temperature: relais_temperature, breakdown: relais_reasons}
  salesforce_lead: {score: Relais_Score__c, breakdown: Relais_Reasons__c}
"""
# Scored by the shipped scoring.yaml: 60 (HR) + 40 (30+ staff) + 50 (industry) + 20 (France)
READY = {"jobtitle": "DRH", "numberofemployees": "120", "industry": "CONSTRUCTION"}
READY |= {"country": "France"}


@pytest.fixture
def hubspot() -> InMemoryHubSpot:
    """An account with the score's properties, its app subscribed to the job title."""
    return hubspot_account(*SCORE_PROPERTIES, subscribed=("jobtitle",))


@pytest.fixture
def salesforce() -> InMemorySalesforce:
    """An org where the admin created the score's fields on the Lead."""
    return salesforce_org(*SCORE_LEAD_FIELDS)


@pytest.fixture
def rescoring(mappings_dir: Path) -> Path:
    with (mappings_dir / "scoring.yaml").open("a") as f:
        f.write(WRITE)
    shutil.copy(EXAMPLE, mappings_dir / "qualification.yaml")
    return mappings_dir


def days_ago(days: float) -> str:
    return (utcnow() - timedelta(days=days)).isoformat()


def rescore(service: Service, as_of: datetime, batch_size: int = 100) -> Progress:
    service.worker()  # the mappings, read
    rescorer = Rescorer(service.db, service.runtime.mappings, batch_size=batch_size)
    run = rescorer.start(f"test-{as_of.isoformat()}", as_of)
    *_, last = rescorer.run(run, "test-rescorer")
    return last


def test_given_leads_scored_weeks_ago_when_rescored_a_month_on_then_only_the_decayed_are_written(
    service: Service, rescoring: Path
) -> None:
    fresh = service.hubspot.create_contact(email="a@betonsud.fr", **READY)
    fading = service.hubspot.create_contact(
        email="b@betonsud.fr", **READY, notes_last_updated=days_ago(25)
    )
    cold = service.hubspot.create_contact(
        email="c@betonsud.fr", jobtitle="Comptable", notes_last_updated=days_ago(25)
    )
    service.deliver_and_run()
    owners = {cid: service.hubspot.owner_of(cid) for cid in (fresh, fading)}
    assert all(owners.values()) and service.hubspot.owner_of(cold) is None
    before = len(service.writes())

    progress = rescore(service, utcnow() + timedelta(days=10))  # 35 days since their activity
    service.run()

    assert (progress.scanned, progress.changed, progress.routed) == (3, 2, 0)
    new = service.writes()[before:]
    assert sorted(w.object_id for w in new) == sorted([fading, cold])
    # Only the score's fields: the lifecycle stage and the owner stay as they were.
    assert {frozenset(w.fields) for w in new} == {frozenset({"relais_score", "relais_reasons"})}
    assert service.hubspot.contact(fading)["relais_score"] == "165"  # 170 - 5
    assert "-5 " in str(service.hubspot.contact(fading)["relais_reasons"])
    assert {cid: service.hubspot.owner_of(cid) for cid in (fresh, fading)} == owners
    [assigned] = [d for d in service.decisions(hubspot_key(fading)) if d.outcome == "rescored"]
    assert assigned.owner_email == service.assignments()[hubspot_key(fading)]
    assert "rescoring run" in assigned.rule and assigned.score == 165
    [nurtured] = service.decisions(hubspot_key(cold))[1:]
    assert nurtured.outcome == "nurture" and "rescored" in nurtured.rule

    again = rescore(service, utcnow() + timedelta(days=10, hours=1))  # nothing new since

    assert (again.scanned, again.changed) == (3, 0)
    assert len(service.writes()) == before + 2


def test_given_a_lower_threshold_when_rescored_then_a_nurtured_lead_is_routed(
    service: Service, rescoring: Path
) -> None:
    cid = service.hubspot.create_contact(
        email="b@betonsud.fr", **READY, notes_last_updated=days_ago(160)
    )  # 170 - 25 (5 months without activity) = 145: below 150
    service.deliver_and_run()
    assert service.hubspot.owner_of(cid) is None
    assert service.decisions()[-1].outcome == "nurture"
    scoring = rescoring / "scoring.yaml"
    scoring.write_text(scoring.read_text().replace("threshold: 150", "threshold: 140"))
    service.runtime.mappings.reload()

    progress = rescore(service, utcnow())
    service.run()

    assert progress.routed == 1
    assert service.hubspot.owner_of(cid) is not None
    assert service.decisions()[-1].outcome == Outcome.ASSIGNED
    assert service.hubspot.contact(cid)["lifecyclestage"] == "salesqualifiedlead"


def test_given_a_run_killed_mid_batch_when_run_again_then_it_resumes_and_writes_each_lead_once(
    service: Service, rescoring: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [
        service.hubspot.create_contact(
            email=f"l{n}@betonsud.fr", jobtitle="Comptable", notes_last_updated=days_ago(25)
        )
        for n in range(10)
    ]
    service.deliver_and_run()
    before = len(service.writes())
    service.worker()
    rescorer = Rescorer(service.db, service.runtime.mappings, batch_size=3)
    run = rescorer.start("killed", utcnow() + timedelta(days=10))
    assert rescorer.step(run, "first").scanned == 3
    calls = 0
    record = DecisionService.record_rescore

    def crash_on_the_second(self: DecisionService, *args: object, **kw: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt("killed")  # the process dies inside the second batch
        return record(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(DecisionService, "record_rescore", crash_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        rescorer.step(run, "first")
    monkeypatch.undo()

    resumed = Rescorer(service.db, service.runtime.mappings, batch_size=3)
    assert resumed.unfinished() == [run]
    *_, last = resumed.run(run, "second")
    service.run()

    assert (last.scanned, last.changed, last.finished) == (10, 10, True)
    written = [w.object_id for w in service.writes()[before:]]
    assert sorted(written) == sorted(ids)  # each once: the killed batch left nothing behind


def test_given_a_record_a_worker_holds_when_rescored_then_it_is_left_to_the_worker(
    service: Service, rescoring: Path
) -> None:
    held = service.hubspot.create_contact(
        email="a@betonsud.fr", jobtitle="Comptable", notes_last_updated=days_ago(25)
    )
    free = service.hubspot.create_contact(
        email="b@betonsud.fr", jobtitle="Comptable", notes_last_updated=days_ago(25)
    )
    service.deliver_and_run()
    now = utcnow()
    with service.db.transaction() as session:
        InboxRepository(session).acquire_records(
            [hubspot_key(held)], "busy-worker", now, now + timedelta(minutes=5)
        )

    progress = rescore(service, now + timedelta(days=10))

    assert (progress.scanned, progress.changed, progress.busy) == (2, 1, 1)
    assert [w.object_id for w in service.writes() if "relais_score" in w.fields][-1] == free


def test_given_an_assigned_lead_when_a_person_changes_its_title_then_its_score_fields_follow(
    service: Service, rescoring: Path
) -> None:
    cid = service.hubspot.create_contact(email="drh@betonsud.fr", **READY)
    service.deliver_and_run()
    owner = service.hubspot.owner_of(cid)
    assert service.hubspot.contact(cid)["relais_score"] == "170"

    service.hubspot.set_property(cid, "jobtitle", "Comptable")  # no longer an HR title
    service.deliver_and_run()

    assert service.hubspot.contact(cid)["relais_score"] == "110"
    assert service.hubspot.owner_of(cid) == owner  # never un-routed
    assert service.hubspot.contact(cid)["lifecyclestage"] == "salesqualifiedlead"
    last = service.decisions()[-1]
    assert (last.outcome, last.score) == ("rescored", 110)
    assert last.owner_email == service.assignments()[hubspot_key(cid)]


def test_given_the_daily_time_when_workers_step_then_one_run_per_day_covers_every_lead(
    service: Service, rescoring: Path
) -> None:
    for n in range(5):
        service.hubspot.create_contact(
            email=f"l{n}@betonsud.fr", jobtitle="Comptable", notes_last_updated=days_ago(25)
        )
    service.deliver_and_run()
    service.worker()
    daily = DailyRescore(Rescorer(service.db, service.runtime.mappings, batch_size=2), time(3))
    morning = utcnow().replace(hour=2, minute=59) + timedelta(days=10)

    assert daily.step("w1", morning) == 0  # not yet time
    later = morning.replace(hour=3, minute=1)
    scanned = [daily.step(w, later) for w in ("w1", "w2", "w1", "w2")]

    assert scanned == [2, 2, 1, 0]  # two workers share one run: each lead once
    with service.db.transaction() as session:
        rows = session.query(LeadEvaluation).all()
    assert len(rows) == 5 and all(r.evaluated_at == later for r in rows)
    assert len(service.decisions()) == 10  # five first decisions, five rescored


def test_given_an_assigned_salesforce_lead_when_a_notification_shows_a_new_title_then_score_follows(
    service: Service, rescoring: Path
) -> None:
    lid = service.salesforce.create_record(
        "Lead", Email="drh@betonsud.fr", LastName="Durand", Company="BétonSud", Title="DRH",
        NumberOfEmployees=120, Industry="Construction", Country="France",
    )  # fmt: skip
    service.deliver_and_run()
    owner = service.salesforce.owner_of("Lead", lid)
    assert service.salesforce.record("Lead", lid)["Relais_Score__c"] == "170"

    service.salesforce.change_record("Lead", lid, {"Title": "Comptable"})
    service.deliver_and_run()

    assert service.salesforce.record("Lead", lid)["Relais_Score__c"] == "110"
    assert service.salesforce.owner_of("Lead", lid) == owner
    assert service.decisions()[-1].outcome == "rescored"


def test_given_a_ready_lead_that_kept_an_outside_owner_when_rescored_then_it_is_not_routed_again(
    service: Service, rescoring: Path
) -> None:
    boss = service.hubspot.add_owner("directrice@paieco.example", "Anne", "Roux")  # not a rep
    cid = service.hubspot.create_contact(email="drh@betonsud.fr", hubspot_owner_id=boss.id, **READY)
    service.deliver_and_run()
    assert service.decisions()[-1].outcome == Outcome.KEPT_OWNER
    events, writes = len(service.events()), len(service.writes())

    first, second = rescore(service, utcnow()), rescore(service, utcnow() + timedelta(hours=1))
    service.run()

    assert (first.routed, second.routed) == (0, 0)
    assert (len(service.events()), len(service.writes())) == (events, writes)
    assert service.hubspot.owner_of(cid) == boss.id


def test_given_one_lead_whose_rescoring_raises_then_the_others_are_rescored_and_it_is_counted(
    service: Service, rescoring: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [
        service.hubspot.create_contact(
            email=f"l{n}@betonsud.fr", jobtitle="Comptable", notes_last_updated=days_ago(25)
        )
        for n in range(3)
    ]
    service.deliver_and_run()
    before = len(service.writes())
    real = rescore_module.rescored

    def broken_for_the_second(ev: LeadEvaluation, *args: Any) -> Any:
        if ev.record_key == hubspot_key(ids[1]):
            raise ValueError("a bug of ours")
        return real(ev, *args)

    monkeypatch.setattr(rescore_module, "rescored", broken_for_the_second)
    progress = rescore(service, utcnow() + timedelta(days=10))

    assert (progress.scanned, progress.changed, progress.failed, progress.finished) == (
        3, 2, 1, True,
    )  # fmt: skip
    assert sorted(w.object_id for w in service.writes()[before:]) == sorted([ids[0], ids[2]])


def test_given_a_field_mapped_after_leads_were_scored_when_rescored_then_they_are_read_again(
    service: Service, rescoring: Path
) -> None:
    cid = service.hubspot.create_contact(email="c@betonsud.fr", jobtitle="Comptable")
    service.deliver_and_run()
    fields = rescoring / "fields.yaml"
    fields.write_text(
        fields.read_text() + "  - {field: webinar_attended, type: boolean, hubspot: webinar}\n"
    )
    service.runtime.mappings.reload()

    progress = rescore(service, utcnow())

    assert progress.routed == 1  # through the live path, which reads the record
    [event] = [e for e in service.events() if e.event_type == "relais.rescore"]
    assert event.record_key == hubspot_key(cid)
    service.run()
    assert [e.status for e in service.events()] == ["done", "done"]


def test_given_two_workers_starting_the_day_at_once_then_they_share_one_run_and_close_yesterdays(
    service: Service, rescoring: Path
) -> None:
    service.worker()
    rescorer = Rescorer(service.db, service.runtime.mappings)
    yesterday = rescorer.start("daily-2026-11-25", utcnow())  # still going at midnight

    runs = {rescorer.start("daily-2026-11-26", utcnow()) for _ in range(2)}
    daily = DailyRescore(rescorer, time(3))
    daily.step("w1", datetime(2026, 11, 26, 4, tzinfo=UTC))

    assert len(runs) == 1 and yesterday not in runs
    assert rescorer.unfinished("daily-") in ([], list(runs))
    assert rescorer.progress(yesterday).finished


def test_given_a_contact_deleted_in_hubspot_when_its_rescore_write_fails_then_it_is_forgotten(
    service: Service, rescoring: Path
) -> None:
    gone = service.hubspot.create_contact(
        email="a@betonsud.fr", jobtitle="Comptable", notes_last_updated=days_ago(25)
    )
    kept = service.hubspot.create_contact(
        email="b@betonsud.fr", jobtitle="Comptable", notes_last_updated=days_ago(25)
    )
    service.deliver_and_run()
    service.hubspot.delete_contact(gone)

    first = rescore(service, utcnow() + timedelta(days=10))
    service.run()  # the write to the deleted contact is dead-lettered with the CRM's words
    later = rescore(service, utcnow() + timedelta(days=45))

    assert (first.scanned, first.changed) == (2, 2)
    assert (later.scanned, later.changed) == (1, 1)  # only the contact that still exists
    dead = [w for w in service.writes() if w.status == "dead"]
    assert [w.object_id for w in dead] == [gone]
    assert service.writes()[-1].object_id == kept
