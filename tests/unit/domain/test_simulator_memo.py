"""The simulator's memo and delta merging change speed, never the answer."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from claude_bedrock.domain.engine import ModelCall
from claude_bedrock.domain.message import accumulate, coalesce_deltas
from claude_bedrock.domain.prompt_cache import PromptCache
from claude_bedrock.domain.simulator import MEMO_ENTRIES, MEMO_MAX_EVENTS, SimulatorEngine

CALL = ModelCall(
    request={"max_tokens": 200, "anthropic_version": "bedrock-2023-05-31",
             "messages": [{"role": "user", "content": "Tell me about tide pools"}]},
    model_id="anthropic.claude-sonnet-4-5-20250929-v1:0",
    anthropic_name="claude-sonnet-4-5-20250929",
    message_id="msg_bdrk_01TEST",
    account_id="111122223333",
    region="us-west-2",
    operation="InvokeModelWithResponseStream",
)


def engine(mode: str = "prose") -> SimulatorEngine:
    return SimulatorEngine(seed=3, mode=mode, cache=PromptCache(lambda: 0.0))


def test_simulator_memo_hit_gives_identical_events():
    sim = engine()
    assert sim.events(CALL) == sim.events(CALL)
    assert engine().events(CALL) == sim.events(CALL)  # a fresh engine (no memo) agrees


def test_simulator_non_streaming_merges_deltas_into_the_same_message():
    sim = engine()
    streamed = sim.events(CALL)
    whole = sim.events(replace(CALL, operation="InvokeModel"))
    assert len(whole) < len(streamed)
    assert sum(e["type"] == "content_block_delta" for e in whole) == 1
    assert accumulate(whole) == accumulate(streamed)


def test_simulator_memo_keys_on_max_tokens_and_stop_sequences():
    sim = engine()
    full = accumulate(sim.events(CALL))
    short = accumulate(sim.events(replace(CALL, request={**CALL.request, "max_tokens": 5})))
    assert short["stop_reason"] == "max_tokens" and short["usage"]["output_tokens"] == 5
    assert full["content"][0]["text"].startswith(short["content"][0]["text"])


def test_simulator_memo_is_bounded():
    sim = engine()
    for i in range(MEMO_ENTRIES + 10):
        sim.events(replace(CALL, request={**CALL.request, "messages": [{"role": "user", "content": f"q{i}"}]}))
    assert len(sim._memo) == MEMO_ENTRIES


def test_simulator_memo_is_bounded_by_events_too():
    """Long echoed answers stream thousands of deltas each: bounded by its entry count alone,
    the memo kept 512 of them (3 MB each for a 64K-token echo, gigabytes in all)."""
    sim = engine("echo")
    words = " ".join(f"word{j}" for j in range(3000))
    sizes = []
    for i in range(2 * MEMO_MAX_EVENTS // 1000):
        call = replace(CALL, request={**CALL.request, "max_tokens": 64000,
                                      "messages": [{"role": "user", "content": f"q{i} {words}"}]})
        sizes.append(len(sim.events(call)))
    assert min(sizes) > 1000  # each answer is a long one
    assert sum(len(body) for body in sim._memo.values()) <= MEMO_MAX_EVENTS
    assert sim.events(call) == engine("echo").events(call)  # a hit answers as a fresh engine


def test_coalesce_deltas_keeps_blocks_apart():
    events = [
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "b"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "c"}},
    ]
    merged = coalesce_deltas(events)
    assert [e["delta"]["text"] for e in merged if e["type"] == "content_block_delta"] == ["ab", "c"]
    assert events[1]["delta"]["text"] == "a"  # inputs are never changed


def _merge_pairwise(events):
    """The obvious (quadratic) merge, as the oracle: each delta folded into the one before."""
    fields = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}
    out = []
    for event in events:
        if event.get("type") == "content_block_delta" and out:
            previous, delta = out[-1], event["delta"]
            field = fields.get(delta.get("type"))
            if (field is not None and previous.get("type") == "content_block_delta"
                    and previous["index"] == event["index"] and previous["delta"].get("type") == delta["type"]):
                out[-1] = {**previous, "delta": {**previous["delta"], field: previous["delta"][field] + delta[field]}}
                continue
        out.append(event)
    return out


_DELTAS = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json",
           "citations_delta": "citation", "signature_delta": "signature"}


@st.composite
def _event_runs(draw):
    events = []
    for _ in range(draw(st.integers(0, 30))):
        if draw(st.booleans()):
            kind = draw(st.sampled_from(sorted(_DELTAS)))
            delta = {"type": kind, _DELTAS[kind]: draw(st.text(max_size=4))}
            events.append({"type": "content_block_delta", "index": draw(st.integers(0, 1)), "delta": delta})
        else:
            events.append({"type": draw(st.sampled_from(["content_block_stop", "ping"])), "index": 0})
    return events


@given(_event_runs())
def test_coalesce_deltas_equals_merging_pair_by_pair(events):
    import copy

    before = copy.deepcopy(events)
    merged = coalesce_deltas(events)
    assert merged == _merge_pairwise(before)
    assert events == before  # inputs are never changed
    if len(merged) == len(events):  # nothing merged: the very same event objects
        assert all(m is e for m, e in zip(merged, events))


def test_a_large_request_is_memoised_by_its_digest_a_small_one_by_itself():
    from claude_bedrock.domain.simulator import MEMO_INLINE_KEY_BYTES

    sim = engine()
    long_prompt = "Tell me about tide pools. " * (MEMO_INLINE_KEY_BYTES // 20)
    large = replace(CALL, request={**CALL.request, "messages": [{"role": "user", "content": long_prompt}]})
    first = sim.events(large)
    assert sim.events(large) == first == engine().events(large)  # a memo hit answers the same
    assert sim.events(CALL) == engine().events(CALL)
    keys = [key[0] for key in sim._memo]
    assert isinstance(keys[0], bytes) and len(keys[0]) == 32  # the large one: its SHA-256
    assert keys[1][0] == CALL.model_id and len(keys[1][1]) <= MEMO_INLINE_KEY_BYTES  # the small one: itself
