"""The judgment on a write sent again: send, confirmed by the CRM, or explicitly superseded."""

from __future__ import annotations

import pytest

from app.outbox.resend import Resend, judge

TEAM = {"claire@x.fr", "hugo@x.fr"}
REPS = {"005C": "claire@x.fr", "005H": "hugo@x.fr", "005M": "manager@x.fr", "005I": "int@x.fr"}


@pytest.mark.parametrize(
    ("before", "before_known", "current", "found", "expected", "why"),
    [
        # the integration user that created the Lead still owns it: our write goes out
        ("005I", True, "005I", True, Resend.SEND, ""),
        # a write recorded before owners were remembered: only a rep of the team stops it
        (None, False, "005I", True, Resend.SEND, ""),
        (None, False, "005M", True, Resend.SEND, ""),
        # an earlier attempt got through (its worker died, or its answer was lost)
        ("005I", True, "005C", True, Resend.CONFIRMED, "already shows"),
        # the rep it had when we decided still has it: an owner sync or a linked record's
        # write replaces that rep on purpose
        ("005H", True, "005H", True, Resend.SEND, ""),
        # a rep of the team other than ours took it: a person reassigned it
        ("005I", True, "005H", True, Resend.SUPERSEDED, "hugo@x.fr (a rep of the team)"),
        (None, False, "005H", True, Resend.SUPERSEDED, "a rep of the team"),
        # someone outside the team took it after our decision
        ("005I", True, "005M", True, Resend.SUPERSEDED, "from 005I to manager@x.fr"),
        (None, True, "00G1", True, Resend.SUPERSEDED, "from no owner to 00G1"),
        ("005I", True, None, True, Resend.SUPERSEDED, "to no owner"),
        # the record cannot be read: the write itself meets the CRM's answer
        ("005I", True, None, False, Resend.SEND, ""),
    ],
)
def test_a_write_sent_again_is_judged_on_what_the_crm_shows_now(
    before: str | None,
    before_known: bool,
    current: str | None,
    found: bool,
    expected: Resend,
    why: str,
) -> None:
    verdict = judge(
        crm="salesforce",
        ours="005C",
        our_rep="claire@x.fr",
        before=before,
        before_known=before_known,
        current=current,
        found=found,
        rep_of=REPS.get,
        team=TEAM,
    )
    assert verdict.action is expected
    assert why in verdict.reason


def test_our_own_rep_shown_under_another_id_is_not_a_reassignment() -> None:
    # the decision's rep owns it, under an id other than the one we write (a re-created user)
    verdict = judge(
        crm="hubspot",
        ours="501",
        our_rep="claire@x.fr",
        before=None,
        before_known=False,
        current="777",
        found=True,
        rep_of={"777": "claire@x.fr"}.get,
        team=TEAM,
    )
    assert verdict.action is Resend.SEND
