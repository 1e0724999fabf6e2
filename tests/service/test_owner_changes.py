"""Owners changed after Relais decided: by a person in either CRM, or by our own write's echo."""

from __future__ import annotations

from app.queue import Status
from connectors.hubspot.port import OWNER_PROPERTY
from tests.conftest import REPS
from tests.service.helpers import Service, hubspot_key, salesforce_key

ACTIVE = [email for email, *_ in REPS if not email.startswith("sarah")]


def _one_person_routed_in_both(service: Service) -> tuple[str, str, str]:
    """A Lead and a contact of the same person, routed: (contact id, Lead id, the rep)."""
    lid = service.salesforce.create_record(
        "Lead", Email="paul@tole.fr", LastName="Martin", Company="Tôlerie"
    )
    service.forget_webhooks()
    cid = service.hubspot.create_contact(email="paul@tole.fr")
    service.deliver_and_run()
    rep = service.assignments()[hubspot_key(cid)]
    assert service.salesforce.user_email(service.salesforce.owner_of("Lead", lid)) == rep
    service.forget_webhooks()  # our writes' echoes: see the echo tests
    return cid, lid, rep


def test_given_a_lead_routed_when_a_person_reassigns_it_in_salesforce_then_hubspot_follows(
    service: Service,
) -> None:
    cid, lid, rep = _one_person_routed_in_both(service)
    other = next(e for e in ACTIVE if e != rep)

    service.salesforce.change_record("Lead", lid, {"OwnerId": service.salesforce.user_id(other)})
    service.deliver_and_run()

    assert service.hubspot.owner_of(cid) == service.hubspot.owner_id(other)
    assert set(service.assignments().values()) == {other}
    synced = service.decisions()[-1]
    assert synced.outcome == "owner_synced" and synced.owner_email == other
    assert [w.status for w in service.writes(hubspot_key(cid))] == [Status.DONE, Status.DONE]


def test_given_a_contact_routed_when_a_person_reassigns_it_in_hubspot_then_salesforce_keeps_it(
    service: Service,
) -> None:
    cid, lid, rep = _one_person_routed_in_both(service)
    other = next(e for e in ACTIVE if e != rep)
    sf_writes = service.salesforce.calls("update_records")

    service.hubspot.set_property(cid, OWNER_PROPERTY, service.hubspot.owner_id(other))
    service.deliver_and_run()

    assert service.salesforce.owner_of("Lead", lid) == service.salesforce.user_id(rep)
    assert service.salesforce.calls("update_records") == sf_writes
    change = service.events(hubspot_key(cid))[-1]
    assert change.status == Status.DONE and "not copied" in (change.result or "")
    assert set(service.assignments().values()) == {rep}
    assert len(service.decisions()) == 1


def test_given_our_own_hubspot_write_when_its_echo_arrives_then_it_is_ignored(
    service: Service,
) -> None:
    cid = service.hubspot.create_contact(email="echo@beton.fr")
    service.deliver_and_run()

    assert service.deliver() == 0  # the echo of our owner write: stored, nothing to process
    assert service.run() == 0

    echo = service.events(hubspot_key(cid))[-1]
    assert echo.event_type == "contact.propertyChange"
    assert echo.status == Status.IGNORED and "echo" in (echo.result or "")
    assert len(service.decisions()) == 1
    assert service.hubspot.calls("update_contacts") == 1


def test_given_our_own_salesforce_write_when_its_echo_arrives_then_it_changes_nothing(
    service: Service,
) -> None:
    service.salesforce.notify_api_updates = True  # the outbound rule does not exclude us
    lid = service.salesforce.create_record(
        "Lead", Email="echo@bois.fr", LastName="Roux", Company="Bois"
    )
    service.deliver_and_run()
    rep = service.assignments()[salesforce_key("Lead", lid)]

    assert service.deliver() == 1  # the echo: a notification showing the owner we wrote
    service.run()

    echo = service.events(salesforce_key("Lead", lid))[-1]
    assert echo.status == Status.DONE
    assert len(service.decisions()) == 1 and len(service.writes()) == 1
    assert service.salesforce.calls("update_records") == 1
    assert service.salesforce.owner_of("Lead", lid) == service.salesforce.user_id(rep)
