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
