"""`relais mappings check --against-crm`: do the mapped properties, fields, picklist values and
reps exist in the live CRMs (or the sandbox)? Each problem names the file, line and key."""

from __future__ import annotations

from collections.abc import Callable

from app.mappings.loader import TARGET_KEYS, Mappings, _suggest
from app.mappings.schemas import ScoreFields, ValueMap
from connectors.crm import SALESFORCE_OBJECTS
from connectors.hubspot.port import HubSpotPort, PropertyInfo
from connectors.salesforce.port import SalesforcePort, SfField

MappedValues = tuple[int, ValueMap]  # a value map and its index in values.yaml


def check_against_crm(
    m: Mappings, hubspot: HubSpotPort | None, salesforce: SalesforcePort | None
) -> list[str]:
    problems: list[str] = []
    maps = {v.name: (i, v) for i, v in enumerate(m.values.value_maps)}
    hs_props = {p.name: p for p in hubspot.contact_properties()} if hubspot else {}
    sf_fields = (
        {o: {f.name: f for f in salesforce.describe(o)} for o in SALESFORCE_OBJECTS}
        if salesforce
        else {}
    )
    for i, f in enumerate(m.fields.fields if m.fields else []):
        vmap = maps.get(f.value_map) if f.value_map else None
        if hubspot and f.hubspot:
            problems += _hubspot_property(m, i, f.hubspot, hs_props, vmap)
        for sobject, name in (("Lead", f.salesforce_lead), ("Contact", f.salesforce_contact)):
            if salesforce and name:
                problems += _salesforce_field(m, i, sobject, name, sf_fields[sobject], vmap)
    targets = _targets(hs_props if hubspot else None, sf_fields if salesforce else None)
    problems += _score_fields(m, targets) + _write_back(m, targets) + _enriched(m, targets)
    problems += _reason_fields(m, targets)
    hs_owners = {o.email for o in hubspot.list_owners()} if hubspot else set()
    sf_users = {u.email for u in salesforce.list_users()} if salesforce else set()
    problems += _fallback_owner(m, hubspot is not None, hs_owners, salesforce is not None, sf_users)
    if salesforce:
        problems += _queues(m, {q.developer_name for q in salesforce.list_queues()})
    problems += _reps(m, hubspot is not None, hs_owners, salesforce is not None, sf_users)
    return problems


def _hubspot_property(
    m: Mappings, i: int, name: str, props: dict[str, PropertyInfo], vmap: MappedValues | None
) -> list[str]:
    """The HubSpot property of field ``i`` exists and, value-mapped, has every option."""
    prop = props.get(name)
    if prop is None:
        return [
            f"{m.where('fields.yaml', ('fields', i, 'hubspot'))}: HubSpot has "
            f"no contact property {name!r}{_suggest(name, list(props))}"
        ]
    if vmap is None:
        return []
    if prop.type != "enumeration":
        return [
            f"{m.where('fields.yaml', ('fields', i, 'value_map'))}: "
            f"HubSpot property {name!r} is a {prop.type}, not a picklist (enumeration)"
        ]
    k, values = vmap
    return [
        f"{m.where('values.yaml', ('value_maps', k, 'values', j, 'hubspot'))}: "
        f"{entry.hubspot!r} is not an option of HubSpot property "
        f"{name!r}{_suggest(entry.hubspot, list(prop.options))}"
        for j, entry in enumerate(values.values)
        if entry.hubspot and entry.hubspot not in prop.options
    ]


