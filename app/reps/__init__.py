"""Reps' availability set by an admin (a pause toggle), beside what team.yaml says."""
