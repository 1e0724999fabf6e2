"""Enrichment: each provider on its own (no network), the enricher's fail-open and timeout,
and enrichment.yaml's errors with file and line."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from app.enrichment.base import Found
from app.enrichment.companies import SirenProvider
from app.enrichment.emails import EmailProvider
from app.enrichment.phones import PhoneProvider, region_of
from app.enrichment.registry import Reach, providers
from app.enrichment.service import GAP_REASONS, GAPS, Enricher, run
from app.mappings.loader import MappingsError, MappingsStore, load_mappings
from app.mappings.schemas import Enrichment, EnrichmentProvider, HttpEnrichment
from app.records.schemas import Record
from connectors.crm import RecordKey
from tests.unit.test_mappings import write

# -- email --------------------------------------------------------------------------------


def test_given_an_email_with_spaces_and_capitals_when_enriched_then_it_is_normalised() -> None:
    found = EmailProvider().enrich({"email": "  Marie.Durand@Acme-Industrie.FR "})
    assert found == {
        "email": "marie.durand@acme-industrie.fr",
        "email_valid": "true",
        "email_domain": "acme-industrie.fr",
        "email_free": "false",
        "email_disposable": "false",
        "email_role": "false",
    }


@pytest.mark.parametrize(
    ("email", "free", "disposable", "role"),
    [
        ("jean@gmail.com", "true", "false", "false"),
        ("jean@orange.fr", "true", "false", "false"),
        ("x@yopmail.com", "true", "true", "false"),  # the free-mail list has throw-away ones
        ("contact@acme.fr", "false", "false", "true"),
        ("info+leads@acme.fr", "false", "false", "true"),
        ("jean.contact@acme.fr", "false", "false", "false"),
    ],
)
def test_given_a_domain_or_local_part_when_enriched_then_free_disposable_and_role_say_so(
    email: str, free: str, disposable: str, role: str
) -> None:
    found = EmailProvider().enrich({"email": email})
    assert (found["email_free"], found["email_disposable"], found["email_role"]) == (
        free,
        disposable,
        role,
    )


@pytest.mark.parametrize("email", ["jean.acme.fr", "jean@@acme.fr", "jean@acme", "a b@acme.fr"])
def test_given_a_malformed_email_when_enriched_then_it_is_not_valid(email: str) -> None:
    found = EmailProvider().enrich({"email": email})
    assert found["email_valid"] == "false"
    assert "email_domain" not in found


def test_given_no_email_when_enriched_then_there_is_no_valid_email() -> None:
    assert EmailProvider().enrich({"email": None}) == {"email_valid": "false"}


# -- phone --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "country", "e164"),
    [
        ("06 12 34 56 78", "France", "+33612345678"),
        ("06 12 34 56 78", None, "+33612345678"),  # FR by default
        ("06 12 34 56 78", "Narnia", "+33612345678"),  # unknown country: FR
        ("02 512 34 56", "BE", "+3225123456"),
        ("02 512 34 56", "Belgique", "+3225123456"),
        ("+41 44 668 18 00", "France", "+41446681800"),  # an international number as it is
        ("(650) 253-0000", "United States", "+16502530000"),
    ],
)
def test_given_a_phone_and_a_country_when_enriched_then_it_is_in_e164(
    phone: str, country: str | None, e164: str
) -> None:
    found = PhoneProvider().enrich({"phone": phone, "country": country})
    assert found == {"phone_e164": e164, "phone_valid": "true"}


@pytest.mark.parametrize("phone", ["12", "not a phone", "06 12 34", "", None])
def test_given_no_valid_phone_when_enriched_then_it_is_not_valid(phone: str | None) -> None:
    assert PhoneProvider().enrich({"phone": phone, "country": "FR"}) == {"phone_valid": "false"}


def test_country_values_map_to_regions() -> None:
    assert [region_of(c) for c in ("fr", "France", " UK ", "Suisse", None, "")] == [
        "FR",
        "FR",
        "GB",
        "CH",
        "FR",
        "FR",
    ]


# -- SIREN / SIRET -------------------------------------------------------------------------


def test_given_valid_numbers_when_enriched_then_they_are_compact_and_valid() -> None:
    found = SirenProvider().enrich({"siren": "732 829 320", "siret": "732 829 320 00074"})
    assert found == {
        "siren": "732829320",
        "siren_valid": "true",
        "siret": "73282932000074",
        "siret_valid": "true",
    }


def test_given_a_wrong_check_digit_when_enriched_then_it_is_not_valid() -> None:
    found = SirenProvider().enrich({"siren": "732829321", "siret": "73282932000075"})
    assert found == {"siren_valid": "false", "siret_valid": "false"}


def test_given_only_a_valid_siret_when_enriched_then_its_siren_is_filled_in() -> None:
    found = SirenProvider().enrich({"siren": None, "siret": "73282932000074"})
    assert found["siren"] == "732829320" and found["siren_valid"] == "true"


def test_given_no_numbers_when_enriched_then_nothing_is_said() -> None:
    assert SirenProvider().enrich({"siren": None, "siret": " "}) == {}


# -- the enricher: fail-open and timeout ---------------------------------------------------


class Broken:
    name = "broken"
    fields: tuple[str, ...] = ("naf_code",)

    def enrich(self, lead: Mapping[str, str | None]) -> Found:
        raise ConnectionError("register unreachable")


class Stuck:
    name = "stuck"
    fields: tuple[str, ...] = ("naf_code",)

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def enrich(self, lead: Mapping[str, str | None]) -> Found:
        self.release.wait()
        return {"naf_code": "62.01Z"}


class Greedy:
    """Says more than its fields, and None for a known value."""

    name = "greedy"
    fields: tuple[str, ...] = ("industry", "company")

    def enrich(self, lead: Mapping[str, str | None]) -> Found:
        return {"industry": "Software", "company": None, "owner": "hijack"}


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # let the stuck provider's thread end


LEAD = {"email": "Jean@Acme.fr", "company": "Acme", "phone": "0612345678", "country": "FR"}


def test_given_a_provider_that_raises_then_the_lead_keeps_the_others_and_the_gap() -> None:
    lead = run([Broken(), EmailProvider()], LEAD, timeout=5)
    assert lead["email"] == "jean@acme.fr" and lead["email_valid"] == "true"
    assert lead["company"] == "Acme" and "naf_code" not in lead
    assert lead[GAPS] == "broken"
    assert lead[GAP_REASONS] == "broken: ConnectionError: register unreachable"


def test_given_a_provider_past_the_timeout_then_the_lead_goes_on_without_it(
    release: threading.Event,
) -> None:
    lead = run([Stuck(release), PhoneProvider()], LEAD, timeout=0.05)
    assert lead["phone_e164"] == "+33612345678" and "naf_code" not in lead
    assert lead[GAPS] == "stuck"
    assert lead[GAP_REASONS] == "stuck: timed out after 0.05 s"


def test_a_provider_sets_only_its_fields_and_never_erases_a_known_value() -> None:
    lead = run([Greedy()], LEAD, timeout=5)
    assert lead["industry"] == "Software" and lead["company"] == "Acme"
    assert "owner" not in lead
    assert lead[GAPS] is None and lead[GAP_REASONS] is None


def _store(tmp_path: Path, enrichment: str | None) -> MappingsStore:
    store = MappingsStore(write(tmp_path, {"enrichment.yaml": enrichment}))
    store.reload()
    return store


RECORD = Record(key=RecordKey.hubspot("101"), lead=dict(LEAD), owner=None)


def test_without_enrichment_yaml_records_are_left_as_the_crms_hold_them(tmp_path: Path) -> None:
    assert Enricher(_store(tmp_path, None)).enrich([RECORD]) == [RECORD]


def test_with_enrichment_yaml_the_configured_providers_enrich_every_record(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path, "providers: [email, phone]\ntimeout_seconds: 1\n")
    [record] = Enricher(store).enrich([RECORD])
    assert record.key == RECORD.key and record.owner is None
    assert record.lead["email_free"] == "false" and record.lead["phone_valid"] == "true"
    assert "siren_valid" not in record.lead  # siren is not on
    assert record.lead[GAPS] is None


def test_every_provider_name_has_its_provider() -> None:
    names: list[EnrichmentProvider] = ["email", "phone", "siren", "register", "http"]
    http = HttpEnrichment(url="https://x.fr", send=["email"], fields={"industry": "sector"})
    config = Enrichment(providers=names, http=http)
    assert [p.name for p in providers(config, Reach(httpx.Client()))] == names


# -- enrichment.yaml ------------------------------------------------------------------------


def test_enrichment_yaml_loads_with_its_defaults(tmp_path: Path) -> None:
    m = load_mappings(write(tmp_path, {"enrichment.yaml": "providers: [siren]\n"}))
    assert m.enrichment == Enrichment(providers=["siren"], timeout_seconds=2.0, cache_ttl_hours=168)


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("providers: [email, fone]\n", 1, "providers[1]: "),
        ("providers: [email]\ntimeout_seconds: 0\n", 2, "timeout_seconds: "),
        ("providers: [email]\ntimeout_seconds: 60\n", 2, "timeout_seconds: "),
        ("providers: []\n", 1, "providers: "),
        ("providers: [email, email]\n", 1, "provider listed twice: email"),
        ("providers: [email]\ncache: 1\n", 2, "cache"),
        ("providers: [register]\ncache_ttl_hours: -1\n", 2, "cache_ttl_hours: "),
        ("timeout_seconds: 1\n", 1, "providers"),
    ],
)
def test_a_broken_enrichment_yaml_gets_its_file_line_and_key_path(
    tmp_path: Path, content: str, line: int, message: str
) -> None:
    with pytest.raises(MappingsError) as err:
        load_mappings(write(tmp_path, {"enrichment.yaml": content}))
    prefix = f"{tmp_path}/enrichment.yaml:{line}:"
    assert any(e.startswith(prefix) and message in e for e in err.value.errors), err.value.errors


def test_a_hung_provider_costs_the_batch_one_timeout_and_starves_no_other_provider() -> None:
    import threading

    from app.enrichment.service import CONCURRENCY, run_batch

    release = threading.Event()  # never set while the batch runs: the provider hangs

    class Hung:
        name = "hung"
        fields = ("company_active",)

        def enrich(self, lead: dict[str, str | None]) -> dict[str, str | None]:
            release.wait(5)
            return {"company_active": "true"}

    class Quick:
        name = "quick"
        fields = ("email_domain",)

        def enrich(self, lead: dict[str, str | None]) -> dict[str, str | None]:
            return {"email_domain": (lead.get("email") or "").split("@")[-1]}

    leads = [{"email": f"p{i}@betonsud.fr"} for i in range(CONCURRENCY * 3)]
    try:
        out = run_batch([Hung(), Quick()], leads, timeout=0.2)  # type: ignore[list-item]
    finally:
        release.set()
    assert len(out) == len(leads)
    assert all(o[GAPS] == "hung" for o in out)  # every lead: the hung one's gap, recorded
    assert all(o["email_domain"] == "betonsud.fr" for o in out)  # the other one ran for all
    assert all("timed out after 0.2 s" in (o[GAP_REASONS] or "") for o in out)


def test_the_enrichment_wait_is_capped_by_the_workers_budget(tmp_path: Path) -> None:
    import threading

    release = threading.Event()

    class Hung:
        name = "hung"
        fields = ("company_active",)

        def enrich(self, lead: dict[str, str | None]) -> dict[str, str | None]:
            release.wait(5)
            return {}

    store = _store(tmp_path, "providers: [email]\ntimeout_seconds: 30\n")
    enricher = Enricher(store, build=lambda config, reach: [Hung()], budget_seconds=0.1)  # type: ignore[list-item]
    try:
        [record] = enricher.enrich([RECORD])
    finally:
        release.set()
    assert record.lead[GAP_REASONS] == "hung: timed out after 0.1 s"  # not 30 s


def test_a_hung_provider_holds_only_daemon_threads_and_no_call_starts_past_the_deadline(
    release: threading.Event,
) -> None:
    from app.enrichment.service import CONCURRENCY, run_batch

    started: list[str | None] = []

    class Hung:
        name = "hung"
        fields: tuple[str, ...] = ("company_active",)

        def enrich(self, lead: Mapping[str, str | None]) -> Found:
            started.append(lead.get("email"))
            release.wait()
            return {}

    leads = [{"email": f"p{i}@betonsud.fr"} for i in range(CONCURRENCY * 3)]
    out = run_batch([Hung()], leads, timeout=0.05)
    assert all(o[GAPS] == "hung" for o in out)
    stuck = [t for t in threading.enumerate() if t.name.startswith("relais-enrich-hung")]
    assert len(stuck) == CONCURRENCY  # its own threads, no more
    assert all(t.daemon for t in stuck)  # the process exits without waiting for them
    release.set()
    for t in stuck:
        t.join()
    assert len(started) == CONCURRENCY  # the queued calls were dropped, not run late
