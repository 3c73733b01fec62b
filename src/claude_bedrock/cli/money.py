"""How the CLI writes an amount of US dollars: exact, as the catalog prices make it."""

from __future__ import annotations

from decimal import Decimal

from claude_bedrock.domain.pricing import plain

__all__ = ["usd"]


def usd(amount: Decimal) -> str:
    """Exact, in plain notation (no exponent), at least two decimals, no other trailing zeros:
    ``0.00``, ``0.0001914``, ``12.50``."""
    whole, _, fraction = plain(amount).partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"
