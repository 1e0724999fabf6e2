"""Rescoring every known lead: 100,000 sandbox leads scored a day ago, of which 5% crossed a
month without activity since (-5 points). Measures the rescoring run (database and scoring),
the CRM write calls it causes and the time to send them over HTTP to the sandbox.

    .venv/bin/python -m bench.rescore [--leads 100000] [--repeats 3] [--database URL]

Baselines, same run: the same rescoring run again right after (nothing changed: the cost of
walking and scoring alone), and scoring the same leads in memory (no database).
Each repeat starts from a fresh database (SQLite file, or the PostgreSQL URL given, emptied).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert

from app import migrations
from app.config import Settings
from app.db import Database, table_of
from app.evaluations.models import LeadEvaluation
from app.evaluations.service import evaluated
from app.mappings.loader import Mappings, MappingsStore, load_mappings
from app.outbox.models import OutboxWrite
from app.records.schemas import FieldMaps
from app.rescore.models import RescoreRun
from app.rescore.service import Rescorer, rescored
from app.runtime import Runtime
from app.scoring.engine import score
from connectors.crm import RecordKey
from connectors.sandbox import SandboxServer

ROOT = Path(__file__).resolve().parent.parent
SCORED_AT = datetime(2026, 12, 1, 12, tzinfo=UTC)
AS_OF = datetime(2026, 12, 2, 12, tzinfo=UTC)
CROSSING, RECENT = "2026-11-02T00:00:00+00:00", "2026-11-20T00:00:00+00:00"
WRITE = "\nwrite:\n  hubspot: {score: relais_score, breakdown: relais_reasons}\n"
TOKEN = "bench-token"


def mappings_dir(tmp: Path) -> Path:
    target = tmp / "mappings"
    shutil.copytree(ROOT / "mappings", target)
    with (target / "scoring.yaml").open("a") as f:
        f.write(WRITE)
    shutil.copy(ROOT / "docs" / "examples" / "qualification.yaml", target / "qualification.yaml")
    return target


def leads(n: int, share: float) -> list[dict[str, str | None]]:
    every = round(1 / share)
    return [
        {
            "email": f"lead{i}@client{i}.fr",
            "title": "Comptable",
            "last_activity": CROSSING if i % every == 0 else RECENT,
        }
        for i in range(n)
    ]


def seed(sandbox: SandboxServer, db: Database, m: Mappings, people: list[dict[str, Any]]) -> None:
    hs = sandbox.hubspot
    for name, kind in (("relais_score", "number"), ("relais_reasons", "string")):
        hs.properties[name] = {"type": kind, "options": []}
    ids = hs.create_contacts([{"email": p["email"], "jobtitle": p["title"]} for p in people])
    rows = []
    unset = dict.fromkeys(FieldMaps.of(m).hubspot)  # as read: every mapped field, empty or not
    for cid, given in zip(ids, people, strict=True):
        lead = unset | given
        key = RecordKey.hubspot(cid)
        fresh = evaluated(key, lead, [key], 0, "nurture", {}, None, SCORED_AT, m.version)
        row = rescored(fresh, None, m, SCORED_AT, [key]).row(SCORED_AT, m.version)
        rows.append({c.name: getattr(row, c.name) for c in table_of(LeadEvaluation).columns})
    with db.transaction() as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(LeadEvaluation), rows[start : start + 5000])


def one(url: str, tmp: Path, n: int, share: float) -> dict[str, float]:
    migrations.upgrade(url, "head")
    db = Database(url)
    with db.transaction() as session:
        for model in (OutboxWrite, RescoreRun, LeadEvaluation):
            session.execute(delete(model))
    m_dir = mappings_dir(tmp)
    m = load_mappings(m_dir)
    people = leads(n, share)
    out: dict[str, float] = {}
    with SandboxServer(hubspot_token=TOKEN) as sandbox:
        seed(sandbox, db, m, people)
        store = MappingsStore(m_dir)
        store.reload()
        rescorer = Rescorer(db, store, batch_size=100)
        for name, label in (("first", "rescore"), ("again", "rescore_nothing_changed")):
            started = time.perf_counter()
            *_, last = rescorer.run(rescorer.start(name, AS_OF), "bench")
            out[label] = time.perf_counter() - started
            out[f"{label}_changed"] = last.changed
        settings = Settings(
            database_url=url,
            mappings_dir=m_dir,
            hubspot_base_url=sandbox.url,
            hubspot_access_token=TOKEN,
            rescore_daily_at="off",
        )
        runtime = Runtime.build(settings)
        runtime.mappings.reload()
        worker = runtime.worker("outbox")
        started = time.perf_counter()
        while worker.step():
            pass
        out["send"] = time.perf_counter() - started
        out["write_calls"] = sandbox.hubspot.stats()["calls"].get("contacts.batch_update", 0)
        runtime.close()
    started = time.perf_counter()
    for lead in people:
        score(lead, m.scoring, m.field_types(), AS_OF)
    out["score_in_memory"] = time.perf_counter() - started
    db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--share", type=float, default=0.05, help="share of leads that change")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--database", default=None, help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    runs = []
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database or f"sqlite:///{tmp}/bench.db"
            runs.append(one(url, Path(tmp), args.leads, args.share))
            print(f"repeat {r + 1}: " + ", ".join(f"{k}={v:.2f}" for k, v in runs[-1].items()))
    med = {k: statistics.median(run[k] for run in runs) for k in runs[0]}
    changed = int(med["rescore_changed"])
    print(f"\n{args.leads} leads, {changed} changed ({args.share:.0%}), medians of {len(runs)}:")
    print(f"  rescoring run:            {med['rescore']:.2f} s "
          f"({args.leads / med['rescore']:,.0f} leads/s)")  # fmt: skip
    print(f"  same run, nothing changed: {med['rescore_nothing_changed']:.2f} s (baseline)")
    print(f"  scoring alone in memory:  {med['score_in_memory']:.2f} s (baseline)")
    print(
        f"  ratio run / nothing-changed run: {med['rescore'] / med['rescore_nothing_changed']:.2f}"
    )
    print(f"  write calls: {int(med['write_calls'])} (target: ceil({changed} / 100) = "
          f"{-(-changed // 100)}), sent in {med['send']:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
