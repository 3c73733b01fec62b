"""The chunk-frame cache returns exactly the frame a fresh encoding gives, and stays bounded."""

from __future__ import annotations

from claude_bedrock.service.chunk_frames import ChunkFrameCache, chunk_frame, padding
from claude_bedrock.service.http import json_bytes
from claude_bedrock.wire import eventstream
from claude_bedrock.wire.eventstream import EventStreamDecoder, decode_chunk_payload


def fresh(event: dict, index: int) -> bytes:
    frame = eventstream.event_frame("chunk", eventstream.chunk_payload(json_bytes(event), padding(index)))
    assert chunk_frame(event, index) == frame
    return frame


def test_cached_frames_equal_fresh_encodings_at_every_position():
    cache = ChunkFrameCache()
    event = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}
    for index in range(70):
        first = cache.frames([event], index)[0]
        assert first == fresh(event, index)
        assert cache.frames([event], index)[0] is first  # the repeat is served from the cache
    decoder = EventStreamDecoder()
    decoder.feed(cache.frames([event], 3)[0])
    (message,) = list(decoder)
    assert decode_chunk_payload(message.payload) == json_bytes(event)


def test_an_equal_but_different_event_is_encoded_for_itself():
    cache = ChunkFrameCache()
    one = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}
    other = {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 3}}
    assert cache.frames([one], 5)[0] == fresh(one, 5)
    assert cache.frames([other], 5)[0] == fresh(other, 5) != fresh(one, 5)


def test_the_cache_is_bounded_and_a_reused_identity_is_never_confused():
    cache = ChunkFrameCache(size=8)
    for n in range(100):
        event = {"type": "ping", "n": n}  # each dict dies after its turn: ids get reused
        assert cache.frames([event], 0)[0] == fresh(event, 0)
    assert len(cache._entries) <= 8


def test_a_batch_gets_the_frames_of_consecutive_positions():
    cache = ChunkFrameCache()
    events = [{"type": "ping", "n": n} for n in range(5)]
    assert cache.frames(events, 7) == [fresh(event, 7 + n) for n, event in enumerate(events)]
    again = cache.frames(events, 7)
    assert all(a is b for a, b in zip(again, cache.frames(events, 7)))  # served from the cache
    assert cache.frames([], 3) == []


def test_padding_follows_the_position_rule_at_every_index():
    for index in range(300):
        assert padding(index) == eventstream.PADDING_ALPHABET[: (index * 7) % 62 + 1]


def test_runs_of_a_shared_tuple_are_served_joined_and_equal_fresh_encodings():
    from claude_bedrock.service.chunk_frames import MAX_RUN_EVENTS

    cache = ChunkFrameCache(size=4 * MAX_RUN_EVENTS)
    events = tuple({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": str(n)}}
                   for n in range(5))
    expected = b"".join(fresh(event, 1 + n) for n, event in enumerate(events[:4]))
    (joined,) = cache.run(events, 1, 4)
    assert joined == expected
    assert cache.run(events, 1, 4)[0] is joined  # the repeat: one lookup
    assert cache.run(events, 2, 4)[0] == b"".join(fresh(event, 2 + n) for n, event in enumerate(events[:4]))
    copy = tuple(dict(event) for event in events)  # equal, not the same: its own entry
    assert cache.run(copy, 1, 4)[0] == expected and cache.run(copy, 1, 4)[0] is not joined
    # a list is not cached as a run (it may change); frames come one per event
    assert cache.run(list(events), 1, 4) == [fresh(event, 1 + n) for n, event in enumerate(events[:4])]
    long = tuple({"type": "ping", "n": n} for n in range(MAX_RUN_EVENTS + 1))
    assert len(cache.run(long, 0, len(long))) == len(long)  # too long to keep joined
    for n in range(10):  # bounded: old runs go
        cache.run(tuple(dict(event) for event in events), 0, 5)
    assert len(cache._runs) <= 4
