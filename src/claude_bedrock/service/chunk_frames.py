"""The ``chunk`` frames of InvokeModelWithResponseStream: their padding, and a cache of the
frames of events that engines hand out again and again."""

from __future__ import annotations

from typing import Any, Sequence

from claude_bedrock.service.http import json_bytes
from claude_bedrock.wire import eventstream

_PADDING_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def padding(index: int) -> str:
    """The ``p`` member of the ``index``-th frame of a stream: Bedrock pads each frame with a
    prefix of this alphabet of varying length; ours varies with the position (deterministic)."""
    return _PADDING_ALPHABET[: (index * 7) % len(_PADDING_ALPHABET) + 1]


def chunk_frame(event: dict[str, Any], index: int) -> bytes:
    """The ``chunk`` frame of the ``index``-th event of a stream."""
    return eventstream.event_frame("chunk", eventstream.chunk_payload(json_bytes(event), padding(index)))


class ChunkFrameCache:
    """Encoded ``chunk`` frames of the events engines hand out again and again.

    A frame is a pure function of its event and its position (the padding), and events are
    read-only for their consumers (``Engine.stream``): the simulator serves every repeat of a
    prompt from the same memoised event dicts. Entries are keyed by the event's identity and
    hold the event itself, so that identity cannot be reused by another dict while its entry
    lives. Bounded: the oldest entries go first. Used on the event loop only.
    """

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int = 4096) -> None:
        self._entries: dict[tuple[int, int], tuple[dict[str, Any], bytes]] = {}
        self._size = size

    def frames(self, events: Sequence[dict[str, Any]], index: int) -> list[bytes]:
        """The frames of ``events``, the first of which is the ``index``-th of its stream."""
        entries = self._entries
        frames = []
        for event in events:
            key = (id(event), index)
            entry = entries.get(key)
            if entry is not None and entry[0] is event:
                frames.append(entry[1])
            else:
                frame = chunk_frame(event, index)
                if len(entries) >= self._size:
                    del entries[next(iter(entries))]
                entries[key] = (event, frame)
                frames.append(frame)
            index += 1
        return frames
