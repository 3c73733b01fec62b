"""The token counter: documented rule, invariants, request and block costs."""

from __future__ import annotations

import base64
import math
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_bedrock.domain import tokens
from claude_bedrock.domain.tokens import (
    IMAGE_MAX_TOKENS,
    MESSAGE_OVERHEAD_TOKENS,
    PDF_TOKENS_PER_PAGE,
    REQUEST_OVERHEAD_TOKENS,
    count_block,
    count_json,
    count_output_block,
    count_request,
    count_text,
    pdf_page_count,
    prompt_segments,
    truncate_text,
)

text_strategy = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("   \n\t ", 0),
        ("the", 1),
        ("hello", 1),
        ("tokenizer", 2),  # letters in chunks of 5
        ("2025", 2),  # digits in chunks of 3
        ("Hello, world", 3),
        ("snake_case", 3),  # "_" is a token of its own
        ("naïve", 3),  # "na", "ï", "ve"
        ("日本語", 2),  # other letters in chunks of 2: "日本", "語"
        ("ελληνικά", 4),
    ],
)
def test_count_text_rule_examples(text: str, expected: int) -> None:
    assert count_text(text) == expected


ascii_text = st.text(alphabet=st.characters(max_codepoint=127), max_size=300)


@given(ascii_text)
def test_count_text_of_ascii_text_is_the_number_of_regex_matches(text: str) -> None:
    """ASCII text is counted by character classes, not the regex: the same count, always
    (the alphabet includes the control characters ``\\s`` treats as space, ``\\x1c``-``\\x1f``)."""
    assert count_text(text) == len(tokens._TOKEN_RE.findall(text))


@given(st.lists(st.sampled_from(["a", "Z", "7", "0", "_", ".", " ", "\t", "\x1c", "\x00", "\x7f"]), max_size=60))
def test_count_text_of_ascii_class_runs_is_the_number_of_regex_matches(chars: list[str]) -> None:
    text = "".join(chars)  # long runs of one class, and every kind of boundary
    assert count_text(text) == len(tokens._TOKEN_RE.findall(text))


@given(text_strategy, text_strategy)
def test_count_text_adds_up_across_whitespace(a: str, b: str) -> None:
    assert count_text(a + " " + b) == count_text(a) + count_text(b)


@given(text_strategy, text_strategy)
def test_count_text_never_decreases_when_text_is_appended(a: str, b: str) -> None:
    assert count_text(a + b) >= count_text(a)


@given(text_strategy)
def test_count_text_is_deterministic_and_bounded_by_length(text: str) -> None:
    assert count_text(text) == count_text(text)
    assert count_text(text) <= len(text)


@given(text_strategy, st.integers(min_value=0, max_value=80))
def test_truncate_text_returns_prefix_with_exact_token_count(text: str, limit: int) -> None:
    kept = truncate_text(text, limit)
    assert text.startswith(kept)
    assert count_text(kept) == min(limit, count_text(text))


def test_truncate_text_cuts_inside_a_long_word() -> None:
    assert truncate_text("extraordinary things", 1) == "extra"
    assert truncate_text("extraordinary things", 3) == "extraordinary"


def test_count_request_hello_world_matches_real_service() -> None:
    request = {"messages": [{"role": "user", "content": "Hello, world"}]}
    assert count_request(request) == REQUEST_OVERHEAD_TOKENS + MESSAGE_OVERHEAD_TOKENS + 3 == 10


def test_count_request_string_and_block_content_agree() -> None:
    as_string = {"messages": [{"role": "user", "content": "Tell me about otters."}]}
    as_blocks = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Tell me about otters."}]}]}
    assert count_request(as_string) == count_request(as_blocks)


def test_count_request_tools_add_definition_and_system_prompt_by_choice() -> None:
    tool = {"name": "get_weather", "description": "Weather now", "input_schema": {"type": "object"}}
    base = {"messages": [{"role": "user", "content": "hi"}]}
    auto = {**base, "tools": [tool]}
    forced = {**auto, "tool_choice": {"type": "any"}}
    assert count_request(auto) - count_request(base) > 346
    assert count_request(auto) - count_request(forced) == 346 - 313
    assert count_request({**auto, "tool_choice": {"type": "none"}}) == count_request(auto)  # 346 for auto and none


