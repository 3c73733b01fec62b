"""Prompt-cache bookkeeping: writes, reads, TTLs, minimum length, isolation, bounds."""

from __future__ import annotations

from typing import Any

import pytest

from claude_bedrock.domain.prompt_cache import CacheUsage, PromptCache, default_minimum_tokens
from claude_bedrock.domain.tokens import count_request, count_text

MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
ACCOUNT = "123456789012"
LONG = "The quick brown fox jumps over the lazy dog. " * 20  # 200 tokens


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(clock: FakeClock) -> PromptCache:
    return PromptCache(clock, minimum_tokens=100)


def _request(system_ttl: str | None = None, question: str = "Summarise.", **extra: Any) -> dict[str, Any]:
    control: dict[str, Any] = {"type": "ephemeral"}
    if system_ttl:
        control["ttl"] = system_ttl
    return {
        "max_tokens": 100,
        "system": [{"type": "text", "text": LONG, "cache_control": control}],
        "messages": [{"role": "user", "content": question}],
        **extra,
    }


def _apply(cache: PromptCache, request: dict[str, Any], account: str = ACCOUNT, model: str = MODEL,
           region: str = "us-east-1") -> CacheUsage:
    return cache.apply(account_id=account, region=region, model_id=model, request=request)


def test_prompt_cache_first_use_writes_prefix(cache: PromptCache) -> None:
    request = _request()
    usage = _apply(cache, request)
    prefix = count_text(LONG) + 3  # system overhead
    assert usage.cache_creation_input_tokens == usage.ephemeral_5m_input_tokens == prefix
    assert usage.cache_read_input_tokens == 0 and usage.ephemeral_1h_input_tokens == 0
    assert usage.total_input_tokens == count_request(request)
    assert usage.input_tokens == count_request(request) - prefix


def test_prompt_cache_repeat_within_ttl_reads(cache: PromptCache, clock: FakeClock) -> None:
    first = _apply(cache, _request())
    clock.now += 299
    second = _apply(cache, _request(question="Another question entirely."))
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0


def test_prompt_cache_write_again_after_ttl(cache: PromptCache, clock: FakeClock) -> None:
    _apply(cache, _request())
    clock.now += 301
    usage = _apply(cache, _request())
    assert usage.cache_read_input_tokens == 0
    assert usage.cache_creation_input_tokens > 0


def test_prompt_cache_read_refreshes_ttl(cache: PromptCache, clock: FakeClock) -> None:
    _apply(cache, _request())
    clock.now += 250
    assert _apply(cache, _request()).cache_read_input_tokens > 0
    clock.now += 250  # 500 s after the write, 250 s after the refresh
    assert _apply(cache, _request()).cache_read_input_tokens > 0


def test_prompt_cache_one_hour_ttl(cache: PromptCache, clock: FakeClock) -> None:
    written = _apply(cache, _request(system_ttl="1h"))
    assert written.ephemeral_1h_input_tokens == written.cache_creation_input_tokens > 0
    assert written.ephemeral_5m_input_tokens == 0
    clock.now += 3_000
    assert _apply(cache, _request(system_ttl="1h")).cache_read_input_tokens == written.cache_creation_input_tokens
    clock.now += 3_601
    assert _apply(cache, _request(system_ttl="1h")).cache_read_input_tokens == 0


def test_prompt_cache_below_minimum_is_not_cached(clock: FakeClock) -> None:
    cache = PromptCache(clock, minimum_tokens=1024)
    request = _request()
    for _ in range(2):
        usage = _apply(cache, request)
        assert usage == CacheUsage(input_tokens=count_request(request))
    assert len(cache) == 0


def test_prompt_cache_without_breakpoints_is_plain_input(cache: PromptCache) -> None:
    request = {"messages": [{"role": "user", "content": LONG}]}
    assert _apply(cache, request) == CacheUsage(input_tokens=count_request(request))


def test_prompt_cache_partitions_by_account_region_and_model(cache: PromptCache) -> None:
    _apply(cache, _request())
    assert _apply(cache, _request(), account="210987654321").cache_read_input_tokens == 0
    assert _apply(cache, _request(), region="eu-west-3").cache_read_input_tokens == 0
    assert _apply(cache, _request(), model="anthropic.claude-opus-4-1-20250805-v1:0").cache_read_input_tokens == 0
    assert _apply(cache, _request()).cache_read_input_tokens > 0


