"""Scoring throughput on one core: the evaluate stage (typed conditions, groups, decay, caps)
on many leads, with a 40-rule model against the shipped model as the baseline, same run.

    .venv/bin/python -m bench.scoring [--leads 100000] [--repeats 3]

The leads are canonical fields drawn at random (titles, sizes, industries, countries, activity
dates, counters, booleans, emails). The time covers ``score`` only: no I/O, no database. Both
models go through the same engine, alternating; the shipped one is read with the shipped
mappings' field types, as the pipeline does. The engine compiles a model on its first lead
(``app/scoring/compiled.py``): that once-per-model cost is inside the first run's time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.mappings.fields import BUILTIN_TYPES, FieldType
from app.mappings.loader import load_mappings
from app.mappings.schemas import Scoring
from app.scoring.engine import Lead, score

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TYPES: dict[str, FieldType] = BUILTIN_TYPES | {
    "pricing_page_views": "number",
    "form_submissions": "number",
    "email_clicks": "number",
    "quote_requested": "boolean",
    "unsubscribed": "boolean",
    "email_free": "boolean",
    "products": "list",
}
TITLES = ["DRH", "Responsable RH", "Gestionnaire de paie", "Stagiaire RH", "CEO", "Comptable",
          "Directrice administrative et financière", "Office manager", "Étudiant"]  # fmt: skip
INDUSTRIES = ["construction", "manufacturing", "retail", "services", "building_materials"]


def forty_rules() -> Scoring:
    """A model of 40 rules using every kind of condition the engine has."""
    fit: list[dict[str, Any]] = [
        {"name": f"title has {w}", "field": "title", "op": "contains", "value": w, "points": 10}
        for w in ("rh", "paie", "drh", "directeur", "directrice", "responsable", "manager")
    ]
    fit += [
        {"name": "HR title", "field": "title", "op": "matches", "value": r"^(drh|resp\w* rh)",
         "points": 30},
        {"name": "size band", "field": "company_size", "op": "between", "value": [30, 500],
         "points": 40},
        {"name": "target industry", "field": "industry", "op": "in", "value": INDUSTRIES[:2],
         "points": 30},
        {"name": "France", "field": "country", "op": "in", "value": ["France", "FR"], "points": 20},
        {"name": "revenue", "field": "revenue", "op": "gte", "value": 1_000_000, "points": 10},
        {"name": "phone given", "field": "phone", "op": "exists", "points": 5},
        {"name": "payroll product", "field": "products", "op": "contains", "value": "paie",
         "points": 15},
        {"name": "HR in France", "all": [{"field": "title", "op": "contains", "value": "rh"},
         {"field": "country", "op": "eq", "value": "France"}], "points": 10},
    ]  # fmt: skip
    fit += [
        {"name": f"size over {n}", "field": "company_size", "op": "gt", "value": n, "points": 2}
        for n in (10, 50, 100, 200, 300, 400, 500, 1000, 2000)
    ]
    engagement: list[dict[str, Any]] = [
        {"name": "pricing page", "per": "pricing_page_views", "points": 15, "max": 45},
        {"name": "forms", "per": "form_submissions", "points": 20, "max": 40},
        {"name": "clicks", "per": "email_clicks", "points": 2, "max": 20},
    ]
    engagement += [
        {"name": f"clicked {n}+", "field": "email_clicks", "op": "gte", "value": n, "points": 1}
        for n in range(1, 9)
    ]
    negative: list[dict[str, Any]] = [
        {"name": "intern", "field": "title", "op": "matches", "value": "stagiaire|étudiant",
         "points": -50},
        {"name": "unsubscribed", "field": "unsubscribed", "op": "eq", "value": True,
         "points": -40},
        {"name": "free mail", "any": [{"field": "email_free", "op": "eq", "value": True},
         {"not": {"field": "email", "op": "exists"}}], "points": -20},
        {"name": "not a target", "field": "industry", "op": "not_in", "value": INDUSTRIES[:2],
         "points": -10},
        {"name": "tiny company", "field": "company_size", "op": "lt", "value": 5, "points": -10},
    ]  # fmt: skip
    model = Scoring.model_validate(
        {
            "threshold": 150,
            "bands": {"hot": 215, "warm": 140, "cold": 30},
            "grades": {"A": 120, "B": 80, "C": 40},
            "levels": {"3": 60, "2": 20},
            "decay": {"field": "last_activity", "points_per_month": -5, "floor": -30},
            "caps": {"engagement": 90, "negative": 100},
            "max_total": 300,
            "revealing": [{"name": "quote", "field": "quote_requested", "op": "eq", "value": True}],
            "fit": fit,
            "engagement": engagement,
            "negative": negative,
        }
    )
    rules = len(model.fit or []) + len(model.engagement or []) + len(model.negative or [])
    assert rules == 40, rules
    return model


def leads(n: int, seed: int = 7) -> list[Lead]:
    rng = random.Random(seed)
    out: list[Lead] = []
    for i in range(n):
        seen = NOW - timedelta(days=rng.randint(0, 400))
        out.append(
            {
                "email": f"p{i}@{rng.choice(['betonsud.fr', 'gmail.com', 'acme.fr'])}",
                "title": rng.choice(TITLES),
                "company_size": str(rng.choice([3, 12, 45, 120, 250, 800, 1500])),
                "industry": rng.choice(INDUSTRIES),
                "country": rng.choice(["France", "FR", "Belgique", None]),
                "revenue": str(rng.randint(0, 5_000_000)),
                "phone": rng.choice(["+33 1 02 03 04 05", None]),
                "last_activity": seen.isoformat(),
                "pricing_page_views": str(rng.randint(0, 6)),
                "form_submissions": str(rng.randint(0, 3)),
                "email_clicks": str(rng.randint(0, 12)),
                "quote_requested": rng.choice(["true", "false", "false", "false"]),
                "unsubscribed": rng.choice(["false", "false", "true"]),
                "email_free": rng.choice(["true", "false"]),
                "products": rng.choice(["Paie;Temps", "Temps", "", "Notes de frais;Paie"]),
            }
        )
    return out


def run(model: Scoring, batch: list[Lead], types: Mapping[str, FieldType]) -> float:
    started = time.perf_counter()
    for lead in batch:
        score(lead, model, types, NOW)
    return len(batch) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    batch = leads(args.leads)
    mappings = load_mappings(ROOT / "mappings")
    shipped, types = mappings.scoring, mappings.field_types()
    model = forty_rules()
    base, forty = [], []
    for _ in range(args.repeats):  # alternate, so both see the same machine
        base.append(run(shipped, batch, types))
        forty.append(run(model, batch, TYPES))
    b, f = statistics.median(base), statistics.median(forty)
    rules = sum(len(group_rules) for _, _, group_rules in shipped.groups())
    print(f"shipped model ({rules} rules): "
          f"{b:,.0f} leads/s (runs {', '.join(f'{x:,.0f}' for x in base)})")  # fmt: skip
    print(f"40-rule model: {f:,.0f} leads/s (runs {', '.join(f'{x:,.0f}' for x in forty)})")
    print(f"{args.leads:,} leads with 40 rules: {args.leads / f:.2f} s; ratio 40-rule/shipped "
          f"{f / b:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
