"""The register provider ("Recherche d'entreprises") on respx, with bodies in the API's format:
the fields it reads, when it asks, and its failures recorded as gaps (fail-open)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx

from app.enrichment.register import ATTEMPTS, URL, RegisterProvider, retry_after
from app.enrichment.service import GAP_REASONS, GAPS, run

SIREN = "732829320"


def company(siren: str = SIREN, state: str = "A") -> dict[str, Any]:
    """One result of GET /search, as the API gives it (fields Relais does not read trimmed)."""
    return {
        "siren": siren,
        "nom_complet": "ACME INDUSTRIE",
        "nom_raison_sociale": "ACME INDUSTRIE",
        "sigle": None,
        "nombre_etablissements": 3,
        "nombre_etablissements_ouverts": 2,
        "siege": {
            "activite_principale": "62.01Z",
            "adresse": "12 RUE DE LA PAIX 75002 PARIS",
            "code_postal": "75002",
            "commune": "75102",
            "date_creation": "2012-03-01",
            "est_siege": True,
            "etat_administratif": state,
            "libelle_commune": "PARIS",
            "siret": f"{siren}00074",
            "tranche_effectif_salarie": "12",
        },
        "date_creation": "2012-03-01",
        "date_fermeture": None if state == "A" else "2024-06-30",
        "tranche_effectif_salarie": "21",
        "annee_tranche_effectif_salarie": "2022",
        "categorie_entreprise": "PME",
        "caractere_employeur": "O",
        "etat_administratif": state,
        "nature_juridique": "5710",
        "activite_principale": "62.01Z",
        "section_activite_principale": "J",
        "statut_diffusion": "O",
        "matching_etablissements": [],
        "dirigeants": [],
        "finances": {"2023": {"ca": 4200000, "resultat_net": 310000}},
        "complements": {"est_ess": False, "est_service_public": False},
    }


def search(*results: dict[str, Any]) -> dict[str, Any]:
    return {
        "results": list(results),
        "total_results": len(results),
        "page": 1,
        "per_page": 10,
        "total_pages": 1 if results else 0,
    }


@pytest.fixture
def register() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def waits() -> list[float]:
    """Each wait between two attempts, recorded instead of slept."""
    return []


@pytest.fixture
def provider(waits: list[float]) -> Iterator[RegisterProvider]:
    with httpx.Client() as http:
        yield RegisterProvider(http, timeout=2, ttl=timedelta(hours=1), db=None, sleep=waits.append)


def test_given_a_valid_siren_then_the_register_gives_naf_headcount_category_and_state(
    register: respx.MockRouter, provider: RegisterProvider
) -> None:
    route = register.get(URL, params={"q": SIREN}).respond(200, json=search(company()))
    found = provider.enrich({"siren": "732 829 320"})
    assert route.call_count == 1
    assert found == {
        "company_active": "true",
        "naf_code": "62.01Z",
        "naf_section": "J",
        "headcount_band": "21",
        "legal_category": "5710",
    }


def test_given_only_a_siret_then_the_register_is_asked_for_its_siren(
    register: respx.MockRouter, provider: RegisterProvider
) -> None:
    route = register.get(URL, params={"q": SIREN}).respond(200, json=search(company()))
    assert provider.enrich({"siret": "73282932000074"})["naf_code"] == "62.01Z"
    assert route.call_count == 1


def test_given_a_closed_company_then_it_is_not_active(
    register: respx.MockRouter, provider: RegisterProvider
) -> None:
    register.get(URL).respond(200, json=search(company(state="C")))
    assert provider.enrich({"siren": SIREN})["company_active"] == "false"


@pytest.mark.parametrize("lead", [{}, {"siren": "732829321"}, {"siret": "73282932000075"}])
def test_given_no_valid_number_then_the_register_is_not_asked(
    register: respx.MockRouter, provider: RegisterProvider, lead: dict[str, str]
) -> None:
    route = register.get(URL).respond(200, json=search(company()))
    assert provider.enrich(lead) == {}
    assert route.call_count == 0


def test_given_a_siren_the_register_does_not_know_then_nothing_is_found(
    register: respx.MockRouter, provider: RegisterProvider
) -> None:
    # The search is full text: other companies may come back; only the SIREN asked counts.
    register.get(URL).respond(200, json=search(company(siren="552100554")))
    assert provider.enrich({"siren": SIREN}) == {}


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (httpx.Response(503, text="Service Unavailable"), "HTTPStatusError"),
        (httpx.Response(429, json={"erreur": "Trop de requêtes"}), "HTTPStatusError"),
        (httpx.ReadTimeout("read timed out"), "ReadTimeout: read timed out"),
        (httpx.ConnectError("connection refused"), "ConnectError: connection refused"),
        (httpx.Response(200, json={"erreur": "?"}), "ValueError: not a search response"),
    ],
)
def test_given_the_register_failing_then_the_lead_goes_on_with_the_gap(
    register: respx.MockRouter,
    provider: RegisterProvider,
    answer: httpx.Response | Exception,
    reason: str,
) -> None:
    register.get(URL).mock(side_effect=[answer] * ATTEMPTS)  # 429, 503: every attempt
    lead = run([provider], {"siren": SIREN, "naf_code": "62.02A"}, timeout=5)
    assert lead["naf_code"] == "62.02A"  # what the CRM held stays
    assert "company_active" not in lead
    assert lead[GAPS] == "register"
    why = lead[GAP_REASONS] or ""
    assert why.startswith("register: ") and reason in why


TOO_MANY = {"erreur": "Trop de requêtes"}  # the register's 429 body


def test_given_a_429_then_a_200_then_the_register_is_asked_again_after_retry_after(
    register: respx.MockRouter, provider: RegisterProvider, waits: list[float]
) -> None:
    route = register.get(URL, params={"q": SIREN}).mock(
        side_effect=[
            httpx.Response(429, json=TOO_MANY, headers={"Retry-After": "1"}),
            httpx.Response(200, json=search(company())),
        ]
    )
    lead = run([provider], {"siren": SIREN}, timeout=5)
    assert route.call_count == 2 and waits == [1.0]
    assert lead["naf_code"] == "62.01Z" and lead[GAPS] is None


def test_given_a_429_at_every_attempt_then_the_lead_goes_on_with_the_gap_after_three(
    register: respx.MockRouter, provider: RegisterProvider, waits: list[float]
) -> None:
    route = register.get(URL).mock(side_effect=[httpx.Response(429, json=TOO_MANY)] * 5)
    lead = run([provider], {"siren": SIREN, "naf_code": "62.02A"}, timeout=5)
    assert route.call_count == ATTEMPTS and waits == [0.2, 0.4]  # no Retry-After: backoff
    assert lead["naf_code"] == "62.02A" and lead[GAPS] == "register"
    why = lead[GAP_REASONS] or ""
    assert "HTTPStatusError" in why and "429 Too Many Requests" in why and "attempts: 3" in why


def test_given_a_retry_after_past_the_deadline_then_it_is_not_waited_and_the_gap_says_so(
    register: respx.MockRouter, provider: RegisterProvider, waits: list[float]
) -> None:
    too_late = httpx.Response(429, json=TOO_MANY, headers={"Retry-After": "3600"})
    route = register.get(URL).mock(side_effect=[too_late] * 5)
    lead = run([provider], {"siren": SIREN}, timeout=5)
    assert route.call_count == 1 and waits == []
    assert "attempts: 1; asked to wait 3600 s, past the deadline" in (lead[GAP_REASONS] or "")


@pytest.mark.parametrize("status", [400, 404, 500])
def test_given_an_answer_that_would_be_the_same_again_then_it_is_asked_once(
    register: respx.MockRouter, provider: RegisterProvider, waits: list[float], status: int
) -> None:
    route = register.get(URL).mock(side_effect=[httpx.Response(status, json={})] * 5)
    assert run([provider], {"siren": SIREN}, timeout=5)[GAPS] == "register"
    assert route.call_count == 1 and waits == []


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("2", 2.0), ("", None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_reads_seconds_or_a_date(header: str, seconds: float | None) -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": header})) == seconds
