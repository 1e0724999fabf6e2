"""Salesforce: Outbound Message to owner written, and Salesforce API calls per routed lead.

    .venv/bin/python -m bench.salesforce [--rate 20] [--seconds 30] [--burst 1000] [--repeats 3]

Relais runs as `relais serve` (API + embedded worker, SQLite) in its own process; the sandbox
org (over TLS, with its own certificate authority) runs in this process with 50 ms of latency
on every API call and sends Outbound Messages as leads are created. The sandbox HubSpot is
there too (Relais looks each lead up by email to link the person). Times are taken by the
sandbox: from the first delivery of a lead's Outbound Message to the collection update that
sets its owner.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from pathlib import Path

from app import migrations
from app.demo import as_salesforce_lead
from app.demo_data import make_leads
from bench.common import (
    calendar_free_mappings,
    free_port,
    median,
    percentile,
    server_process,
)
from bench.pipeline import REPS
from connectors.sandbox import SandboxServer
from connectors.sandbox.salesforce import NotificationSetup


def run(scenario: str, n: int, rate: float, latency_ms: float, tmp: Path) -> dict[str, float]:
    db_url = f"sqlite:///{tmp / f'sf-{scenario}-{time.monotonic_ns()}.db'}"
    migrations.upgrade(db_url)
    with SandboxServer(hubspot_token="bench-token") as sandbox:
        sf = sandbox.salesforce
        for email, first in REPS:
            sandbox.hubspot.add_owner(email, first)
            sf.add_user(email, first)
        port = free_port()
        env = {
            "RELAIS_DATABASE_URL": db_url,
            "RELAIS_LOG_LEVEL": "WARNING",
            "RELAIS_HUBSPOT_BASE_URL": sandbox.url,
            "RELAIS_HUBSPOT_ACCESS_TOKEN": "bench-token",
            "RELAIS_HUBSPOT_CLIENT_SECRET": secrets.token_urlsafe(8),
            "RELAIS_SALESFORCE_ORG_ID": sf.state.org_id,
            "RELAIS_SALESFORCE_LOGIN_URL": sandbox.salesforce_url,
            "RELAIS_SALESFORCE_CLIENT_ID": sf.state.client_id,
            "RELAIS_SALESFORCE_CLIENT_SECRET": sf.state.client_secret,
            "RELAIS_SALESFORCE_CA_BUNDLE": str(sandbox.ca_path),
            "RELAIS_MAPPINGS_DIR": str(calendar_free_mappings(Path(tempfile.mkdtemp(dir=tmp)))),
        }
        with server_process(["-m", "app.cli", "serve", "--port", str(port)], env, port) as url:
            sf.state.latency_ms = latency_ms
            sandbox.hubspot.state.latency_ms = latency_ms
            sf.notifications.configure(
                NotificationSetup(target_url=f"{url}/webhooks/salesforce/outbound-message")
            )
            leads = [as_salesforce_lead(lead) for lead in make_leads(n, seed=n)]
            ids: list[str] = []
            if scenario == "burst":
                ids = sf.create_records("Lead", leads)
            else:
                start = time.perf_counter()
                for i, lead in enumerate(leads):
                    time.sleep(max(0.0, start + i / rate - time.perf_counter()))
                    ids += sf.create_records("Lead", [lead])
            deadline = time.monotonic() + 120
            while sum(1 for i in ids if sf.record("Lead", i)["OwnerId"] != sf.default_owner) < n:
                if time.monotonic() > deadline:
                    raise RuntimeError("not every lead was owned in time")
                time.sleep(0.1)
            stats = sf.stats()
    lat = [x * 1000 for x in stats["notification_to_owner_seconds"]]
    calls = stats["calls"]
    return {
        "p50": percentile(lat, 50),
        "p99": percentile(lat, 99),
        "calls_per_lead": stats["api_calls"] / n,  # every call once (calls also counts variants)
        "queries": calls.get("query", 0),
        "updates": calls.get("composite.sobjects.update", 0),
        "logins": calls.get("oauth.token", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    steady, burst = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            s = run("steady", int(args.rate * args.seconds), args.rate, args.latency_ms, Path(tmp))
            b = run("burst", args.burst, 0, args.latency_ms, Path(tmp))
            steady.append(s)
            burst.append(b)
            print(
                f"run {i + 1}: steady p50 {s['p50']:.0f} ms p99 {s['p99']:.0f} ms "
                f"({s['calls_per_lead']:.3f} calls/lead); burst of {args.burst}: "
                f"{b['calls_per_lead']:.4f} calls/lead ({b['queries']:.0f} queries, "
                f"{b['updates']:.0f} collection updates, {b['logins']:.0f} login)",
                flush=True,
            )
    print(f"\nmedian of {args.repeats} runs, sandbox latency {args.latency_ms:g} ms per call:")
    print(
        f"  Outbound Message -> owner in Salesforce at {args.rate:g} leads/s: p50 "
        f"{median([s['p50'] for s in steady]):.0f} ms (target < 300), p99 "
        f"{median([s['p99'] for s in steady]):.0f} ms"
    )
    print(
        f"  Salesforce API calls per routed lead, burst of {args.burst}: "
        f"{median([b['calls_per_lead'] for b in burst]):.4f} (target < 0.05)"
    )


if __name__ == "__main__":
    main()
