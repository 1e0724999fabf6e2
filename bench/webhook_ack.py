"""Webhook acknowledgement: latency at a fixed rate, and maximum throughput vs a bare endpoint.

    .venv/bin/python -m bench.webhook_ack [--rate 200] [--seconds 10] [--repeats 3]

Relais (`relais serve --no-worker`, SQLite) and the baseline (a bare FastAPI endpoint) are each
served by uvicorn (uvloop + httptools) in a process of their own; the load comes from this
process over keep-alive loopback connections. Each request is a signed batch of 10 distinct
events, so every one is verified, parsed and stored. Latency is measured open-loop (from the
scheduled send time, so a slow answer cannot hide the requests queued behind it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
import time
from pathlib import Path

from app import migrations
from bench.common import Connection, build_request, free_port, median, percentile, server_process
from connectors.sandbox.webhooks import sign_v3


def make_requests(n: int, secret: str, port: int, events_per_request: int = 10) -> list[bytes]:
    now = int(time.time() * 1000)
    url = f"http://127.0.0.1:{port}/webhooks/hubspot"
    out = []
    for i in range(n):
        events = [
            {
                "eventId": i * events_per_request + j,
                "subscriptionId": 25,
                "portalId": 4242,
                "appId": 1160452,
                "occurredAt": now,
                "subscriptionType": "contact.creation",
                "attemptNumber": 0,
                "objectId": 10_000_000 + i * events_per_request + j,
                "changeFlag": "CREATED",
                "changeSource": "FORM",
            }
            for j in range(events_per_request)
        ]
        body = json.dumps(events, separators=(",", ":"))
        headers = {
            "X-HubSpot-Signature-v3": sign_v3(secret, "POST", url, body, now),
            "X-HubSpot-Request-Timestamp": str(now),
        }
        out.append(build_request(port, "/webhooks/hubspot", body.encode(), headers))
    return out


async def fixed_rate(
    port: int, requests: list[bytes], rate: float, connections: int = 16
) -> tuple[list[float], int]:
    """Send at ``rate`` req/s; returns latencies (ms) from the scheduled time, and errors."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await Connection.open(port))
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.05

    async def one(i: int, req: bytes) -> None:
        nonlocal errors
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        conn = await pool.get()
        try:
            status = await conn.send(req)
        finally:
            pool.put_nowait(conn)
        latencies.append((time.perf_counter() - scheduled) * 1000)
        if status != 200:
            errors += 1

    await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))
    while not pool.empty():
        pool.get_nowait().close()
    return latencies, errors


async def max_throughput(
    port: int, requests: list[bytes], seconds: float, connections: int = 32
) -> float:
    """Closed loop: as fast as the server answers; returns requests per second."""
    done = 0
    stop_at = time.perf_counter() + seconds
    it = iter(requests)

    async def loop() -> None:
        nonlocal done
        conn = await Connection.open(port)
        try:
            while time.perf_counter() < stop_at:
                req = next(it, None)
                if req is None:
                    return
                await conn.send(req)
                done += 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(connections)))
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    secret = secrets.token_urlsafe(16)
    results: dict[str, list[float]] = {"p50": [], "p99": [], "relais_rps": [], "bare_rps": []}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            db_url = f"sqlite:///{Path(tmp) / f'bench-{repeat}.db'}"
            migrations.upgrade(db_url)
            port, bare_port = free_port(), free_port()
            env = {
                "RELAIS_DATABASE_URL": db_url,
                "RELAIS_HUBSPOT_CLIENT_SECRET": secret,
                "RELAIS_LOG_LEVEL": "WARNING",
            }
            n_rate = int(args.rate * args.seconds)
            with server_process(
                ["-m", "app.cli", "serve", "--no-worker", "--port", str(port)], env, port
            ):
                reqs = make_requests(n_rate + 40_000, secret, port)
                lat, errors = asyncio.run(fixed_rate(port, reqs[:n_rate], args.rate))
                assert errors == 0, f"{errors} requests were not acknowledged"
                rps = asyncio.run(max_throughput(port, reqs[n_rate:], args.seconds))
            with server_process(
                [
                    "-m",
                    "uvicorn",
                    "bench.bare_app:app",
                    "--port",
                    str(bare_port),
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                {},
                bare_port,
            ):
                bare = asyncio.run(max_throughput(bare_port, reqs[n_rate:], args.seconds))
            results["p50"].append(percentile(lat, 50))
            results["p99"].append(percentile(lat, 99))
            results["relais_rps"].append(rps)
            results["bare_rps"].append(bare)
            print(
                f"run {repeat + 1}: at {args.rate:g} req/s p50 {percentile(lat, 50):.2f} ms, "
                f"p99 {percentile(lat, 99):.2f} ms; max {rps:.0f} req/s vs bare {bare:.0f} "
                f"req/s ({rps / bare:.2f})",
                flush=True,
            )
    ratio = [r / b for r, b in zip(results["relais_rps"], results["bare_rps"], strict=True)]
    print(f"\nmedian of {args.repeats} runs, 10-event batches, SQLite, loopback:")
    print(
        f"  ack latency at {args.rate:g} req/s: p50 {median(results['p50']):.2f} ms, "
        f"p99 {median(results['p99']):.2f} ms (target p99 < 20 ms)"
    )
    print(
        f"  max throughput: {median(results['relais_rps']):.0f} req/s "
        f"({median(results['relais_rps']) * 10:.0f} events/s); bare FastAPI "
        f"{median(results['bare_rps']):.0f} req/s; ratio {median(ratio):.2f}"
    )


if __name__ == "__main__":
    main()
