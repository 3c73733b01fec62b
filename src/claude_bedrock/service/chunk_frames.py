"""The ``chunk`` frames of InvokeModelWithResponseStream: their padding, and a cache of the
frames of events that engines hand out again and again."""

from __future__ import annotations

from typing import Any, Sequence

from claude_bedrock.service.http import json_bytes
from claude_bedrock.wire import eventstream

def _position_padding(position: int) -> str:
    return eventstream.PADDING_ALPHABET[: (position * 7) % len(eventstream.PADDING_ALPHABET) + 1]


#: The padding of every position modulo the alphabet's length (it repeats with that period).
_PADDINGS = tuple(_position_padding(position) for position in range(len(eventstream.PADDING_ALPHABET)))


def padding(index: int) -> str:
    """The ``p`` member of the ``index``-th frame of a stream: Bedrock pads each frame with a
    prefix of ``PADDING_ALPHABET`` of varying length; ours varies with the position
    (deterministic: ``(index * 7) % 62 + 1`` characters)."""
    return _PADDINGS[index % len(_PADDINGS)]


def chunk_frame(event: dict[str, Any], index: int) -> bytes:
    """The ``chunk`` frame of the ``index``-th event of a stream."""
    return eventstream.chunk_frame(json_bytes(event), _PADDINGS[index % len(_PADDINGS)])


#: The longest run of events whose frames ``ChunkFrameCache.run`` keeps joined.
MAX_RUN_EVENTS = 64


class ChunkFrameCache:
    """Encoded ``chunk`` frames of the events engines hand out again and again.

    A frame is a pure function of its event and its position (the padding), and events are
    read-only for their consumers (``Engine.stream``): the simulator serves every repeat of a
    prompt from the same memoised event dicts. Entries are keyed by the event's identity and
    hold the event itself, so that identity cannot be reused by another dict while its entry
    lives. Bounded: the oldest entries go first. Used on the event loop only.
    """

    __slots__ = ("_entries", "_size", "_runs")

    def __init__(self, size: int = 4096) -> None:
        self._entries: dict[tuple[int, int], tuple[dict[str, Any], bytes]] = {}
        self._size = size
        self._runs: dict[tuple[int, int, int], tuple[tuple[dict[str, Any], ...], bytes]] = {}

    def run(self, events: Sequence[dict[str, Any]], index: int, count: int) -> list[bytes]:
        """The frames of ``events[:count]``, the first of which is the ``index``-th of its
        stream. The frames of a tuple's first events (an engine's shared answer, see
        ``ReadyEvents``) are kept joined, keyed by the tuple's identity: a repeat is one
        lookup, whatever its length. Runs longer than ``MAX_RUN_EVENTS`` are not kept."""
        if type(events) is not tuple or count > MAX_RUN_EVENTS:
            return self.frames(events[:count], index)
        runs = self._runs
        key = (id(events), index, count)
        entry = runs.get(key)
        if entry is not None and entry[0] is events:
            return [entry[1]]
        joined = b"".join(self.frames(events[:count], index))
        if len(runs) >= self._size // MAX_RUN_EVENTS:
            del runs[next(iter(runs))]
        runs[key] = (events, joined)
        return [joined]

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
