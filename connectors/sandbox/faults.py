"""Fault injection shared by the sandbox CRMs."""

from __future__ import annotations

from typing import Protocol, TypeVar


class _Fault(Protocol):
    operation: str
    times: int

    def model_copy(self: F) -> F: ...


F = TypeVar("F", bound=_Fault)


def take_fault(faults: list[F], operation: str) -> F | None:
    """The first fault aimed at ``operation`` (or '*'), spending one of its ``times``."""
    for fault in faults:
        if fault.operation in ("*", operation):
            taken = fault.model_copy()
            fault.times -= 1
            if fault.times <= 0:
                faults.remove(fault)
            return taken
    return None
