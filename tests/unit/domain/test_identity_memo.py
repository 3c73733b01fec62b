"""IdentityMemo: values kept by an object's identity, bounded, never confused between objects."""

from __future__ import annotations

import pytest

from claude_bedrock.domain.identity_memo import IdentityMemo


def test_values_are_kept_by_identity_and_key_part():
    memo: IdentityMemo[str] = IdentityMemo(8)
    shared = ({"type": "ping"},)
    equal = ({"type": "ping"},)
    assert memo.get(shared) is None
    assert memo.put(shared, "whole") == "whole"
    assert memo.put(shared, "from 3", (3, 1)) == "from 3"
    assert memo.get(shared) == "whole" and memo.get(shared, (3, 1)) == "from 3"
    assert memo.get(equal) is None  # equal but another object: its own entry
    assert memo.get(shared, (4, 1)) is None
    memo.put(shared, "again")
    assert memo.get(shared) == "again" and len(memo) == 2


def test_bounded_oldest_first_and_a_reused_identity_is_never_confused():
    memo: IdentityMemo[int] = IdentityMemo(4)
    kept = [tuple([n]) for n in range(6)]
    for n, owner in enumerate(kept):
        memo.put(owner, n)
    assert len(memo) == 4
    assert memo.get(kept[0]) is None and memo.get(kept[1]) is None
    assert [memo.get(owner) for owner in kept[2:]] == [2, 3, 4, 5]
    small: IdentityMemo[int] = IdentityMemo(2)
    for n in range(200):
        owner = tuple([n])  # the previous one may die once its entry is gone; ids get reused
        assert small.get(owner) is None
        small.put(owner, n)
        assert small.get(owner) == n


def test_a_memo_keeps_at_least_one_entry():
    with pytest.raises(ValueError):
        IdentityMemo(0)
