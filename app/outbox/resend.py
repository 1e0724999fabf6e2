"""Whether a write sent again (retry, replay, a worker that died mid-send, a write that waited
out a pause) still goes out: a pure judgment on what the CRM shows now.

A write is never settled unless the CRM confirmed it or it was explicitly superseded:

- the CRM already shows our owner: *confirmed* (an earlier attempt got through before its
  worker died or its answer was lost); settled as written, not sent twice;
- the record still has the owner it had when we decided: *send* (in Salesforce every record
  has one: its creator, the integration user, a queue; an owner sync replaces a rep on purpose);
- a rep of the team (``team.yaml``) other than ours owns the record: *superseded*, a person
  reassigned it;
- the owner is no longer the one the record had when we decided: *superseded*, a change
  was recorded after our decision (a person, a workflow or an assignment rule moved it);
- otherwise *send*: an owner outside the team on a write that did not record the owner
  before it (we know nothing newer about it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum


class Resend(StrEnum):
    SEND = "send"
    CONFIRMED = "confirmed"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Verdict:
    action: Resend
    reason: str = ""
    rep: str | None = None  # superseded by this rep of the team


def judge(
    *,
    crm: str,
    ours: str,
    our_rep: str | None,
    before: str | None,
    before_known: bool,
    current: str | None,
    found: bool,
    rep_of: Callable[[str], str | None],
    team: Collection[str],
) -> Verdict:
    """``ours``: the owner id we write; ``before``: the owner the record had when we decided
    (``before_known`` False for writes that did not record it); ``current``: the owner the
    CRM shows now; ``rep_of``: owner id -> rep email in that CRM."""
    if not found:
        # Let the write itself meet the CRM's answer (not found: dead-lettered with its words).
        return Verdict(Resend.SEND)
    if current == ours:
        return Verdict(Resend.CONFIRMED, f"{crm} already shows the owner we decided")
    if before_known and current == before:
        # Nobody touched it since we decided, even when that owner is a rep of the team: an
        # owner sync or a linked record's write replaces one rep with another on purpose.
        return Verdict(Resend.SEND)
    rep = rep_of(current) if current else None
    if rep is not None and rep in team and rep != our_rep:
        return Verdict(
            Resend.SUPERSEDED,
            f"reassigned in {crm} to {rep} (a rep of the team) after our decision",
            rep,
        )
    if before_known and current != before:
        who = rep or current or "no owner"
        return Verdict(
            Resend.SUPERSEDED,
            f"the {crm} owner changed after our decision (from {before or 'no owner'} to {who})",
        )
    return Verdict(Resend.SEND)
