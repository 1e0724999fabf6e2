"""The audit trail: what Relais decided for a record, with which rules, and how fast."""
