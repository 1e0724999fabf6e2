"""`relais demo`: the sandbox CRMs (HubSpot, and Salesforce over TLS) and Relais on SQLite,
end to end over real HTTP. Leads arrive from both CRMs; some people exist in both."""

from __future__ import annotations

import re
import secrets
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import func, select
from sqlmodel import col

from app import migrations
from app.config import Settings, get_settings
from app.decisions.models import Decision
from app.decisions.repository import DecisionRepository, Qualification
from app.demo_data import SALESFORCE_INDUSTRY, marketing_leads
from app.links.models import CrmLink
from app.logging import configure
from app.main import create_app
from app.runtime import Runtime
from connectors.sandbox import SandboxServer
from connectors.sandbox.salesforce import NotificationSetup
from connectors.sandbox.server import ThreadedServer
from connectors.sandbox.webhooks import WebhookConfig

PARIS = ZoneInfo("Europe/Paris")

SF_FIELDS = {
    "email": "Email",
    "firstname": "FirstName",
    "lastname": "LastName",
    "jobtitle": "Title",
    "company": "Company",
    "numberofemployees": "NumberOfEmployees",
    "industry": "Industry",
    "country": "Country",
    "phone": "Phone",
    "pricing_page_views": "Pricing_Page_Views__c",
    "num_conversion_events": "Form_Submissions__c",
}
SF_FLAGS = {  # HubSpot's "true" is Salesforce's JSON true
    "quote_requested": "Quote_Requested__c",
    "demo_requested": "Demo_Requested__c",
    "hs_email_optout": "HasOptedOutOfEmail",
}
OUTCOMES = ("disqualified", "incomplete", "nurture", "ready")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def as_salesforce_lead(lead: dict[str, str]) -> dict[str, str | bool]:
    out: dict[str, str | bool] = {SF_FIELDS[k]: v for k, v in lead.items() if k in SF_FIELDS}
    out |= {SF_FLAGS[k]: v == "true" for k, v in lead.items() if k in SF_FLAGS}
    if "industry" in lead:
        out["Industry"] = SALESFORCE_INDUSTRY.get(lead["industry"], "Other")
    out["LeadSource"] = "Web"
    return out


