"""Scoring: a pure function from a lead and the scoring rules to points, with reasons."""
