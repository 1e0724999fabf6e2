"""The http provider (the admin's own enrichment service) on respx: what it sends, what it
reads back, its failures as gaps; and enrichment.yaml's http section's errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import respx

from app.enrichment.calls import MAX_ANSWER_BYTES
from app.enrichment.http_service import HttpProvider
from app.enrichment.service import GAP_REASONS, GAPS, run
from app.mappings.loader import MappingsError, load_mappings
from app.mappings.schemas import HttpAuth, HttpEnrichment
from tests.unit.test_mappings import write

URL = "https://enrich.example.fr/v1/lead"
CONFIG = HttpEnrichment(
    url=URL,
    auth=HttpAuth(header="Authorization", env="RELAIS_TEST_ENRICH_TOKEN"),
    send=["email", "domain"],
    fields={
        "company_size": "company.employees",
        "industry": "company.sector",
        "trade_show_visit": "signals.trade_show",
        "language": "locale",
    },
)
ANSWER = {
    "company": {"employees": 240, "sector": "Construction"},
    "signals": {"trade_show": True},
    "locale": None,
}


@pytest.fixture
def service() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpProvider]:
    monkeypatch.setenv("RELAIS_TEST_ENRICH_TOKEN", "Bearer s3cret")
    with httpx.Client() as http:
        yield HttpProvider(CONFIG, http, timeout=2, ttl=timedelta(hours=1), db=None)


def test_given_a_lead_then_its_send_fields_are_posted_with_the_auth_header_and_mapped_back(
    service: respx.MockRouter, provider: HttpProvider
) -> None:
    route = service.post(URL).respond(200, json=ANSWER)
    found = provider.enrich({"email": "ana@acme.fr", "domain": None, "phone": "0612345678"})
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert json.loads(request.content) == {"email": "ana@acme.fr", "domain": None}
    assert found == {
        "company_size": "240",
        "industry": "Construction",
        "trade_show_visit": "true",
        "language": None,
    }


def test_given_nothing_to_send_then_the_service_is_not_asked(
    service: respx.MockRouter, provider: HttpProvider
) -> None:
    route = service.post(URL).respond(200, json=ANSWER)
    assert provider.enrich({"email": " ", "phone": "0612345678"}) == {}
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (httpx.Response(500, text="oops"), "HTTPStatusError"),
        (httpx.Response(401, json={"error": "bad token"}), "HTTPStatusError"),
        (httpx.ReadTimeout("read timed out"), "ReadTimeout"),
        (httpx.Response(200, json=[1, 2]), "the answer is a JSON list, not an object"),
        (httpx.Response(200, json={"company": {"sector": {"a": 1}}}), "not a value"),
    ],
)
def test_given_the_service_failing_then_the_lead_goes_on_with_the_gap(
    service: respx.MockRouter,
    provider: HttpProvider,
    answer: httpx.Response | Exception,
    reason: str,
) -> None:
    service.post(URL).mock(side_effect=[answer])
    lead = run([provider], {"email": "ana@acme.fr", "industry": "BTP"}, timeout=5)
    assert lead["industry"] == "BTP" and lead[GAPS] == "http"
    assert reason in (lead[GAP_REASONS] or "")


def test_given_the_variable_unset_since_loading_then_it_is_a_gap_saying_so(
    service: respx.MockRouter, provider: HttpProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELAIS_TEST_ENRICH_TOKEN")
    lead = run([provider], {"email": "ana@acme.fr"}, timeout=5)
    assert lead[GAP_REASONS] == (
        "http: LookupError: the environment variable RELAIS_TEST_ENRICH_TOKEN is not set"
    )


def test_given_an_answer_over_1_mib_then_it_is_refused_as_a_gap(
    service: respx.MockRouter, provider: HttpProvider
) -> None:
    service.post(URL).respond(200, content=b" " * (MAX_ANSWER_BYTES + 1))  # Content-Length
    lead = run([provider], {"email": "ana@acme.fr"}, timeout=5)
    assert (
        lead[GAP_REASONS] == "http: ValueError: the answer is 1048577 bytes, over 1048576 (1 MiB)"
    )


def test_given_an_endless_answer_without_its_length_then_reading_stops_past_1_mib(
    service: respx.MockRouter, provider: HttpProvider
) -> None:
    sent = 0

    def endless() -> Iterator[bytes]:
        nonlocal sent
        while True:
            sent += 64 * 1024
            yield b" " * (64 * 1024)

    service.post(URL).mock(return_value=httpx.Response(200, content=endless()))
    lead = run([provider], {"email": "ana@acme.fr"}, timeout=5)
    assert lead[GAP_REASONS] == "http: ValueError: the answer is over 1048576 bytes (1 MiB)"
    assert sent <= MAX_ANSWER_BYTES + 64 * 1024  # not one chunk more read


HTTP = (
    "providers: [http]\nhttp:\n  url: https://enrich.example.fr/v1/lead\n"
    "  send: [email]\n  fields: {industry: company.sector}\n"
)
WITH_AUTH = HTTP + "  auth: {header: Authorization, env: RELAIS_TEST_ENRICH_TOKEN}\n"


def test_an_http_section_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_TEST_ENRICH_TOKEN", "Bearer s3cret")
    m = load_mappings(write(tmp_path, {"enrichment.yaml": WITH_AUTH}))
    assert m.enrichment is not None and m.enrichment.http is not None
    assert m.enrichment.http.fields == {"industry": "company.sector"}


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (WITH_AUTH, 6, "http.auth.env: the environment variable RELAIS_TEST_ENRICH_TOKEN is not"),
        ("providers: [http]\n", 1, "providers lists http: the http section says"),
        (HTTP.replace("[http]", "[email]"), 1, "an http section, but http is not in providers"),
        (HTTP.replace("send: [email]", "send: [emial]"), 4, "unknown field 'emial'"),
        (HTTP.replace("{industry:", "{industy:"), 5, "http.fields.industy: unknown field"),
        (HTTP.replace("https://enrich", "ftp://enrich"), 3, "http.url: "),
    ],
)
def test_a_broken_http_section_gets_its_file_line_and_key_path(
    tmp_path: Path, content: str, line: int, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELAIS_TEST_ENRICH_TOKEN", raising=False)
    with pytest.raises(MappingsError) as err:
        load_mappings(write(tmp_path, {"enrichment.yaml": content}))
    prefix = f"{tmp_path}/enrichment.yaml:{line}:"
    assert any(e.startswith(prefix) and message in e for e in err.value.errors), err.value.errors
