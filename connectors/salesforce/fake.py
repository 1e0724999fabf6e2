"""An in-memory Salesforce org behind the Salesforce port, for fast service-level tests.

``InMemorySalesforce`` implements ``SalesforcePort`` with the semantics the real client gives
the code above it (see ``client.py`` and ``BEHAVIOR.md``): 18-character ids (15 accepted);
Leads and Contacts; users, active or not (only active ones are listed); queues; ids that do
not exist are absent from a read; ``find_by_email`` leaves converted Leads out and returns the
oldest first; a collection update reports per-record failures as Salesforce does (inactive
owner, unknown owner, converted Lead, deleted record, unknown field), in the client's words.
Calls are counted per operation, one per collection of 200 as HTTP calls would be, and the
next calls of an operation can be made to raise a given ``CrmError``. No HTTP; thread-safe.

Like an org's outbound rule, the fake records the notifications it would send
(``take_notifications``, in the Flow callout's shape): a record created or changed by a person,
and, with ``notify_api_updates``, the echo of our own writes.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.crm import SALESFORCE_OBJECTS, Crm
from connectors.errors import AdminActionRequired, CrmError, IntegrationBug, check_deadline
from connectors.results import UpdateFailure, UpdateResult
from connectors.salesforce.port import (
    COLLECTION_LIMIT,
    OWNER_FIELD,
    QUERY_IDS_PER_CALL,
    RecordUpdate,
    SfField,
    SfQueue,
    SfRecord,
    SfUser,
)
from connectors.salesforce_ids import to18

if TYPE_CHECKING:
    from connectors.salesforce.port import SalesforcePort

# The port's operations, the names ``fail`` and ``calls`` take. ``update_records`` is the
# collection update, whichever port method sends it.
OPERATIONS = (
    "read_records",
    "find_by_email",
    "list_users",
    "describe",
    "list_queues",
    "update_records",
)
PREFIX = {"Lead": "00Q", "Contact": "003", "User": "005", "Group": "00G"}
DAILY_ALLOCATION = 100_000
# Fields of a notification when the test does not choose (an outbound rule's usual choice).
NOTIFIED_FIELDS = ("Id", "Email", "FirstName", "LastName", "Company", OWNER_FIELD)
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _id18(value: str) -> str:
    """The 18-character form of an id; anything that is not an id is kept as it is (it
    then matches no record, as Salesforce finds none)."""
    return to18(value) if len(value) in (15, 18) and value.isalnum() else value


def _default_describe() -> dict[str, list[SfField]]:
    # The sandbox's org: one list of fields for both stand-ins of Salesforce.
    from connectors.sandbox.salesforce import DEFAULT_DESCRIBE

    return {
        sobject: [
            SfField(name, str(spec["type"]), tuple(str(v) for v in spec["picklist"]))
            for name, spec in fields.items()
        ]
        for sobject, fields in DEFAULT_DESCRIBE.items()
    }


class InMemorySalesforce:
    """A Salesforce org in memory, behind ``SalesforcePort``, with helpers for tests."""

    name = Crm.SALESFORCE.value

    def __init__(
        self,
        *,
        describe: Mapping[str, Iterable[SfField]] | None = None,
        integration_user_email: str = "integration@relais.example",
        notify_api_updates: bool = False,
        notified_fields: Sequence[str] = NOTIFIED_FIELDS,
    ) -> None:
        self.closed = False
        self.notify_api_updates = notify_api_updates
        self.notified_fields = tuple(notified_fields)
        self._lock = threading.Lock()
        self._describe = {
            sobject: list(fields) for sobject, fields in (describe or _default_describe()).items()
        }
        self._records: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in SALESFORCE_OBJECTS}
        self._users: dict[str, dict[str, Any]] = {}
        self._queues: dict[str, SfQueue] = {}
        self._calls: Counter[str] = Counter()
        self._faults: dict[str, list[CrmError]] = {op: [] for op in OPERATIONS}
        self._applied: list[RecordUpdate] = []
        self._notifications: list[dict[str, Any]] = []
        self._api_used = 0
        self._seq = itertools.count(1)
        self._event_ids = itertools.count(1)
        # Web-to-lead, imports and the API create records owned by this admin, not a rep.
        self.integration_user = self.add_user(integration_user_email, "Integration", "User")

    # -- the port ---------------------------------------------------------------------------

    def read_records(
        self, sobject: str, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, SfRecord]:
        wanted = list(dict.fromkeys(to18(i) for i in ids))
        with self._lock:
            self._call("read_records", len(wanted), QUERY_IDS_PER_CALL)
            names = self._columns(sobject, ["Id", *fields])
            table = self._records.get(sobject, {})
            return {i: self._record(sobject, table[i], names) for i in wanted if i in table}

    def find_by_email(
        self, sobject: str, emails: Sequence[str], fields: Sequence[str]
    ) -> list[SfRecord]:
        unique = list(dict.fromkeys(e.lower() for e in emails if e))
        with self._lock:
            self._call("find_by_email", len(unique), QUERY_IDS_PER_CALL)
            names = self._columns(sobject, ["Id", "Email", "CreatedDate", *fields])
            rows = [
                row
                for row in self._records.get(sobject, {}).values()
                if str(row.get("Email") or "").lower() in unique
                and not (sobject == "Lead" and row.get("IsConverted"))
            ]
            rows.sort(key=lambda row: (str(row["CreatedDate"]), str(row["Id"])))
            return [self._record(sobject, row, names) for row in rows]

    def list_users(self) -> list[SfUser]:
        with self._lock:
            self._call("list_users")
            return [
                SfUser(uid, str(u["Email"]).lower(), True)
                for uid, u in self._users.items()
                if u["IsActive"] and u.get("Email")
            ]

    def describe(self, sobject: str) -> list[SfField]:
        with self._lock:
            self._call("describe")
            if sobject not in self._describe:
                # As classify() reads Salesforce's 404 for an object the org does not have.
                raise IntegrationBug(
                    "NOT_FOUND: The requested resource does not exist",
                    status=404,
                    category="NOT_FOUND",
                    crm=Crm.SALESFORCE,
                )
            return list(self._describe[sobject])

    def list_queues(self) -> list[SfQueue]:
        with self._lock:
            self._call("list_queues")
            return list(self._queues.values())

    def update_records(
        self, updates: Sequence[RecordUpdate], *, deadline: float | None = None
    ) -> UpdateResult:
        """Collections of 200 (``allOrNone`` false, ``Sforce-Auto-Assign: FALSE``): every
        record succeeds or fails alone."""
        # An in-memory call takes no time: it only refuses to start past the deadline.
        check_deadline(deadline, 0.0)
        with self._lock:
            self._call("update_records", len(updates), COLLECTION_LIMIT)
            result = UpdateResult()
            for update in updates:
                failure = self._update_one(update)
                if failure is None:
                    result.updated.append(update.id)
                else:
                    result.failed.append(failure)
            return result

    @property
    def api_usage(self) -> tuple[int, int] | None:
        with self._lock:
            return (self._api_used, DAILY_ALLOCATION) if self._api_used else None

    def close(self) -> None:
        self.closed = True

    # -- helpers for tests ------------------------------------------------------------------

    def add_user(
        self, email: str, first_name: str = "", last_name: str = "", *, active: bool = True
    ) -> str:
        """A user (who can own records when active); returns its 18-character id."""
        with self._lock:
            uid = self._new_id("User")
            self._users[uid] = {
                "Id": uid,
                "Email": email.strip().lower(),
                "FirstName": first_name,
                "LastName": last_name,
                "IsActive": active,
            }
            return uid

    def set_user_active(self, user_id: str, active: bool) -> None:
        with self._lock:
            self._users[to18(user_id)]["IsActive"] = active

    def user_id(self, email: str) -> str:
        """The id of the user with this email."""
        with self._lock:
            wanted = email.strip().lower()
            return next(uid for uid, u in self._users.items() if u["Email"] == wanted)

    def user_email(self, user_id: str | None) -> str | None:
        """The email of the user with this id (None: no such user, a queue, or no id)."""
        with self._lock:
            user = self._users.get(to18(user_id)) if user_id else None
            return str(user["Email"]) if user else None

    def add_queue(self, name: str) -> str:
        """A queue (it can own Leads); returns its 18-character id."""
        with self._lock:
            gid = self._new_id("Group")
            self._queues[gid] = SfQueue(gid, name, name.replace(" ", "_"))
            return gid

    def create_records(self, sobject: str, items: Iterable[Mapping[str, Any]]) -> list[str]:
        """Records created by a person or a form (owned by the integration user unless
        ``OwnerId`` is given); each emits a ``created`` notification."""
        created: list[str] = []
        with self._lock:
            for fields in items:
                rid = self._new_id(sobject)
                n = len(self._records[sobject]) + len(created)
                row = {
                    "Id": rid,
                    OWNER_FIELD: self.integration_user,
                    # one second apart, in creation order: find_by_email's "oldest first"
                    "CreatedDate": (_EPOCH + timedelta(seconds=n)).isoformat(),
                    **({"IsConverted": False} if sobject == "Lead" else {}),
                    **fields,
                }
                if row.get(OWNER_FIELD):
                    row[OWNER_FIELD] = to18(str(row[OWNER_FIELD]))
                self._records[sobject][rid] = row
                self._notify(sobject, row, "created")
                created.append(rid)
        return created

    def create_record(self, sobject: str, **fields: Any) -> str:
        [rid] = self.create_records(sobject, [fields])
        return rid

    def change_record(self, sobject: str, record_id: str, fields: Mapping[str, Any]) -> None:
        """A person edits the record (a manager reassigns it, ...): a notification follows."""
        with self._lock:
            row = self._records[sobject][to18(record_id)]
            row.update(fields)
            if row.get(OWNER_FIELD):
                row[OWNER_FIELD] = to18(str(row[OWNER_FIELD]))
            self._notify(sobject, row, "updated")

    def convert_lead(self, lead_id: str) -> None:
        """The Lead was converted: it can no longer be updated (and is no longer matched)."""
        with self._lock:
            self._records["Lead"][to18(lead_id)]["IsConverted"] = True

    def delete_record(self, sobject: str, record_id: str) -> None:
        """Deleted (or merged away): absent from reads, ENTITY_IS_DELETED on a write."""
        with self._lock:
            del self._records[sobject][to18(record_id)]

    def record(self, sobject: str, record_id: str) -> dict[str, Any]:
        """A copy of the record's fields, read without an API call."""
        with self._lock:
            return dict(self._records[sobject][to18(record_id)])

    def owner_of(self, sobject: str, record_id: str) -> str | None:
        """The record's ``OwnerId``."""
        with self._lock:
            owner = self._records[sobject][to18(record_id)].get(OWNER_FIELD)
            return str(owner) if owner else None

    def applied_updates(self, record_id: str | None = None) -> list[dict[str, Any]]:
        """The field changes Salesforce applied through the API, oldest first (of one
        record, or all), each as ``{"Id", "sobject", **fields}``."""
        with self._lock:
            wanted = to18(record_id) if record_id else None
            return [
                {"Id": u.id, "sobject": u.sobject, **u.fields}
                for u in self._applied
                if wanted is None or u.id == wanted
            ]

    def fail(self, operation: str, error: CrmError, times: int = 1) -> None:
        """The next ``times`` calls of ``operation`` raise ``error`` (a copy each time, its
        ``crm`` set as the real client sets it), before taking any effect."""
        self._check(operation)
        with self._lock:
            self._faults[operation].extend(copy.copy(error) for _ in range(times))

    def calls(self, operation: str) -> int:
        """API calls made by ``operation`` so far (one per query of 200 ids or collection of
        200 records, failed ones too)."""
        self._check(operation)
        with self._lock:
            return self._calls[operation]

    def take_notifications(self) -> list[dict[str, Any]]:
        """The notifications the org's outbound rule would have sent since the last call, in
        the Flow callout's shape (``eventId``, ``object``, ``recordId``, ``changeType``,
        ``occurredAt``, ``fields``), oldest first."""
        with self._lock:
            sent, self._notifications = self._notifications, []
            return sent

    # -- inside -----------------------------------------------------------------------------

    @staticmethod
    def _check(operation: str) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}: one of {', '.join(OPERATIONS)}")

    def _call(self, operation: str, items: int = 1, per_call: int = 1) -> None:
        """Count the API calls and raise an armed fault (lock held)."""
        n = max(1, -(-items // per_call))
        self._calls[operation] += n
        self._api_used += n
        faults = self._faults[operation]
        if faults:
            error = faults.pop(0)
            if error.crm is None:
                error.crm = Crm.SALESFORCE
            raise error

    def _new_id(self, sobject: str) -> str:
        return to18(f"{PREFIX[sobject]}Fake{next(self._seq):08d}")

    def _field_names(self, sobject: str) -> dict[str, str]:
        """lower-cased name -> the name as the org spells it."""
        return {f.name.lower(): f.name for f in self._describe.get(sobject, [])}

    def _columns(self, sobject: str, fields: Sequence[str]) -> list[str]:
        """The columns of a query, as the org spells them; an unknown one fails the query."""
        known = self._field_names(sobject)
        if sobject not in self._records or not known:
            raise IntegrationBug(
                f"INVALID_TYPE: sObject type '{sobject}' is not supported.",
                status=400,
                category="INVALID_TYPE",
                crm=Crm.SALESFORCE,
            )
        unknown = [f for f in fields if f.lower() not in known]
        if unknown:
            # As classify() reads a query naming a column the org does not have.
            raise AdminActionRequired(
                f"INVALID_FIELD: No such column '{unknown[0]}' on entity '{sobject}'",
                status=400,
                category="INVALID_FIELD",
                crm=Crm.SALESFORCE,
            )
        return list(dict.fromkeys(known[f.lower()] for f in fields))

    @staticmethod
    def _record(sobject: str, row: Mapping[str, Any], names: Sequence[str]) -> SfRecord:
        return SfRecord(id=str(row["Id"]), sobject=sobject, fields={n: row.get(n) for n in names})

    def _update_one(self, update: RecordUpdate) -> UpdateFailure | None:
        """Apply one record of a collection, or say why Salesforce refused it (lock held)."""
        sobject, rid = update.sobject, update.id
        row = self._records.get(sobject, {}).get(_id18(rid))

        def refused(code: str, message: str, fields: Sequence[str] = ()) -> UpdateFailure:
            # The client's words: code, object, id, fields and Salesforce's message.
            named = ", ".join(fields) or "(no field)"
            return UpdateFailure(rid, f"{code} on {sobject} {rid}, field {named}: {message}", code)

        if row is None:
            return refused("ENTITY_IS_DELETED", "entity is deleted")
        if sobject == "Lead" and row.get("IsConverted"):
            return refused("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
        known = self._field_names(sobject)
        changes: dict[str, Any] = {}
        for name, value in update.fields.items():
            if name.lower() not in known:
                return refused(
                    "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", [name]
                )
            changes[known[name.lower()]] = value
        if changes.get(OWNER_FIELD) is not None:
            owner = changes[OWNER_FIELD] = _id18(str(changes[OWNER_FIELD]))
            user = self._users.get(owner)
            if user is None and owner not in self._queues:
                return refused(
                    "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [OWNER_FIELD]
                )
            if user is not None and not user["IsActive"]:
                return refused(
                    "INACTIVE_OWNER_OR_USER",
                    "operation performed with inactive user as owner",
                    [OWNER_FIELD],
                )
        row.update(changes)
        self._applied.append(RecordUpdate(str(row["Id"]), sobject, dict(changes)))
        if self.notify_api_updates:
            self._notify(sobject, row, "updated")
        return None

    def _notify(self, sobject: str, row: Mapping[str, Any], change: str) -> None:
        """Record the notification the org's outbound rule would send (lock held)."""
        n = next(self._event_ids)
        self._notifications.append(
            {
                "eventId": f"fake-{n}",
                "object": sobject,
                "recordId": str(row["Id"]),
                "changeType": change,
                "occurredAt": (_EPOCH + timedelta(seconds=n)).isoformat(),
                "fields": {f: row.get(f) for f in self.notified_fields},
            }
        )


if TYPE_CHECKING:
    _conforms: SalesforcePort = InMemorySalesforce()

__all__ = ["OPERATIONS", "InMemorySalesforce"]