def test_count_request_counts_a_deferred_tool_only_once_a_tool_reference_loads_it() -> None:
    # Anthropic "Tool search tool": deferred tools stay out of the prompt prefix; the ones a
    # search loads count as input like any other tool definition.
    search = {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"}
    deferred = {"name": "get_weather", "description": "Weather now " * 20, "input_schema": {"type": "object"},
                "defer_loading": True}
    question = {"role": "user", "content": "What is the weather?"}
    assert count_request({"tools": [search, deferred], "messages": [question]}) == count_request(
        {"tools": [search], "messages": [question]})
    found = {"type": "tool_search_tool_result", "tool_use_id": "srvtoolu_1",
             "content": {"type": "tool_search_tool_search_result",
                         "tool_references": [{"type": "tool_reference", "tool_name": "get_weather"}]}}
    history = [question, {"role": "assistant", "content": [found, {"type": "text", "text": "Found it."}]},
               {"role": "user", "content": "thanks"}]
    loaded = count_request({"tools": [search, deferred], "messages": history})
    unloaded = count_request({"tools": [search], "messages": history})
    definition = count_request({"tools": [search, {**deferred, "defer_loading": False}], "messages": [question]})
    assert loaded - unloaded == definition - count_request({"tools": [search], "messages": [question]}) > 40


def test_count_request_system_string_and_blocks() -> None:
    base = {"messages": [{"role": "user", "content": "hi"}]}
    with_string = {**base, "system": "You are terse."}
    with_blocks = {**base, "system": [{"type": "text", "text": "You are terse."}]}
    assert count_request(with_string) == count_request(with_blocks) > count_request(base)


THINKING = {"type": "thinking", "thinking": "long deliberation " * 50, "signature": "c2ln"}
REDACTED = {"type": "redacted_thinking", "data": "RW5jcnlwdGVk" * 40}


def _without_thinking(request: dict) -> dict:
    """The request as a model that strips thinking sees it (Anthropic "Extended thinking")."""
    return {**request, "messages": [
        {**m, "content": [b for b in m["content"] if b["type"] not in ("thinking", "redacted_thinking")]}
        if isinstance(m["content"], list) else m for m in request["messages"]]}


def _use(n: int) -> dict:
    return {"type": "tool_use", "id": f"toolu_{n}", "name": "get_weather", "input": {"city": "Paris"}}


def _result(n: int) -> dict:
    return {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": "20 C, sunny"}


def test_count_request_strips_thinking_once_a_user_turn_holds_more_than_tool_results() -> None:
    """Anthropic "Extended thinking", "Extended thinking with prompt caching": "When a
    non-tool-result user block is included, all previous thinking blocks are ignored and
    stripped from context" (the last assistant turn's too: the doc's Request 3). The earlier
    rule counted the thinking of the last assistant message whatever followed it (a former
    version of this test asserted that)."""
    chat = {"messages": [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": [THINKING, {"type": "text", "text": "b"}]},
        {"role": "user", "content": "c"},
    ]}
    assert count_request(chat) == count_request(_without_thinking(chat))
    mixed = {"messages": [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": [REDACTED, _use(1)]},
        {"role": "user", "content": [_result(1), {"type": "text", "text": "now something else"}]},
    ]}
    assert count_request(mixed) == count_request(_without_thinking(mixed))


def test_count_request_keeps_the_thinking_of_the_whole_tool_use_loop() -> None:
    """Tool-use loops are part of one assistant turn; its thinking blocks "count as input
    tokens" (Anthropic "Extended thinking", "The context window with extended thinking and tool
    use": current input + previous thinking tokens). The earlier rule kept only the last
    assistant message's, so the first call's thinking went uncounted after a second tool call."""
    loop = {"thinking": {"type": "enabled", "budget_tokens": 1024}, "messages": [
        {"role": "user", "content": "What's the weather in Paris and Lyon?"},
        {"role": "assistant", "content": [THINKING, _use(1)]},
        {"role": "user", "content": [_result(1)]},
        {"role": "assistant", "content": [_use(2)]},
        {"role": "user", "content": [_result(2)]},
    ]}
    stripped = count_request(_without_thinking(loop))
    assert count_request(loop) == stripped + count_block(THINKING) > stripped
    earlier = {**loop, "messages": [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": [REDACTED, {"type": "text", "text": "b"}]},
        {"role": "user", "content": "c"},
        *loop["messages"][1:],
    ]}  # a finished turn before the loop: its (redacted) thinking is stripped, the loop's kept
    assert count_request(earlier) == count_request(_without_thinking(earlier)) + count_block(THINKING)


@pytest.mark.parametrize("thinking", [None, {"type": "disabled"}])
def test_count_request_strips_the_loops_thinking_when_thinking_is_off(thinking: dict | None) -> None:
    """Anthropic "Extended thinking", "Extended thinking with prompt caching": "If thinking becomes
    disabled and you pass thinking content in the current tool use turn, the thinking content
    will be stripped and thinking will remain disabled for that request" (a model before Opus
    4.5; "Graceful thinking degradation"). It was counted."""
    loop = {"messages": [
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": [THINKING, _use(1)]},
        {"role": "user", "content": [_result(1)]},
    ]}
    if thinking is not None:
        loop["thinking"] = thinking
    assert count_request(loop) == count_request(_without_thinking(loop))
    assert prompt_segments(loop) == prompt_segments(_without_thinking(loop))
    enabled = {**loop, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert count_request(enabled) > count_request(_without_thinking(enabled))


def test_count_request_preserving_models_count_every_thinking_block() -> None:
    """Claude Opus 4.5 and later keep "thinking blocks from previous assistant turns ... in model
    context by default" (Anthropic "Extended thinking", "Thinking block preservation in Claude
    Opus 4.5 and later")."""
    chat = {"messages": [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": [THINKING, {"type": "text", "text": "b"}]},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": [REDACTED, {"type": "text", "text": "d"}]},
        {"role": "user", "content": "e"},
    ]}
    thinking = count_block(THINKING) + count_block(REDACTED)
    assert count_request(chat, preserve_thinking=True) == count_request(_without_thinking(chat)) + thinking
    assert count_request(chat) == count_request(_without_thinking(chat))


def test_prompt_segments_leave_stripped_thinking_out_of_the_prompt() -> None:
    """A stripped block is not in the prompt: the segments are those of the request without it
    (so its cached prefix is the stripped prompt's), and the total is count_request's."""
    chat = {"messages": [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": [THINKING, {"type": "text", "text": "b"}]},
        {"role": "user", "content": "c"},
    ]}
    assert prompt_segments(chat) == prompt_segments(_without_thinking(chat))
    kept = prompt_segments(chat, preserve_thinking=True)
    assert len(kept) == len(prompt_segments(chat)) + 1
    assert REQUEST_OVERHEAD_TOKENS + sum(s.tokens for s in kept) == count_request(chat, preserve_thinking=True)


def _png(width: int, height: int) -> str:
    header = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", width, height)
    return base64.b64encode(header + b"\x08\x02\x00\x00\x00" + b"\x00" * 64).decode()


def _image(data: str, media_type: str = "image/png") -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def test_count_block_png_uses_header_dimensions() -> None:
    assert count_block(_image(_png(200, 150))) == math.ceil(200 * 150 / 750)
    assert count_block(_image(_png(1000, 1000))) == math.ceil(1000 * 1000 / 750)


def test_count_block_tall_image_is_scaled_by_its_long_edge() -> None:
    scale = 1568 / 3000
    assert count_block(_image(_png(1000, 3000))) == math.ceil((1000 * scale) * (3000 * scale) / 750) < IMAGE_MAX_TOKENS


def test_count_block_large_image_is_capped() -> None:
    assert count_block(_image(_png(4000, 3000))) == IMAGE_MAX_TOKENS


def test_count_block_gif_uses_header_dimensions() -> None:
    gif = base64.b64encode(b"GIF89a" + struct.pack("<HH", 300, 100) + b"\x00" * 20).decode()
    assert count_block(_image(gif, "image/gif")) == 40


def test_count_block_jpeg_estimated_from_encoded_size() -> None:
    small = base64.b64encode(b"\xff\xd8\xff" + b"\x00" * 3_000).decode()
    large = base64.b64encode(b"\xff\xd8\xff" + b"\x00" * 30_000).decode()
    assert 1 <= count_block(_image(small, "image/jpeg")) < count_block(_image(large, "image/jpeg")) <= IMAGE_MAX_TOKENS
    padded = base64.b64encode(b"\xff\xd8\xff" + b"\x00" * 184).decode()  # 187 bytes, "==" padded
    assert padded.endswith("==")
    assert count_block(_image(padded, "image/jpeg")) == math.ceil(187 * 4 / 750) == 1  # the padding is no data


def test_count_block_redacted_thinking_is_one_token_per_8_characters() -> None:
    assert count_block({"type": "redacted_thinking", "data": "A" * 80}) == 10


def _pdf(pages: int) -> str:
    body = b"%%PDF-1.4\n1 0 obj << /Type /Pages /Count %d >> endobj\n" % pages
    body += b"".join(b"%d 0 obj << /Type /Page /Parent 1 0 R >> endobj\n" % (i + 2) for i in range(pages))
    return base64.b64encode(body + b"%%EOF").decode()


def test_pdf_page_count_counts_page_objects_not_pages_tree() -> None:
    assert pdf_page_count(_pdf(3)) == 3


def test_pdf_page_count_reads_pages_in_compressed_object_streams() -> None:
    """PDF 1.5+ writers put page objects in /ObjStm streams: three pages, not one (by size)."""
    objects = b"1 0 2 31 3 73 4 97 5 121\n<< /Type /Catalog /Pages 2 0 R >>\n" \
              b"<< /Type /Pages /Kids [3 0 R 4 0 R 5 0 R] /Count 3 >>\n" + b"<< /Type /Page /Parent 2 0 R >>\n" * 3
    stream = zlib.compress(objects)
    body = (b"%%PDF-1.5\n6 0 obj\n<< /Type /ObjStm /N 5 /First 25 /Filter /FlateDecode /Length %d >>\nstream\n"
            % len(stream)) + stream + b"\nendstream\nendobj\n%%EOF\n"
    assert pdf_page_count(base64.b64encode(body).decode()) == 3


def test_pdf_page_count_falls_back_to_size() -> None:
    assert pdf_page_count(base64.b64encode(b"x" * 250_000).decode()) == 3


def test_count_block_document_kinds() -> None:
    pdf = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": _pdf(2)}}
    text_doc = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "one two three"}}
    content_doc = {
        "type": "document",
        "source": {"type": "content", "content": [{"type": "text", "text": "one two three"}]},
    }
    assert count_block(pdf) == tokens.DOCUMENT_OVERHEAD_TOKENS + 2 * PDF_TOKENS_PER_PAGE
    assert count_block(text_doc) == count_block(content_doc) == tokens.DOCUMENT_OVERHEAD_TOKENS + 3
    titled = {**text_doc, "title": "Notes"}
    assert count_block(titled) == count_block(text_doc) + 1


