"""Thinking signatures: what the simulator signs verifies, anything changed, forged or signed for
another model does not, and the conversation check names the block as the Anthropic API does."""

from __future__ import annotations

import pytest

from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.domain.thinking_signatures import REDACTED_NONCE_BYTES, ThinkingSigner

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
SIGNER = ThinkingSigner(b"k" * 32)


def conversation(*assistant_blocks: dict) -> list[dict]:
    return [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": list(assistant_blocks)},
            {"role": "user", "content": "Go on"}]


def thinking(text: str, model: str = SONNET, signer: ThinkingSigner = SIGNER) -> dict:
    return {"type": "thinking", "thinking": text, "signature": signer.signature(model, text)}


def test_thinking_signature_round_trip_and_binding():
    signature = SIGNER.signature(SONNET, "Let me think.")
    assert SIGNER.signature_is_valid(SONNET, "Let me think.", signature)
    assert not SIGNER.signature_is_valid(SONNET, "Let me think!", signature)
    assert not SIGNER.signature_is_valid(HAIKU, "Let me think.", signature)
    assert not ThinkingSigner(b"x" * 32).signature_is_valid(SONNET, "Let me think.", signature)
    assert not SIGNER.signature_is_valid(SONNET, "Let me think.", "")
    assert not SIGNER.signature_is_valid(SONNET, "\ud800", "é\ud800")  # never an encoding error


def test_thinking_signature_redacted_data_round_trip():
    data = SIGNER.redacted_data(SONNET, b"n" * REDACTED_NONCE_BYTES)
    assert SIGNER.redacted_data_is_valid(SONNET, data)
    assert not SIGNER.redacted_data_is_valid(HAIKU, data)
    assert not SIGNER.redacted_data_is_valid(SONNET, data[:-8] + "AAAAAAA=")
    for junk in ("", "not base64!", "é", "QUJD"):
        assert not SIGNER.redacted_data_is_valid(SONNET, junk)


def test_thinking_signature_conversation_check_accepts_own_blocks():
    redacted = {"type": "redacted_thinking", "data": SIGNER.redacted_data(SONNET, bytes(REDACTED_NONCE_BYTES))}
    SIGNER.check_conversation(conversation(thinking("a"), redacted, {"type": "text", "text": "ok"}), SONNET)


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ([{"type": "text", "text": "ok"}, {**thinking("a"), "thinking": "b"}],
         "messages.1.content.1: Invalid `signature` in `thinking` block"),
        ([thinking("a", HAIKU)], "messages.1.content.0: Invalid `signature` in `thinking` block"),
        ([{"type": "thinking", "thinking": "a", "signature": "EqQBCkYIARgC"}],
         "messages.1.content.0: Invalid `signature` in `thinking` block"),
        ([thinking("a"), {"type": "redacted_thinking", "data": "QUJD"}],
         "messages.1.content.1: Invalid `data` in `redacted_thinking` block"),
    ],
    ids=["changed", "other-model", "foreign", "redacted"],
)
def test_thinking_signature_conversation_check_refuses(blocks, message):
    with pytest.raises(ValidationException) as caught:
        SIGNER.check_conversation(conversation(*blocks), SONNET)
    assert caught.value.message == message


def test_thinking_signature_secret_never_shown():
    assert "kkkk" not in repr(SIGNER)
    with pytest.raises(ValueError):
        ThinkingSigner(b"short")
