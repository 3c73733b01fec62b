"""What an AWS account ID looks like: exactly 12 ASCII digits."""

from __future__ import annotations

import pytest

from claude_bedrock.domain.account_id import is_account_id


@pytest.mark.parametrize(("value", "expected"), [
    ("123456789012", True),
    ("000000000000", True),
    ("12345678901", False),
    ("1234567890123", False),
    ("12345678901a", False),
    ("١٢٣٤٥٦٧٨٩٠١٢", False),  # 12 Arabic-Indic digits: str.isdigit alone takes them
    ("", False),
])
def test_is_account_id(value: str, expected: bool) -> None:
    assert is_account_id(value) is expected
