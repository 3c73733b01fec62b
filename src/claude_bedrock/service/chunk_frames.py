"""The ``chunk`` frames of InvokeModelWithResponseStream: their padding, and a cache of the
frames of the answers that engines hand out again and again."""

from __future__ import annotations

from typing import Any, Sequence

from claude_bedrock.domain.identity_memo import IdentityMemo
from claude_bedrock.domain.json_body import json_bytes
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
    return eventstream.chunk_frame(json_bytes(event), padding(index))


def chunk_frames(events: Sequence[dict[str, Any]], index: int) -> list[bytes]:
    """The frames of ``events``, the first of which is the ``index``-th of its stream."""
    return [chunk_frame(event, position) for position, event in enumerate(events, index)]


#: What ``ChunkFrameCache`` keeps: runs of at most this many events and bytes of frames.
MAX_RUN_EVENTS = 64
MAX_RUN_BYTES = 64 * 1024  # so at most 16 MiB in all with the default 256 runs


class ChunkFrameCache:
    """Encoded ``chunk`` frames of the answers engines hand out again and again.

    A frame is a pure function of its event and its position (the padding), and events are
    read-only for their consumers (``Engine.stream``). An engine that serves the same answer
    again hands out its shared part as one tuple (``ReadyEvents``' tail: the simulator does
    for every repeat of a prompt), so the frames of a tuple's events are kept joined, by the
    tuple's identity (``IdentityMemo``). Lists (what is made for one call) are encoded every
    time. Bounded: ``size`` runs, the oldest first out. Used on the event loop only.
    """

    __slots__ = ("_runs",)

    def __init__(self, size: int = 256) -> None:
        self._runs: IdentityMemo[bytes] = IdentityMemo(size)

    def frames(self, events: Sequence[dict[str, Any]], index: int, count: int | None = None) -> list[bytes]:
        """The frames of the first ``count`` events (all by default), the first of which is the
        ``index``-th of its stream; a tuple's come joined as one."""
        if count is None:
            count = len(events)
        if type(events) is not tuple or count > MAX_RUN_EVENTS:
            return chunk_frames(events[:count] if count < len(events) else events, index)
        joined = self._runs.get(events, (index, count))
        if joined is None:
            joined = b"".join(chunk_frames(events[:count], index))
            if len(joined) <= MAX_RUN_BYTES:
                self._runs.put(events, joined, (index, count))
        return [joined]
