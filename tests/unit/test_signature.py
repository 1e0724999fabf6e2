from connectors.sandbox.webhooks import sign_v3


def test_v3_signature_matches_hubspots_known_answer() -> None:
    # Known answer from the official SDK's own tests.
    assert (
        sign_v3(
            "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
            "POST",
            "https://www.example.com/webhook_uri",
            "{'example_field':'example_value'}",
            1693657560000,
        )
        == "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y="
    )
