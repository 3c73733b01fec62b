"""What an AWS account ID looks like: one rule for the config file, the server's
``--account-id``, testing rules and the log commands' filters."""

from __future__ import annotations


def is_account_id(value: str) -> bool:
    """12 ASCII digits (``str.isdigit`` alone also takes other scripts' digits)."""
    return len(value) == 12 and value.isascii() and value.isdigit()
