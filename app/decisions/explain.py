"""A decision told in sentences, for admins and reps: rendered at the edge from the data the
decision stores (its rule, its details), never stored as prose."""

from __future__ import annotations

from typing import Any

from app.decisions.models import Decision


def explain(decision: Decision) -> list[str]:
    """What was decided, why, and what became of each CRM write (written, or superseded and by
    what), one line each."""
    d: dict[str, Any] = decision.details or {}
    who = decision.owner_email or decision.owner_crm_id or "nobody"
    at = f"{decision.decided_at:%Y-%m-%d %H:%M:%S}"
    lines = [
        f"{decision.record_key}: {decision.outcome} to {who} at {at} UTC "
        f"(mappings {decision.mappings_version})",
        f"why: {decision.rule}",
    ]
    lines.extend(_pick(decision.explanation or {}))
    if decision.score is not None:
        lines.append(f"score: {decision.score}")
    link = d.get("link")
    if link:
        note = f" ({link['note']})" if link.get("note") else ""
        lines.append(f"same person in the other CRM, linked by {link.get('method')}{note}")
    writes: dict[str, str] = d.get("writes") or {}
    superseded = {s["record"]: s for s in d.get("superseded", [])}
    for record, owner_id in writes.items():
        if record in superseded:
            why = superseded[record]["reason"]
            lines.append(f"{record}: owner {owner_id} not written, superseded: {why}")
        elif decision.written_at is not None:
            lines.append(f"{record}: owner {owner_id} written, confirmed by the CRM")
        else:
            lines.append(f"{record}: owner {owner_id} waiting to be written")
    for record, note in superseded.items():
        if record not in writes:  # an owner-sync write, recorded only in the outbox
            lines.append(f"{record}: not written, superseded: {note['reason']}")
    lines.extend(f"not written: {gap}" for gap in d.get("not_written", []))
    if decision.written_at is not None:
        lines.append(f"written at {decision.written_at:%Y-%m-%d %H:%M:%S} UTC")
    return lines


def _pick(why: dict[str, Any]) -> list[str]:
    """Who could have had the lead, and why the others could not (round robin, fallback)."""
    if "candidates" not in why:
        return []
    counts = why.get("counts") or {}
    shown = [f"{c} ({counts[c]} leads)" if c in counts else c for c in why["candidates"]]
    lines = [f"candidates: {', '.join(shown) or 'none'}"]
    lines.extend(f"skipped {rep}: {reason}" for rep, reason in (why.get("skipped") or {}).items())
    return lines
