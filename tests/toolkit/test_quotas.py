"""Quotas: per-minute requests and tokens per account, region and model, with burndown."""

from __future__ import annotations

import pytest

from claude_bedrock.domain.quotas import (
    QUOTA_MESSAGE,
    QuotaExceeded,
    QuotaLedger,
    parse_quota_config,
)
from claude_bedrock.domain.catalog import default_catalog
from claude_bedrock.domain.scripting import ScriptError

SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU_35 = "anthropic.claude-3-5-haiku-20241022-v1:0"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ledger(spec, clock=None) -> QuotaLedger:
    return QuotaLedger(parse_quota_config(spec), clock or Clock())


def reserve(book: QuotaLedger, model: str = SONNET_45, *, account="111122223333", region="us-west-2",
            endpoint="global", input_tokens=10, max_tokens=100):
    return book.reserve(account_id=account, region=region, model_id=model, endpoint=endpoint, model_names=(model,),
                        input_tokens=input_tokens, max_tokens=max_tokens,
                        burndown=default_catalog().get(model).quota_output_burndown)


@pytest.mark.parametrize(
    ("model", "rate"),
    [
        ("anthropic.claude-3-7-sonnet-20250219-v1:0", 5),
        ("anthropic.claude-sonnet-4-20250514-v1:0", 5),
        (SONNET_45, 5),
        ("anthropic.claude-opus-4-20250514-v1:0", 5),
        ("anthropic.claude-opus-4-1-20250805-v1:0", 5),
        ("anthropic.claude-opus-4-5-20251101-v1:0", 5),
        ("anthropic.claude-haiku-4-5-20251001-v1:0", 5),
        (HAIKU_35, 1),
        ("anthropic.claude-3-haiku-20240307-v1:0", 1),
    ],
)
def test_burndown_rate_is_five_for_sonnet_37_and_the_4_class(model, rate):
    assert default_catalog().get(model).quota_output_burndown == rate


def test_requests_per_minute_refuses_the_extra_request_with_bedrock_text():
    book = ledger({"requests_per_minute": 2})
    reserve(book)
    reserve(book)
    with pytest.raises(QuotaExceeded) as info:
        reserve(book)
    error = info.value
    assert error.code == "ThrottlingException" and error.status == 429
    assert error.message == QUOTA_MESSAGE == "Too many requests, please wait before trying again."
    assert error.quota == "requests_per_minute"


def test_window_slides_after_a_minute():
    clock = Clock()
    book = ledger({"requests_per_minute": 1}, clock)
    reserve(book)
    clock.now += 59.9
    with pytest.raises(QuotaExceeded):
        reserve(book)
    clock.now += 0.2
    assert reserve(book) is not None


def test_a_request_leaves_the_window_exactly_a_minute_later():
    clock = Clock()
    book = ledger({"requests_per_minute": 1}, clock)
    reserve(book)
    clock.now += 60.0  # the window is [now - 60 s, now): a call made 60 s ago no longer counts
    assert reserve(book) is not None


def test_usage_lists_only_keys_with_calls_in_the_window():
    clock = Clock()
    book = ledger({"requests_per_minute": 5}, clock)
    reserve(book)
    clock.now += 30
    reserve(book, HAIKU_35)
    clock.now += 30
    assert [row["model_id"] for row in book.usage()] == [HAIKU_35]
    clock.now += 30
    assert book.usage() == []


def test_counters_are_per_account_region_model_and_endpoint():
    book = ledger({"requests_per_minute": 1})
    reserve(book)
    reserve(book, account="999999999999")
    reserve(book, region="eu-west-1")
    reserve(book, HAIKU_35)
    reserve(book, endpoint="regional")  # AWS: global cross-Region calls have quotas of their own
    assert len(book.usage()) == 5
    assert {row["endpoint"] for row in book.usage()} == {"global", "regional"}


