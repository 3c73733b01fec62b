"""Thinking signatures: what the simulator signs verifies, anything changed, forged or signed for
another model does not, and the conversation check names the block as the Anthropic API does."""

from __future__ import annotations

import base64
import hashlib

import pytest

from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.domain.thinking_signatures import REDACTED_NONCE_BYTES, SIGNATURE_BYTES, ThinkingSigner

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
    with pytest.raises(ValueError):
        ThinkingSigner(b"k" * 15)
    ThinkingSigner(b"k" * 16)  # the shortest secret taken


def test_thinking_signature_binds_model_and_text_unambiguously():
    """The MAC's fields are separated: moving bytes from the model ID to the text gives another signature."""
    assert SIGNER.signature("ab", "c") != SIGNER.signature("a", "bc")
    nonce = bytes(REDACTED_NONCE_BYTES)
    assert not SIGNER.redacted_data_is_valid("a", SIGNER.redacted_data("a\0", nonce))


def test_thinking_signature_cannot_be_made_from_redacted_data():
    """A redacted block's tag is not the MAC a thinking signature is stretched from: whoever holds
    redacted data of some bytes cannot sign those bytes as thinking."""
    text = "t" * REDACTED_NONCE_BYTES
    raw = base64.b64decode(SIGNER.redacted_data(SONNET, text.encode()))
    forged = base64.b64encode(hashlib.shake_256(raw[REDACTED_NONCE_BYTES:]).digest(SIGNATURE_BYTES)).decode()
    assert not SIGNER.signature_is_valid(SONNET, text, forged)


def test_thinking_signature_redacted_nonce_of_the_wrong_length_is_refused():
    for size in (0, REDACTED_NONCE_BYTES - 1, REDACTED_NONCE_BYTES + 1):
        with pytest.raises(ValueError):
            SIGNER.redacted_data(SONNET, bytes(size))


def test_thinking_signature_redacted_data_with_characters_added_is_refused():
    """Non-base64 characters slipped into valid data are a change (strict decoding, not skipped)."""
    data = SIGNER.redacted_data(SONNET, b"n" * REDACTED_NONCE_BYTES)
    for changed in (data[:10] + "!" + data[10:], data[:10] + "\n" + data[10:], data + "A"):
        assert not SIGNER.redacted_data_is_valid(SONNET, changed)


def test_thinking_signature_conversation_check_skips_plain_text_assistant_messages():
    SIGNER.check_conversation([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                               {"role": "user", "content": "Go on"}], SONNET)