def test_prompt_cache_changed_prefix_misses(cache: PromptCache) -> None:
    _apply(cache, _request())
    changed = _request()
    changed["system"][0]["text"] = LONG + " Extra."
    assert _apply(cache, changed).cache_read_input_tokens == 0


def _conversation(turns: int, marks: set[int], ttl: dict[int, str] | None = None) -> dict[str, Any]:
    messages = []
    for i in range(turns):
        block: dict[str, Any] = {"type": "text", "text": f"Turn {i}: " + LONG[: 200 + i]}
        if i in marks:
            block["cache_control"] = {"type": "ephemeral", **({"ttl": ttl[i]} if ttl and i in ttl else {})}
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": [block]})
    return {"max_tokens": 10, "messages": messages}


def test_prompt_cache_two_breakpoints_read_first_write_second(cache: PromptCache) -> None:
    first = _apply(cache, _conversation(3, {2}))  # writes through turn 2
    grown = _conversation(5, {2, 4})
    usage = _apply(cache, grown)
    assert usage.cache_read_input_tokens == first.cache_creation_input_tokens
    assert usage.cache_creation_input_tokens > 0
    assert usage.total_input_tokens == count_request(grown)


def test_prompt_cache_lookback_hits_earlier_block_when_breakpoint_moves(cache: PromptCache) -> None:
    first = _apply(cache, _conversation(3, {2}))
    moved = _apply(cache, _conversation(5, {4}))  # only the later breakpoint is marked now
    assert moved.cache_read_input_tokens == first.cache_creation_input_tokens
    assert moved.cache_creation_input_tokens > 0


def test_prompt_cache_mixed_ttls_split_creation(cache: PromptCache) -> None:
    request = _conversation(5, {2, 4}, ttl={2: "1h"})
    usage = _apply(cache, request)
    through_two = _apply(PromptCache(FakeClock(), minimum_tokens=100), _conversation(3, {2}))
    assert usage.ephemeral_1h_input_tokens == through_two.cache_creation_input_tokens
    assert usage.ephemeral_5m_input_tokens == usage.cache_creation_input_tokens - usage.ephemeral_1h_input_tokens > 0


def test_prompt_cache_automatic_top_level_cache_control(cache: PromptCache) -> None:
    request = {"cache_control": {"type": "ephemeral"}, "messages": [{"role": "user", "content": LONG}]}
    assert _apply(cache, request).cache_creation_input_tokens > 0
    assert _apply(cache, request).cache_read_input_tokens > 0


def test_prompt_cache_is_bounded_and_evicts_least_recently_used(clock: FakeClock) -> None:
    cache = PromptCache(clock, minimum_tokens=100, max_entries=2)
    requests = [_request(), _request(), _request()]
    for i, request in enumerate(requests):
        request["system"][0]["text"] = f"{i} " + LONG
        _apply(cache, request)
    assert len(cache) == 2
    assert _apply(cache, requests[0]).cache_read_input_tokens == 0  # evicted
    assert _apply(cache, requests[2]).cache_read_input_tokens > 0


def test_prompt_cache_expires_at_the_end_of_its_ttl(cache: PromptCache, clock: FakeClock) -> None:
    """An entry is gone at its expiry instant (write at t, 5m TTL: nothing left at t + 300 s)."""
    _apply(cache, _request())
    clock.now += 300
    assert _apply(cache, _request()).cache_read_input_tokens == 0


def test_prompt_cache_prefix_of_exactly_the_minimum_is_cached(clock: FakeClock) -> None:
    """A prefix shorter than the minimum is never cached; one of exactly the minimum is."""
    request = _request()
    prefix = _apply(PromptCache(clock, minimum_tokens=1), request).cache_creation_input_tokens
    cache = PromptCache(clock, minimum_tokens=prefix)
    assert _apply(cache, request).cache_creation_input_tokens == prefix
    assert _apply(cache, request).cache_read_input_tokens == prefix
    assert _apply(PromptCache(clock, minimum_tokens=prefix + 1), request).cache_creation_input_tokens == 0


