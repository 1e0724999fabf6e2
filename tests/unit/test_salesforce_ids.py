import pytest

from connectors.salesforce_ids import same_id, to18


def test_the_documented_18_character_form() -> None:
    assert to18("001D000000IqhSL") == "001D000000IqhSLIAZ"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("00D5e000000Rela", to18("00D5e000000Rela"), True),
        (to18("00D5e000000Rela"), to18("00D5e000000Rela"), True),
        ("00D5e000000Rela", "00D5e000000rela", False),  # 15-character ids are case-sensitive
        (to18("00D5e000000Rela"), to18("00D5e000000Rela") + "garbage", False),
        ("00D5e000000Rela", "00D5e000000Rela!", False),
        ("", "", False),
    ],
)
def test_org_ids_compare_in_their_15_and_18_character_forms_only(
    a: str, b: str, same: bool
) -> None:
    assert same_id(a, b) is same
