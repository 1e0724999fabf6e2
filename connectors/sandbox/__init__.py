"""A stateful fake of the CRM endpoints Relais calls, served over real HTTP on loopback.

It enforces what the vendors enforce (batch sizes, owner ids, rate windows), counts calls,
injects faults on request, and plays the CRM's side by sending signed webhooks to Relais.
"""

from connectors.sandbox.server import SandboxServer

__all__ = ["SandboxServer"]