def test_prompt_cache_a_hit_on_a_longer_prefix_does_not_revive_an_expired_shorter_one(
    cache: PromptCache, clock: FakeClock
) -> None:
    """Breakpoints before the hit get a new expiry only while they live: the 5m prefix through
    turn 2 expired under the 1h one through turn 4 stays expired (a later call stopping at
    turn 2 writes it again, it does not read it)."""
    _apply(cache, _conversation(5, {2, 4}, ttl={4: "1h"}))
    clock.now += 400
    assert _apply(cache, _conversation(5, {2, 4}, ttl={4: "1h"})).cache_read_input_tokens > 0
    clock.now += 100
    shorter = _apply(cache, _conversation(3, {2}))
    assert shorter.cache_read_input_tokens == 0 and shorter.cache_creation_input_tokens > 0


def test_prompt_cache_a_hit_makes_the_breakpoints_before_it_recently_used(clock: FakeClock) -> None:
    """The entries a hit refreshes move to the recent end of the store: the next eviction takes
    another call's older entry, not the prefix through turn 2 just used."""
    cache = PromptCache(clock, minimum_tokens=100, max_entries=3)
    both = _conversation(5, {2, 4})
    _apply(cache, both)  # entries: through turn 2, through turn 4
    other = _request()
    _apply(cache, other)  # a third entry, more recent than both
    assert _apply(cache, both).cache_read_input_tokens > 0  # hit through turn 4; turn 2 refreshed
    newer = _request()
    newer["system"][0]["text"] = "Newer. " + LONG
    _apply(cache, newer)  # a fourth entry evicts the least recently used: ``other``
    assert _apply(cache, _conversation(3, {2})).cache_read_input_tokens > 0
    assert _apply(cache, other).cache_read_input_tokens == 0


def test_prompt_cache_refuses_a_store_of_no_entries(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="max_entries must be at least 1"):
        PromptCache(clock, max_entries=0)
    assert len(PromptCache(clock, max_entries=1)) == 0


def test_prompt_cache_reset_forgets(cache: PromptCache) -> None:
    _apply(cache, _request())
    cache.reset()
    assert _apply(cache, _request()).cache_read_input_tokens == 0


def test_prompt_cache_usage_dict_shape() -> None:
    usage = CacheUsage(7, 3, 5, 2, 3).usage(output_tokens=11)
    assert usage == {
        "input_tokens": 7,
        "cache_creation_input_tokens": 5,
        "cache_read_input_tokens": 3,
        "cache_creation": {"ephemeral_5m_input_tokens": 2, "ephemeral_1h_input_tokens": 3},
        "output_tokens": 11,
    }


@pytest.mark.parametrize(
    ("model_id", "minimum"),
    [
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", 1024),
        ("anthropic.claude-opus-4-1-20250805-v1:0", 1024),
        ("anthropic.claude-3-haiku-20240307-v1:0", 2048),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", 2048),
        ("anthropic.claude-haiku-4-5-20251001-v1:0", 4096),
        ("anthropic.claude-opus-4-5-20251101-v1:0", 4096),
    ],
)
def test_prompt_cache_default_minimum_by_model(model_id: str, minimum: int) -> None:
    assert default_minimum_tokens(model_id) == minimum


def test_prompt_cache_minimum_comes_from_the_catalog_given() -> None:
    """A model's minimum is its catalog entry's (a custom catalog's too); unknown: the fallback."""
    import json
    from importlib import resources

    from claude_bedrock.domain.catalog import build_catalog
    from claude_bedrock.domain.prompt_cache import FALLBACK_MINIMUM_TOKENS, minimum_tokens_of

    doc = json.loads(resources.files("claude_bedrock.domain").joinpath("data/catalog.json").read_text())
    doc["models"][0]["prompt_cache_min_tokens"] = 77
    minimum = minimum_tokens_of(build_catalog(doc))
    assert minimum(doc["models"][0]["id"]) == 77
    assert minimum("anthropic.claude-unknown-v1:0") == FALLBACK_MINIMUM_TOKENS


