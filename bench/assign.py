"""Routing decisions per second, CRM calls excluded: the worker's pipeline (claim, read from
the in-memory CRM fake, evaluate, target, pick, persist) on a real database, for ready leads
through one weighted pool, with the fairness deviation measured in the same run.

    .venv/bin/python -m bench.assign [--leads 5000] [--repeats 3] [--database URL]

Baseline, same run: the same leads through a round-robin pool (the engine before weights and
calendars). Each run starts from a fresh database (SQLite file, or the PostgreSQL URL given,
emptied first). The fairness deviation is the largest distance, over every prefix of the
sequence of decisions, between a rep's count and its exact weighted share.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml
from sqlalchemy import delete, select
from sqlmodel import col

from app import migrations
from app.config import Settings
from app.db import Database, utcnow
from app.decisions.models import Decision
from app.inbox.hubspot_events import parse_event
from app.inbox.repository import InboxRepository
from app.mappings.loader import MappingsStore, load_mappings
from app.models import metadata
from app.runtime import Runtime
from app.webhooks.edge import RejectedEvent
from bench.common import calendar_free_mappings
from connectors.hubspot.fake import InMemoryHubSpot
from connectors.salesforce.fake import InMemorySalesforce

READY = {"jobtitle": "DRH", "numberofemployees": "120", "industry": "CONSTRUCTION"}
READY |= {"country": "France"}


def mappings(tmp: Path, kind: str) -> Path:
    """The shipped mappings without the reps' calendars (the bench must not depend on the
    hour), with the pool of the given type."""
    (tmp / kind).mkdir()
    target = calendar_free_mappings(tmp / kind)
    if kind == "round_robin":  # weights apply to weighted pools only
        team = yaml.safe_load((target / "team.yaml").read_text())
        for rep in team["reps"]:
            rep.pop("weight", None)
        text = yaml.safe_dump(team, allow_unicode=True, sort_keys=False)
        (target / "team.yaml").write_text(text)
    routing = (target / "routing.yaml").read_text().replace("type: weighted", f"type: {kind}")
    (target / "routing.yaml").write_text(routing)
    return target


def one(url: str, folder: Path, n: int) -> tuple[float, float]:
    """(decisions per second, the fairness deviation) for ``n`` ready leads."""
    migrations.upgrade(url, "head")
    db = Database(url)
    with db.transaction() as session:
        for table in reversed(metadata().sorted_tables):
            if table.name != "alembic_version":
                session.execute(delete(table))
    hubspot = InMemoryHubSpot()
    m = load_mappings(folder)
    for rep in m.team.reps:
        hubspot.add_owner(rep.email, rep.name, "")
    settings = Settings(
        database_url=url, mappings_dir=folder, hubspot_access_token="x", rescore_daily_at="off"
    )
    runtime = Runtime(settings, db, MappingsStore(folder), _hubspot=hubspot)
    runtime._salesforce = InMemorySalesforce()
    runtime.mappings.reload()
    hubspot.create_contacts([{"email": f"l{i}@beton{i}.fr", **READY} for i in range(n)])
    now = utcnow()
    rows = []
    for event in hubspot.take_events():
        parsed = parse_event(event)
        assert not isinstance(parsed, RejectedEvent), parsed.reason
        rows.append(parsed.row(event, now))
    with db.transaction() as session:
        InboxRepository(session).store(rows)
    worker = runtime.worker("inbox")
    started = time.perf_counter()
    while worker.step():
        pass
    elapsed = time.perf_counter() - started
    with db.transaction() as session:
        order = [
            str(e)
            for e in session.scalars(select(col(Decision.owner_email)).order_by(col(Decision.id)))
        ]
    runtime.close()
    db.dispose()
    return len(order) / elapsed, deviation(order, m)


def deviation(order: list[str], m: object) -> float:
    team = m.team  # type: ignore[attr-defined]
    pool = next(iter(m.routing.pools))  # type: ignore[attr-defined]
    weights = {
        r.email: (r.weight if pool.type == "weighted" else 1.0)
        for r in team.reps
        if r.active and r.email in pool.members
    }
    total = sum(weights.values())
    counts: Counter[str] = Counter()
    worst = 0.0
    for n, rep in enumerate(order, start=1):
        counts[rep] += 1
        worst = max(worst, *(abs(counts[r] - n * w / total) for r, w in weights.items()))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--database", default=None, help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"weighted": [], "round_robin": []}
    with tempfile.TemporaryDirectory() as tmp:
        folders = {kind: mappings(Path(tmp), kind) for kind in results}
        for r in range(args.repeats):
            for kind in results:  # alternating, so that both meet the same machine
                url = args.database or f"sqlite:///{tmp}/bench-{kind}-{r}.db"
                results[kind].append(one(url, folders[kind], args.leads))
                rate, dev = results[kind][-1]
                print(f"repeat {r + 1} {kind}: {rate:,.0f} decisions/s, deviation {dev:.2f}")
    print(f"\n{args.leads} ready leads, medians of {args.repeats}:")
    medians = {k: statistics.median(rate for rate, _ in v) for k, v in results.items()}
    for kind, runs in results.items():
        worst = max(dev for _, dev in runs)
        print(f"  {kind:12} {medians[kind]:8,.0f} decisions/s, worst deviation {worst:.2f}")
    print(f"  ratio weighted / round robin: {medians['weighted'] / medians['round_robin']:.2f}")


if __name__ == "__main__":
    main()
