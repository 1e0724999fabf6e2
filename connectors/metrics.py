"""Prometheus metrics every connector reports (the service exposes them on /metrics)."""

from prometheus_client import Counter, Histogram

CRM_CALLS = Counter(
    "relais_crm_calls_total", "Calls made to a CRM API", ["connector", "operation", "outcome"]
)
CRM_CALL_SECONDS = Histogram(
    "relais_crm_call_seconds", "CRM API call duration", ["connector", "operation"]
)
