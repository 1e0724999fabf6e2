"""Rescoring every known lead as time passes: runs walked in batches, resumable."""