def _salesforce_field(
    m: Mappings,
    i: int,
    sobject: str,
    name: str,
    described: dict[str, SfField],
    vmap: MappedValues | None,
) -> list[str]:
    """The Salesforce field of field ``i`` on ``sobject`` exists and, value-mapped, is a
    picklist holding every value."""
    key = "salesforce_lead" if sobject == "Lead" else "salesforce_contact"
    field = described.get(name)
    if field is None:
        return [
            f"{m.where('fields.yaml', ('fields', i, key))}: the Salesforce "
            f"{sobject} has no field {name!r}{_suggest(name, list(described))}"
        ]
    if vmap is None:
        return []
    if field.type != "picklist":
        return [
            f"{m.where('fields.yaml', ('fields', i, 'value_map'))}: the "
            f"Salesforce {sobject} field {name!r} is a {field.type}, not a picklist"
        ]
    k, values = vmap
    return [
        f"{m.where('values.yaml', ('value_maps', k, 'values', j, 'salesforce'))}: "
        f"{entry.salesforce!r} is not a value of the {sobject} picklist "
        f"{name!r}{_suggest(entry.salesforce, list(field.picklist))}"
        for j, entry in enumerate(values.values)
        if entry.salesforce and entry.salesforce not in field.picklist
    ]


def _fallback_owner(
    m: Mappings, hubspot: bool, hs_owners: set[str], salesforce: bool, sf_users: set[str]
) -> list[str]:
    fallback = (m.routing.fallback_owner or "").lower()
    at = m.where("routing.yaml", ("fallback_owner",))
    problems = []
    if fallback and hubspot and fallback not in hs_owners:
        problems.append(f"{at}: {fallback} has no HubSpot owner with this email")
    if fallback and salesforce and fallback not in sf_users:
        problems.append(f"{at}: {fallback} has no active Salesforce user with this email")
    return problems


def _queues(m: Mappings, queues: set[str]) -> list[str]:
    return [
        f"{m.where('team.yaml', ('queues', i, 'salesforce_queue'))}: Salesforce has "
        f"no queue {queue.salesforce_queue!r}{_suggest(queue.salesforce_queue, sorted(queues))}"
        for i, queue in enumerate(m.team.queues)
        if queue.salesforce_queue and queue.salesforce_queue not in queues
    ]


def _reps(
    m: Mappings, hubspot: bool, hs_owners: set[str], salesforce: bool, sf_users: set[str]
) -> list[str]:
    """Every active rep is a HubSpot owner and an active Salesforce user."""
    problems = []
    for i, rep in enumerate(m.team.reps):
        if not rep.active:
            continue
        at = m.where("team.yaml", ("reps", i, "email"))
        if hubspot and rep.email not in hs_owners:
            problems.append(f"{at}: {rep.email} has no HubSpot owner with this email")
        if salesforce and rep.email not in sf_users:
            problems.append(f"{at}: {rep.email} has no active Salesforce user with this email")
    return problems


# A per-object section of the mappings -> how to name its CRM object's properties or fields.
SECTIONS = {
    "hubspot": ("HubSpot has no contact property", "HubSpot contact property"),
    "salesforce_lead": ("the Salesforce Lead has no field", "Salesforce Lead field"),
    "salesforce_contact": ("the Salesforce Contact has no field", "Salesforce Contact field"),
}
Targets = dict[str, dict[str, tuple[str, ...]] | None]  # section -> name -> picklist values


def _targets(
    hs_props: dict[str, PropertyInfo] | None, sf_fields: dict[str, dict[str, SfField]] | None
) -> Targets:
    """What each section can write to, with picklist values (None: CRM not configured, not
    checked)."""
    sf = sf_fields or {}
    return {
        "hubspot": {n: p.options for n, p in hs_props.items()} if hs_props is not None else None,
        "salesforce_lead": {n: f.picklist for n, f in sf["Lead"].items()} if sf else None,
        "salesforce_contact": {n: f.picklist for n, f in sf["Contact"].items()} if sf else None,
    }


def _score_fields(m: Mappings, targets: Targets) -> list[str]:
    """The properties and fields scoring.yaml writes the score to exist."""
    write = m.scoring.write
    if write is None:
        return []
    problems: list[str] = []
    for section, names in targets.items():
        fields: ScoreFields = getattr(write, section)
        for what in ("score", "temperature", "breakdown"):
            name = getattr(fields, what)
            if name and names is not None and name not in names:
                where = m.where("scoring.yaml", ("write", section, what))
                has_no = SECTIONS[section][0]
                problems.append(f"{where}: {has_no} {name!r}{_suggest(name, list(names))}")
    return problems


