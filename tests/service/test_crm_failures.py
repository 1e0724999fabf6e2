"""What Relais does when a CRM fails: retry, pause, dead-letter, or step aside for a person."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.queue import Status
from connectors.crm import Crm
from connectors.errors import QuotaExhausted, RetryableError
from connectors.hubspot.port import OWNER_PROPERTY
from tests.conftest import REPS
from tests.service.conftest import RETRY_MAX_ATTEMPTS
from tests.service.helpers import Service, hubspot_key, salesforce_key

ACTIVE = [email for email, *_ in REPS if not email.startswith("sarah")]


def test_given_a_deleted_contact_when_routed_then_it_is_retried_then_dead_lettered_alone(
    service: Service,
) -> None:
    ghost, real = service.hubspot.create_contacts([{"email": "g@x.fr"}, {"email": "r@x.fr"}])
    service.hubspot.delete_contact(ghost)  # deleted (or merged) before Relais read it

    service.deliver_and_run()

    assert service.hubspot.owner_of(real) is not None
    [waiting] = service.events(hubspot_key(ghost))
    assert waiting.status == Status.PENDING and waiting.attempts == 1
    assert "not found in HubSpot" in (waiting.last_error or "")
    for _ in range(RETRY_MAX_ATTEMPTS - 1):
        service.time_passes()
        service.run()
    [dead] = service.events(hubspot_key(ghost))
    assert dead.status == Status.DEAD and dead.attempts == RETRY_MAX_ATTEMPTS
    assert "not found in HubSpot" in (dead.last_error or "")
    assert [d.record_key for d in service.decisions()] == [hubspot_key(real)]


def test_given_a_transient_read_error_when_routed_then_the_events_are_retried_and_routed(
    service: Service,
) -> None:
    service.hubspot.fail(
        "read_contacts", RetryableError("HubSpot answered HTTP 503", status=503), times=1
    )
    ids = service.hubspot.create_contacts([{"email": "t1@x.fr"}, {"email": "t2@x.fr"}])

    service.deliver_and_run()

    events = service.events()
    assert [(e.status, e.attempts) for e in events] == [(Status.PENDING, 1)] * 2
    assert all("HTTP 503" in (e.last_error or "") for e in events)
    assert [service.hubspot.owner_of(i) for i in ids] == [None, None]

    service.time_passes()
    service.run()

    assert all(service.hubspot.owner_of(i) for i in ids)
    assert [e.status for e in service.events()] == [Status.DONE] * 2


def test_given_a_spent_hubspot_quota_when_routed_then_hubspot_pauses_and_no_attempt_is_spent(
    service: Service,
) -> None:
    service.hubspot.fail(
        "read_contacts",
        QuotaExhausted("You have reached your daily limit.", status=429, category="DAILY"),
    )
    ids = service.hubspot.create_contacts([{"email": f"q{i}@x.fr"} for i in range(3)])

    service.deliver_and_run()

    assert service.paused() == [Crm.HUBSPOT]
    assert [(e.status, e.attempts) for e in service.events()] == [(Status.PENDING, 0)] * 3
    reads = service.hubspot.calls("read_contacts")
    service.time_passes()
    service.run()
    assert service.hubspot.calls("read_contacts") == reads  # paused: HubSpot is left alone

    service.resume(Crm.HUBSPOT)  # the quota was reset
    service.time_passes()
    service.run()

    assert all(service.hubspot.owner_of(i) for i in ids)
    assert [e.status for e in service.events()] == [Status.DONE] * 3


def _convert(service: Service, lead_id: str) -> None:
    service.salesforce.convert_lead(lead_id)


def _delete(service: Service, lead_id: str) -> None:
    service.salesforce.delete_record("Lead", lead_id)


def _deactivate_its_rep(service: Service, lead_id: str) -> None:
    rep = service.assignments()[salesforce_key("Lead", lead_id)]  # the rep has just left
    service.salesforce.set_user_active(service.salesforce.user_id(rep), False)


@pytest.mark.parametrize(
    ("break_it", "code"),
    [
        (_convert, "CANNOT_UPDATE_CONVERTED_LEAD"),
        (_delete, "ENTITY_IS_DELETED"),
        (_deactivate_its_rep, "INACTIVE_OWNER_OR_USER"),
    ],
    ids=["converted", "deleted", "owner-deactivated"],
)
def test_given_salesforce_refuses_one_record_when_written_then_it_is_dead_with_its_words(
    service: Service,
    break_it: Callable[[Service, str], None],
    code: str,
) -> None:
    sf = service.salesforce
    ids = sf.create_records(
        "Lead", [{"Email": f"w{i}@x.fr", "LastName": f"W{i}", "Company": "X"} for i in range(3)]
    )
    service.deliver()
    service.run("inbox")  # decided, the writes queued: Salesforce changes before they go out
    broken = ids[1]
    break_it(service, broken)

    service.run("outbox")

    [dead] = service.writes(salesforce_key("Lead", broken))
    assert dead.status == Status.DEAD and dead.attempts == 1  # no retry can fix it
    assert code in (dead.last_error or "")
    others = [w for i in (ids[0], ids[2]) for w in service.writes(salesforce_key("Lead", i))]
    assert [w.status for w in others] == [Status.DONE, Status.DONE]
    assert all(sf.user_email(sf.owner_of("Lead", i)) in ACTIVE for i in (ids[0], ids[2]))
    [decision] = service.decisions(salesforce_key("Lead", broken))
    assert decision.written_at is None


def test_given_a_person_took_the_contact_when_our_write_is_retried_then_it_is_superseded(
    service: Service,
) -> None:
    hs = service.hubspot
    hs.fail("update_contacts", RetryableError("HubSpot answered HTTP 503", status=503))
    cid = hs.create_contact(email="m@meca.fr")
    service.deliver_and_run()
    [write] = service.writes()
    assert write.status == Status.PENDING and write.attempts == 1
    decided = service.assignments()[hubspot_key(cid)]
    manager_pick = next(e for e in ACTIVE if e != decided)

    hs.set_property(cid, OWNER_PROPERTY, hs.owner_id(manager_pick))  # while our write waits
    service.forget_webhooks()
    service.time_passes()
    service.run()

    assert hs.owner_of(cid) == hs.owner_id(manager_pick)
    [write] = service.writes()
    assert write.status == Status.SUPERSEDED and "a rep of the team" in (write.last_error or "")
    [decision] = service.decisions()
    [note] = decision.details["superseded"]
    assert note["record"] == hubspot_key(cid) and "reassigned in hubspot" in note["reason"]
    assert decision.written_at is None
    assert service.assignments() == {hubspot_key(cid): manager_pick}
    assert hs.calls("update_contacts") == 1  # never sent over the person's choice


def test_given_a_deleted_contact_when_written_then_its_write_is_dead_and_the_others_written(
    service: Service,
) -> None:
    gone, kept = service.hubspot.create_contacts([{"email": "d1@x.fr"}, {"email": "d2@x.fr"}])
    service.deliver()
    service.run("inbox")
    service.hubspot.delete_contact(gone)  # merged into another contact meanwhile

    service.run("outbox")

    [dead] = service.writes(hubspot_key(gone))
    assert dead.status == Status.DEAD and dead.attempts == 1
    assert "Could not get some CONTACT objects" in (dead.last_error or "")  # HubSpot's words
    [written] = service.writes(hubspot_key(kept))
    assert written.status == Status.DONE and service.hubspot.owner_of(kept) is not None


def test_given_a_spent_salesforce_quota_when_written_then_salesforce_pauses_and_it_waits(
    service: Service,
) -> None:
    service.salesforce.fail(
        "update_records",
        QuotaExhausted("REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.", status=403),
    )
    lid = service.salesforce.create_record("Lead", Email="p@x.fr", LastName="P", Company="X")

    service.deliver_and_run()

    assert service.paused() == [Crm.SALESFORCE]
    [write] = service.writes()
    assert write.status == Status.PENDING and write.attempts == 0  # not spent
    assert service.salesforce.owner_of("Lead", lid) == service.salesforce.integration_user

    service.resume(Crm.SALESFORCE)
    service.time_passes()
    service.run()

    [write] = service.writes()
    assert write.status == Status.DONE
    assert service.salesforce.user_email(service.salesforce.owner_of("Lead", lid)) in ACTIVE
