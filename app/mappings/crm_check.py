"""`relais mappings check --against-crm`: do the mapped properties, fields, picklist values and
reps exist in the live CRMs (or the sandbox)? Each problem names the file, line and key."""

from __future__ import annotations

from app.mappings.loader import Mappings, _suggest
from connectors.hubspot.port import HubSpotPort
from connectors.salesforce.port import SalesforcePort


def check_against_crm(
    m: Mappings, hubspot: HubSpotPort | None, salesforce: SalesforcePort | None
) -> list[str]:
    problems: list[str] = []
    maps = {v.name: (i, v) for i, v in enumerate(m.values.value_maps)}
    hs_props = {p.name: p for p in hubspot.contact_properties()} if hubspot else {}
    sf_fields = (
        {o: {f.name: f for f in salesforce.describe(o)} for o in ("Lead", "Contact")}
        if salesforce
        else {}
    )
    fields = m.fields.fields if m.fields else []
    for i, f in enumerate(fields):
        vmap = maps.get(f.value_map) if f.value_map else None
        if hubspot and f.hubspot:
            prop = hs_props.get(f.hubspot)
            if prop is None:
                problems.append(
                    f"{m.where('fields.yaml', ('fields', i, 'hubspot'))}: HubSpot has "
                    f"no contact property {f.hubspot!r}"
                    f"{_suggest(f.hubspot, list(hs_props))}"
                )
            elif vmap is not None:
                if prop.type != "enumeration":
                    problems.append(
                        f"{m.where('fields.yaml', ('fields', i, 'value_map'))}: "
                        f"HubSpot property {f.hubspot!r} is a {prop.type}, not a "
                        "picklist (enumeration)"
                    )
                else:
                    k, values = vmap
                    for j, entry in enumerate(values.values):
                        if entry.hubspot and entry.hubspot not in prop.options:
                            at = m.where("values.yaml", ("value_maps", k, "values", j, "hubspot"))
                            problems.append(
                                f"{at}: {entry.hubspot!r} is not an option of HubSpot property "
                                f"{f.hubspot!r}{_suggest(entry.hubspot, list(prop.options))}"
                            )
        for sobject, name in (("Lead", f.salesforce_lead), ("Contact", f.salesforce_contact)):
            if not salesforce or not name:
                continue
            key = "salesforce_lead" if sobject == "Lead" else "salesforce_contact"
            field = sf_fields[sobject].get(name)
            if field is None:
                problems.append(
                    f"{m.where('fields.yaml', ('fields', i, key))}: the Salesforce "
                    f"{sobject} has no field {name!r}"
                    f"{_suggest(name, list(sf_fields[sobject]))}"
                )
            elif vmap is not None and field.type != "picklist":
                problems.append(
                    f"{m.where('fields.yaml', ('fields', i, 'value_map'))}: the "
                    f"Salesforce {sobject} field {name!r} is a {field.type}, not a "
                    "picklist"
                )
            elif vmap is not None:
                k, values = vmap
                for j, entry in enumerate(values.values):
                    if entry.salesforce and entry.salesforce not in field.picklist:
                        at = m.where("values.yaml", ("value_maps", k, "values", j, "salesforce"))
                        problems.append(
                            f"{at}: {entry.salesforce!r} is not a value of the {sobject} picklist "
                            f"{name!r}{_suggest(entry.salesforce, list(field.picklist))}"
                        )
    hs_owners = {o.email for o in hubspot.list_owners()} if hubspot else set()
    sf_users = {u.email for u in salesforce.list_users()} if salesforce else set()
    fallback = (m.routing.fallback_owner or "").lower()
    if fallback and hubspot and fallback not in hs_owners:
        problems.append(
            f"{m.where('routing.yaml', ('fallback_owner',))}: {fallback} has no "
            "HubSpot owner with this email"
        )
    if fallback and salesforce and fallback not in sf_users:
        problems.append(
            f"{m.where('routing.yaml', ('fallback_owner',))}: {fallback} has no "
            "active Salesforce user with this email"
        )
    if salesforce:
        queues = {q.developer_name for q in salesforce.list_queues()}
        for i, queue in enumerate(m.team.queues):
            if queue.salesforce_queue and queue.salesforce_queue not in queues:
                problems.append(
                    f"{m.where('team.yaml', ('queues', i, 'salesforce_queue'))}: Salesforce has "
                    f"no queue {queue.salesforce_queue!r}"
                    f"{_suggest(queue.salesforce_queue, sorted(queues))}"
                )
    for i, rep in enumerate(m.team.reps):
        if not rep.active:
            continue
        if hubspot and rep.email not in hs_owners:
            problems.append(
                f"{m.where('team.yaml', ('reps', i, 'email'))}: {rep.email} has no "
                "HubSpot owner with this email"
            )
        if salesforce and rep.email not in sf_users:
            problems.append(
                f"{m.where('team.yaml', ('reps', i, 'email'))}: {rep.email} has no "
                "active Salesforce user with this email"
            )
    return problems
