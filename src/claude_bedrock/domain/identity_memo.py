"""Values derived from an object that is handed out again and again, kept by its identity.

An engine that serves the same answer again hands out its shared part as one tuple
(``engine.ReadyEvents``' tail), and its events are read-only for consumers. What a consumer
derives from such a tuple (a stream's encoded frames, its usage events) is a pure function of
it, so it can be kept and looked up by ``id()``, which costs one dict lookup whatever the
tuple's length. Equal tuples that are different objects get entries of their own.
"""

from __future__ import annotations

from typing import Any, Generic, Hashable, TypeVar

__all__ = ["IdentityMemo"]

Value = TypeVar("Value")


class IdentityMemo(Generic[Value]):
    """A bounded map from (an object's identity, optional key parts) to a value.

    Each entry holds its object, so that the identity cannot be reused by another object
    while the entry lives. The oldest entries go first once ``size`` is reached. Not
    thread-safe; the server uses it on the event loop only.
    """

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("an IdentityMemo keeps at least one entry")
        self._entries: dict[tuple[int, Hashable], tuple[Any, Value]] = {}
        self._size = size

    def get(self, owner: object, part: Hashable = None) -> Value | None:
        """The value kept for ``owner`` (and ``part``), or None. (An entry found under
        ``id(owner)`` is ``owner``'s: the object it holds keeps that identity taken.)"""
        entry = self._entries.get((id(owner), part))
        return entry[1] if entry is not None else None

    def put(self, owner: object, value: Value, part: Hashable = None) -> Value:
        """Keep ``value`` for ``owner`` (and ``part``); return it."""
        entries = self._entries
        key = (id(owner), part)
        if key not in entries and len(entries) >= self._size:
            del entries[next(iter(entries))]
        entries[key] = (owner, value)
        return value

    def __len__(self) -> int:
        return len(self._entries)
