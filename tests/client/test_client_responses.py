"""Whole-response decoding (client/responses.py) and retry decisions (client/retry.py)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import pytest

from claude_bedrock.client import errors
from claude_bedrock.client.core import ModelChoice
from claude_bedrock.client.responses import (
    Reply,
    error_from_reply,
    error_from_xml_reply,
    parse_caller_identity,
    parse_message,
)
from claude_bedrock.client.retry import RetryPolicy


def _reply(status: int, body: bytes, **headers: str) -> Reply:
    return Reply(status, {k.replace("_", "-"): v for k, v in headers.items()}, body)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError), (403, errors.PermissionDeniedError), (404, errors.NotFoundError),
        (408, errors.RequestTimeoutError), (424, errors.ModelError), (429, errors.RateLimitError),
        (500, errors.InternalServerError), (502, errors.InternalServerError),
        (503, errors.ServiceUnavailableError), (418, errors.APIStatusError),
    ],
)  # fmt: skip
def test_responses_error_class_follows_status(status, cls):
    error = error_from_reply(_reply(status, b'{"message":"m"}', x_amzn_requestid="rid"))
    assert type(error) is cls and error.status_code == status and error.request_id == "rid"


@pytest.mark.parametrize(
    ("headers", "body", "code"),
    [
        ({"x_amzn_errortype": "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"},
         b'{"message":"bad"}', "ValidationException"),
        ({}, b'{"__type":"com.amazon.coral.validate#ValidationException","message":"bad"}', "ValidationException"),
        ({}, b'{"code":"ThrottlingException","message":"bad"}', "ThrottlingException"),
        ({}, b'{"Message":"Authorization header is missing"}', None),
    ],
)  # fmt: skip
def test_responses_aws_code_read_as_botocore_does(headers, body, code):
    error = error_from_reply(_reply(400, body, **headers))
    assert error.code == code and error.message in ("bad", "Authorization header is missing")


def test_responses_errors_survive_pickling():
    """A worker of multiprocessing / ``concurrent.futures.ProcessPoolExecutor`` sends its
    exception to the parent pickled; one that cannot be rebuilt broke the whole pool
    (``BrokenProcessPool`` for every pending call) because the keyword-only ``__init__``
    arguments are not in ``args``."""
    import copy
    import pickle

    from claude_bedrock.client.streams import InvokeStreamDecoder
    from client.fault_server import stream_exception

    reply = _reply(400, b'{"message":"bad"}', x_amzn_requestid="rid", x_amzn_errortype="ValidationException")
    decoder = InvokeStreamDecoder("req-1")
    decoder.feed(stream_exception("modelStreamErrorException", "boom", originalStatusCode=503, originalMessage="x"))
    with pytest.raises(errors.ModelStreamError) as caught:
        decoder.next_event()
    made = [
        error_from_reply(reply),
        caught.value,
        errors.ModelNotAvailableError("no", model="claude-x", endpoint="global", region="us-east-1"),
        errors.APITimeoutError(cause=TimeoutError("timed out")),
        errors.ConfigurationError("no credentials"),
    ]
    for error in made:
        for rebuilt in (pickle.loads(pickle.dumps(error)), copy.deepcopy(error)):
            assert type(rebuilt) is type(error) and str(rebuilt) == str(error) and rebuilt.args == error.args
            assert vars(rebuilt).keys() == vars(error).keys()
    rebuilt = pickle.loads(pickle.dumps(made[1]))
    assert (rebuilt.status_code, rebuilt.code, rebuilt.request_id, rebuilt.original_status_code) == (
        424, "modelStreamErrorException", "req-1", 503)
    assert pickle.loads(pickle.dumps(made[2])).model == "claude-x"


def test_responses_empty_or_html_5xx_uses_reason_phrase():
    error = error_from_reply(_reply(502, b"<html>bad gateway</html>"))
    assert error.message == "Bad Gateway" and error.code == "502"
    assert str(error) == "Error code: 502 - Bad Gateway"


def test_responses_sts_xml_error():
    body = (b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            b"<Code>SignatureDoesNotMatch</Code><Message>no match</Message></Error><RequestId>r1</RequestId>"
            b"</ErrorResponse>")
    error = error_from_xml_reply(_reply(403, body))
    assert (type(error), error.code, error.message, error.request_id) == (
        errors.PermissionDeniedError, "SignatureDoesNotMatch", "no match", "r1")


def test_responses_caller_identity_and_its_validation():
    body = (b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
            b"<Arn>arn:aws:iam::1:user/a</Arn><UserId>AIDA1</UserId><Account>111122223333</Account>"
            b"</GetCallerIdentityResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata>"
            b"</GetCallerIdentityResponse>")
    identity = parse_caller_identity(_reply(200, body))
    assert (identity.account, identity.arn, identity.user_id, identity.request_id) == (
        "111122223333", "arn:aws:iam::1:user/a", "AIDA1", "r2")
    with pytest.raises(errors.APIResponseValidationError):
        parse_caller_identity(_reply(200, b"<html/>"))


def test_responses_message_with_bedrock_headers():
    body = (b'{"id":"msg_bdrk_1","type":"message","role":"assistant","model":"claude-haiku-4-5-20251001",'
            b'"content":[{"type":"text","text":"Hi"},{"type":"server_thing","x":1}],"stop_reason":"end_turn",'
            b'"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":2,"cache_creation":'
            b'{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":4}}}')
    reply = _reply(200, body, x_amzn_requestid="rid", x_amzn_bedrock_invocation_latency="12",
                   x_amzn_bedrock_input_token_count="3", x_amzn_bedrock_output_token_count="2")
    message = parse_message(reply, ModelChoice("m", "global.m"))
    assert message.content[0].text == "Hi" and message.content[1].type == "server_thing"
    assert message.content[1].to_dict() == {"type": "server_thing", "x": 1}
    assert message.usage.cache_writes() == (0, 4)
    assert (message.request_id, message.invocation_metrics.invocation_latency, message.cost) == ("rid", 12, None)
    assert message.to_dict()["content"][0] == {"type": "text", "text": "Hi"}
    with pytest.raises(errors.APIResponseValidationError):
        parse_message(_reply(200, b"[]"), ModelChoice("m", "m"))


def test_responses_cache_writes_without_a_breakdown_are_five_minute_ones():
    """Mutation audit: a usage with ``cache_creation_input_tokens`` and no ``cache_creation``
    breakdown (Bedrock's older answers) counts its writes as 5-minute ones; priced as 1-hour
    writes instead, no test noticed."""
    from claude_bedrock.client.types import Usage

    usage = Usage.from_dict({"input_tokens": 3, "output_tokens": 2, "cache_creation_input_tokens": 7})
    assert usage.cache_writes() == (7, 0)
    # a count that is not an integer (a malformed reply) is 0, not a str that pricing trips over
    assert Usage.from_dict({"input_tokens": "7", "output_tokens": 2.5}).input_tokens == 0
    assert Usage.from_dict({"input_tokens": "7", "output_tokens": 2.5}).output_tokens == 0


# --------------------------------------------------------------------------- retry policy


def _policy(**kwargs) -> RetryPolicy:
    return RetryPolicy(uniform=random.Random(7).uniform, **kwargs)


def test_retry_backoff_is_full_jitter_within_exponential_caps():
    policy = _policy(max_retries=10, initial_backoff_s=0.5, max_backoff_s=8.0)
    for attempt, cap in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 8.0]):
        delays = [policy.backoff(attempt) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # jitter spans the whole range
    assert _policy().backoff(1) == _policy().backoff(1)  # seeded: reproducible


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retry_statuses_retried_until_max(status):
    policy = _policy(max_retries=2)
    assert policy.delay_after_status(0, status, {}) is not None
    assert policy.delay_after_status(1, status, {}) is not None
    assert policy.delay_after_status(2, status, {}) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 424, 501])
def test_retry_other_statuses_never_retried(status):
    assert _policy().delay_after_status(0, status, {"retry-after": "1"}) is None


def test_retry_after_headers_are_honoured():
    policy = _policy()
    assert policy.delay_after_status(0, 429, {"retry-after": "3"}) == 3.0
    assert policy.delay_after_status(0, 429, {"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    now = datetime(2025, 1, 1, 0, 0, 0, tzinfo=timezone.utc)
    assert policy.delay_after_status(0, 503, {"retry-after": "Wed, 01 Jan 2025 00:00:05 GMT"}, now) == 5.0
    too_long = policy.delay_after_status(0, 429, {"retry-after": "3600"})
    assert too_long is not None and too_long <= 0.5  # beyond max_retry_after_s: back to backoff
    assert policy.delay_after_status(0, 503, {"x-should-retry": "false"}) is None



def test_retry_after_boundaries():
    """Mutation audit: the boundaries of the server's delay had no test: ``retry-after-ms: 0``
    (retry at once), exactly ``max_retry_after_s`` (still honoured), a negative or past delay
    (ignored, backoff instead), ``X-Should-Retry: False`` in any case."""
    policy = _policy()
    assert policy.retry_after({"retry-after-ms": "0"}) == 0.0
    assert policy.retry_after({"retry-after": "0"}) == 0.0
    assert policy.delay_after_status(0, 429, {"retry-after": "60"}) == 60.0  # max_retry_after_s itself
    assert policy.retry_after({"retry-after": "-1"}) is None
    now = datetime(2025, 1, 1, 0, 0, 5, tzinfo=timezone.utc)
    assert policy.retry_after({"retry-after": "Wed, 01 Jan 2025 00:00:00 GMT"}, now) is None
    assert policy.retry_after({"retry-after-ms": "-5", "retry-after": "2"}) == 2.0
    assert policy.delay_after_status(0, 503, {"x-should-retry": "False"}) is None


def test_retry_stream_errors_only_before_delivery():
    policy = _policy()
    assert policy.delay_after_stream_error(0, "throttlingException", 0) is not None
    assert policy.delay_after_stream_error(0, "throttlingException", 1) is None
    assert policy.delay_after_stream_error(0, "modelStreamErrorException", 0) is None
    assert policy.delay_after_stream_error(2, "throttlingException", 0) is None
    # a generic error frame names the same error by its :error-code
    assert policy.delay_after_stream_error(0, "ThrottlingException", 0) is not None
    assert policy.delay_after_stream_error(0, "ModelStreamErrorException", 0) is None
    assert policy.delay_after_connection_error(0, True) is not None
    assert policy.delay_after_connection_error(0, False) is None


def test_responses_blocks_dump_as_the_anthropic_sdk_tool_loop_expects():
    """Symptom: the tool loop of docs/testing.md's agent, written for the Anthropic SDK
    (``[block.model_dump(exclude_none=True) for block in message.content]``), failed on this
    client with ``AttributeError: 'TextBlock' object has no attribute 'model_dump'`` (and
    ``Message.model_dump`` refused ``exclude_none``)."""
    body = (b'{"id":"msg_bdrk_2","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",'
            b'"content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"text","text":"Let me"},'
            b'{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris","unit":null}}],'
            b'"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":2}}')
    message = parse_message(_reply(200, body), ModelChoice("m", "global.m"))
    dumped = [block.model_dump(exclude_none=True) for block in message.content]
    assert dumped == [block.to_dict() for block in message.content]
    assert dumped[2]["input"] == {"city": "Paris", "unit": None}  # a tool's input is left as sent
    assert message.model_dump()["stop_sequence"] is None
    assert "stop_sequence" not in message.model_dump(exclude_none=True)
    assert message.usage.model_dump(mode="json") == message.usage.to_dict()
    with pytest.raises(TypeError):
        message.content[1].model_dump(include={"text"})  # not silently ignored
    anthropic_types = pytest.importorskip("anthropic.types")
    sdk = anthropic_types.Message.model_validate(json.loads(body))
    assert dumped == [block.model_dump(exclude_none=True) for block in sdk.content]
