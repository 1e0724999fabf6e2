"""Rescoring 10,000 sandbox leads of which 5% changed: only those are written, in batch calls
of 100, and a `relais rescore` killed half-way (SIGKILL) resumes where it stopped."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.evaluations.service import evaluated
from app.mappings.loader import Mappings, load_mappings
from app.outbox.models import OutboxWrite
from app.queue import Status
from app.records.schemas import FieldMaps
from app.rescore.models import RescoreRun
from app.rescore.service import rescored
from app.runtime import Runtime
from connectors.crm import RecordKey
from connectors.sandbox import SandboxServer
from tests.integration.workers import ROOT, worker_env

LEADS, CHANGING = 10_000, 500
SCORED_AT = datetime(2026, 11, 1, 12, tzinfo=UTC)  # when the live path last scored them
AS_OF = datetime(2026, 11, 2, 12, tzinfo=UTC)  # the rescoring, a day later
# Scored on 1 November: under a month without activity. On 2 November: a month (-5 points).
CROSSING, RECENT = "2026-10-02T00:00:00+00:00", "2026-10-20T00:00:00+00:00"
WRITE = "\nwrite:\n  hubspot: {score: relais_score, breakdown: relais_reasons}\n"
PROGRESS = re.compile(r"rescore run #\d+: (\d+)/(\d+) leads")


def mappings(tmp_path: Path) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", target)
    with (target / "scoring.yaml").open("a") as f:
        f.write(WRITE)
    shutil.copy(ROOT / "docs" / "examples" / "qualification.yaml", target / "qualification.yaml")
    return target


def seed(sandbox: SandboxServer, db: Database, m: Mappings) -> tuple[set[str], int]:
    """10,000 contacts the live path scored on 1 December (nurture, their score written);
    returns the ids of those whose month without activity ends before the rescoring, and the
    score they all had then."""
    hs = sandbox.hubspot
    for name, kind in (("relais_score", "number"), ("relais_reasons", "string")):
        hs.properties[name] = {"type": kind, "options": []}
    leads = [
        {
            "email": f"lead{n}@client{n}.fr",
            "title": "Comptable",
            "last_activity": CROSSING if n % (LEADS // CHANGING) == 0 else RECENT,
        }
        for n in range(LEADS)
    ]
    props = [{"email": lead["email"], "jobtitle": lead["title"]} for lead in leads]
    ids = hs.create_contacts(props)
    rows = []
    unset = dict.fromkeys(FieldMaps.of(m).hubspot)  # as read: every mapped field, empty or not
    for cid, given in zip(ids, leads, strict=True):
        lead = unset | given
        key = RecordKey.hubspot(cid)
        fresh = evaluated(key, lead, [key], 0, "nurture", {}, None, SCORED_AT, m.version)
        first = rescored(fresh, None, m, SCORED_AT, [key])
        rows.append(first.row(SCORED_AT, m.version))
    with db.transaction() as session:
        session.add_all(rows)
    crossing = {
        cid for cid, lead in zip(ids, leads, strict=True) if lead["last_activity"] == CROSSING
    }
    [score] = {row.score for row in rows}
    return crossing, score


def rescore(settings: Settings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "rescore", *args],
        cwd=ROOT,
        env=worker_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_given_10k_leads_5pc_decayed_when_rescore_is_killed_and_resumed_then_each_written_once(
    sandbox: SandboxServer, settings: Settings, db: Database, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"mappings_dir": mappings(tmp_path)})
    changing, score = seed(sandbox, db, load_mappings(settings.mappings_dir))

    first = rescore(settings, "--at", AS_OF.isoformat())
    assert first.stderr is not None
    for line in first.stderr:  # progress, batch after batch
        done = PROGRESS.search(line)
        if done and int(done.group(1)) >= LEADS // 2:
            first.send_signal(signal.SIGKILL)
            break
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    with db.transaction() as session:
        [run] = session.scalars(select(RescoreRun)).all()
        assert run.finished_at is None and LEADS // 2 <= run.scanned < LEADS

    second = rescore(settings)  # no --at: the unfinished run resumes at its own time
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert f"{LEADS} leads, {CHANGING} changed" in out

    with db.transaction() as session:
        [run] = session.scalars(select(RescoreRun)).all()
        writes = list(session.scalars(select(OutboxWrite)))
    assert run.as_of == AS_OF and run.finished_at is not None
    assert (run.scanned, run.changed, run.routed) == (LEADS, CHANGING, 0)
    assert sorted(w.object_id for w in writes) == sorted(changing)  # each once

    runtime = Runtime.build(settings)
    try:
        runtime.mappings.reload()
        worker = runtime.worker("outbox")
        while worker.step():
            pass
    finally:
        runtime.close()

    hs = sandbox.hubspot
    assert hs.stats()["calls"]["contacts.batch_update"] == CHANGING // 100
    with db.transaction() as session:
        assert {w.status for w in session.scalars(select(OutboxWrite))} == {Status.DONE}
    scores = {cid: c.properties.get("relais_score") for cid, c in hs.state.contacts.items()}
    assert {scores[cid] for cid in changing} == {str(score - 5)}
    assert all(score is None for cid, score in scores.items() if cid not in changing)
