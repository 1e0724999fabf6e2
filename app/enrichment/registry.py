"""The providers by the name enrichment.yaml gives them."""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

from app.enrichment.base import Provider
from app.enrichment.companies import SirenProvider
from app.enrichment.emails import EmailProvider
from app.enrichment.phones import PhoneProvider
from app.mappings.schemas import Enrichment, EnrichmentProvider

PROVIDERS: dict[EnrichmentProvider, Callable[[Enrichment], Provider]] = {
    "email": lambda _config: EmailProvider(),
    "phone": lambda _config: PhoneProvider(),
    "siren": lambda _config: SirenProvider(),
}
assert set(PROVIDERS) == set(get_args(EnrichmentProvider)), "a provider without its class"


def providers(config: Enrichment) -> list[Provider]:
    """The providers enrichment.yaml turns on, in its order."""
    return [PROVIDERS[name](config) for name in config.providers]
