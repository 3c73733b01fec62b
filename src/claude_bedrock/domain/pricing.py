"""What one model call costs, in exact ``Decimal`` US dollars, from the catalog's prices.

Invariants
    Rule 1: every amount is exact. Prices come from the catalog as ``Decimal`` parsed from the
            JSON text, and the arithmetic runs in a private decimal context that traps
            ``Inexact``; no float ever enters a computation, so nothing is rounded silently.
    Rule 2: rounding is the caller's choice and happens once: ``Cost.rounded(places)`` quantizes
            each component and the total (ROUND_HALF_EVEN) from the exact values, so the rounded
            total is the rounded exact total, not the sum of rounded parts.
    Rule 3: an exact amount carries no trailing zeros (``0``, ``0.00075``, not ``0.0000``,
            ``0.000750``), and ``plain`` writes it without an exponent (``0.00000099``, where
            ``str(Decimal)`` writes ``9.9E-7``); ``repr``/``str`` of a ``Cost`` use it.

Rules (docs/catalog-facts.md "Pricing"; the seed "global vs regional endpoints")
    * prices are USD per million tokens at the global endpoint;
    * long context: when the total input (input + cache writes + cache reads) exceeds
      ``long_context_threshold_tokens`` (200K) on a model with long-context prices (Sonnet 4 and
      4.5, the 1M beta), every input-derived rate uses the long-context input price and output
      uses the long-context output price (6.00 / 22.50);
    * prompt caching: cache write 5m = 1.25x, 1h = 2x, cache read = 0.1x the input rate in force;
    * regional endpoint (geo profile or bare base ID): x1.1 on every component for models with
      ``regional_premium`` (Sonnet 4.5 and later); older models keep one price everywhere.

``input_tokens`` are the uncached input tokens (Anthropic's ``usage.input_tokens``), so the four
input counts never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation, Overflow

from claude_bedrock.domain.catalog import CatalogModel, EndpointType

__all__ = ["TOKENS_PER_PRICE_UNIT", "Cost", "cost", "plain"]

#: Prices are quoted per this many tokens.
TOKENS_PER_PRICE_UNIT = 1_000_000

# 60 significant digits hold any realistic token count times any price exactly; if that ever
# fails, Inexact is raised instead of rounding.
_EXACT = Context(prec=60, traps=[Inexact, InvalidOperation, Overflow])
_ONE = Decimal(1)
_PER_UNIT = Decimal(TOKENS_PER_PRICE_UNIT)
_ENDPOINT_TYPES: tuple[EndpointType, ...] = ("global", "regional")


def _reduced(amount: Decimal) -> Decimal:
    """``amount`` without trailing zeros, never with a positive exponent (``100``, not ``1E+2``);
    the same value: the precision is the amount's own number of digits, so nothing rounds."""
    reduced = amount.normalize(Context(prec=max(1, len(amount.as_tuple().digits))))
    _, digits, exponent = reduced.as_tuple()
    if isinstance(exponent, int) and exponent > 0:  # the digits and the zeros they stand for
        return reduced.quantize(_ONE, context=Context(prec=len(digits) + exponent))
    return reduced


def plain(amount: Decimal) -> str:
    """An amount exactly, in plain notation, without trailing zeros: ``0.0120285``, ``0``,
    ``0.00000099``, ``11``."""
    return format(_reduced(amount), "f")


_AMOUNTS = ("multiplier", "input", "output", "cache_write_5m", "cache_write_1h", "cache_read", "total")
#: How ``str(Cost)`` names the components it lists (those that are not zero).
_COMPONENT_WORDS = {"input": "input", "output": "output", "cache_write_5m": "cache write 5m",
                    "cache_write_1h": "cache write 1h", "cache_read": "cache read"}