def _write_back(m: Mappings, targets: Targets) -> list[str]:
    """Each value qualification.yaml writes back goes to a property or field that exists and,
    for a picklist, is one of its values: a refused value would also hold up the owner it is
    written with."""
    if m.qualification is None:
        return []
    problems: list[str] = []
    for outcome, wb in m.qualification.outcomes.items():
        for section, known in targets.items():
            label = SECTIONS[section][1]
            for name, value in getattr(wb, section).items():
                if known is None:
                    continue
                where = m.where("qualification.yaml", ("outcomes", outcome, section, name))
                if name not in known:
                    problems.append(f"{where}: no {label} {name!r}{_suggest(name, list(known))}")
                elif known[name] and value not in known[name]:
                    problems.append(
                        f"{where}: {value!r} is not a value of the {label} {name!r}"
                        f"{_suggest(value, list(known[name]))} ({', '.join(known[name])})"
                    )
    return problems


def _reason_fields(m: Mappings, targets: Targets) -> list[str]:
    """The fields receiving an outcome's reason, and a routed lead's "yours because" line,
    exist and take free text (not a picklist)."""
    reason = m.qualification.reason if m.qualification is not None else None
    return _text_fields(m, targets, reason, "qualification.yaml", "reason") + _text_fields(
        m, targets, m.routing.explain, "routing.yaml", "explain"
    )


def _text_fields(m: Mappings, targets: Targets, fields: object, file: str, key: str) -> list[str]:
    problems: list[str] = []
    for section, known in targets.items():
        name = getattr(fields, section) if fields is not None else None
        if not name or known is None:
            continue
        where = m.where(file, (key, section))
        label = SECTIONS[section][1]
        if name not in known:
            problems.append(f"{where}: no {label} {name!r}{_suggest(name, list(known))}")
        elif known[name]:
            problems.append(f"{where}: the {label} {name!r} is a picklist; this is free text")
    return problems


# A per-object section -> the canonical fields mapped on its object (fields.yaml, else the
# standard names): where the read stage reads them and write-back writes them.
SECTION_FIELDS: dict[str, Callable[[Mappings], dict[str, str]]] = {
    "hubspot": lambda m: m.hubspot_properties(),
    "salesforce_lead": lambda m: m.salesforce_fields("Lead"),
    "salesforce_contact": lambda m: m.salesforce_fields("Contact"),
}


def _enriched(m: Mappings, targets: Targets) -> list[str]:
    """Each property or field sync.yaml writes an enriched value to exists, and takes any
    value: a picklist would refuse a value outside its list, and with it the owner written in
    the same call."""
    problems: list[str] = []
    for i, entry in enumerate(m.sync.enrichment):
        for j, target in enumerate(entry.to):
            where = m.where("sync.yaml", ("enrichment", i, "to", j))
            for section in TARGET_KEYS[target]:
                known, name = targets[section], SECTION_FIELDS[section](m).get(entry.field)
                label = SECTIONS[section][1]
                if known is None or name is None:
                    continue  # CRM not configured; or not mapped there (the loader checks)
                if name not in known:
                    problems.append(f"{where}: no {label} {name!r}{_suggest(name, list(known))}")
                elif known[name] and not _takes_flags(m, entry.field, known[name]):
                    problems.append(
                        f"{where}: the {label} {name!r} is a picklist: an enriched "
                        f"{entry.field} outside its values would be refused (use a text one)"
                    )
    return problems


def _takes_flags(m: Mappings, name: str, options: tuple[str, ...]) -> bool:
    """A boolean field written to a picklist holding true and false (a HubSpot checkbox)."""
    flags = {"true", "false"}
    return m.field_types().get(name) == "boolean" and flags <= {o.lower() for o in options}
