"""The sans-I/O core (client/core.py): model choice, request building, signing - including the
cross-check that our Authorization equals botocore's ``SigV4Auth`` for the same request."""

from __future__ import annotations

import base64
import json
import warnings
from unittest import mock
from datetime import datetime, timezone

import pytest

from claude_bedrock.client.config import ApiKey, AwsCredentials, ClientConfig
from claude_bedrock.client.core import (
    ANTHROPIC_VERSION,
    ClientCore,
    ModelDeprecationWarning,
    model_path_segment,
)
from claude_bedrock.client.errors import ConfigurationError, ModelNotAvailableError

NOW = datetime(2025, 10, 1, 12, 30, 45, tzinfo=timezone.utc)
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
APP_PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123def456"


def make_core(region: str = "us-west-2", auth=None, base_url: str = "http://127.0.0.1:8787", **kwargs) -> ClientCore:
    auth = auth if auth is not None else AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    config = ClientConfig(region=region, auth=auth, runtime_url=base_url, control_url=base_url, sts_url=base_url)
    return ClientCore(config, **kwargs)


# --------------------------------------------------------------------------- model choice


@pytest.mark.parametrize(
    ("region", "model", "endpoint", "expected"),
    [
        ("us-west-2", "claude-sonnet-4-5", "global", f"global.{SONNET_45}"),
        ("us-west-2", "claude-sonnet-4-5", "regional", f"us.{SONNET_45}"),
        ("eu-west-1", "claude-sonnet-4-5", "regional", f"eu.{SONNET_45}"),
        ("ap-northeast-1", "claude-sonnet-4-5", "regional", f"jp.{SONNET_45}"),
        ("us-east-1", "claude-sonnet-4-5-20250929", None, f"global.{SONNET_45}"),
        ("us-east-1", "claude-opus-4-1", None, "us.anthropic.claude-opus-4-1-20250805-v1:0"),
        ("ap-south-1", "claude-sonnet-4", "regional", "apac.anthropic.claude-sonnet-4-20250514-v1:0"),
    ],
)
def test_core_alias_resolves_for_region_and_endpoint(region, model, endpoint, expected):
    choice = make_core(region).choose_model(model, endpoint)
    assert choice.model_id == expected
    assert choice.endpoint_type == ("global" if expected.startswith("global.") else "regional")


@pytest.mark.parametrize(
    ("region", "model", "endpoint", "fragment"),
    [
        ("us-east-1", "claude-opus-4-1", "global", "no global endpoint"),
        ("ap-south-1", "claude-sonnet-4-5", "regional", "no regional endpoint"),
        ("eu-west-1", "claude-opus-4-1", "regional", "no regional endpoint"),
        ("us-east-1", "claude-nonexistent-9", None, "Unknown model"),
        ("ca-central-1", "claude-sonnet-4-5", "regional", "Unknown region"),
    ],
)
def test_core_alias_refused_when_table_forbids(region, model, endpoint, fragment):
    with pytest.raises(ModelNotAvailableError, match=fragment) as caught:
        make_core(region).choose_model(model, endpoint)
    assert isinstance(caught.value, ValueError) and caught.value.model == model


def test_core_constructor_endpoint_is_the_default_and_call_overrides():
    core = make_core("us-west-2", endpoint="regional")
    assert core.choose_model("claude-haiku-4-5").model_id.startswith("us.")
    assert core.choose_model("claude-haiku-4-5", "global").model_id.startswith("global.")
    with pytest.raises(ConfigurationError):
        make_core(endpoint="everywhere")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "model", [f"global.{SONNET_45}", SONNET_45, APP_PROFILE_ARN, "amazon.nova-pro-v1:0", f"eu.{SONNET_45}"]
)
def test_core_bedrock_ids_are_sent_as_given(model):
    assert make_core("us-west-2").choose_model(model).model_id == model


def test_core_pricing_context_follows_the_id_sent():
    core = make_core("us-west-2")
    assert core.choose_model(f"global.{SONNET_45}").endpoint_type == "global"
    assert core.choose_model(SONNET_45).endpoint_type == "regional"
    assert core.choose_model(APP_PROFILE_ARN).pricing is None
    assert core.choose_model("amazon.nova-pro-v1:0").pricing is None


