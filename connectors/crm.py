"""The CRMs Relais connects, and the key that names one CRM record everywhere.

One name for a CRM across the tree: ``Crm`` (a ``StrEnum``, so its value is what the database
columns and the logs hold). A record is named by a ``RecordKey``; its text form
``crm:object:id`` (``hubspot:contact:901``, ``salesforce:Lead:00Q…``) is what the database
stores, and ``RecordKey.parse`` is the only place that reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from connectors.salesforce_ids import to18


class Crm(StrEnum):
    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"

    @property
    def label(self) -> str:
        """The CRM's name for people: in messages, logs meant for admins, the CLI."""
        return _LABELS[self]


_LABELS = {Crm.HUBSPOT: "HubSpot", Crm.SALESFORCE: "Salesforce"}
HUBSPOT_CONTACT = "contact"  # the only HubSpot object Relais routes
SALESFORCE_OBJECTS = ("Lead", "Contact")  # the Salesforce objects Relais routes


@dataclass(frozen=True, order=True)
class RecordKey:
    """One CRM record: its CRM, its object (``contact`` in HubSpot; ``Lead`` or ``Contact`` in
    Salesforce) and its id (a Salesforce id is always kept in its 18-character form)."""

    crm: Crm
    sobject: str
    id: str

    def __str__(self) -> str:
        return f"{self.crm.value}:{self.sobject}:{self.id}"

    @classmethod
    def hubspot(cls, contact_id: str | int) -> RecordKey:
        return cls(Crm.HUBSPOT, HUBSPOT_CONTACT, str(contact_id))

    @classmethod
    def salesforce(cls, sobject: str, record_id: str) -> RecordKey:
        return cls(Crm.SALESFORCE, sobject, to18(record_id))

    @classmethod
    def parse(cls, text: str) -> RecordKey:
        """The key stored as ``crm:object:id``; a clear ``ValueError`` for anything else."""
        crm, sep, rest = text.partition(":")
        sobject, sep2, object_id = rest.partition(":")
        if not (sep and sep2 and sobject and object_id):
            raise ValueError(f"not a record key (crm:object:id): {text!r}")
        try:
            which = Crm(crm)
        except ValueError:
            raise ValueError(f"unknown CRM {crm!r} in record key {text!r}") from None
        return cls(which, sobject, object_id)


__all__ = ["HUBSPOT_CONTACT", "SALESFORCE_OBJECTS", "Crm", "RecordKey"]
