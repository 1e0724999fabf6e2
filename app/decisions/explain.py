"""A decision told in sentences, for admins and reps: rendered at the edge from the data the
decision stores (its rule, its details), never stored as prose."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from app.decisions.models import Decision

Why = Mapping[str, Any]  # the assign stage's explanation (app/routing/assign.py)


def _round_robin(why: Why) -> str:
    count = why["counts"][why["rep"]]
    return (
        f"round robin in pool {why['pool']}: {why['rep']} had the fewest leads ({count}) "
        f"among {len(why['candidates'])} reps available in {', '.join(why['crms'])}"
    )


def _weighted(why: Why) -> str:
    rep = why["rep"]
    standing = why.get("pick", {}).get("standings", {}).get(rep, {})
    total = why.get("pick", {}).get("pool_leads", 0)
    share = standing.get("share")
    shown = f", share {share:.0%}" if isinstance(share, int | float) else ""
    return (
        f"weighted rotation in pool {why['pool']}: {rep} was next due by its share "
        f"({standing.get('count', 0)} of {total} leads{shown}) among "
        f"{len(why['candidates'])} reps available"
    )


def _unavailable(why: Why) -> str:
    skipped = why.get("skipped") or {}
    reasons = sorted(set(skipped.values()))
    return f"nobody of pool {why['pool']} can take it now ({'; '.join(reasons) or 'no member'})"


def _fallback_away(why: Why) -> str:
    away = why.get("fallback_unavailable") or {}
    return "".join(f", nor can the fallback {rep} ({r})" for rep, r in away.items())


# One sentence per rule of the assign stage, for the decision's ``rule`` and the CLI.
SENTENCES: dict[str, Callable[[Why], str]] = {
    "linked": lambda why: (
        f"same person as {why['other']} (linked by {why['method']}), already assigned "
        f"to {why['rep']}"
    ),
    "kept_linked_owner": lambda why: (
        f"the linked {why['crm']} record is already owned by {why['rep']}"
    ),
    "kept_owner": lambda why: (
        f"the {why['crm']} record already has an owner ({why['rep'] or why['owner_id']})"
    ),
    "round_robin": _round_robin,
    "weighted": _weighted,
    "least_loaded": lambda why: (
        f"least loaded in pool {why['pool']}: {why['rep']} had the fewest open leads for its "
        f"capacity among {len(why['candidates'])} reps available"
    ),
    "fallback": lambda why: f"{_unavailable(why)}: fallback owner",
    "hold": lambda why: (
        f"{_unavailable(why)}{_fallback_away(why)}: held until "
        f"{why.get('held_until') or 'a rep is resumed or the mappings change'}"
    ),
}


# The sentences a routing rule led to (the others: a linked record, an owner kept).
FROM_A_RULE = {"round_robin", "weighted", "least_loaded", "fallback", "hold"}


def describe(why: Why) -> str:
    """The assign stage's explanation in one sentence, after the routing rule that chose the
    pool when there is one."""
    rule = why.get("routing_rule")
    if rule and rule.get("target") == "rep" and why["rule"] != "hold":
        return f"rule {rule['name']!r} names {why['rep']}"
    sentence = SENTENCES[why["rule"]](why)
    return f"rule {rule['name']!r}: {sentence}" if rule and why["rule"] in FROM_A_RULE else sentence


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
    lines.extend(_gaps(decision.lead or {}))
    if decision.score is not None:
        lines.append(f"score: {decision.score}{_grade(d)}")
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
    when = " before the pick" if counts else ""
    lines = [f"candidates{when}: {', '.join(shown) or 'none'}"]
    lines.extend(f"skipped {rep}: {reason}" for rep, reason in (why.get("skipped") or {}).items())
    return lines


def _grade(details: dict[str, Any]) -> str:
    """'(warm, grade B, engagement 2, sales-ready)' from what the evaluate stage recorded
    (older decisions: less, or nothing)."""
    if "sales_ready" not in details:
        return ""
    parts = [details["temperature"]] if details.get("temperature") else []
    if details.get("grade"):
        parts.append(f"grade {details['grade']}")
    if details.get("level"):
        parts.append(f"engagement {details['level']}")
    ready = "sales-ready" if details["sales_ready"] else "not sales-ready"
    if details.get("revealing"):
        ready += f" ({details['revealing']})"
    return f" ({', '.join([*parts, ready])})"


def _gaps(lead: dict[str, Any]) -> list[str]:
    """What enrichment could not find for each record (a provider down or too slow): the
    decision was made on what was known."""
    lines = []
    for side in ("record", "other"):
        fields = (lead.get(side) or {}).get("fields") or {}
        if fields.get("enrichment_gaps"):
            why = fields.get("enrichment_gap_reasons") or fields["enrichment_gaps"]
            lines.append(f"{lead[side]['key']}: decided without enrichment from {why}")
    return lines


LINE_CHARS = 255  # a Salesforce text field's default length


def yours_because(why: Why, score: int, lines: list[tuple[str, int]]) -> str:
    """The line a rep reads on the record: 'Yours because: Construction firms -> pool West;
    weighted rotation (you: 12 of 40, share 30%); score 215 (HR director +60, ...)'."""
    rule = why.get("routing_rule") or {}
    parts = [f"{rule['name']} -> pool {why['pool']}" if rule else f"pool {why['pool']}"]
    rep = why.get("rep")
    standing = why.get("pick", {}).get("standings", {}).get(rep, {})
    total = why.get("pick", {}).get("pool_leads", 0) + 1
    mine = standing.get("count", 0) + 1
    if why["rule"] == "weighted":
        parts.append(f"weighted rotation (you: {mine} of {total}, share {standing['share']:.0%})")
    elif why["rule"] == "round_robin":
        parts.append(f"round robin (you: {mine} of {total})")
    elif why["rule"] == "fallback":
        parts.append("fallback: nobody of the pool could take it")
    top = ", ".join(f"{name} {points:+d}" for name, points in lines[:3])
    parts.append(f"score {score} ({top})" if top else f"score {score}")
    line = "Yours because: " + "; ".join(parts)
    return line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1] + "…"