def test_a_count_handed_over_by_validation_is_the_count_used():
    """Validation counts the input once (context limit); the cache reuses that count instead of
    counting again, and it is the same number."""
    from claude_bedrock.domain.catalog import default_catalog
    from claude_bedrock.domain.validation import validate_messages_request

    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10,
            "messages": [{"role": "user", "content": "How many tokens are in this sentence?"}]}
    model = default_catalog().get("anthropic.claude-sonnet-4-5-20250929-v1:0")
    validated = validate_messages_request(body, model, count_input_tokens=count_request)
    assert validated.input_tokens == count_request(body)
    cache = PromptCache(lambda: 0.0)
    scope = {"account_id": "1", "region": "us-east-1", "model_id": "m"}
    assert cache.apply(**scope, request=body, input_tokens=validated.input_tokens) == cache.apply(**scope, request=body)
    assert cache.apply(**scope, request=body, input_tokens=7).input_tokens == 7


def test_prompt_cache_lookback_window_is_twenty_positions_counting_the_breakpoint(cache: PromptCache) -> None:
    """Anthropic "Prompt caching", lookback example: a write at block 15 is found from a
    breakpoint on block 34 (window 34..15) but not from block 35 (window 35..16)."""
    written = _apply(cache, _conversation(15, {14})).cache_creation_input_tokens
    assert _apply(cache, _conversation(35, {34})).cache_read_input_tokens == 0
    cache.reset()
    _apply(cache, _conversation(15, {14}))
    assert _apply(cache, _conversation(34, {33})).cache_read_input_tokens == written


