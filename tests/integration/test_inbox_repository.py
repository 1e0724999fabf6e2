"""The inbox's claiming rules, on the real database, without HTTP."""

from __future__ import annotations

from datetime import timedelta

from app.db import Database, utcnow
from app.inbox.models import InboxEvent
from app.inbox.repository import LEASE_EXPIRED_ERROR, ClaimedEvent, InboxRepository
from app.pauses.repository import PauseRepository
from app.queue import Status
from connectors.crm import Crm


def add_events(db: Database, record_keys: list[str]) -> None:
    now = utcnow()
    rows = [
        {
            "crm": Crm.HUBSPOT,
            "dedupe_key": f"k{i}",
            "record_key": rk,
            "event_type": "contact.creation",
            "received_at": now,
            "available_at": now,
            "payload": {},
            "status": Status.PENDING,
        }
        for i, rk in enumerate(record_keys)
    ]
    with db.transaction() as session:
        InboxRepository(session).store(rows)


def claim(
    db: Database, worker: str, lease: timedelta, limit: int = 10, max_attempts: int = 3
) -> list[ClaimedEvent]:
    with db.transaction() as session:
        return InboxRepository(session).claim(worker, utcnow(), lease, limit, max_attempts)


def test_an_event_whose_worker_dies_on_every_attempt_ends_dead_not_reclaimed_forever(
    db: Database,
) -> None:
    add_events(db, ["hubspot:contact:1"])
    expired = timedelta(seconds=-1)  # as if the worker died right after claiming
    for attempt in (1, 2, 3):
        [event] = claim(db, f"w{attempt}", expired)
        assert event.attempts == attempt
    assert claim(db, "w4", expired) == []
    with db.transaction() as session:
        row = session.get(InboxEvent, event.id)
        assert row is not None
        assert row.status == Status.DEAD and row.last_error == LEASE_EXPIRED_ERROR


def test_a_record_held_by_another_worker_does_not_starve_the_others(db: Database) -> None:
    add_events(db, ["hubspot:contact:1"])
    [held] = claim(db, "a", timedelta(seconds=30))
    with db.transaction() as session:
        now = utcnow()
        rows = [
            {
                "crm": Crm.HUBSPOT,
                "dedupe_key": f"more{i}",
                "record_key": "hubspot:contact:1",
                "event_type": "contact.propertyChange",
                "received_at": now,
                "available_at": now,
                "payload": {},
                "status": Status.PENDING,
            }
            for i in range(5)
        ]
        rows.append({**rows[0], "dedupe_key": "other", "record_key": "hubspot:contact:2"})
        InboxRepository(session).store(rows)
    # five events of the held record come first, yet the other record is claimed at limit 5
    claimed = claim(db, "b", timedelta(seconds=30), limit=5)
    assert [e.record_key for e in claimed] == ["hubspot:contact:2"]
    assert held.record_key == "hubspot:contact:1"


def test_completing_after_losing_the_record_lease_is_refused(db: Database) -> None:
    add_events(db, ["hubspot:contact:7"])
    [event] = claim(db, "a", timedelta(seconds=-1))  # a's lease is already over
    [again] = claim(db, "b", timedelta(seconds=30))  # b takes the record and the event
    with db.transaction() as session:
        assert not InboxRepository(session).complete([event], "a", utcnow(), {})
    with db.transaction() as session:
        assert InboxRepository(session).complete([again], "b", utcnow(), {})


def test_given_a_paused_crm_when_claiming_then_its_events_wait_until_it_is_resumed(
    db: Database,
) -> None:
    add_events(db, ["hubspot:contact:1"])
    now = utcnow()
    with db.transaction() as session:
        pauses = PauseRepository(session)
        pauses.pause(Crm.HUBSPOT, now + timedelta(hours=2), "first reason")
        pauses.pause(Crm.HUBSPOT, now + timedelta(hours=1), "daily quota spent")  # replaces
    with db.transaction() as session:
        active = PauseRepository(session).active(now)
        assert [(p.crm, p.reason) for p in active] == [(Crm.HUBSPOT, "daily quota spent")]
        assert PauseRepository(session).paused(now + timedelta(hours=2)) == []  # it ran out
    assert claim(db, "w1", timedelta(seconds=30)) == []
    with db.transaction() as session:
        assert PauseRepository(session).resume(Crm.HUBSPOT) is True
        assert PauseRepository(session).resume(Crm.HUBSPOT) is False
    [event] = claim(db, "w1", timedelta(seconds=30))
    assert event.crm is Crm.HUBSPOT and event.record_key == "hubspot:contact:1"


def test_given_a_worker_that_reaches_one_crm_when_claiming_then_it_takes_only_that_crms_events(
    db: Database,
) -> None:
    add_events(db, ["hubspot:contact:1"])
    with db.transaction() as session:
        events = InboxRepository(session).claim(
            "w1", utcnow(), timedelta(seconds=30), 10, 3, [Crm.SALESFORCE]
        )
    assert events == []
    with db.transaction() as session:
        assert InboxRepository(session).waiting() == {Crm.HUBSPOT: 1}
