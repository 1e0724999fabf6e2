"""JSON Schema of every mappings file, from the same models the loader uses (for editors)."""

from __future__ import annotations

from typing import Any

from app.mappings.loader import FILES


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema (draft 2020-12) of that file."""
    out = {}
    for name, model in FILES.items():
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"Relais mappings: {name}"
        out[name] = schema
    return out
