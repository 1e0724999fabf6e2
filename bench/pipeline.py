"""Webhook to owner written, and HubSpot API calls per routed lead.

    .venv/bin/python -m bench.pipeline [--rate 20] [--seconds 30] [--burst 1000] [--repeats 3]

Relais runs as `relais serve` (API + embedded worker, SQLite) in its own process; the sandbox
HubSpot runs in this process with 50 ms of latency on every API call and sends signed
webhooks as contacts are created. Times are measured by the sandbox itself: from the first
delivery of a contact's creation webhook to the batch update that sets its owner.

Scenario "steady": contacts created one by one at --rate per second.
Scenario "burst": --burst contacts created at once (an import); API calls per routed lead.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from pathlib import Path

from app import migrations
from app.demo_data import make_leads
from bench.common import (
    calendar_free_mappings,
    free_port,
    median,
    percentile,
    server_process,
)
from connectors.sandbox import SandboxServer
from connectors.sandbox.webhooks import WebhookConfig

REPS = [
    ("claire.martin@paieco.example", "Claire"),
    ("hugo.bernard@paieco.example", "Hugo"),
    ("ines.dubois@paieco.example", "Inès"),
    ("lucas.moreau@paieco.example", "Lucas"),
    ("sarah.petit@paieco.example", "Sarah"),
]


def run(scenario: str, n: int, rate: float, latency_ms: float, tmp: Path) -> dict[str, float]:
    db_url = f"sqlite:///{tmp / f'{scenario}-{time.monotonic_ns()}.db'}"
    migrations.upgrade(db_url)
    secret = secrets.token_urlsafe(16)
    with SandboxServer(hubspot_token="bench-token") as sandbox:
        for email, first in REPS:
            sandbox.hubspot.add_owner(email, first)
        port = free_port()
        env = {
            "RELAIS_DATABASE_URL": db_url,
            "RELAIS_HUBSPOT_CLIENT_SECRET": secret,
            "RELAIS_HUBSPOT_BASE_URL": sandbox.url,
            "RELAIS_HUBSPOT_ACCESS_TOKEN": "bench-token",
            "RELAIS_MAPPINGS_DIR": str(calendar_free_mappings(Path(tempfile.mkdtemp(dir=tmp)))),
            "RELAIS_LOG_LEVEL": "WARNING",
        }
        with server_process(["-m", "app.cli", "serve", "--port", str(port)], env, port) as url:
            sandbox.hubspot.state.latency_ms = latency_ms
            sandbox.hubspot.webhooks.configure(
                WebhookConfig(target_url=f"{url}/webhooks/hubspot", client_secret=secret)
            )
            leads = make_leads(n, seed=n)
            if scenario == "burst":
                sandbox.hubspot.create_contacts(leads)
            else:
                start = time.perf_counter()
                for i, lead in enumerate(leads):
                    time.sleep(max(0.0, start + i / rate - time.perf_counter()))
                    sandbox.hubspot.create_contacts([lead])
            deadline = time.monotonic() + 120
            while sandbox.hubspot.stats()["owned"] < n:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {sandbox.hubspot.stats()['owned']} of {n} owned")
                time.sleep(0.1)
            stats = sandbox.hubspot.stats()
    lat = [x * 1000 for x in stats["webhook_to_owner_seconds"]]
    calls = stats["calls"]
    return {
        "p50": percentile(lat, 50),
        "p99": percentile(lat, 99),
        "max": max(lat),
        "calls_per_lead": stats["api_calls"] / n,  # every call once (calls also counts variants)
        "reads": calls.get("contacts.batch_read", 0),
        "updates": calls.get("contacts.batch_update", 0),
        "owners": calls.get("owners.list", 0),
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
                f"run {i + 1}: steady p50 {s['p50']:.0f} ms p99 {s['p99']:.0f} ms max "
                f"{s['max']:.0f} ms ({s['calls_per_lead']:.3f} calls/lead); burst of "
                f"{args.burst}: {b['calls_per_lead']:.4f} calls/lead ({b['reads']:.0f} reads, "
                f"{b['updates']:.0f} updates, {b['owners']:.0f} owner lists), p50 "
                f"{b['p50']:.0f} ms",
                flush=True,
            )
    print(f"\nmedian of {args.repeats} runs, sandbox latency {args.latency_ms:g} ms per call:")
    print(
        f"  webhook -> owner at {args.rate:g} leads/s: p50 "
        f"{median([s['p50'] for s in steady]):.0f} ms (target < 300), p99 "
        f"{median([s['p99'] for s in steady]):.0f} ms (target < 1000)"
    )
    print(
        f"  HubSpot API calls per routed lead, burst of {args.burst}: "
        f"{median([b['calls_per_lead'] for b in burst]):.4f} (target < 0.1)"
    )


if __name__ == "__main__":
    main()
