"""The dry run, shared by ``relais simulate`` and ``POST /admin/api/simulate``: a lead given as
canonical fields, or read from its CRM through the read stage; enriched by enrichment.yaml's
providers as the worker enriches it (the same providers, the same cache); then the evaluate
stage as the live path runs it (``app/pipeline/handlers.py`` ``evaluate``): the score with the
fields' types, then qualification; a ready lead is routed (``app/simulate/routing.py``) over the
state the live path would read. Nothing is written: no database row (the enrichment cache is
read, never written), no CRM call but the read of a record.

Not simulated yet: the link to the same person's other record (so never "the other record
already has a rep").
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from app.db import utcnow
from app.enrichment.base import replaced
from app.enrichment.registry import Reach
from app.enrichment.registry import providers as configured
from app.enrichment.service import GAP_REASONS, USER_AGENT, gaps_of
from app.enrichment.service import run as run_enrichment
from app.mappings.fields import FIELD_NAME
from app.mappings.loader import Mappings
from app.qualification.engine import qualify
from app.records.schemas import FieldMaps, Lead
from app.records.service import RecordReader
from app.records.sources import Parallel, record_sources
from app.runtime import Runtime, crm_statuses
from app.scoring.engine import score
from app.simulate.routing import World, read_world, route
from app.simulate.schemas import (
    EnrichmentResult,
    Gap,
    QualificationResult,
    RuleFired,
    Simulation,
    SimulationRequest,
)
from connectors.crm import HUBSPOT_CONTACT, SALESFORCE_OBJECTS, Crm, RecordKey
from connectors.errors import CrmError

MAX_BYTES = 64 * 1024  # a lead is a few hundred bytes; this bounds what a request can cost
BODY_KEYS = ("lead", "record", "at", "enrich")


class SimulationError(Exception):
    """The lead cannot be simulated."""

    status_code = 422

    def __init__(self, *errors: str) -> None:
        self.errors = list(errors) or [(self.__doc__ or "").strip()]
        super().__init__("\n".join(self.errors))


class InvalidInput(SimulationError):
    """The lead or the options are not valid."""


class TooLarge(SimulationError):
    """The lead is larger than 64 KiB."""

    status_code = 413


class RecordNotFound(SimulationError):
    """The record is not in its CRM."""

    status_code = 404


class CrmNotConfigured(SimulationError):
    """This process has no connector for the record's CRM."""


class CrmUnavailable(SimulationError):
    """The CRM did not answer the read."""

    status_code = 502


# -- input ------------------------------------------------------------------------------------


def _suggest(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.5)
    return f", did you mean {close[0]!r}?" if close else ""


def _kind(value: object) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return kinds.get(type(value), "a number" if isinstance(value, int | float) else "null")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:  # json.loads would keep the last one silently
            raise InvalidInput(f"field {key!r} is given twice")
        out[key] = value
    return out


def _no_constant(name: str) -> float:
    raise InvalidInput(f"{name} is not a number JSON allows")


def read_file(path: Path) -> bytes:
    """The file's bytes, reading no more than one byte over the limit."""
    try:
        with path.open("rb") as f:
            return f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"{path}: {exc.strerror or exc}") from None