@dataclass(frozen=True, slots=True, repr=False)
class Cost:
    """A call's cost per component and in total, in USD (exact unless ``rounded``).

    ``repr`` shows every amount as ``Decimal('0.00000099')`` (plain notation, the exact value);
    ``str`` is one line: ``0.000774 USD (global: input 0.000024, output 0.00075)``.
    """

    model_id: str
    endpoint_type: EndpointType
    long_context: bool
    multiplier: Decimal  # the regional premium factor applied (1 or 1.1)
    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    total: Decimal
    currency: str = "USD"

    def __repr__(self) -> str:
        fields = [f"model_id={self.model_id!r}", f"endpoint_type={self.endpoint_type!r}",
                  f"long_context={self.long_context!r}"]
        fields += [f"{name}=Decimal('{plain(getattr(self, name))}')" for name in _AMOUNTS]
        return f"Cost({', '.join(fields)}, currency={self.currency!r})"

    def __str__(self) -> str:
        parts = [f"{words} {plain(getattr(self, name))}" for name, words in _COMPONENT_WORDS.items()
                 if getattr(self, name)]
        detail = f"{self.endpoint_type}{', long context' if self.long_context else ''}"
        return f"{plain(self.total)} {self.currency} ({detail}{': ' if parts else ''}{', '.join(parts)})"

    def rounded(self, places: int = 6) -> Cost:
        """This cost with every amount quantized to ``places`` decimals (ROUND_HALF_EVEN)."""
        quantum = Decimal(1).scaleb(-places)

        def q(amount: Decimal) -> Decimal:
            return amount.quantize(quantum, rounding=ROUND_HALF_EVEN)

        return Cost(
            model_id=self.model_id,
            endpoint_type=self.endpoint_type,
            long_context=self.long_context,
            multiplier=self.multiplier,
            input=q(self.input),
            output=q(self.output),
            cache_write_5m=q(self.cache_write_5m),
            cache_write_1h=q(self.cache_write_1h),
            cache_read=q(self.cache_read),
            total=q(self.total),
            currency=self.currency,
        )


def cost(
    model: CatalogModel,
    *,
    endpoint_type: EndpointType,
    input_tokens: int,
    output_tokens: int,
    cache_write_5m_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
    cache_read_tokens: int = 0,
) -> Cost:
    """Price one call of ``model`` on the given endpoint type.

    Args:
        model: the catalog model (its ``prices`` carry the catalog-wide rules).
        endpoint_type: ``"global"`` or ``"regional"`` (``Resolution.endpoint_type``).
        input_tokens: uncached input tokens.
        output_tokens: output tokens.
        cache_write_5m_tokens / cache_write_1h_tokens: tokens written to the cache per TTL.
        cache_read_tokens: tokens read from the cache.

    Returns:
        The exact ``Cost``.

    Raises:
        ValueError: unknown endpoint type, or a token count that is not a non-negative int.
    """
    if endpoint_type not in _ENDPOINT_TYPES:
        raise ValueError(f"endpoint_type must be 'global' or 'regional', not {endpoint_type!r}")
    counts = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_write_5m_tokens": cache_write_5m_tokens,
        "cache_write_1h_tokens": cache_write_1h_tokens,
        "cache_read_tokens": cache_read_tokens,
    }
    for name, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {count!r}")

    prices = model.prices
    rules = prices.rules
    total_input = input_tokens + cache_write_5m_tokens + cache_write_1h_tokens + cache_read_tokens
    long_context = (
        prices.long_context_input is not None
        and prices.long_context_output is not None
        and total_input > rules.long_context_threshold_tokens
    )
    if long_context:
        input_rate, output_rate = prices.long_context_input, prices.long_context_output
    else:
        input_rate, output_rate = prices.input, prices.output
    assert input_rate is not None and output_rate is not None
    multiplier = (
        rules.regional_premium_multiplier
        if endpoint_type == "regional" and model.regional_premium
        else _ONE
    )

    def amount(tokens: int, rate: Decimal, factor: Decimal = _ONE) -> Decimal:
        product = _EXACT.multiply(_EXACT.multiply(Decimal(tokens), rate), factor)
        return _reduced(_EXACT.divide(_EXACT.multiply(product, multiplier), _PER_UNIT))

    parts = {
        "input": amount(input_tokens, input_rate),
        "output": amount(output_tokens, output_rate),
        "cache_write_5m": amount(
            cache_write_5m_tokens, input_rate, rules.cache_write_5m_multiplier
        ),
        "cache_write_1h": amount(
            cache_write_1h_tokens, input_rate, rules.cache_write_1h_multiplier
        ),
        "cache_read": amount(cache_read_tokens, input_rate, rules.cache_read_multiplier),
    }
    total = Decimal(0)
    for value in parts.values():
        total = _EXACT.add(total, value)
    return Cost(
        model_id=model.model_id,
        endpoint_type=endpoint_type,
        long_context=long_context,
        multiplier=_reduced(multiplier),
        total=_reduced(total),
        **parts,
    )