def run_demo(*, leads: int, rate: float, latency_ms: float) -> int:
    base = get_settings()
    # Progress lines tell the story; per-batch worker logs would drown them
    # (RELAIS_LOG_LEVEL=DEBUG brings them back).
    configure("WARNING" if base.log_level.upper() == "INFO" else base.log_level, base.log_json)
    people = marketing_leads(leads)
    from_sf = leads // 3  # a third of the leads are created in Salesforce...
    both = from_sf // 4  # ...and a quarter of those people also exist in HubSpot
    with tempfile.TemporaryDirectory(prefix="relais-demo-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'relais-demo.db'}"
        secret = secrets.token_urlsafe(24)
        typer.echo(
            f"Relais demo: {leads} leads at {rate:g}/s ({leads - from_sf} from HubSpot, "
            f"{from_sf} from Salesforce, {both} people in both), sandbox latency "
            f"{latency_ms:g} ms per call, database {db_url}"
        )
        with SandboxServer() as sandbox:
            migrations.upgrade(db_url)
            app = create_app(_settings(base, sandbox, db_url, secret), embedded_worker=True)
            runtime: Runtime = app.state.runtime
            # The team's working hours apply: the demo runs at the last weekday 10:00 in
            # Paris, whatever the hour it is started at (decisions keep the real time).
            at_work = working_instant(datetime.now(UTC))
            runtime.clock = lambda: at_work
            typer.echo(f"the team's clock: {at_work.astimezone(PARIS):%A %d %B %H:%M} in Paris")
            with ThreadedServer(app) as relais:
                names = _connect(sandbox, runtime, relais.url, secret, latency_ms)
                hs_ids, sf_ids = _feed(sandbox, people, from_sf, both, rate)
                deadline = time.monotonic() + 60 + leads / 10
                while time.monotonic() < deadline and not _all_decided(
                    sandbox, runtime, hs_ids, sf_ids
                ):
                    time.sleep(0.5)
                done = _all_decided(sandbox, runtime, hs_ids, sf_ids)
                outcomes, scores, links = _decided(runtime)
                _report(
                    sandbox,
                    names,
                    hs_ids,
                    sf_ids,
                    outcomes,
                    scores,
                    links,
                    runtime.mappings.current.scoring.threshold,
                )
                _funnel(_stages(runtime, hs_ids, sf_ids), names, len(people))
                return 0 if done else 1


def working_instant(now: datetime) -> datetime:
    """The latest weekday 10:00 in Paris at or before ``now``: the team at work."""
    day = now.astimezone(PARIS).date()
    while True:
        candidate = datetime.combine(day, wall_time(10), PARIS)
        if candidate <= now and candidate.weekday() < 5:
            return candidate.astimezone(UTC)
        day -= timedelta(days=1)


def _settings(base: Settings, sandbox: SandboxServer, db_url: str, secret: str) -> Settings:
    """Relais on ``db_url``, connected to both sandbox CRMs, retrying and polling briskly."""
    sf = sandbox.salesforce
    return Settings(
        database_url=db_url,
        mappings_dir=base.mappings_dir,
        hubspot_base_url=sandbox.url,
        hubspot_access_token="sandbox-token",
        hubspot_client_secret=secret,
        salesforce_org_id=sf.state.org_id,
        salesforce_login_url=sandbox.salesforce_url,
        salesforce_client_id=sf.state.client_id,
        salesforce_client_secret=sf.state.client_secret,
        salesforce_ca_bundle=sandbox.ca_path,
        retry_base_seconds=0.5,
        worker_poll_seconds=0.2,
        log_level=base.log_level,
    )


def _connect(
    sandbox: SandboxServer, runtime: Runtime, relais_url: str, secret: str, latency_ms: float
) -> dict[str, str]:
    """Every rep an owner in both CRMs, their latency set, their webhooks sent to Relais;
    returns each rep's name for the report, by email."""
    sf = sandbox.salesforce
    names: dict[str, str] = {}
    for rep in runtime.mappings.current.team.reps:
        first, _, last = rep.name.partition(" ")
        names[rep.email] = rep.name if rep.active else f"{rep.name} (inactive)"
        sandbox.hubspot.add_owner(rep.email, first, last)
        sf.add_user(rep.email, first, last)
    sandbox.hubspot.state.latency_ms = latency_ms
    sf.state.latency_ms = latency_ms
    sandbox.hubspot.webhooks.configure(
        WebhookConfig(target_url=f"{relais_url}/webhooks/hubspot", client_secret=secret)
    )
    sf.notifications.configure(
        NotificationSetup(target_url=f"{relais_url}/webhooks/salesforce/outbound-message")
    )
    typer.echo(
        f"  sandbox HubSpot at {sandbox.url}, sandbox Salesforce at "
        f"{sandbox.salesforce_url} (TLS), Relais at {relais_url}"
    )
    return names


def _decided(runtime: Runtime) -> tuple[dict[str, int], list[int | None], int]:
    """The decisions by outcome, their scores, and the people linked across both CRMs."""
    with runtime.db.transaction() as session:
        outcomes = dict(
            session.execute(
                select(col(Decision.outcome), func.count()).group_by(col(Decision.outcome))
            ).all()
        )
        scores = list(session.scalars(select(col(Decision.score))))
        links = session.scalar(select(func.count()).select_from(CrmLink)) or 0
    return outcomes, scores, int(links)


def _owners(sandbox: SandboxServer, hs_ids: list[str], sf_ids: list[str]) -> list[str | None]:
    hs_owner = {o.id: o.email for o in sandbox.hubspot.state.owners.values()}
    users = sandbox.salesforce.state.records["User"]
    out: list[str | None] = []
    with sandbox.hubspot.lock:
        for i in hs_ids:
            out.append(
                hs_owner.get(
                    sandbox.hubspot.state.contacts[i].properties.get("hubspot_owner_id") or ""
                )
            )
    for i in sf_ids:
        owner = sandbox.salesforce.record("Lead", i).get("OwnerId") or ""
        email = users.get(owner, {}).get("Email")
        out.append(None if owner == sandbox.salesforce.default_owner else email)
    return out


def _keys(hs_ids: list[str], sf_ids: list[str]) -> list[str]:
    return [f"hubspot:contact:{i}" for i in hs_ids] + [f"salesforce:Lead:{i}" for i in sf_ids]


def _stages(runtime: Runtime, hs_ids: list[str], sf_ids: list[str]) -> dict[str, Qualification]:
    """Each created record's latest qualification (records not decided yet are absent)."""
    with runtime.db.transaction() as session:
        funnel = DecisionRepository(session).funnel()
    return {k: funnel[k] for k in _keys(hs_ids, sf_ids) if k in funnel}


def _all_decided(
    sandbox: SandboxServer, runtime: Runtime, hs_ids: list[str], sf_ids: list[str]
) -> bool:
    """Every record qualified, and every ready one owned in its CRM."""
    stages = _stages(runtime, hs_ids, sf_ids)
    if len(stages) < len(hs_ids) + len(sf_ids):
        return False
    owners = dict(zip(_keys(hs_ids, sf_ids), _owners(sandbox, hs_ids, sf_ids), strict=True))
    return all(owners[k] for k, q in stages.items() if q.outcome == "ready")


def _feed(
    sandbox: SandboxServer, people: list[dict[str, str]], from_sf: int, both: int, rate: float
) -> tuple[list[str], list[str]]:
    """Create leads at ``rate`` per second in both CRMs, printing progress every second."""
    started = time.monotonic()
    last_print = started
    hs_ids: list[str] = []
    sf_ids: list[str] = []
    for i, lead in enumerate(people, 1):
        if i % 3 == 0 and len(sf_ids) < from_sf:
            sf_ids += sandbox.salesforce.create_records("Lead", [as_salesforce_lead(lead)])
            if len(sf_ids) <= both:  # the same person also fills a HubSpot form
                hs_ids += sandbox.hubspot.create_contacts([lead])
        else:
            hs_ids += sandbox.hubspot.create_contacts([lead])
        ahead = i / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
        if time.monotonic() - last_print >= 1:
            last_print = time.monotonic()
            owned = sum(1 for o in _owners(sandbox, hs_ids, sf_ids) if o)
            typer.echo(f"  {i:5d} leads created, {owned:5d} records routed to a rep")
    typer.echo(
        f"  {len(people):5d} leads created in {time.monotonic() - started:.1f}s; "
        "waiting for the last decisions..."
    )
    return hs_ids, sf_ids


def _ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    ms = [v * 1000 for v in values]
    return (
        f"p50 {statistics.median(ms):.0f} ms, p95 {percentile(ms, 95):.0f} ms, max {max(ms):.0f} ms"
    )


def _report(
    sandbox: SandboxServer,
    names: dict[str, str],
    hs_ids: list[str],
    sf_ids: list[str],
    outcomes: dict[str, int],
    scores: list[int | None],
    links: int,
    threshold: int,
) -> None:
    hs, sf = sandbox.hubspot.stats(), sandbox.salesforce.stats()
    owners = _owners(sandbox, hs_ids, sf_ids)
    per_rep = Counter(o for o in owners if o)
    hs_owned = sum(1 for o in owners[: len(hs_ids)] if o)
    sf_owned = sum(1 for o in owners[len(hs_ids) :] if o)
    typer.echo("\nWhat happened")
    typer.echo(
        f"  records owned:        HubSpot {hs_owned} of {len(hs_ids)}, Salesforce "
        f"{sf_owned} of {len(sf_ids)}; {links} people linked across both CRMs"
    )
    typer.echo(
        "  decisions:            " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
    )
    typer.echo("  records per rep (both CRMs):")
    for email, name in names.items():
        typer.echo(f"    {name:28s} {per_rep.get(email, 0):5d}")
    typer.echo(f"  webhook -> owner:     HubSpot {_ms(hs['webhook_to_owner_seconds'])}")
    typer.echo(f"                        Salesforce {_ms(sf['notification_to_owner_seconds'])}")
    hs_calls, sf_calls = hs["calls"], sf["calls"]
    n_hs, n_sf = max(len(hs_ids), 1), max(len(sf_ids), 1)
    typer.echo(
        f"  HubSpot API calls:    {sum(hs_calls.values())} "
        f"({sum(hs_calls.values()) / n_hs:.3f} per HubSpot lead: "
        + ", ".join(f"{k} {v}" for k, v in sorted(hs_calls.items()))
        + ")"
    )
    typer.echo(
        f"  Salesforce API calls: {sum(sf_calls.values())} "
        f"({sum(sf_calls.values()) / n_sf:.3f} per Salesforce lead: "
        + ", ".join(f"{k} {v}" for k, v in sorted(sf_calls.items()))
        + ")"
    )
    ready = sum(1 for s in scores if s is not None and s >= threshold)
    typer.echo(
        f"  scores:               {ready} of {len(scores)} decisions at or above the "
        f"threshold of {threshold} (sales-ready)"
    )
    d, o = hs["deliveries"], sf["deliveries"]
    typer.echo(
        f"  webhooks received:    HubSpot {d['requests']} signed requests carrying "
        f"{d['events']} events, Salesforce {o['requests']} Outbound Messages carrying "
        f"{o['events']} notifications ({d['failures'] + o['failures']} failed "
        "deliveries); echoes of our own writes are ignored"
    )


def _reason(text: str) -> str:
    """A reason without its lead's own score, so that reasons group: 'score 172 reached the
    threshold' -> 'score reached the threshold'."""
    return re.sub(r"score -?\d+ ", "score ", text)


def _funnel(stages: dict[str, Qualification], names: dict[str, str], created: int) -> None:
    """The funnel the demo ran, from the decisions: each record's qualification with the top
    reasons, then the reps the ready ones went to."""
    typer.echo("\nThe funnel (records, from the decisions)")
    typer.echo(f"  leads created:        {created} people, {len(stages)} records qualified")
    for outcome in OUTCOMES:
        these = [q for q in stages.values() if q.outcome == outcome]
        share = len(these) / max(len(stages), 1)
        top = Counter(_reason(q.reason) for q in these).most_common(3)
        reasons = "; ".join(f"{why} {n}" for why, n in top)
        typer.echo(f"  {outcome + ':':21s} {len(these):5d} ({share:4.0%})  {reasons}")
    routed = Counter(q.owner_email for q in stages.values() if q.owner_email)
    typer.echo(
        f"  routed:               {sum(routed.values()):5d}  "
        + ", ".join(f"{names.get(e, e)} {n}" for e, n in routed.most_common())
    )