def test_core_deprecated_model_warns_at_callers_line():
    core = make_core("us-east-1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        core.choose_model("claude-3-7-sonnet", warn_stacklevel=1)
        core.choose_model("claude-sonnet-4-5", warn_stacklevel=1)
    assert [w.category for w in caught] == [ModelDeprecationWarning]
    assert issubclass(ModelDeprecationWarning, FutureWarning)  # shown by default, also from imported modules
    assert "deprecated since 2025-10-28" in str(caught[0].message)
    assert caught[0].filename == __file__


def test_core_deprecated_model_chosen_without_a_stacklevel_does_not_warn():
    """Mutation audit: ``warn_stacklevel=0`` (a look-up such as ``models.retrieve``, not a call)
    must not warn; dropping that condition went unnoticed."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        choice = make_core("us-east-1").choose_model("claude-3-7-sonnet")
    assert choice.deprecated


def test_core_a_foundation_model_arn_is_kept_for_count_tokens():
    """Mutation audit: ``base_model_id`` keeps a foundation-model ARN (already the bare model,
    which CountTokens accepts) instead of trading it for the catalog's ID; untested before."""
    core = make_core("us-west-2")
    arn = f"arn:aws:bedrock:us-west-2::foundation-model/{SONNET_45}"
    choice = core.choose_model(arn)
    assert choice.catalog_model is not None and core.base_model_id(choice) == arn
    request = core.count_tokens_request(choice, {"messages": [{"role": "user", "content": "Hi"}]})
    assert request.raw_path == f"/model/{model_path_segment(arn)}/count-tokens"


# --------------------------------------------------------------------------- request building


def test_core_model_path_segment_keeps_arns_in_one_segment():
    segment = model_path_segment(APP_PROFILE_ARN)
    assert "/" not in segment and ":" not in segment
    assert segment == (
        "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc123def456"
    )
    request = make_core().invoke_request(make_core().choose_model(APP_PROFILE_ARN), {"max_tokens": 1}, stream=False)
    assert request.raw_path == f"/model/{segment}/invoke"
    assert request.raw_path.count("/") == 3


def test_core_invoke_body_and_headers():
    core = make_core(base_url="http://127.0.0.1:8787/prefix/")
    choice = core.choose_model("claude-sonnet-4-5")
    request = core.invoke_request(
        choice, {"max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}], "temperature": None},
        stream=False, betas=["context-1m-2025-08-07"], extra_headers={"Anthropic-Beta": "extra-beta"},
    )  # fmt: skip
    body = json.loads(request.body)
    assert body == {
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Hi"}],
        "anthropic_version": ANTHROPIC_VERSION,
        "anthropic_beta": ["context-1m-2025-08-07", "extra-beta"],
    }
    headers = dict(request.headers)
    assert headers["anthropic-beta"] == "extra-beta"  # the caller's extra header is sent as given
    assert headers["host"] == "127.0.0.1:8787" and headers["content-type"] == "application/json"
    assert request.url == f"http://127.0.0.1:8787/prefix/model/global.{model_path_segment(SONNET_45)}/invoke"


def test_core_a_beta_given_twice_is_sent_once():
    """Mutation audit: a beta both in ``betas`` and in an ``anthropic-beta`` extra header went
    into the body's ``anthropic_beta`` twice without a test noticing."""
    core = make_core()
    request = core.invoke_request(core.choose_model(SONNET_45), {"max_tokens": 1}, stream=False,
                                  betas=["context-1m-2025-08-07"],
                                  extra_headers={"anthropic-beta": "context-1m-2025-08-07, extra-beta"})
    assert json.loads(request.body)["anthropic_beta"] == ["context-1m-2025-08-07", "extra-beta"]


@pytest.mark.parametrize(("base_url", "host"), [
    ("https://bedrock.example.com:443", "bedrock.example.com"),
    ("http://127.0.0.1:80/prefix", "127.0.0.1"),
    ("https://bedrock.example.com:8443", "bedrock.example.com:8443"),
])
def test_core_host_header_drops_the_schemes_default_port(base_url, host):
    """Mutation audit: the signed Host must be the one the HTTP client sends (no ``:443`` /
    ``:80``), else the server's signature check fails; keeping the port went unnoticed."""
    request = make_core(base_url=base_url).get_model_request(SONNET_45)
    assert dict(request.headers)["host"] == host


@pytest.mark.parametrize(("name", "value"), [
    ("x-note", "a\r\nx-amz-date: forged"), ("x-note", "a\nb"), ("x-note", "a\0b"),
    ("x-note\r\nx-other", "a"), ("x-note:", "a"), ("x note", "a"), ("", "a"),
])
def test_core_caller_headers_that_would_forge_the_request_are_refused(name, value):
    """Mutation audit: the CR/LF/NUL check of caller headers (default and per-call) had no test:
    dropping it let ``"a\\r\\nx-amz-date: forged"`` through."""
    with pytest.raises(ValueError, match="invalid HTTP header"):
        make_core(default_headers={name: value})
    core = make_core()
    with pytest.raises(ValueError, match="invalid HTTP header"):
        core.invoke_request(core.choose_model(SONNET_45), {"max_tokens": 1}, stream=False, extra_headers={name: value})


def test_core_stream_request_uses_stream_path_and_bedrock_accept():
    core = make_core()
    request = core.invoke_request(core.choose_model(SONNET_45), {"max_tokens": 1}, stream=True)
    assert request.raw_path.endswith("/invoke-with-response-stream")
    assert dict(request.headers)["x-amzn-bedrock-accept"] == "application/json"
    assert "stream" not in json.loads(request.body) and "model" not in json.loads(request.body)


def test_core_count_tokens_sends_bare_id_and_base64_invoke_body():
    core = make_core()
    request = core.count_tokens_request(core.choose_model("claude-sonnet-4-5"),
                                        {"messages": [{"role": "user", "content": "Hi"}], "system": "Be brief"})
    assert request.raw_path == f"/model/{model_path_segment(SONNET_45)}/count-tokens"
    inner = json.loads(base64.b64decode(json.loads(request.body)["input"]["invokeModel"]["body"]))
    assert inner["system"] == "Be brief" and inner["anthropic_version"] == ANTHROPIC_VERSION
    assert inner["max_tokens"] == 64000  # the model's maximum output: never the reason a count fails


def test_core_count_tokens_max_tokens_none_is_not_given_so_the_default_applies():
    # the SDK-style methods' None means "not given" (count_tokens(max_tokens=None)): the counted
    # body still gets the model's maximum output, which Bedrock's CountTokens body requires
    core = make_core()
    request = core.count_tokens_request(core.choose_model("claude-sonnet-4-5"),
                                        {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": None})
    inner = json.loads(base64.b64decode(json.loads(request.body)["input"]["invokeModel"]["body"]))
    assert inner["max_tokens"] == 64000


def test_core_count_tokens_carries_betas_and_extra_body_in_the_counted_body():
    # anthropic's beta.messages.count_tokens(betas=...) and extra_body=: the betas belong in the
    # counted InvokeModel body's anthropic_beta (where create puts them), never as a "betas" key
    core = make_core()
    request = core.count_tokens_request(core.choose_model("claude-sonnet-4-5"),
                                        {"messages": [{"role": "user", "content": "Hi"}]},
                                        betas=["context-1m-2025-08-07"], extra_body={"top_k": 5})
    inner = json.loads(base64.b64decode(json.loads(request.body)["input"]["invokeModel"]["body"]))
    assert inner["anthropic_beta"] == ["context-1m-2025-08-07"] and inner["top_k"] == 5
    assert "betas" not in inner


def test_core_converse_fields_map_to_wire_names():
    core = make_core()
    request = core.converse_request(
        core.choose_model("claude-haiku-4-5"),
        {"messages": [], "inference_config": {"maxTokens": 5}, "additional_model_request_fields": {"top_k": 3}},
        stream=False,
    )
    assert json.loads(request.body) == {"messages": [], "inferenceConfig": {"maxTokens": 5},
                                        "additionalModelRequestFields": {"top_k": 3}}
    with pytest.raises(TypeError, match="maxTokens"):
        core.converse_request(core.choose_model("claude-haiku-4-5"), {"maxTokens": 1}, stream=False)


def test_core_converse_fields_name_every_converse_request_member():
    # Every body member of botocore's ConverseRequest / ConverseStreamRequest has a keyword
    # (projectIdentifier had none: converse(project_identifier=...) was a TypeError).
    import botocore.session

    from claude_bedrock.client.core import CONVERSE_FIELDS

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    for operation in ("Converse", "ConverseStream"):
        members = model.operation_model(operation).input_shape.members
        body = {name for name, shape in members.items() if shape.serialization.get("location") != "uri"}
        assert body == set(CONVERSE_FIELDS.values()), operation
    core = make_core()
    request = core.converse_request(core.choose_model("claude-haiku-4-5"),
                                    {"messages": [], "project_identifier": "default"}, stream=False)
    assert json.loads(request.body) == {"messages": [], "projectIdentifier": "default"}


def test_core_bytes_in_a_body_are_sent_base64_encoded():
    """Converse's binary members (image, document, video ``source.bytes``) are blobs, base64 in
    the JSON on the wire; boto3 callers pass ``bytes`` and botocore encodes them. The same bytes
    in a Messages ``source.data`` mean the base64 string that field carries."""
    core = make_core()
    png = b"\x89PNG\r\n\x1a\n\x00binary"
    image = {"image": {"format": "png", "source": {"bytes": png}}}
    request = core.converse_request(core.choose_model("claude-haiku-4-5"),
                                    {"messages": [{"role": "user", "content": [image]}]}, stream=False)
    sent = json.loads(request.body)["messages"][0]["content"][0]["image"]["source"]["bytes"]
    assert base64.b64decode(sent) == png
    block = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": bytearray(png)}}
    request = core.invoke_request(core.choose_model("claude-haiku-4-5"),
                                  {"max_tokens": 8, "messages": [{"role": "user", "content": [block]}]}, stream=False)
    assert base64.b64decode(json.loads(request.body)["messages"][0]["content"][0]["source"]["data"]) == png


def test_core_control_plane_and_sts_requests():
    core = make_core()
    listing = core.list_models_request("anthropic", byOutputModality="TEXT")
    assert (listing.method, listing.raw_path, listing.raw_query) == (
        "GET", "/foundation-models", "byProvider=anthropic&byOutputModality=TEXT")
    # by_provider=None lists every provider: no byProvider at all (mutation audit: byProvider=None was sent unnoticed)
    assert core.list_models_request(None).raw_query == ""
    assert core.list_models_request(None, by_inference_type="ON_DEMAND").raw_query == "byInferenceType=ON_DEMAND"
    assert core.get_model_request(SONNET_45).raw_path == "/foundation-models/anthropic.claude-sonnet-4-5-20250929-v1%3A0"
    sts = core.caller_identity_request()
    assert (sts.method, sts.raw_path, sts.body) == ("POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15")


# --------------------------------------------------------------------------- signing


def _botocore_authorization(request, headers, access_key, secret_key, region, service, token=None) -> str:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    aws_request = AWSRequest(method=request.method, url=request.url, data=request.body, headers=dict(headers))
    with mock.patch("botocore.auth.get_current_datetime", lambda: NOW.replace(tzinfo=None)):
        SigV4Auth(Credentials(access_key, secret_key, token), service, region).add_auth(aws_request)
    return aws_request.headers["Authorization"]


@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzEXAMPLE//token=="])
@pytest.mark.parametrize(
    "build",
    [
        lambda c: c.invoke_request(c.choose_model("claude-sonnet-4-5"), {"max_tokens": 8, "messages": []},
                                   stream=False, betas=["b1"]),
        lambda c: c.invoke_request(c.choose_model(APP_PROFILE_ARN), {"max_tokens": 8}, stream=True),
        lambda c: c.list_models_request("anthropic", byOutputModality="TEXT"),
        lambda c: c.get_model_request(SONNET_45),
        lambda c: c.caller_identity_request(),
    ],
    ids=["invoke", "stream-arn", "list-models", "get-model", "sts"],
)
def test_core_signature_matches_botocore(build, token):
    auth = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    core = make_core("us-west-2", auth, base_url="http://127.0.0.1:18765/base")
    request = build(core)
    signed = dict(core.sign(request, NOW))
    unsigned = [(k, v) for k, v in request.headers if k != "host"]
    expected = _botocore_authorization(request, unsigned, auth.access_key, auth.secret_key, "us-west-2",
                                       request.operation.signing_name, token)
    assert signed["Authorization"] == expected
    assert signed["X-Amz-Date"] == "20251001T123045Z"
    assert ("X-Amz-Security-Token" in signed) == (token is not None)


def test_core_signature_scope_and_signed_headers():
    core = make_core("eu-west-1")
    request = core.caller_identity_request()
    authorization = dict(core.sign(request, NOW))["Authorization"]
    assert "/20251001/eu-west-1/sts/aws4_request" in authorization
    assert "user-agent" not in authorization.split("SignedHeaders=")[1].split(",")[0]
    runtime = core.invoke_request(core.choose_model(SONNET_45), {}, stream=False)
    assert "/eu-west-1/bedrock/aws4_request" in dict(core.sign(runtime, NOW))["Authorization"]


def test_core_bearer_auth_and_its_sts_refusal():
    core = make_core(auth=ApiKey("my-key"))
    request = core.invoke_request(core.choose_model(SONNET_45), {}, stream=False)
    headers = dict(core.sign(request, NOW))
    assert headers["authorization"] == "Bearer my-key" and "X-Amz-Date" not in headers
    with pytest.raises(ConfigurationError, match="STS"):
        core.sign(core.caller_identity_request(), NOW)


def test_core_unknown_model_says_which_name_it_is_likely_a_slip_for():
    """A misspelt alias listed the aliases but named none (the admin API and ``logs --model``
    already said "did you mean"); both now share ``Catalog.closest_name``."""
    with pytest.raises(ModelNotAvailableError, match=r"Unknown model 'claude-sonet-4-5' \(did you mean "
                                                     r"'claude-sonnet-4-5'\?\): use a catalog alias"):
        make_core("us-east-1").choose_model("claude-sonet-4-5")
    with pytest.raises(ModelNotAvailableError) as caught:
        make_core("us-east-1").choose_model("gpt-4o")
    assert "did you mean" not in str(caught.value)
