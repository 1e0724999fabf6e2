"""A new lead gets a rep: from a webhook event to the owner written in the CRM, on the fakes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from app.queue import Status
from tests.conftest import REPS
from tests.service.helpers import Service, hubspot_key, salesforce_key

ACTIVE = [email for email, *_ in REPS if not email.startswith("sarah")]  # inactive in team.yaml
SARAH = "sarah.petit@paieco.example"
HUGO = "hugo.bernard@paieco.example"


def hubspot_rep(service: Service, contact_id: str) -> str | None:
    return service.hubspot.owner_email(service.hubspot.owner_of(contact_id))


def salesforce_rep(service: Service, lead_id: str) -> str | None:
    return service.salesforce.user_email(service.salesforce.owner_of("Lead", lead_id))


def lead(i: int, **extra: str) -> dict[str, str]:
    return {
        "Email": f"lead{i}@betonsud.fr",
        "LastName": f"Durand{i}",
        "Company": "BétonSud SAS",
        "Title": "Responsable RH",
        **extra,
    }


def test_given_a_new_hubspot_contact_when_routed_then_a_rep_is_picked_by_weight_and_written(
    service: Service,
) -> None:
    cid = service.hubspot.create_contact(email="lea.durand@betonsud.fr", jobtitle="DRH")

    service.deliver_and_run()

    rep = hubspot_rep(service, cid)
    assert rep in ACTIVE
    [decision] = service.decisions()
    assert decision.record_key == hubspot_key(cid)
    assert decision.outcome == "assigned" and "weighted rotation" in decision.rule
    assert decision.owner_email == rep and decision.written_at is not None
    assert service.assignments() == {hubspot_key(cid): rep}
    [write] = service.writes()
    assert write.record_key == hubspot_key(cid) and write.status == Status.DONE
    assert [e.status for e in service.events()] == [Status.DONE]
    assert service.hubspot.calls("update_contacts") == 1


def test_given_a_salesforce_lead_owned_by_the_integration_user_when_routed_then_a_rep_owns_it(
    service: Service,
) -> None:
    lid = service.salesforce.create_record("Lead", **lead(1))
    assert service.salesforce.owner_of("Lead", lid) == service.salesforce.integration_user

    service.deliver_and_run()

    rep = salesforce_rep(service, lid)
    assert rep in ACTIVE
    [decision] = service.decisions()
    assert decision.record_key == salesforce_key("Lead", lid)
    assert decision.outcome == "assigned" and decision.owner_email == rep
    assert decision.written_at is not None
    [write] = service.writes()
    assert write.status == Status.DONE
    [update] = service.salesforce.applied_updates(lid)
    assert update["OwnerId"] == service.salesforce.user_id(str(rep))


def test_given_one_person_in_both_crms_when_the_hubspot_contact_is_routed_then_one_rep_on_both(
    service: Service,
) -> None:
    lid = service.salesforce.create_record("Lead", **lead(2))
    service.forget_webhooks()  # the Lead was there before Relais
    cid = service.hubspot.create_contact(email="LEAD2@betonsud.fr")  # emails match in any case

    service.deliver_and_run()

    rep = hubspot_rep(service, cid)
    assert rep in ACTIVE and salesforce_rep(service, lid) == rep
    assert service.assignments() == {hubspot_key(cid): rep, salesforce_key("Lead", lid): rep}
    [link] = service.links()
    assert link.method == "email"
    assert link.hubspot_key == hubspot_key(cid)
    assert link.salesforce_key == salesforce_key("Lead", lid)
    [decision] = service.decisions()
    assert decision.written_at is not None  # once both CRMs confirmed
    assert sorted(w.status for w in service.writes()) == [Status.DONE, Status.DONE]


def test_given_a_hubspot_contact_a_rep_of_the_team_owns_when_routed_then_it_keeps_its_owner(
    service: Service,
) -> None:
    ines = service.hubspot.owner_id("ines.dubois@paieco.example")
    cid = service.hubspot.create_contact(email="k@tole.fr", hubspot_owner_id=ines)

    service.deliver_and_run()

    assert service.hubspot.owner_of(cid) == ines
    [decision] = service.decisions()
    assert decision.outcome == "kept_owner"
    assert service.assignments() == {hubspot_key(cid): "ines.dubois@paieco.example"}
    assert service.writes() == []
    assert service.hubspot.calls("update_contacts") == 0


def test_given_ten_new_leads_when_routed_then_each_active_rep_gets_its_weighted_share(
    service: Service,
) -> None:
    ids = service.hubspot.create_contacts([{"email": f"c{i}@acier.fr"} for i in range(10)])

    service.deliver_and_run()

    counts = Counter(hubspot_rep(service, cid) for cid in ids)
    m = service.runtime.mappings.current
    weights = {e: m.rep(e).weight for e in ACTIVE}  # type: ignore[union-attr]
    total = sum(weights.values())
    for rep in ACTIVE:  # within one lead of its exact share (team.yaml weights 1.5/1/1/0.5)
        assert abs(counts[rep] - 10 * weights[rep] / total) < 1, (rep, counts)
    assert service.hubspot.calls("read_contacts") == 1  # one batched read for the ten


def test_given_a_rep_inactive_in_team_yaml_when_leads_are_routed_then_the_rep_gets_none(
    service: Service,
) -> None:
    ids = service.salesforce.create_records("Lead", [lead(10 + i) for i in range(8)])

    service.deliver_and_run()

    owners = [salesforce_rep(service, lid) for lid in ids]
    assert SARAH not in owners and set(owners) <= set(ACTIVE)
    assert [d.outcome for d in service.decisions()] == ["assigned"] * 8


def test_given_a_rep_deactivated_in_salesforce_when_leads_are_routed_then_the_rep_gets_none(
    service: Service,
) -> None:
    service.salesforce.set_user_active(service.salesforce.user_id(HUGO), False)
    ids = service.salesforce.create_records("Lead", [lead(20 + i) for i in range(6)])

    service.deliver_and_run()

    owners = [salesforce_rep(service, lid) for lid in ids]
    assert HUGO not in owners and set(owners) <= set(ACTIVE)
    assert [d.outcome for d in service.decisions()] == ["assigned"] * 6


def _team_nobody_can_take(mappings_dir: Path, *, fallback: bool) -> None:
    """Two reps who have no Salesforce user, and a manager who has one."""
    (mappings_dir / "team.yaml").write_text(
        "reps:\n  - {email: rep.a@paieco.example, name: Rep A}\n"
        "  - {email: rep.b@paieco.example, name: Rep B}\n"
        "  - {email: lead.manager@paieco.example, name: Lead Manager}\n"
    )
    (mappings_dir / "routing.yaml").write_text(
        "pools:\n  - name: p\n    type: round_robin\n"
        "    members: [rep.a@paieco.example, rep.b@paieco.example]\n"
        "default_pool: p\n" + ("fallback_owner: lead.manager@paieco.example\n" if fallback else "")
    )


def test_given_no_rep_can_take_a_lead_and_a_fallback_owner_when_routed_then_the_fallback_gets_it(
    service: Service, mappings_dir: Path
) -> None:
    _team_nobody_can_take(mappings_dir, fallback=True)
    manager = service.salesforce.add_user("lead.manager@paieco.example", "Lead", "Manager")
    lid = service.salesforce.create_record("Lead", **lead(30))

    service.deliver_and_run()

    assert service.salesforce.owner_of("Lead", lid) == manager
    [decision] = service.decisions()
    assert decision.outcome == "fallback" and "fallback owner" in decision.rule
    assert decision.owner_email == "lead.manager@paieco.example"


def test_given_no_rep_can_take_a_lead_and_no_fallback_when_routed_then_it_waits_saying_what_to_fix(
    service: Service, mappings_dir: Path
) -> None:
    _team_nobody_can_take(mappings_dir, fallback=False)
    lid = service.salesforce.create_record("Lead", **lead(31))

    service.deliver_and_run()

    [event] = service.events()
    assert event.status == Status.PENDING and event.attempts == 1
    assert "fallback_owner" in (event.last_error or "")  # what an admin must add
    assert service.decisions() == []
    assert service.salesforce.owner_of("Lead", lid) == service.salesforce.integration_user


def test_given_a_salesforce_lead_owned_by_a_queue_when_routed_then_a_rep_owns_it(
    service: Service,
) -> None:
    queue = service.salesforce.add_queue("Web Leads")
    lid = service.salesforce.create_record("Lead", **lead(40, OwnerId=queue))

    service.deliver_and_run()

    assert salesforce_rep(service, lid) in ACTIVE
    [decision] = service.decisions()
    assert decision.outcome == "assigned"
