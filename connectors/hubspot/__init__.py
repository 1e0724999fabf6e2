"""HubSpot connector: a typed port over hubspot-api-client."""

from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.port import (
    BATCH_LIMIT,
    Contact,
    ContactUpdate,
    HubSpotPort,
    HubSpotSettings,
    Owner,
    UpdateFailure,
)

__all__ = [
    "BATCH_LIMIT",
    "Contact",
    "ContactUpdate",
    "HubSpotClient",
    "HubSpotPort",
    "HubSpotSettings",
    "Owner",
    "UpdateFailure",
]
