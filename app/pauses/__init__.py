"""Pauses of a CRM that refused for a while: its events and writes wait, uncounted."""
