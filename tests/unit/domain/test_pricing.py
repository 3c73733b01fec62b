"""Pricing: global vs regional premium, prompt caching, long context, exact Decimal amounts.

Expected amounts are worked out by hand from the catalog-facts price table (USD per million
tokens), not computed with the code under test.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from claude_bedrock.domain.catalog import Catalog, CatalogModel, load_catalog
from claude_bedrock.domain.pricing import Cost, cost

D = Decimal


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def model(catalog: Catalog, alias: str) -> CatalogModel:
    found = catalog.by_alias(alias)
    assert found is not None
    return found


def price(catalog: Catalog, alias: str, endpoint: str = "global", **tokens: int) -> Cost:
    """``cost`` for the model with this alias; token counts default to 0."""
    counts = {"input_tokens": 0, "output_tokens": 0, **tokens}
    return cost(model(catalog, alias), endpoint_type=endpoint, **counts)  # type: ignore[arg-type]


def parts(c: Cost) -> tuple[Decimal, ...]:
    return (c.input, c.output, c.cache_write_5m, c.cache_write_1h, c.cache_read, c.total)


def test_pricing_sonnet_4_5_global_has_no_premium(catalog: Catalog) -> None:
    c = price(catalog, "claude-sonnet-4-5", "global", input_tokens=1000, output_tokens=1000)
    assert (c.input, c.output, c.total) == (D("0.003"), D("0.015"), D("0.018"))
    assert c.multiplier == 1 and not c.long_context
    assert c.currency == "USD" and c.endpoint_type == "global"


def test_pricing_sonnet_4_5_regional_costs_ten_percent_more(catalog: Catalog) -> None:
    c = price(catalog, "claude-sonnet-4-5", "regional", input_tokens=1000, output_tokens=1000)
    assert (c.input, c.output, c.total) == (D("0.0033"), D("0.0165"), D("0.0198"))
    assert c.multiplier == D("1.1")


def test_pricing_sonnet_4_has_one_price_everywhere(catalog: Catalog) -> None:
    sonnet4 = model(catalog, "claude-sonnet-4")
    glob = cost(sonnet4, endpoint_type="global", input_tokens=100_000, output_tokens=100_000)
    regional = cost(sonnet4, endpoint_type="regional", input_tokens=100_000, output_tokens=100_000)
    assert parts(glob) == parts(regional)
    assert glob.total == D("1.8")
    assert regional.multiplier == 1


@pytest.mark.parametrize(
    ("alias", "endpoint", "input_total", "output_total"),
    [
        ("claude-opus-4-5", "global", "5", "25"),
        ("claude-opus-4-5", "regional", "5.5", "27.5"),
        ("claude-haiku-4-5", "regional", "1.1", "5.5"),
        ("claude-opus-4-1", "regional", "15", "75"),
        ("claude-opus-4", "global", "15", "75"),
        ("claude-3-opus", "regional", "15", "75"),
        ("claude-3-7-sonnet", "regional", "3", "15"),
        ("claude-3-5-haiku", "global", "0.8", "4"),
        ("claude-3-haiku", "regional", "0.25", "1.25"),
    ],
)
def test_pricing_per_million_rates(
    catalog: Catalog, alias: str, endpoint: str, input_total: str, output_total: str
) -> None:
    c = price(catalog, alias, endpoint, input_tokens=1_000_000, output_tokens=1_000_000)
    assert (c.input, c.output) == (D(input_total), D(output_total))


def test_pricing_cache_write_and_read_global(catalog: Catalog) -> None:
    c = cost(
        model(catalog, "claude-sonnet-4-5"),
        endpoint_type="global",
        input_tokens=0,
        output_tokens=0,
        cache_write_5m_tokens=100_000,
        cache_write_1h_tokens=100_000,
        cache_read_tokens=0,
    )
    # 3.00 x 1.25 = 3.75 / M and 3.00 x 2 = 6.00 / M; 100K tokens each.
    assert (c.cache_write_5m, c.cache_write_1h) == (D("0.375"), D("0.6"))
    assert c.total == D("0.975")
    read = price(catalog, "claude-haiku-4-5", cache_read_tokens=1_000_000)
    assert read.cache_read == D("0.1")  # 1.00 x 0.1


def test_pricing_cache_regional_premium_applies_to_cache(catalog: Catalog) -> None:
    c = cost(
        model(catalog, "claude-sonnet-4-5"),
        endpoint_type="regional",
        input_tokens=10,
        output_tokens=20,
        cache_write_5m_tokens=100_000,
        cache_write_1h_tokens=50_000,
        cache_read_tokens=40_000,
    )
    assert c.input == D("0.000033")  # 10 x 3.3 / M
    assert c.output == D("0.00033")  # 20 x 16.5 / M
    assert c.cache_write_5m == D("0.4125")  # 100K x 4.125 / M
    assert c.cache_write_1h == D("0.33")  # 50K x 6.6 / M
    assert c.cache_read == D("0.0132")  # 40K x 0.33 / M
    assert c.total == D("0.756063")
    assert not c.long_context  # 190,010 input tokens in all


def test_pricing_long_context_above_200k_for_sonnet_4(catalog: Catalog) -> None:
    sonnet4 = model(catalog, "claude-sonnet-4")
    c = cost(sonnet4, endpoint_type="global", input_tokens=250_000, output_tokens=1000)
    assert c.long_context
    assert (c.input, c.output, c.total) == (D("1.5"), D("0.0225"), D("1.5225"))
    regional = cost(sonnet4, endpoint_type="regional", input_tokens=250_000, output_tokens=1000)
    assert parts(regional) == parts(c)  # no premium on Sonnet 4


def test_pricing_long_context_threshold_is_strictly_above_200k(catalog: Catalog) -> None:
    sonnet4 = model(catalog, "claude-sonnet-4")
    at = cost(sonnet4, endpoint_type="global", input_tokens=200_000, output_tokens=0)
    above = cost(sonnet4, endpoint_type="global", input_tokens=200_001, output_tokens=0)
    assert (at.long_context, at.input) == (False, D("0.6"))
    assert (above.long_context, above.input) == (True, D("1.200006"))


def test_pricing_long_context_counts_cached_input(catalog: Catalog) -> None:
    c = cost(
        model(catalog, "claude-sonnet-4"),
        endpoint_type="global",
        input_tokens=1000,
        output_tokens=2000,
        cache_read_tokens=199_500,
    )
    assert c.long_context  # 200,500 total input tokens
    assert c.input == D("0.006")  # 1000 x 6.00 / M
    assert c.cache_read == D("0.1197")  # 199,500 x 0.60 / M
    assert c.output == D("0.045")  # 2000 x 22.50 / M


def test_pricing_long_context_combines_with_premium_on_sonnet_4_5(catalog: Catalog) -> None:
    c = cost(
        model(catalog, "claude-sonnet-4-5"),
        endpoint_type="regional",
        input_tokens=300_000,
        output_tokens=10_000,
        cache_write_5m_tokens=100_000,
    )
    assert c.long_context and c.multiplier == D("1.1")
    assert c.input == D("1.98")  # 300K x 6.00 x 1.1 / M
    assert c.output == D("0.2475")  # 10K x 22.50 x 1.1 / M
    assert c.cache_write_5m == D("0.825")  # 100K x 6.00 x 1.25 x 1.1 / M
    assert c.total == D("3.0525")
    glob = price(catalog, "claude-sonnet-4-5", input_tokens=300_000, output_tokens=10_000)
    assert (glob.input, glob.output) == (D("1.8"), D("0.225"))


def test_pricing_no_long_context_prices_means_flat_rate(catalog: Catalog) -> None:
    c = price(catalog, "claude-opus-4-1", input_tokens=300_000)
    assert not c.long_context
    assert c.input == D("4.5")


def test_pricing_amounts_are_exact_decimals(catalog: Catalog) -> None:
    tokens = {"input_tokens": 1, "output_tokens": 1, "cache_read_tokens": 3}
    c = price(catalog, "claude-sonnet-4-5", "regional", **tokens)
    assert all(isinstance(v, Decimal) for v in parts(c))
    assert c.input == D("0.0000033")
    assert c.cache_read == D("0.00000099")  # 3 x 3 x 0.1 x 1.1 / M, no float noise
    assert c.total == D("0.00002079")


def test_pricing_rounding_uses_exact_total(catalog: Catalog) -> None:
    c = price(catalog, "claude-sonnet-4-5", "regional", input_tokens=1, output_tokens=1)
    r = c.rounded(6)
    # exact: 0.0000033 + 0.0000165 = 0.0000198; half-even: 0.000003, 0.000016, total 0.000020
    assert (r.input, r.output, r.total) == (D("0.000003"), D("0.000016"), D("0.000020"))
    assert r.total != r.input + r.output
    assert c.rounded(2).total == D("0.00")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input_tokens": -1, "output_tokens": 0},
        {"input_tokens": 1, "output_tokens": True},
        {"input_tokens": 1.5, "output_tokens": 0},
        {"input_tokens": 0, "output_tokens": 0, "cache_read_tokens": -5},
    ],
)
def test_pricing_rejects_bad_token_counts(catalog: Catalog, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        cost(model(catalog, "claude-3-haiku"), endpoint_type="global", **kwargs)  # type: ignore


def test_pricing_rejects_unknown_endpoint_type(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="endpoint_type"):
        price(catalog, "claude-3-haiku", "eu", input_tokens=1, output_tokens=1)


def test_pricing_from_a_resolution(catalog: Catalog) -> None:
    res = catalog.resolve("anthropic.claude-haiku-4-5-20251001-v1%3A0", "eu-west-1")
    c = cost(res.model, endpoint_type=res.endpoint_type, input_tokens=1_000_000, output_tokens=0)
    assert c.input == D("1.1")
    assert float(c.multiplier) == res.price_multiplier


def test_pricing_amounts_carry_no_trailing_zeros(catalog: Catalog) -> None:
    """Users printing ``message.cost.cache_write_5m`` saw ``0.0000`` and ``0.000750``."""
    c = price(catalog, "claude-sonnet-4-5", input_tokens=8, output_tokens=50)
    assert [str(amount) for amount in parts(c)] == ["0.000024", "0.00075", "0", "0", "0", "0.000774"]
    assert str(c.multiplier) == "1"
    assert str(price(catalog, "claude-sonnet-4-5", "regional", input_tokens=1, output_tokens=0).multiplier) == "1.1"


def test_pricing_cost_repr_and_str_are_exact_and_plain(catalog: Catalog) -> None:
    """``repr`` showed ``Decimal('9.900E-7')``-style amounts; now plain notation, same values."""
    c = price(catalog, "claude-sonnet-4-5", "regional", input_tokens=1, output_tokens=1, cache_read_tokens=3)
    text = repr(c)
    assert "E-" not in text and "cache_read=Decimal('0.00000099')" in text and "cache_write_5m=Decimal('0')" in text
    assert eval(text, {"Cost": Cost, "Decimal": Decimal}) == c  # noqa: S307 - the repr round-trips
    assert str(c) == "0.00002079 USD (regional: input 0.0000033, output 0.0000165, cache read 0.00000099)"
    assert str(price(catalog, "claude-sonnet-4-5")) == "0 USD (global)"


@pytest.mark.parametrize(("amount", "text"), [
    ("0.0000", "0"), ("0.000750", "0.00075"), ("9.900E-7", "0.00000099"), ("1E+2", "100"), ("12.50", "12.5"),
    ("1.5E+30", "1500000000000000000000000000000"),
    # more significant digits than the default decimal context's 28: still exact, not rounded
    ("1234567890.12345678901234567890123", "1234567890.12345678901234567890123"),
])
def test_pricing_plain_writes_an_amount_exactly_without_exponent(amount: str, text: str) -> None:
    from claude_bedrock.domain.pricing import plain

    assert plain(D(amount)) == text


def test_pricing_whole_dollar_amounts_print_plainly(catalog: Catalog) -> None:
    """An amount with zeros before the point (30) or after it (a total of 1.5 + 1.5) reads as
    written: ``normalize`` alone gives ``3E+1``, and an unreduced sum ``3.0``."""
    c = price(catalog, "claude-opus-4-1", input_tokens=2_000_000)
    assert (str(c.input), str(c.total)) == ("30", "30")
    c = price(catalog, "claude-opus-4-1", input_tokens=100_000, output_tokens=20_000)
    assert (str(c.input), str(c.output), str(c.total)) == ("1.5", "1.5", "3")


def test_pricing_str_names_long_context(catalog: Catalog) -> None:
    c = price(catalog, "claude-sonnet-4", input_tokens=200_001)
    assert c.long_context
    assert str(c).startswith(f"{plain_total(c)} USD (global, long context: input ")


def plain_total(c: Cost) -> str:
    from claude_bedrock.domain.pricing import plain

    return plain(c.total)


def test_pricing_a_count_beyond_exact_arithmetic_raises_instead_of_rounding(catalog: Catalog) -> None:
    """61+ significant digits of tokens do not fit the 60-digit context: Inexact, never a rounded price."""
    from decimal import Inexact

    with pytest.raises(Inexact):
        price(catalog, "claude-opus-4-1", input_tokens=10**61 + 1)
