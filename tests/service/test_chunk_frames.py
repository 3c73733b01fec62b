"""The chunk-frame cache returns exactly the frame a fresh encoding gives, and stays bounded."""

from __future__ import annotations

from claude_bedrock.service.chunk_frames import ChunkFrameCache, chunk_frame, chunk_frames, padding
from claude_bedrock.domain.json_body import json_bytes
from claude_bedrock.wire import eventstream
from claude_bedrock.wire.eventstream import EventStreamDecoder, decode_chunk_payload


def fresh(event: dict, index: int) -> bytes:
    frame = eventstream.event_frame("chunk", eventstream.chunk_payload(json_bytes(event), padding(index)))
    assert chunk_frame(event, index) == frame
    return frame


def test_frames_equal_fresh_encodings_at_every_position():
    cache = ChunkFrameCache()
    event = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}
    for index in range(70):
        assert cache.frames([event], index) == [fresh(event, index)]
        (first,) = cache.frames((event,), index)
        assert first == fresh(event, index)
        assert cache.frames((event,), index)[0] == first
    decoder = EventStreamDecoder()
    decoder.feed(cache.frames([event], 3)[0])
    (message,) = list(decoder)
    assert decode_chunk_payload(message.payload) == json_bytes(event)


def test_a_batch_gets_the_frames_of_consecutive_positions():
    events = [{"type": "ping", "n": n} for n in range(5)]
    assert chunk_frames(events, 7) == [fresh(event, 7 + n) for n, event in enumerate(events)]
    assert ChunkFrameCache().frames(events, 7) == chunk_frames(events, 7)
    assert ChunkFrameCache().frames(events, 7, 2) == chunk_frames(events[:2], 7)
    assert ChunkFrameCache().frames([], 3) == []


def test_lists_are_encoded_afresh_and_never_kept():
    cache = ChunkFrameCache(size=8)
    for n in range(100):
        event = {"type": "ping", "n": n}  # each dict dies after its turn: ids get reused
        assert cache.frames([event], 0) == [fresh(event, 0)]
    assert len(cache._runs) == 0


def test_padding_follows_the_position_rule_at_every_index():
    for index in range(300):
        assert padding(index) == eventstream.PADDING_ALPHABET[: (index * 7) % 62 + 1]


def test_runs_of_a_shared_tuple_are_served_joined_and_equal_fresh_encodings():
    from claude_bedrock.service.chunk_frames import MAX_RUN_BYTES, MAX_RUN_EVENTS

    cache = ChunkFrameCache(size=4)
    events = tuple({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": str(n)}}
                   for n in range(5))
    expected = b"".join(fresh(event, 1 + n) for n, event in enumerate(events[:4]))
    (joined,) = cache.frames(events, 1, 4)
    assert joined == expected
    assert cache.frames(events, 1, 4)[0] is joined  # the repeat: one lookup
    assert cache.frames(events, 2, 4)[0] == b"".join(fresh(event, 2 + n) for n, event in enumerate(events[:4]))
    assert cache.frames(events, 1)[0] == expected + fresh(events[4], 5)
    copy = tuple(dict(event) for event in events)  # equal, not the same: its own entry
    assert cache.frames(copy, 1, 4)[0] == expected and cache.frames(copy, 1, 4)[0] is not joined
    long = tuple({"type": "ping", "n": n} for n in range(MAX_RUN_EVENTS + 1))
    assert len(cache.frames(long, 0)) == len(long)  # too many events to keep joined
    big = ({"type": "ping", "text": "x" * MAX_RUN_BYTES},)
    (frame,) = cache.frames(big, 0)
    assert frame == fresh(big[0], 0) and cache._runs.get(big, (0, 1)) is None  # too big to keep
    for n in range(10):  # bounded: old runs go
        cache.frames(tuple(dict(event) for event in events), 0)
    assert len(cache._runs) <= 4


def test_usage_of_a_shared_answer_is_observed_like_any_other():
    from claude_bedrock.service.runtime import UsageTracker
    from claude_bedrock.service.stream_runtime import _observe

    start = {"type": "message_start", "message": {"usage": {"input_tokens": 7, "output_tokens": 1}}}
    rest = ({"type": "ping"}, {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 12}},
            {"type": "message_stop"})
    for events in ([start, *rest], (start, *rest), (start, *rest)):
        for _ in range(2):  # a tuple's second time comes from the memo
            usage = UsageTracker()
            _observe(usage, events)
            assert (usage.input, usage.output) == (7, 12)
