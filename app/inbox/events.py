"""What a stored event says, per CRM: registries keyed by ``Crm``, so the stages above read
events without knowing the vendors' payloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.inbox import hubspot_events, salesforce_events
from connectors.crm import Crm

Payload = dict[str, Any]

# The owner id an event names, if it names one.
OWNER_IN_EVENT: dict[Crm, Callable[[Payload], str | None]] = {
    Crm.HUBSPOT: hubspot_events.owner_named,
    Crm.SALESFORCE: salesforce_events.owner_named,
}

# The record's field values an event carried, if it carried them (they spare a read).
FIELDS_IN_EVENT: dict[Crm, Callable[[Payload], dict[str, Any] | None]] = {
    Crm.HUBSPOT: hubspot_events.notified_fields,
    Crm.SALESFORCE: salesforce_events.notified_fields,
}
