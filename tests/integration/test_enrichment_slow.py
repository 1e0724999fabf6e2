"""Enrichment against a real local server that misbehaves: one answering a byte at a time, one
sending an endless body. The batch gives up at its deadline, and so do its calls: threads and
connections do not pile up from batch to batch, the register keeps answering beside a stuck
http provider, and a process with a stuck call still exits."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.enrichment import register
from app.enrichment.service import CONCURRENCY, GAP_REASONS, GAPS, Enricher
from app.mappings.loader import MappingsStore
from app.records.schemas import Record
from connectors.crm import RecordKey
from tests.conftest import wait_for
from tests.unit.test_enrichment_register import SIREN, company, search
from tests.unit.test_mappings import write

DRIP_EVERY = 0.02  # seconds between two bytes of the dripping answer


class Misbehaving(BaseHTTPRequestHandler):
    """GET /search: the register, answering at once; POST /drip: 200 and a body of 10 KB sent
    a byte at a time; POST /endless: a body without a length that never ends."""

    stop: threading.Event  # set at teardown: every answer in progress ends

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps(search(company())).encode()
        self._head(len(body))
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        endless = self.path == "/endless"
        self._head(None if endless else 10_000)
        try:
            while not self.stop.is_set():
                self.wfile.write(b" " * (64 * 1024) if endless else b" ")
                self.wfile.flush()
                if not endless:
                    self.stop.wait(DRIP_EVERY)  # the drip's pace, not a synchronisation
        except OSError:  # the client hung up: what a deadline does
            return

    def _head(self, length: int | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # every provider's calls connect at once (the default is 5)


@pytest.fixture
def server() -> Iterator[str]:
    stop = threading.Event()
    handler = type("Handler", (Misbehaving,), {"stop": stop})
    httpd = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()


def _enricher(tmp_path: Path, url: str, path: str, budget: float) -> Enricher:
    yaml = (
        f"providers: [register, http]\ntimeout_seconds: 2\nhttp:\n  url: {url}{path}\n"
        "  send: [email]\n  fields: {industry: company.sector}\n"
    )
    store = MappingsStore(write(tmp_path, {"enrichment.yaml": yaml}))
    store.reload()
    return Enricher(store, budget_seconds=budget)


def _records(n: int) -> list[Record]:
    return [
        Record(RecordKey.hubspot(str(i)), {"email": f"p{i}@acme.fr", "siren": SIREN}, None)
        for i in range(n)
    ]


def _threads(provider: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"relais-enrich-{provider}")]


def test_given_a_dripping_service_then_batches_leave_no_threads_and_the_register_answers(
    tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(register, "URL", f"{server}/search")
    # A budget the register meets on a busy machine (CI's two cores running two test
    # processes, 16 calls in two rounds); the drip (10 KB at a byte per 20 ms) never meets it.
    enricher = _enricher(tmp_path, server, "/drip", budget=0.6)
    most = 0
    for _ in range(10):  # before the fix: 8 more threads stuck per batch, 80 by the tenth
        leads = [r.lead for r in enricher.enrich(_records(2 * CONCURRENCY))]
        assert all(lead[GAPS] == "http" for lead in leads), [x[GAP_REASONS] for x in leads]
        assert all(lead["naf_code"] == "62.01Z" for lead in leads)  # the register: answered
        most = max(most, len(_threads("http")))
    assert most <= 2 * CONCURRENCY  # this batch's, and at worst the last one's ending
    wait_for(lambda: not _threads("http"), timeout=5, what="the http provider's threads ending")


def test_given_an_endless_body_then_it_is_refused_as_a_gap(
    tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(register, "URL", f"{server}/search")
    [record] = _enricher(tmp_path, server, "/endless", budget=2).enrich(_records(1))
    assert record.lead[GAP_REASONS] == "http: ValueError: the answer is over 1048576 bytes (1 MiB)"
    assert record.lead["naf_code"] == "62.01Z"


EXITS = """
import threading
from app.enrichment.service import run

class Stuck:
    name, fields = "stuck", ("naf_code",)
    def enrich(self, lead):
        threading.Event().wait()  # never returns

print(run([Stuck()], {}, timeout=0.05)["enrichment_gaps"], flush=True)
"""


def test_given_a_call_that_never_returns_then_the_process_still_exits() -> None:
    # The timeout is a hang detector, not a speed assertion: before, the process never ended.
    done = subprocess.run(
        [sys.executable, "-c", EXITS], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (0, "stuck\n"), done.stderr