def test_count_json_counts_structure_not_punctuation() -> None:
    assert count_json({"location": "Paris"}) == 1 + (2 + 1 + 1)
    assert count_json([1, True, None]) == 4


def test_count_output_block_rules() -> None:
    assert count_output_block({"type": "text", "text": "Hello, world", "citations": [{"cited_text": "x" * 99}]}) == 3
    assert count_output_block({"type": "thinking", "thinking": "hmm ok", "signature": "QUJD" * 50}) == 2
    tool = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}}
    assert count_output_block(tool) == count_text("get_weather") + count_json({"location": "Paris"})
    search = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "tool_search_tool_regex",
              "input": {"query": "weather"}}
    assert count_output_block(search) == count_text("tool_search_tool_regex") + count_json({"query": "weather"})


def _tool_call_events(name: str, json_text: str, piece: int) -> list[dict]:
    pieces = [json_text[i : i + piece] for i in range(0, len(json_text), piece)]
    return [{"type": "content_block_start", "index": 1,
             "content_block": {"type": "tool_use", "id": "toolu_1", "name": name, "input": {}}},
            {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}},
            *({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": p}}
              for p in pieces),
            {"type": "content_block_stop", "index": 1}]


@given(st.dictionaries(st.text(max_size=10), st.one_of(st.text(max_size=30), st.integers(), st.booleans(),
                                                         st.lists(st.text(max_size=8), max_size=3)), max_size=5),
       st.integers(min_value=1, max_value=40))
