"""The providers by the name enrichment.yaml gives them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import get_args

import httpx

from app.db import Database
from app.enrichment.base import Provider
from app.enrichment.companies import SirenProvider
from app.enrichment.emails import EmailProvider
from app.enrichment.http_service import HttpProvider
from app.enrichment.phones import PhoneProvider
from app.enrichment.register import RegisterProvider
from app.mappings.schemas import Enrichment, EnrichmentProvider


@dataclass(frozen=True)
class Reach:
    """What providers that call out may use: an HTTP client and the database (the cache)."""

    http: httpx.Client
    db: Database | None = None
    # False: the cache is read, never written (the dry run writes nothing, not even answers).
    keep_answers: bool = True
    # A provider named here calls out through a client of its own: its own connection pool,
    # which another provider's slow calls cannot use up. The others share ``http``.
    clients: Mapping[str, httpx.Client] = field(default_factory=dict)

    def client(self, provider: str) -> httpx.Client:
        return self.clients.get(provider, self.http)


def _register(config: Enrichment, reach: Reach) -> Provider:
    ttl = timedelta(hours=config.cache_ttl_hours)
    http = reach.client("register")
    return RegisterProvider(http, config.timeout_seconds, ttl, reach.db, keep=reach.keep_answers)


def _http(config: Enrichment, reach: Reach) -> Provider:
    assert config.http is not None, "enrichment.yaml's http section (checked when loaded)"
    ttl = timedelta(hours=config.cache_ttl_hours)
    http = reach.client("http")
    return HttpProvider(
        config.http, http, config.timeout_seconds, ttl, reach.db, keep=reach.keep_answers
    )


PROVIDERS: dict[EnrichmentProvider, Callable[[Enrichment, Reach], Provider]] = {
    "email": lambda _config, _reach: EmailProvider(),
    "phone": lambda _config, _reach: PhoneProvider(),
    "siren": lambda _config, _reach: SirenProvider(),
    "register": _register,
    "http": _http,
}
assert set(PROVIDERS) == set(get_args(EnrichmentProvider)), "a provider without its class"


def providers(config: Enrichment, reach: Reach) -> list[Provider]:
    """The providers enrichment.yaml turns on, in its order."""
    return [PROVIDERS[name](config, reach) for name in config.providers]
