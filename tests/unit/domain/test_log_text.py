"""Client-chosen text in one log line: it can forge neither a line nor a key, nor drive a terminal."""

from __future__ import annotations

import json

import pytest

from claude_bedrock.domain.log_text import logfmt_value, one_line, terminal_json


def test_one_line_escapes_control_characters_only():
    assert one_line("anthropic.claude-haiku-4-5-20251001-v1:0") == "anthropic.claude-haiku-4-5-20251001-v1:0"
    assert one_line("bad\nline\x1b[31mred\u2028é") == "bad\\nline\\x1b[31mred\\u2028é"


@pytest.mark.parametrize(("text", "written"), [
    ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "us.anthropic.claude-haiku-4-5-20251001-v1:0"),
    ("arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc",
     "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc"),
    ("", '""'),
    ("a b", '"a b"'),
    ("x status=200", '"x status=200"'),
    ('say "hi"', r'"say \"hi\""'),
    ('a"b', r'"a\"b"'),  # a quote alone, without a space: quoted too
    ("back\\slash", r'"back\\slash"'),
    ("two\nlines\x1b[2J", r'"two\nlines\x1b[2J"'),
    ("\\n", r'"\\n"'),  # a backslash sent is told apart from an escaped line break
])
def test_logfmt_value_is_bare_only_when_it_cannot_mislead(text, written):
    assert logfmt_value(text) == written


@pytest.mark.parametrize("value", [
    {"m": "C1 \x9b2J, bidi \u202e, \u2066isolate\u2069, line \u2028, DEL \x7f, tag \U000e0001"},
    {"\u202ekey": ["\\u202e is text", "日本語 é 🙂", "\udcff"]},  # a lone surrogate, as a bad record may hold
])
def test_terminal_json_escapes_what_a_terminal_acts_on_and_keeps_the_value(value):
    written = terminal_json(json.dumps(value, ensure_ascii=False, indent=2))
    assert all(line.isprintable() for line in written.splitlines())
    assert json.loads(written) == value


def test_terminal_json_leaves_printable_text_of_any_script_as_it_is():
    assert terminal_json('{"t":"日本語 é 🙂 \\u202e"}') == '{"t":"日本語 é 🙂 \\u202e"}'