def test_produced_tokens_of_a_whole_answer_are_its_output_count(value: dict, piece: int) -> None:
    """What a stream cut short bills (``ProducedTokens``) is the answer's output count once all
    its content came, however the tool input's JSON was split (token hunt: the JSON text was
    counted as text, every quote, colon and brace a token, so a cut answer billed more than the
    whole one)."""
    import json

    text = "I'll call get_weather to get the details."
    events = [{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
              {"type": "content_block_stop", "index": 0},
              *_tool_call_events("get_weather", json.dumps(value, ensure_ascii=False), piece)]
    produced = tokens.ProducedTokens()
    for event in events:
        produced.observe(event)
    assert produced.tokens == (count_output_block({"type": "text", "text": text})
                               + count_output_block({"type": "tool_use", "name": "get_weather", "input": value}))


def test_produced_tokens_of_an_open_tool_call_count_its_complete_members() -> None:
    produced = tokens.ProducedTokens()
    for event in _tool_call_events("get_weather", '{"city": "Paris", "units": "metr', 8)[:-1]:  # no stop yet
        produced.observe(event)
    assert produced.tokens == count_output_block({"type": "tool_use", "name": "get_weather",
                                                  "input": {"city": "Paris"}})


def test_prompt_segments_sum_to_count_request_in_cache_order() -> None:
    request = {
        "tools": [{"name": "t", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
        "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "question", "cache_control": {"type": "ephemeral"}}]},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": []},
        ],
    }
    segments = prompt_segments(request)
    assert sum(s.tokens for s in segments) + REQUEST_OVERHEAD_TOKENS == count_request(request)
    kinds = [s.material[0] for s in segments]
    assert kinds == ["tool", "system", "tool_choice", "block", "message", "message"]
    assert [s.cache_control is not None for s in segments] == [True, True, False, True, False, False]
    assert all("cache_control" not in str(s.material) for s in segments)


def test_prompt_segments_top_level_cache_control_marks_last_block() -> None:
    request = {
        "cache_control": {"type": "ephemeral"},
        "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}],
    }
    marks = [s.cache_control for s in prompt_segments(request)]
    assert marks == [None, None, {"type": "ephemeral"}]


def test_image_dimensions_of_each_format_from_its_header() -> None:
    import base64

    from claude_bedrock.domain.tokens import image_dimensions

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    png = b"\x89PNG\r\n\x1a\n" + bytes(4) + b"IHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big") + bytes(8)
    gif = b"GIF89a" + (640).to_bytes(2, "little") + (480).to_bytes(2, "little") + bytes(20)
    vp8x = b"RIFF" + bytes(4) + b"WEBPVP8X" + bytes(8) + (639).to_bytes(3, "little") + (479).to_bytes(3, "little")
    bits = 639 | (479 << 14)
    vp8l = b"RIFF" + bytes(4) + b"WEBPVP8L" + bytes(4) + b"\x2f" + bits.to_bytes(4, "little") + bytes(8)
    vp8 = (b"RIFF" + bytes(4) + b"WEBPVP8 " + bytes(4) + b"\x00\x00\x00\x9d\x01\x2a"
           + (640).to_bytes(2, "little") + (480).to_bytes(2, "little") + bytes(4))
    app1 = b"\xff\xe1" + (300).to_bytes(2, "big") + bytes(298)  # a long segment before the frame header
    sof2 = b"\xff\xc2" + (17).to_bytes(2, "big") + b"\x08" + (480).to_bytes(2, "big") + (640).to_bytes(2, "big") + bytes(10)
    jpeg = b"\xff\xd8" + app1 + sof2 + bytes(4)
    tem_jpeg = b"\xff\xd8" + b"\xff\x01" + b"\xff\xd0" + sof2 + bytes(4)  # TEM and RSTn carry no length
    for raw in (png, gif, vp8x, vp8l, vp8, jpeg, tem_jpeg):
        assert image_dimensions(b64(raw)) == (640, 480), raw[:16]
    assert image_dimensions(b64(b"\xff\xd8\x00garbage" + bytes(20))) is None
    assert image_dimensions("not base64!") is None
