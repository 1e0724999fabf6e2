"""`relais demo`: the sandbox CRM and Relais on SQLite, end to end, over real HTTP."""

from __future__ import annotations

import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import func, select
from sqlmodel import col

from app import migrations
from app.config import Settings, get_settings
from app.decisions.models import Decision
from app.demo_data import make_leads
from app.logging import configure
from app.main import create_app
from connectors.sandbox import SandboxServer
from connectors.sandbox.server import ThreadedServer


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def run_demo(*, leads: int, rate: float, latency_ms: float) -> int:
    base = get_settings()
    # Progress lines tell the story; per-batch worker logs would drown them (RELAIS_LOG_LEVEL=INFO
    # brings them back).
    configure("WARNING" if base.log_level.upper() == "INFO" else base.log_level, base.log_json)
    with tempfile.TemporaryDirectory(prefix="relais-demo-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'relais-demo.db'}"
        secret = secrets.token_urlsafe(24)
        typer.echo(
            f"Relais demo: {leads} leads at {rate:g}/s, sandbox latency {latency_ms:g} "
            f"ms per call, database {db_url}"
        )
        with SandboxServer() as sandbox:
            settings = Settings(
                database_url=db_url,
                mappings_dir=base.mappings_dir,
                hubspot_base_url=sandbox.url,
                hubspot_access_token="sandbox-token",
                hubspot_client_secret=secret,
                retry_base_seconds=0.5,
                worker_poll_seconds=0.2,
                log_level=base.log_level,
            )
            migrations.upgrade(db_url)
            app = create_app(settings, embedded_worker=True)
            runtime = app.state.runtime
            with ThreadedServer(app) as relais:
                reps = runtime.mappings.current.team.reps
                names = {}
                for rep in reps:
                    first, _, last = rep.name.partition(" ")
                    label = rep.name if rep.active else f"{rep.name} (inactive)"
                    names[sandbox.hubspot.add_owner(rep.email, first, last).id] = label
                sandbox.hubspot.state.latency_ms = latency_ms
                _configure_webhooks(sandbox, f"{relais.url}/webhooks/hubspot", secret)
                typer.echo(f"  sandbox HubSpot at {sandbox.url}, Relais at {relais.url}")
                _feed(sandbox, make_leads(leads), rate)
                deadline = time.monotonic() + 60 + leads / 10
                while time.monotonic() < deadline:
                    stats = sandbox.hubspot.stats()
                    if stats["owned"] >= leads:
                        break
                    time.sleep(0.5)
                stats = sandbox.hubspot.stats()
                with runtime.db.transaction() as session:
                    outcomes = dict(
                        session.execute(
                            select(col(Decision.outcome), func.count()).group_by(
                                col(Decision.outcome)
                            )
                        ).all()
                    )
                    scores = list(session.scalars(select(col(Decision.score))))
                threshold = runtime.mappings.current.scoring.threshold
                _report(stats, names, leads, outcomes, scores, threshold)
                return 0 if stats["owned"] >= leads else 1


def _configure_webhooks(sandbox: SandboxServer, target: str, secret: str) -> None:
    from connectors.sandbox.webhooks import WebhookConfig

    sandbox.hubspot.webhooks.configure(WebhookConfig(target_url=target, client_secret=secret))


def _feed(sandbox: SandboxServer, leads: list[dict[str, str]], rate: float) -> None:
    """Create leads at ``rate`` per second, printing progress every second."""
    started = time.monotonic()
    last_print = started
    for i, lead in enumerate(leads, 1):
        sandbox.hubspot.create_contacts([lead])
        ahead = i / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
        if time.monotonic() - last_print >= 1:
            last_print = time.monotonic()
            s = sandbox.hubspot.stats()
            typer.echo(f"  {i:5d} leads created, {s['owned']:5d} owned")
    typer.echo(
        f"  {len(leads):5d} leads created in {time.monotonic() - started:.1f}s; "
        "waiting for the last owners..."
    )


def _report(
    stats: dict[str, Any],
    names: dict[str, str],
    leads: int,
    outcomes: dict[str, int],
    scores: list[int | None],
    threshold: int,
) -> None:
    latencies = [x * 1000 for x in stats["webhook_to_owner_seconds"]]
    per_owner: dict[str, int] = stats["per_owner"]
    calls: dict[str, int] = stats["calls"]
    owned = int(stats["owned"])
    typer.echo("\nWhat happened")
    typer.echo(
        f"  leads processed:      {owned} of {leads} owned in HubSpot "
        f"(decisions: {', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))})"
    )
    typer.echo("  owners:")
    for owner_id, name in names.items():
        typer.echo(f"    {name:28s} {per_owner.get(owner_id, 0):5d}")
    if latencies:
        typer.echo(
            f"  webhook -> owner:     p50 {statistics.median(latencies):.0f} ms, "
            f"p95 {percentile(latencies, 95):.0f} ms, max {max(latencies):.0f} ms"
        )
    total = sum(calls.values())
    typer.echo(
        f"  HubSpot API calls:    {total} ({total / max(owned, 1):.3f} per lead: "
        + ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))
        + ")"
    )
    ready = sum(1 for s in scores if s is not None and s >= threshold)
    typer.echo(
        f"  scores:               {ready} of {len(scores)} leads at or above the "
        f"threshold of {threshold} (sales-ready)"
    )
    d = stats["deliveries"]
    typer.echo(
        f"  webhooks received:    {d['requests']} signed requests carrying {d['events']} events "
        f"({d['failures']} failed deliveries); the echoes of our own owner writes are ignored"
    )
