"""The register provider ("Recherche d'entreprises") on respx, with bodies in the API's format:
the fields it reads, when it asks, and its failures recorded as gaps (fail-open)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx

from app.enrichment.register import URL, RegisterProvider
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
def provider() -> Iterator[RegisterProvider]:
    with httpx.Client() as http:
        yield RegisterProvider(http, timeout=2, ttl=timedelta(hours=1), db=None)


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
    register.get(URL).mock(side_effect=[answer])
    lead = run([provider], {"siren": SIREN, "naf_code": "62.02A"}, timeout=5)
    assert lead["naf_code"] == "62.02A"  # what the CRM held stays
    assert "company_active" not in lead
    assert lead[GAPS] == "register"
    why = lead[GAP_REASONS] or ""
    assert why.startswith("register: ") and reason in why
