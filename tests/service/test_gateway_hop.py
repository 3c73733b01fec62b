"""A gateway's ``x-claude-bedrock-via`` chain: this gateway appended for its upstream, a chain
naming it refused (a loop), and a chain no list of gateway names could be refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.service.http import Request
from claude_bedrock.service.runtime import VIA_HEADER, gateway_hop

STATE = SimpleNamespace(gateway_id="gw-own")


def _hop(chain: str | None) -> list[tuple[str, str]]:
    headers = [("host", "localhost")] + ([(VIA_HEADER, chain)] if chain is not None else [])
    return gateway_hop(STATE, Request("POST", "/model/m/invoke", "", headers))  # type: ignore[arg-type]


def test_a_gateway_appends_itself_to_the_chain():
    assert _hop(None) == [(VIA_HEADER, "gw-own")]
    assert _hop("gw-a,gw-b") == [(VIA_HEADER, "gw-a,gw-b,gw-own")]
    # a name holding this one's is another gateway: the chain is compared name by name
    assert _hop("gw-own-2,x-gw-own") == [(VIA_HEADER, "gw-own-2,x-gw-own,gw-own")]
    with pytest.raises(ValidationException, match="came back to a gateway"):
        _hop("gw-a,gw-own")


def test_a_chain_longer_than_4096_characters_is_refused():
    longest = "g" * 4096
    assert _hop(longest) == [(VIA_HEADER, longest + ",gw-own")]
    with pytest.raises(ValidationException, match="comma-separated list of gateway names"):
        _hop(longest + "g")