def test_prompt_cache_thinking_change_invalidates_messages_without_tools(cache: PromptCache) -> None:
    """Anthropic "Prompt caching", "What invalidates the cache": a change of the thinking
    parameters (enable/disable, budget) invalidates the message blocks, tools or not; the
    system prompt stays cached."""
    def request(thinking: dict[str, Any] | None) -> dict[str, Any]:
        body = _request()
        body["messages"] = [{"role": "user", "content": [
            {"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]}]
        if thinking is not None:
            body["thinking"] = thinking
        return body

    system_prefix = count_text(LONG) + 3
    _apply(cache, request(None))
    assert _apply(cache, request({"type": "disabled"})).cache_creation_input_tokens == 0  # same as off
    enabled = _apply(cache, request({"type": "enabled", "budget_tokens": 1024}))
    assert enabled.cache_read_input_tokens == system_prefix and enabled.cache_creation_input_tokens > 0
    budget = _apply(cache, request({"type": "enabled", "budget_tokens": 2048}))
    assert budget.cache_read_input_tokens == system_prefix and budget.cache_creation_input_tokens > 0
    again = _apply(cache, request({"type": "enabled", "budget_tokens": 2048}))
    assert again.cache_creation_input_tokens == 0 and again.total_input_tokens == count_request(request(None))


def test_prompt_cache_adding_an_image_invalidates_messages_not_system(cache: PromptCache) -> None:
    """Anthropic "Prompt caching": "the presence/absence of images anywhere in the prompt will
    invalidate the cache" for the message blocks; tools and system stay cached."""
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    first_turn = _request()
    first_turn["messages"] = [
        {"role": "user", "content": [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]},
    ]
    _apply(cache, first_turn)
    second_turn = _request()
    second_turn["messages"] = [
        *first_turn["messages"],
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": [image, {"type": "text", "text": "And this?", "cache_control": {"type": "ephemeral"}}]},
    ]
    usage = _apply(cache, second_turn)
    assert usage.cache_read_input_tokens == count_text(LONG) + 3  # the system prompt only
    assert usage.total_input_tokens == count_request(second_turn)
    third_turn = {**second_turn, "messages": [*second_turn["messages"], {"role": "assistant", "content": "A chart."},
                                              {"role": "user", "content": "Thanks."}]}
    assert _apply(cache, third_turn).cache_read_input_tokens > count_text(LONG) * 2  # images still there: hit


def _weather_turns() -> tuple[dict[str, Any], dict[str, Any]]:
    """Requests 2 and 3 of Anthropic "Extended thinking", "Understanding thinking block caching
    behavior": a tool-use loop cached at its tool result, then a text user turn."""
    thinking_1 = {"type": "thinking", "thinking": "I should call the weather tool. " * 20, "signature": "c2ln"}
    thinking_2 = {"type": "thinking", "thinking": "The tool says it is sunny. " * 20, "signature": "c2ln"}
    use = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "20 C, sunny"}
    ephemeral = {"type": "ephemeral"}
    loop = [{"role": "user", "content": [{"type": "text", "text": "What's the weather in Paris? " + LONG}]},
            {"role": "assistant", "content": [thinking_1, use]}]
    thinking = {"type": "enabled", "budget_tokens": 1024}
    request_2 = {"max_tokens": 2048, "thinking": thinking,
                 "messages": [*loop, {"role": "user", "content": [{**result, "cache_control": ephemeral}]}]}
    request_3 = {"max_tokens": 2048, "thinking": thinking, "messages": [
        *loop, {"role": "user", "content": [result]},
        {"role": "assistant", "content": [thinking_2, {"type": "text", "text": "It is sunny."}]},
        {"role": "user", "content": [{"type": "text", "text": "Thanks!", "cache_control": ephemeral}]}]}
    return request_2, request_3


def test_prompt_cache_stripped_thinking_drops_the_messages_after_it_out_of_the_cache(cache: PromptCache) -> None:
    """Anthropic "Extended thinking", "Extended thinking with prompt caching": request 2 caches the
    user message, thinking_block_1, the tool use and its result; request 3, on a model before
    Opus 4.5, "will be processed the same as" the conversation without its thinking blocks, so
    request 2's prefix no longer matches: everything up to its breakpoint is written, nothing
    read, and the stripped thinking is not billed. The earlier rule kept the stripped block in
    the cache key at zero tokens, so request 3 read a prefix it no longer had."""
    request_2, request_3 = _weather_turns()
    written = _apply(cache, request_2)
    assert written.cache_creation_input_tokens == count_request(request_2) - 4  # all but the request overhead
    usage = _apply(cache, request_3)
    assert usage.cache_read_input_tokens == 0
    assert usage.total_input_tokens == count_request(request_3) == usage.cache_creation_input_tokens + 4
    assert count_request(request_3) < count_request(request_3, preserve_thinking=True)


def test_prompt_cache_preserved_thinking_reads_the_tool_use_loop_prefix(cache: PromptCache) -> None:
    """Claude Opus 4.5 and later: "all previous thinking blocks are kept by default", so request 3
    reads what request 2 wrote (thinking_block_1 included) and writes the rest."""
    request_2, request_3 = _weather_turns()
    written = _apply(cache, request_2)
    usage = cache.apply(account_id=ACCOUNT, region="us-east-1", model_id=MODEL, request=request_3,
                        preserve_thinking=True)
    assert usage.cache_read_input_tokens == written.cache_creation_input_tokens
    assert usage.total_input_tokens == count_request(request_3, preserve_thinking=True)


def _tool_search_conversation(weather_description: str) -> dict[str, Any]:
    """A search found the deferred ``get_weather``; a breakpoint marks the turn after it."""
    search = {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"}
    deferred = {"name": "get_weather", "description": weather_description, "input_schema": {"type": "object"},
                "defer_loading": True}
    use = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "tool_search_tool_regex",
           "input": {"pattern": "weather"}}
    found = {"type": "tool_search_tool_result", "tool_use_id": "srvtoolu_1",
             "content": {"type": "tool_search_tool_search_result",
                         "tool_references": [{"type": "tool_reference", "tool_name": "get_weather"}]}}
    return {"max_tokens": 10, "tools": [search, deferred], "messages": [
        {"role": "user", "content": LONG + " What is the weather?"},
        {"role": "assistant", "content": [use, found, {"type": "text", "text": "Found it."}]},
        {"role": "user", "content": [{"type": "text", "text": "Thanks.", "cache_control": {"type": "ephemeral"}}]},
    ]}


def test_prompt_cache_changed_definition_of_a_loaded_deferred_tool_misses_from_its_reference(
        cache: PromptCache) -> None:
    # Anthropic "Tool search tool": a found tool's definition enters the prompt where its
    # tool_reference stands (tokens counts it there), so changing it changes the prompt from that
    # block on, and the cache cannot read tokens it never wrote.
    first = _apply(cache, _tool_search_conversation("Weather now"))
    changed = _tool_search_conversation("Weather now, in Celsius, with humidity and wind. " * 10)
    usage = _apply(cache, changed)
    assert usage.cache_read_input_tokens < first.cache_creation_input_tokens
    assert usage.cache_creation_input_tokens > 0
    assert usage.total_input_tokens == count_request(changed)
    assert _apply(cache, changed).cache_read_input_tokens == usage.cache_creation_input_tokens + usage.cache_read_input_tokens


def _tool_loop(turns: int, nested_mark: bool) -> dict[str, Any]:
    """A tool-use loop; the first tool result's text may carry a (nested) breakpoint, the last
    block of the conversation always does."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": LONG}]
    for turn in range(turns):
        inner: dict[str, Any] = {"type": "text", "text": f"result {turn}"}
        if nested_mark and turn == 0:
            inner["cache_control"] = {"type": "ephemeral"}
        messages += [
            {"role": "assistant", "content": [{"type": "tool_use", "id": f"toolu_{turn}", "name": "get", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{turn}", "content": [inner]},
                                         {"type": "text", "text": f"next {turn}"}]},
        ]
    messages[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
    return {"max_tokens": 10, "tools": [{"name": "get", "input_schema": {"type": "object"}}], "messages": messages}


def test_prompt_cache_nested_breakpoint_markers_are_not_part_of_the_prefix(cache: PromptCache) -> None:
    # A marker inside a tool result's content is a breakpoint (it counts toward the four) and,
    # like every marker, not prompt content: dropping it must not change the cached prefix.
    first = _apply(cache, _tool_loop(1, nested_mark=True))
    later = _apply(cache, _tool_loop(2, nested_mark=False))
    assert later.cache_read_input_tokens == first.cache_creation_input_tokens > 0


def test_prompt_cache_entry_is_read_only_once_its_writers_response_has_begun(
    cache: PromptCache, clock: FakeClock
) -> None:
    """Anthropic: "a cache entry only becomes available after the first response begins".
    Identical calls sent while the first one waits for its first token all write the prefix."""
    request = _request()

    def apply(ready_in: float = 0.5) -> CacheUsage:
        return cache.apply(account_id=ACCOUNT, region="us-east-1", model_id=MODEL, request=request,
                           ready_in=ready_in)

    first = apply()
    clock.now += 0.4
    parallel = apply()
    assert parallel.cache_creation_input_tokens == first.cache_creation_input_tokens > 0
    assert parallel.cache_read_input_tokens == 0
    clock.now += 0.1  # the first call's response has begun; the second writer did not delay it
    after = apply()
    assert after.cache_read_input_tokens == first.cache_creation_input_tokens
    assert after.cache_creation_input_tokens == 0


def test_prompt_cache_an_expired_entry_written_again_waits_for_its_new_writer(
    cache: PromptCache, clock: FakeClock
) -> None:
    request = _request()

    def apply(ready_in: float) -> CacheUsage:
        return cache.apply(account_id=ACCOUNT, region="us-east-1", model_id=MODEL, request=request,
                           ready_in=ready_in)

    apply(0.0)
    clock.now += 301  # expired
    assert apply(2.0).cache_creation_input_tokens > 0
    clock.now += 1.0
    assert apply(2.0).cache_read_input_tokens == 0  # the new writer's response has not begun
    clock.now += 1.0
    assert apply(0.0).cache_read_input_tokens > 0


def test_prompt_cache_an_entry_written_again_is_readable_at_its_earliest_writers_first_token(
    cache: PromptCache, clock: FakeClock
) -> None:
    """A second writer whose response begins first (a shorter wait for its first token) makes
    the entry readable then, not when the slower first writer's response begins."""
    request = _request()

    def apply(ready_in: float) -> CacheUsage:
        return cache.apply(account_id=ACCOUNT, region="us-east-1", model_id=MODEL, request=request,
                           ready_in=ready_in)

    apply(5.0)
    clock.now += 0.1
    assert apply(0.5).cache_read_input_tokens == 0  # the first writer's response has not begun
    clock.now += 0.5
    assert apply(0.0).cache_read_input_tokens > 0  # the second one's has
