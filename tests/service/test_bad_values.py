"""A value a CRM holds that Relais cannot read never stops the leads beside it."""

from __future__ import annotations

import pytest

from app.mappings.typed import read
from tests.service.helpers import Service

UNREADABLE_INSTANTS = ["99999999999999999999", "²²²²²²²²²²²", "9" * 400, "yesterday", "0000-00-00"]


@pytest.mark.parametrize("value", UNREADABLE_INSTANTS)
def test_given_an_unreadable_instant_when_read_then_it_is_no_value(value: str) -> None:
    assert read("datetime", value) is None
    assert read("date", value) is None


def test_given_epoch_milliseconds_when_read_then_it_is_that_instant() -> None:
    assert read("datetime", "1764547200000").isoformat() == "2025-12-01T00:00:00+00:00"


@pytest.mark.parametrize("value", UNREADABLE_INSTANTS[:2])
def test_given_one_lead_with_an_unreadable_activity_date_when_routed_then_all_are_decided(
    service: Service, value: str
) -> None:
    ok = service.hubspot.create_contact(email="ok1@betonsud.fr", jobtitle="DRH")
    bad = service.hubspot.create_contact(
        email="bad@betonsud.fr", jobtitle="DRH", notes_last_updated=value
    )
    service.deliver_and_run()

    decided = {d.record_key.rsplit(":", 1)[1] for d in service.decisions()}
    assert decided == {ok, bad}  # the unreadable date is no activity date, not a failure
    assert {e.status for e in service.events()} == {"done"}