def parse_json(raw: bytes, what: str) -> Any:
    """The JSON value of ``raw``; a precise error for anything else (``what``: its name)."""
    if len(raw) > MAX_BYTES:
        raise TooLarge(f"{what} is larger than 64 KiB ({MAX_BYTES} bytes)")
    try:
        text = raw.decode("utf-8-sig")  # editors on Windows may add a byte-order mark
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{what} is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{what} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidInput(f"{what} is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise InvalidInput(f"{what} is not JSON: {exc}") from None


def parse_lead(value: Any, known: Sequence[str], what: str = "the lead") -> Lead:
    """Canonical fields from a JSON object, values as the CRMs give them (text); every
    unknown field and every value that is not a string, number, boolean or null is listed."""
    if not isinstance(value, dict):
        raise InvalidInput(
            f'{what} must be a JSON object of canonical fields ({{"title": "DRH", '
            f'"company_size": "250"}}), not {_kind(value)}'
        )
    errors: list[str] = []
    lead: dict[str, str | None] = {}
    for name, field in value.items():
        if name not in known:
            errors.append(f"unknown field {name!r}{_suggest(name, known)}")
        elif isinstance(field, bool):
            lead[name] = "true" if field else "false"
        elif isinstance(field, int | float):
            lead[name] = str(field)
        elif field is None or isinstance(field, str):
            lead[name] = field
        else:
            errors.append(
                f"field {name!r}: {_kind(field)} is not a value "
                "(give a string, a number, true, false or null)"
            )
    if any(e.startswith("unknown field") for e in errors):
        errors.append(f"known fields: {', '.join(sorted(known))}")
    if errors:
        raise InvalidInput(*errors)
    return lead


# Salesforce id key prefixes of the objects Relais routes: salesforce:ID names its object.
SALESFORCE_ID_PREFIXES = {"00Q": "Lead", "003": "Contact"}


def _hubspot_key(sobject: str | None, object_id: str) -> RecordKey:
    if sobject not in (None, HUBSPOT_CONTACT):
        raise ValueError(f"Relais reads HubSpot contacts (hubspot:contact:ID), not {sobject!r}")
    if not (object_id.isascii() and object_id.isdigit()):
        raise ValueError(f"a HubSpot contact id is a number, not {object_id!r}")
    return RecordKey.hubspot(object_id)


def _salesforce_key(sobject: str | None, object_id: str) -> RecordKey:
    if not (object_id.isascii() and object_id.isalnum() and len(object_id) in (15, 18)):
        raise ValueError(f"a Salesforce id has 15 or 18 letters and digits, not {object_id!r}")
    if sobject is None:
        sobject = SALESFORCE_ID_PREFIXES.get(object_id[:3])
        if sobject is None:
            raise ValueError(
                f"{object_id!r} is neither a Lead id (00Q...) nor a Contact id (003...): "
                "name the object, salesforce:Lead:ID or salesforce:Contact:ID"
            )
    elif sobject not in SALESFORCE_OBJECTS:
        raise ValueError(f"Relais reads Salesforce Leads and Contacts, not {sobject!r}")
    return RecordKey.salesforce(sobject, object_id)


# How each CRM's record is named on the command line: crm:ID, or crm:object:ID.
RECORD_KEYS: dict[Crm, Callable[[str | None, str], RecordKey]] = {
    Crm.HUBSPOT: _hubspot_key,
    Crm.SALESFORCE: _salesforce_key,
}


def parse_record(text: str) -> RecordKey:
    """``hubspot:123``, ``salesforce:00Q...`` (Lead) or ``salesforce:003...`` (Contact), or
    the stored form ``crm:object:id``."""
    name, _, rest = text.partition(":")
    forms = "hubspot:ID, salesforce:ID or crm:object:ID"
    try:
        crm = Crm(name)
    except ValueError:
        crms = [c.value for c in Crm]
        raise InvalidInput(
            f"record {text!r}: unknown CRM {name!r}{_suggest(name, crms)} ({forms})"
        ) from None
    try:
        if ":" in rest:
            key = RecordKey.parse(text)
            return RECORD_KEYS[crm](key.sobject, key.id)
        return RECORD_KEYS[crm](None, rest)
    except ValueError as exc:
        raise InvalidInput(f"record {text!r}: {exc}") from None


def parse_at(text: str, what: str = "--at") -> datetime:
    """The instant to simulate at: ISO 8601 with a time zone, in UTC."""
    example = "for example 2026-12-01T10:00:00Z"
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not an ISO 8601 instant ({example})") from None
    if at.utcoffset() is None:
        raise InvalidInput(f"{what} {text!r} has no time zone: add Z or an offset ({example})")
    try:
        return at.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-05:00 is after the last instant Python holds
        raise InvalidInput(f"{what} {text!r} is out of range ({example})") from None


def parse_body(raw: bytes, known: Sequence[str]) -> SimulationRequest:
    """The admin API's body: ``{"lead": {...}}`` or ``{"record": "hubspot:123"}``, and
    optionally ``"at"``."""
    body = parse_json(raw, "the body")
    shape = '{"lead": {...}} or {"record": "hubspot:123"}'
    if not isinstance(body, dict):
        raise InvalidInput(f"the body must be a JSON object, {shape}; not {_kind(body)}")
    unknown = [f"unknown key {k!r}{_suggest(k, BODY_KEYS)}" for k in body if k not in BODY_KEYS]
    if unknown:
        raise InvalidInput(*unknown, f"the body is {shape}")
    if ("lead" in body) == ("record" in body):
        raise InvalidInput(f'give "lead" (canonical fields) or "record", one of them: {shape}')
    record, at = body.get("record"), body.get("at")
    if "record" in body and not isinstance(record, str):
        raise InvalidInput(f'"record" must be a string (hubspot:ID, ...), not {_kind(record)}')
    if "at" in body and not isinstance(at, str):
        raise InvalidInput(f'"at" must be a string (ISO 8601), not {_kind(at)}')
    enrich = body.get("enrich", True)
    if not isinstance(enrich, bool):
        raise InvalidInput(f'"enrich" must be true or false, not {_kind(enrich)}')
    return SimulationRequest(
        lead=parse_lead(body["lead"], known, what='"lead"') if "lead" in body else None,
        record=parse_record(record) if isinstance(record, str) else None,
        at=parse_at(at, '"at"') if isinstance(at, str) else None,
        enrich=enrich,
    )


def file_request(
    lead_file: Path | None,
    record: str | None,
    known: Sequence[str],
    at: str | None = None,
    enrich: bool = True,
) -> SimulationRequest:
    """The command line's request: a lead in a JSON file, or a record to read; at ``at``;
    enriched unless ``enrich`` is False."""
    if (lead_file is None) == (record is None):
        raise InvalidInput("give a LEAD.json file or --record, one of them")
    return SimulationRequest(
        lead=parse_lead(parse_json(read_file(lead_file), str(lead_file)), known)
        if lead_file is not None
        else None,
        record=parse_record(record) if record is not None else None,
        at=parse_at(at) if at is not None else None,
        enrich=enrich,
    )


# -- the stages -------------------------------------------------------------------------------


def read_lead(
    reader: RecordReader, key: RecordKey, m: Mappings, hints: Mapping[Crm, str] | None = None
) -> Lead:
    """The record's canonical fields, read and mapped (value maps included) as the pipeline
    reads them."""
    if key.crm not in reader.sources:
        hint = (hints or {}).get(key.crm)
        raise CrmNotConfigured(
            f"{key.crm.label} is not configured in this process" + (f": {hint}" if hint else "")
        )
    try:
        found = reader.read([key], FieldMaps.of(m))
    except CrmError as exc:
        raise CrmUnavailable(f"reading {key} from {key.crm.label} failed: {exc}") from exc
    record = found.get(key)
    if record is None:
        raise RecordNotFound(f"{key} not found in {key.crm.label} (not created, deleted or merged)")
    return record.lead


def enrich(lead: Lead, m: Mappings, reach: Reach) -> tuple[Lead, EnrichmentResult | None]:
    """The lead through enrichment.yaml's providers as the worker runs them (fail-open: a
    provider that fails or is too slow is a gap), and what they did; None without the file.
    ``reach``: its cache only read (``keep_answers=False``) for a dry run."""
    config = m.enrichment
    if config is None:
        return lead, None
    providers = configured(config, reach)
    enriched = run_enrichment(providers, lead, config.timeout_seconds)
    kept = {f: enriched[replaced(f)] for f in enriched if replaced(f) in enriched}
    result = EnrichmentResult(
        providers=tuple(p.name for p in providers),
        found={f: enriched[f] for f in sorted(kept)},
        replaced=dict(sorted(kept.items())),
        gaps=tuple(Gap(name, why) for name, why in gaps_of(enriched)),
    )
    # The fields rules read (enrichment_gaps among them): the gaps' reasons are in ``gaps``.
    shown = {f: v for f, v in enriched.items() if FIELD_NAME.match(f) and f != GAP_REASONS}
    return shown, result


def evaluate(
    lead: Lead,
    m: Mappings,
    at: datetime,
    record: RecordKey | None = None,
    enrichment: EnrichmentResult | None = None,
) -> Simulation:
    """The evaluate stage on one lead, exactly as the live path runs it (pure): the score with
    the fields' types (declared fields compare as numbers, dates, ...), then qualification.
    ``at``: the instant the simulation ran, as the worker's ``now``: the recency decay counts
    months to it. ``enrichment``: what enrichment did to ``lead``, shown with the result."""
    types = m.field_types()
    result = score(lead, m.scoring, types, at)
    qualified = qualify(lead, result, m.qualification, types)
    return Simulation(
        at=at,
        mappings_version=m.version,
        record=str(record) if record is not None else None,
        lead={str(f): v for f, v in sorted(lead.items())},
        enrichment=enrichment,
        score=result.total,
        sales_ready=result.sales_ready,
        temperature=result.temperature,
        grade=result.grade,
        level=result.level,
        revealing=result.revealing,
        breakdown=tuple(
            RuleFired(c.rule, c.points, c.group, c.value) for c in result.contributions
        ),
        qualification=QualificationResult(qualified.outcome, qualified.reason),
        routed=qualified.ready,
    )


def simulate(
    request: SimulationRequest,
    m: Mappings,
    reader: RecordReader,
    at: datetime,
    hints: Mapping[Crm, str] | None = None,
    reach: Reach | None = None,
    world: World | None = None,
) -> Simulation:
    """The lead given, or its record read; enriched (``reach``: what the providers may call
    and read; None: not enriched); then evaluated (``at``: now, shown in the result); a ready
    lead routed over ``world`` (the state the live path would read; None: not routed).
    Writes nothing."""
    if request.lead is not None:
        lead = request.lead
    elif request.record is not None:
        lead = read_lead(reader, request.record, m, hints)
    else:
        raise InvalidInput("give a lead (canonical fields) or a record to read")
    enrichment = None
    if request.enrich and reach is not None:
        lead, enrichment = enrich(lead, m, reach)
    result = evaluate(lead, m, at, request.record, enrichment)
    if world is None or not result.routed:
        return result
    scored = score(lead, m.scoring, m.field_types(), at)
    return replace(result, routing=route(lead, scored, m, at, world, request.record))


def run(runtime: Runtime, request: SimulationRequest) -> Simulation:
    """``simulate`` with this process's connectors, its enrichment cache (read only) and its
    current mappings, at the request's instant (else now)."""
    reader = RecordReader(record_sources(runtime.hubspot, runtime.salesforce), Parallel(1))
    # The first thing missing for a CRM without a connector is what enables the connector.
    hints = {s.crm: s.missing[0] for s in crm_statuses(runtime.settings) if not s.connector}
    at = request.at or utcnow()
    with httpx.Client(headers={"User-Agent": USER_AGENT}) as http:
        reach = Reach(http, runtime.db, keep_answers=False)
        m = runtime.mappings.current
        world = read_world(runtime.db, m, at)
        return simulate(request, m, reader, at, hints, reach, world)
