"""The npm @anthropic-ai/bedrock-sdk (TypeScript guide samples) against a real server."""

from __future__ import annotations

import json
import subprocess

import pytest

from claude_bedrock.testing.admin import BedrockAdmin
from support.seed_guide import code_blocks
from support.servers import ACCESS_KEY, API_KEY, JS_DIR, SECRET_KEY, SESSION_TOKEN

pytestmark = pytest.mark.conformance


@pytest.fixture(scope="module")
def run_js(node_modules, aws_env):
    env = dict(aws_env, TEST_ACCESS_KEY=ACCESS_KEY, TEST_SECRET_KEY=SECRET_KEY, TEST_SESSION_TOKEN=SESSION_TOKEN,
               TEST_API_KEY=API_KEY)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name, None)

    def run(scenario: str, *args: str) -> dict:
        result = subprocess.run(["node", str(JS_DIR / "scenarios.mjs"), scenario, *args], cwd=JS_DIR, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    return run


def run_guide_sample(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    """Run a guide TypeScript sample as an ES module (it is plain JavaScript, with top-level
    await), fed on stdin from the npm project's folder so its import resolves."""
    return subprocess.run(["node", "--input-type=module", "-"], input=code, cwd=JS_DIR, env=env,
                          capture_output=True, text=True, timeout=120)


def test_npm_guide_typescript_samples_run_unchanged(node_modules, aws_env, shared_dir):
    """The guide's TypeScript samples, read from the seed and run as written: credentials from
    the environment (the first sample with the reader's temporary credentials filled in), the
    endpoint from ANTHROPIC_BEDROCK_BASE_URL; the global ID, then the regional (bare) one."""
    samples = [b for b in code_blocks(shared_dir, "typescript TypeScript") if "@anthropic-ai/bedrock-sdk'" in b]
    assert len(samples) == 3
    credentials_sample, global_sample, regional_sample = samples
    filled = (credentials_sample.replace("<access key>", "ASIATEMPORARYKEY01").replace("<secret key>", SECRET_KEY)
              .replace("<session_token>", SESSION_TOKEN))
    result = run_guide_sample(aws_env, filled)
    assert result.returncode == 0 and not result.stderr, result.stderr
    assert "id: 'msg_bdrk_" in result.stdout and "model: 'claude-sonnet-4-5-20250929'" in result.stdout
    assert "model: 'global.anthropic.claude-sonnet-4-5-20250929-v1:0'" in global_sample
    assert "model: 'anthropic.claude-sonnet-4-5-20250929-v1:0'" in regional_sample
    for sample in (global_sample, regional_sample):
        result = run_guide_sample(aws_env, sample + "console.log(message.model, message.content[0].text !== '');\n")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "claude-sonnet-4-5-20250929 true"


@pytest.mark.parametrize("scenario", ["create", "create_regional", "session_token", "api_key", "beta_1m"])
def test_npm_create(run_js, scenario):
    outcome = run_js(scenario)
    assert outcome["ok"], outcome
    assert outcome["result"]["text"]


def test_npm_create_shape(run_js):
    result = run_js("create")["result"]
    assert result["id"].startswith("msg_bdrk_") and result["model"] == "claude-sonnet-4-5-20250929"
    assert result["usage"]["input_tokens"] > 0


def test_npm_stream_true_every_event(run_js):
    result = run_js("stream_true")["result"]
    assert result["types"][0] == "message_start" and result["types"][-1] == "message_stop"
    for needed in ("content_block_start", "content_block_delta", "content_block_stop", "message_delta"):
        assert needed in result["types"]
    assert result["text"] == run_js("stream_helper")["result"]["text"]


def test_npm_invalid_model_is_bad_request(run_js):
    outcome = run_js("invalid_model")
    assert not outcome["ok"]
    assert outcome["error"] == "BadRequestError" and outcome["status"] == 400


def test_npm_count_tokens_matches_invoke_usage(run_js):
    counted = run_js("count_tokens")
    assert counted["ok"], counted
    created = run_js("create")["result"]
    assert counted["result"]["input_tokens"] == created["usage"]["input_tokens"]


def test_npm_count_tokens_with_thinking(run_js):
    """countTokens sends no max_tokens: a thinking budget is counted, not refused against a
    max_tokens the caller never sent (as the CountTokens converse form already does)."""
    counted = run_js("count_tokens_thinking")
    assert counted["ok"], counted
    assert counted["result"]["input_tokens"] == run_js("count_tokens")["result"]["input_tokens"]


def test_npm_tool_runner_loop(run_js):
    """The npm SDK's beta toolRunner: a tool_use turn, the tool's result sent back, an end_turn."""
    result = run_js("tool_runner")["result"]
    assert result["turns"] == ["tool_use", "end_turn"]
    assert "18C in Paris" in result["text"]


def test_npm_messages_parse(run_js):
    """messages.parse with output_config.format: the answer is JSON of the schema, parsed."""
    parsed = run_js("parse")["result"]["parsed"]
    assert set(parsed) == {"city", "lamps"} and isinstance(parsed["lamps"], int)


def test_npm_cut_tool_call_reads_the_same_streamed_and_whole(run_js):
    """A tool call cut by max_tokens: the stream helper's input (the npm SDK's partial JSON
    parser drops a number at the very end, as it might go on) is the one messages.create
    returns, whatever parameter the cut follows (a number among them)."""
    cuts = run_js("cut_tool_call")["result"]["cuts"]
    assert {cut["stop_reason"] for cut in cuts} == {"max_tokens", "tool_use"}
    assert any(cut["stop_reason"] == "max_tokens" and cut["whole"] and isinstance([*cut["whole"].values()][-1], int)
               for cut in cuts), cuts  # a cut right after a number
    assert [cut for cut in cuts if cut["streamed"] != cut["whole"]] == []


def test_npm_stream_with_thinking_and_a_tool(run_js):
    """stream: true with thinking and a tool: every delta type (the thinking's signature among
    them), the helper's events in order, and its finalMessage the message messages.create gives."""
    result = run_js("stream_thinking_tools")["result"]
    assert result["deltas"] == ["input_json_delta", "signature_delta", "text_delta", "thinking_delta"]
    assert result["json"] == {"city": "Paris"}
    assert result["events"] == ["connect", "thinking", "signature", "contentBlock", "text", "contentBlock", "inputJson",
                                "contentBlock", "message", "finalMessage", "end"]
    assert [block[0] for block in result["streamed"]] == ["thinking", "text", "tool_use"]
    assert result["streamed"][0][2] is True  # a signature
    assert result["streamed"] == result["whole"] and result["stop_reason"] == "tool_use"
    assert result["usage"][0] == result["usage"][1]


def test_npm_non_ascii_text_and_tool_input(run_js):
    """Emoji, CJK and accents: signed and answered, the stream's text the created one (no UTF-8
    split by a chunk), and an accented city the tool's whole input ("Zürich" was not read as a
    place, and the simulator called the tool for Paris)."""
    result = run_js("non_ascii")["result"]
    assert result["text"] and result["streamed"] == result["text"] and "\ufffd" not in result["text"]
    assert result["input_tokens"] > 100
    assert result["tool_whole"] == result["tool_streamed"] == {"city": "Zürich"}


def test_npm_arn_model_ids_and_the_client_region(run_js):
    """An inference-profile and a foundation-model ARN (``%2F`` in the signed path) created,
    streamed and counted; from awsRegion eu-west-1 the eu, global and bare IDs answer, a us
    profile is refused (outside its geography) as an invalid model ID."""
    result = run_js("model_ids")["result"]
    assert result["arn"] == [["claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929", 10]] * 2
    assert list(result["fromEu"].values()) == ["ok", "ok", "ok", "BadRequestError 400"]


def test_npm_pdf_and_image_are_billed_as_counted(run_js):
    result = run_js("documents")["result"]
    for block in ("pdf", "image"):
        assert result[block]["text"] and result[block]["billed"] == result[block]["counted"] > 0, result


# --------------------------------------------------------------------------- faults (docs/testing.md's table)

#: The model of the scenarios' ``fault`` calls (FAULT_MODEL in scenarios.mjs), which no other test calls.
FAULT_MODEL = "claude-3-5-haiku"

#: kind -> (the SDK's error class, status, requests sent with its default 2 retries)
NPM_ERROR_FAULTS = {
    "ThrottlingException": ("RateLimitError", 429, 3),
    "ModelTimeoutException": ("RequestTimeoutError", 408, 3),
    "ServiceUnavailableException": ("ServiceUnavailableError", 503, 3),
    "InternalServerException": ("InternalServerError", 500, 3),
    "ModelNotReadyException": ("RateLimitError", 429, 3),
    "ModelErrorException": ("APIError", 424, 1),
}


@pytest.fixture
def fault_admin(server):
    """The server's testing toolkit, for faults aimed at FAULT_MODEL only, removed after the test."""
    with BedrockAdmin(server.url) as admin:
        yield admin
        admin.clear_faults()


@pytest.mark.parametrize("operation", ["create", "stream"])
@pytest.mark.parametrize("kind", list(NPM_ERROR_FAULTS))
def test_npm_error_faults_map_to_the_sdk_errors_and_retries(run_js, fault_admin, kind, operation):
    """What docs/testing.md says the npm SDK does with each error fault: its class by HTTP
    status, and its retries (408, 429 and 5xx, 3 requests in all; 424 once)."""
    error, status, attempts = NPM_ERROR_FAULTS[kind]
    fault_admin.inject_fault(kind, model=FAULT_MODEL, count=5)
    outcome = run_js("fault", operation)["result"]
    assert (outcome["error"], outcome["status"], outcome["attempts"]) == (error, status, attempts), outcome


@pytest.mark.parametrize("after_events", [0, 3])
@pytest.mark.parametrize("exception", ["modelStreamErrorException", "throttlingException"])
def test_npm_stream_error_is_an_api_error_without_status(run_js, fault_admin, exception, after_events):
    """A stream's exception frame: an ``APIError`` with no status whose ``error.error.type`` is
    the frame's code, never retried (not even as the 200 response's first frame)."""
    fault_admin.inject_fault("stream_error", exception=exception, after_events=after_events, model=FAULT_MODEL,
                             count=5)
    outcome = run_js("fault", "stream")["result"]
    assert (outcome["error"], outcome["status"], outcome["type"], outcome["attempts"]) == (
        "APIError", None, exception, 1), outcome


@pytest.mark.parametrize("after_events", [0, 3])
def test_npm_dropped_connection_is_terminated(run_js, fault_admin, after_events):
    """A connection cut during the stream: the SDK's ``AnthropicError`` 'terminated', not retried."""
    fault_admin.inject_fault("drop_connection", after_events=after_events, model=FAULT_MODEL, count=5)
    outcome = run_js("fault", "stream")["result"]
    assert (outcome["error"], outcome["status"], outcome["message"], outcome["attempts"]) == (
        "AnthropicError", None, "terminated", 1), outcome


def test_npm_abort_during_the_wait_is_recorded_as_the_client_leaving(run_js, fault_admin):
    """An AbortController aborting a stream before its first event: the SDK raises
    APIUserAbortError, and the server records the call at once, status 0, ClientDisconnected."""
    fault_admin.inject_fault("latency", latency_ms=3000, model=FAULT_MODEL, count=1)
    outcome = run_js("abort")["result"]
    assert outcome == {"error": "APIUserAbortError"}
    call = fault_admin.last_call(model=FAULT_MODEL)
    assert (call.operation, call.status, call.error_code) == ("InvokeModelWithResponseStream", 0, "ClientDisconnected")
    assert 200 <= call.latency_ms < 3000