def test_tokens_reserved_at_start_are_input_plus_max_tokens():
    book = ledger({"tokens_per_minute": 1000})
    reserve(book, input_tokens=100, max_tokens=800)
    with pytest.raises(QuotaExceeded) as info:
        reserve(book, input_tokens=1, max_tokens=100)  # 900 + 101 > 1000
    assert info.value.quota == "tokens_per_minute"
    assert reserve(book, input_tokens=1, max_tokens=99) is not None  # 900 + 100 == 1000


def test_tokens_per_minute_refusal_says_too_many_tokens_as_bedrock_does():
    # Bedrock's token-quota throttle: "Too many tokens, please wait before trying again."
    # (anthropics/claude-code#236, aws-samples/amazon-bedrock-client-for-mac#99)
    book = ledger({"tokens_per_minute": 100})
    with pytest.raises(QuotaExceeded) as info:
        reserve(book, input_tokens=10, max_tokens=100)
    error = info.value
    assert error.code == "ThrottlingException" and error.status == 429
    assert error.message == "Too many tokens, please wait before trying again."


def test_settle_charges_output_five_times_on_sonnet_45_and_once_on_haiku_35():
    book = ledger({"tokens_per_minute": 10_000})
    sonnet = reserve(book, input_tokens=100, max_tokens=4000)
    haiku = reserve(book, HAIKU_35, input_tokens=100, max_tokens=4000)
    assert sonnet.settle(100, 20) == 100 + 20 * 5
    assert haiku.settle(100, 20) == 100 + 20
    assert sonnet.settle(1, 1) == 200  # settles once
    usage = {row["model_id"]: row["tokens"] for row in book.usage()}
    assert usage == {SONNET_45: 200, HAIKU_35: 120}


def test_settle_counts_cache_writes_but_not_cache_reads():
    book = ledger({"tokens_per_minute": 10_000})
    assert reserve(book).settle(input_tokens=10, output_tokens=2, cache_write_tokens=1000) == 10 + 1000 + 10


def test_settled_cost_frees_the_unused_reservation():
    book = ledger({"tokens_per_minute": 1000})
    reserve(book, input_tokens=100, max_tokens=800).settle(100, 10)  # 150 left charged
    assert reserve(book, input_tokens=50, max_tokens=800) is not None


def test_model_overrides_take_precedence_key_by_key():
    book = ledger({"requests_per_minute": 100, "tokens_per_minute": 50,
                   "models": {"*haiku*": {"tokens_per_minute": 100_000}}})
    assert book.config.limits_for((HAIKU_35,)).describe() == {"requests_per_minute": 100,
                                                              "tokens_per_minute": 100_000}
    assert reserve(book, HAIKU_35, max_tokens=5000) is not None
    with pytest.raises(QuotaExceeded):
        reserve(book, max_tokens=5000)


def test_a_model_override_beats_the_default_for_the_key_it_sets():
    book = ledger({"requests_per_minute": 100, "models": {"*haiku*": {"requests_per_minute": 1}}})
    assert book.config.limits_for((HAIKU_35,)).requests_per_minute == 1
    reserve(book, HAIKU_35)
    with pytest.raises(QuotaExceeded):
        reserve(book, HAIKU_35)


def test_no_limits_means_no_reservation():
    assert reserve(ledger(None)) is None
    assert not parse_quota_config({}).enabled


@pytest.mark.parametrize("spec", [{"requests_per_minute": 0}, {"rpm": 1}, {"tokens_per_minute": "many"},
                                  {"requests_per_minute": True}, {"tokens_per_minute": 1.5},
                                  {"models": {"x": {"requests_per_minute": True}}},
                                  {"models": {"x": {"burst": 1}}}])
def test_parse_quota_config_rejects_bad_values(spec):
    with pytest.raises(ScriptError):
        parse_quota_config(spec)


def test_reset_forgets_counts_and_configure_keeps_them():
    book = ledger({"requests_per_minute": 1})
    reserve(book)
    book.configure(parse_quota_config({"requests_per_minute": 1}))
    with pytest.raises(QuotaExceeded):
        reserve(book)
    book.reset()
    assert reserve(book) is not None
