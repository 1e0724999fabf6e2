"""HubSpot connector: a typed port over hubspot-api-client."""

from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.port import (
    BATCH_LIMIT,
    OWNER_PROPERTY,
    Contact,
    ContactUpdate,
    HubSpotPort,
    HubSpotSettings,
    Owner,
)

__all__ = [
    "BATCH_LIMIT",
    "OWNER_PROPERTY",
    "Contact",
    "ContactUpdate",
    "HubSpotClient",
    "HubSpotPort",
    "HubSpotSettings",
    "Owner",
]
