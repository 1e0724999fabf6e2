"""Salesforce connector: a typed port over simple-salesforce."""

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.port import (
    COLLECTION_LIMIT,
    OwnerUpdate,
    SalesforcePort,
    SalesforceSettings,
    SfQueue,
    SfRecord,
    SfUpdateResult,
    SfUser,
)

__all__ = [
    "COLLECTION_LIMIT",
    "OwnerUpdate",
    "SalesforceClient",
    "SalesforcePort",
    "SalesforceSettings",
    "SfQueue",
    "SfRecord",
    "SfUpdateResult",
    "SfUser",
]
