"""Salesforce connector: a typed port over simple-salesforce."""

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.port import (
    COLLECTION_LIMIT,
    OWNER_FIELD,
    RecordUpdate,
    SalesforcePort,
    SalesforceSettings,
    SfQueue,
    SfRecord,
    SfUser,
)

__all__ = [
    "COLLECTION_LIMIT",
    "OWNER_FIELD",
    "RecordUpdate",
    "SalesforceClient",
    "SalesforcePort",
    "SalesforceSettings",
    "SfQueue",
    "SfRecord",
    "SfUser",
]
