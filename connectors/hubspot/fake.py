"""An in-memory HubSpot account behind the HubSpot port, for fast service-level tests.

``InMemoryHubSpot`` implements ``HubSpotPort`` with the semantics the real client gives the
code above it (see ``client.py`` and ``BEHAVIOR.md``): ids missing from a read come back in
``missing``; emails are compared lower-cased; an invalid owner id, an unknown property or a
value outside an enumeration fails that record only (the client splits a batch HubSpot rejects
as a whole); a contact that does not exist fails with ``OBJECT_NOT_FOUND``. Calls are counted
per operation, one per batch of 100 as HTTP calls would be, and the next calls of an
operation can be made to raise a given ``CrmError``. No HTTP; thread-safe (one lock).

Like HubSpot, the fake records the webhook events it would send (``take_events``): a creation,
an owner set by a person, and the echo of our own write (``changeSource: INTEGRATION``).
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from connectors.crm import Crm
from connectors.errors import AdminActionRequired, CrmError, IntegrationBug, check_deadline
from connectors.hubspot.port import (
    BATCH_LIMIT,
    OWNER_PROPERTY,
    Contact,
    ContactUpdate,
    Owner,
    PropertyInfo,
    ReadResult,
)
from connectors.results import UpdateFailure, UpdateResult

if TYPE_CHECKING:
    from connectors.hubspot.port import HubSpotPort

# The port's operations, the names ``fail`` and ``calls`` take.
OPERATIONS = (
    "read_contacts",
    "read_contacts_by_email",
    "list_owners",
    "contact_properties",
    "update_contacts",
)
NOT_FOUND_MESSAGE = (
    "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are "
    "valid."
)


def _default_properties() -> dict[str, PropertyInfo]:
    # The sandbox's account: one list of properties for both stand-ins of HubSpot.
    from connectors.sandbox.hubspot import DEFAULT_PROPERTIES

    return {
        name: PropertyInfo(name, str(spec["type"]), tuple(str(o) for o in spec["options"]))
        for name, spec in DEFAULT_PROPERTIES.items()
    }


def _invalid(name: str, message: str, error: str) -> dict[str, Any]:
    return {"isValid": False, "message": message, "error": error, "name": name}


class InMemoryHubSpot:
    """A HubSpot account in memory, behind ``HubSpotPort``, with helpers for tests."""

    name = Crm.HUBSPOT.value

    def __init__(
        self,
        *,
        portal_id: int = 4242,
        app_id: int = 1160452,
        properties: Iterable[PropertyInfo] | None = None,
        subscribed_properties: Iterable[str] = (OWNER_PROPERTY,),
    ) -> None:
        self.portal_id = portal_id
        self.app_id = app_id
        self.closed = False
        self._lock = threading.Lock()
        self._contacts: dict[str, dict[str, str | None]] = {}
        self._owners: dict[str, Owner] = {}
        self._properties = (
            {p.name: p for p in properties} if properties is not None else _default_properties()
        )
        self._subscribed = set(subscribed_properties)
        self._calls: Counter[str] = Counter()
        self._faults: dict[str, list[CrmError]] = {op: [] for op in OPERATIONS}
        self._applied: list[ContactUpdate] = []
        self._events: list[dict[str, Any]] = []
        self._ids = itertools.count(1001)
        self._owner_ids = itertools.count(90000)
        self._event_ids = itertools.count(1)

    # -- the port ---------------------------------------------------------------------------

    def read_contacts(self, ids: Sequence[str], properties: Sequence[str]) -> ReadResult:
        wanted = list(dict.fromkeys(str(i) for i in ids))
        with self._lock:
            self._call("read_contacts", len(wanted))
            result = ReadResult()
            for i in wanted:
                if i in self._contacts:
                    result.found[i] = self._contact(i, properties)
                else:
                    result.missing.append(i)
            return result

    def read_contacts_by_email(
        self, emails: Sequence[str], properties: Sequence[str]
    ) -> dict[str, Contact]:
        wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e))
        props = list(dict.fromkeys([*properties, "email"]))
        with self._lock:
            self._call("read_contacts_by_email", len(wanted))
            by_email = {(p.get("email") or "").lower(): cid for cid, p in self._contacts.items()}
            return {e: self._contact(by_email[e], props) for e in wanted if e in by_email}

    def list_owners(self) -> list[Owner]:
        with self._lock:
            self._call("list_owners")
            return [o for o in self._owners.values() if not o.archived]

    def contact_properties(self) -> list[PropertyInfo]:
        with self._lock:
            self._call("contact_properties")
            return list(self._properties.values())

    def update_contacts(
        self, updates: Sequence[ContactUpdate], *, deadline: float | None = None
    ) -> UpdateResult:
        # An in-memory call takes no time: it only refuses to start past the deadline.
        check_deadline(deadline, 0.0)
        with self._lock:
            self._call("update_contacts", len(updates))
            result = UpdateResult()
            for update in updates:
                failure = self._refusal(update)
                if failure is not None:
                    result.failed.append(failure)
                    continue
                self._apply(update)
                result.updated.append(update.id)
            return result

    def close(self) -> None:
        self.closed = True

    # -- helpers for tests ------------------------------------------------------------------

    def add_owner(
        self,
        email: str,
        first_name: str | None = None,
        last_name: str | None = None,
        *,
        archived: bool = False,
    ) -> Owner:
        """A HubSpot user who can own records (its ``id`` is what ``hubspot_owner_id`` takes)."""
        with self._lock:
            n = next(self._owner_ids)
            owner = Owner(
                id=str(n),
                email=email.strip().lower(),
                first_name=first_name,
                last_name=last_name,
                user_id=7_000_000 + n,
                archived=archived,
            )
            self._owners[owner.id] = owner
            return owner

    def archive_owner(self, owner_id: str) -> None:
        """The user was deactivated: no longer listed (its contacts keep the id)."""
        with self._lock:
            owner = self._owners[owner_id]
            self._owners[owner_id] = Owner(
                owner.id, owner.email, owner.first_name, owner.last_name, None, archived=True
            )

    def owner_id(self, email: str) -> str:
        """The owner id of the user with this email."""
        with self._lock:
            return next(o.id for o in self._owners.values() if o.email == email.strip().lower())

    def owner_email(self, owner_id: str | None) -> str | None:
        """The email of the owner with this id (None: no such owner, or no id)."""
        with self._lock:
            owner = self._owners.get(owner_id or "")
            return owner.email if owner else None

    def create_contacts(self, items: Iterable[Mapping[str, str]]) -> list[str]:
        """Contacts created by a form or a person; each emits a ``contact.creation`` event."""
        created = []
        with self._lock:
            taken = {(p.get("email") or "").lower() for p in self._contacts.values()}
            for props in items:
                email = (props.get("email") or "").strip().lower()
                if email and email in taken:
                    raise ValueError(f"HubSpot keeps one contact per email: {email} exists")
                taken.add(email)
                cid = str(next(self._ids))
                self._contacts[cid] = {k: (str(v) if v != "" else None) for k, v in props.items()}
                self._emit(cid, "creation", source="FORM")
                created.append(cid)
        return created

    def create_contact(self, **properties: str) -> str:
        [cid] = self.create_contacts([properties])
        return cid

    def set_property(self, contact_id: str, name: str, value: str | None) -> None:
        """A person changes a property in HubSpot's UI; a subscribed property emits a
        ``contact.propertyChange`` event (``changeSource: CRM_UI``)."""
        with self._lock:
            self._contacts[contact_id][name] = value or None
            self._emit(contact_id, "propertyChange", name, value or "", source="CRM_UI")

    def delete_contact(self, contact_id: str) -> None:
        """Deleted (or merged away): reads report it missing, writes fail OBJECT_NOT_FOUND."""
        with self._lock:
            del self._contacts[contact_id]

    def contact(self, contact_id: str) -> dict[str, str | None]:
        """A copy of the contact's properties, read without an API call."""
        with self._lock:
            return dict(self._contacts[contact_id])

    def owner_of(self, contact_id: str) -> str | None:
        """The contact's ``hubspot_owner_id`` (None while unowned)."""
        with self._lock:
            return self._contacts[contact_id].get(OWNER_PROPERTY)

    def applied_updates(self, contact_id: str | None = None) -> list[ContactUpdate]:
        """The updates HubSpot applied through the API, oldest first (of one contact, or all)."""
        with self._lock:
            return [u for u in self._applied if contact_id is None or u.id == contact_id]

    def fail(self, operation: str, error: CrmError, times: int = 1) -> None:
        """The next ``times`` calls of ``operation`` raise ``error`` (a copy each time, its
        ``crm`` set as the real client sets it), before taking any effect."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}: one of {', '.join(OPERATIONS)}")
        with self._lock:
            self._faults[operation].extend(copy.copy(error) for _ in range(times))

    def calls(self, operation: str) -> int:
        """API calls made by ``operation`` so far (one per batch of 100, failed ones too)."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}: one of {', '.join(OPERATIONS)}")
        with self._lock:
            return self._calls[operation]

    def take_events(self) -> list[dict[str, Any]]:
        """The webhook events HubSpot would have sent since the last call, oldest first."""
        with self._lock:
            events, self._events = self._events, []
            return events

    # -- inside -----------------------------------------------------------------------------

    def _call(self, operation: str, items: int = 1) -> None:
        """Count the API calls (batches of 100) and raise an armed fault (lock held)."""
        self._calls[operation] += max(1, -(-items // BATCH_LIMIT))
        faults = self._faults[operation]
        if faults:
            error = faults.pop(0)
            if error.crm is None:
                error.crm = Crm.HUBSPOT
            raise error

    def _contact(self, cid: str, properties: Sequence[str]) -> Contact:
        props = self._contacts[cid]
        values: dict[str, str | None] = {p: props.get(p) or None for p in properties}
        values["hs_object_id"] = cid
        return Contact(id=cid, properties=values)

    def _refusal(self, update: ContactUpdate) -> UpdateFailure | None:
        """Why HubSpot refuses this update, as the client reports it (None: accepted)."""
        if update.id not in self._contacts:
            return UpdateFailure(update.id, NOT_FOUND_MESSAGE, "OBJECT_NOT_FOUND")
        problems = []
        for name, value in update.properties.items():
            spec = self._properties.get(name)
            if spec is None:
                problems.append(
                    _invalid(name, f'Property "{name}" does not exist', "PROPERTY_DOESNT_EXIST")
                )
            elif name == OWNER_PROPERTY and value and value not in self._owners:
                problems.append(
                    _invalid(name, f"{value} was not a valid owner ID", "INVALID_OWNER_ID")
                )
            elif spec.type == "enumeration" and spec.options and value not in ("", *spec.options):
                problems.append(
                    _invalid(name, f"{value} was not one of the allowed options", "INVALID_OPTION")
                )
        if not problems:
            return None
        detail = f"Property values were not valid: {json.dumps(problems)}"
        error: CrmError
        if any(p["error"] == "INVALID_OWNER_ID" for p in problems):
            # As classify(): a rep's owner id is wrong, an admin must fix the mapping or user.
            error = AdminActionRequired(detail, status=400, category="INVALID_OWNER_ID")
        else:
            error = IntegrationBug(detail, status=400, category="VALIDATION_ERROR")
        return UpdateFailure(update.id, str(error), error.category)

    def _apply(self, update: ContactUpdate) -> None:
        contact = self._contacts[update.id]
        for name, value in update.properties.items():
            if (contact.get(name) or "") != value:
                self._emit(update.id, "propertyChange", name, value, source="INTEGRATION")
            contact[name] = value or None
        self._applied.append(update)

    def _emit(
        self,
        cid: str,
        kind: str,
        prop: str | None = None,
        value: str | None = None,
        *,
        source: str,
    ) -> None:
        """Record the webhook event HubSpot would send (lock held)."""
        if kind == "propertyChange" and prop not in self._subscribed:
            return
        from connectors.sandbox.hubspot import contact_event

        event = contact_event(
            next(self._event_ids), self.portal_id, self.app_id, cid, kind, source, prop, value
        )
        self._events.append(event)


if TYPE_CHECKING:
    _conforms: HubSpotPort = InMemoryHubSpot()

__all__ = ["OPERATIONS", "InMemoryHubSpot"]
