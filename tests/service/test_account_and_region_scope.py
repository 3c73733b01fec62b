"""Review regressions (state scoped per account and region):

* a short-term Bedrock API key made with a configured access key (what
  aws-bedrock-token-generator does) is that credential's: verified, in its account, not the
  development account nor refused in strict mode;
* the model-access use-case form is kept once per account, as AWS keeps it, not per region;
* the toolkit's quotas count global and regional-endpoint calls apart, as AWS's quotas do.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Credential, Settings
from claude_bedrock.wire.eventstream import decode_messages
from claude_bedrock.wire.sigv4 import HttpRequest, presign

ALICE = Credential("AKIAALICE0000000001", "alice-secret", account_id="111111111111", user_name="alice")
BOB = Credential("AKIABOB000000000002", "bob-secret", account_id="222222222222", user_name="bob")
SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def call(app, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.request(method, path, content=body, headers=headers)

    return asyncio.run(go())


def scoped_app(tmp_path, **settings):
    return create_app(Settings(data_dir=str(tmp_path), credentials=(ALICE, BOB), **settings))


def short_term_key(credential: Credential, region: str, *, secret: str | None = None,
                   signed_at: datetime | None = None, session_token: str | None = None) -> str:
    """What aws-bedrock-token-generator makes: a presigned CallWithBearerToken URL, base64."""
    amz_date = (signed_at or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    request = HttpRequest("POST", "/", "Action=CallWithBearerToken", [("host", "bedrock.amazonaws.com")], b"")
    query = presign(request, credential.access_key_id, secret or credential.secret_access_key, region, "bedrock",
                    amz_date, 43200, session_token=session_token)
    return "bedrock-api-key-" + base64.b64encode(f"bedrock.amazonaws.com/?{query}&Version=1".encode()).decode()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def invoke_body() -> bytes:
    return json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 16,
                       "messages": [{"role": "user", "content": "Hi"}]}).encode()


@pytest.mark.parametrize("strict", [False, True])
def test_short_term_key_of_a_configured_credential_is_that_account(tmp_path, strict):
    app = scoped_app(tmp_path, strict_auth=strict, model_access="none")
    alice = bearer(short_term_key(ALICE, "us-west-2"))
    # the model granted in alice's account (us-west-2) through her own short-term key
    offers = call(app, "GET", f"/list-foundation-model-agreement-offers/{SONNET}", alice)
    assert offers.status_code == 200, offers.text
    token = offers.json()["offers"][0]["offerToken"]
    granted = call(app, "POST", "/create-foundation-model-agreement", alice,
                   json.dumps({"modelId": SONNET, "offerToken": token}).encode())
    assert granted.status_code == 202, granted.text
    invoked = call(app, "POST", f"/model/global.{SONNET}/invoke", alice, invoke_body())
    assert invoked.status_code == 200, invoked.text
    # the grant is alice's alone: bob's short-term key is in bob's account
    denied = call(app, "POST", f"/model/global.{SONNET}/invoke", bearer(short_term_key(BOB, "us-west-2")),
                  invoke_body())
    assert denied.status_code == 403, denied.text
    profile = call(app, "GET", f"/inference-profiles/global.{SONNET}", alice)
    assert profile.json()["inferenceProfileArn"].startswith("arn:aws:bedrock:us-west-2:111111111111:")


@pytest.mark.parametrize(("key", "error"), [
    (lambda: short_term_key(ALICE, "us-west-2", secret="not-alice-secret"), "InvalidSignatureException"),
    (lambda: short_term_key(ALICE, "us-west-2", signed_at=datetime.now(timezone.utc) - timedelta(hours=13)),
     "InvalidSignatureException"),
])
def test_short_term_key_of_a_configured_credential_is_verified(tmp_path, key, error):
    """Keys listed in the config are always verified, even on a development server."""
    response = call(scoped_app(tmp_path), "GET", "/foundation-models", bearer(key()))
    assert response.status_code == 403, response.text
    assert response.headers["x-amzn-errortype"].startswith(error)


def test_another_presigned_url_of_a_configured_credential_is_no_short_term_key(tmp_path):
    """A presigned URL handed out for one call (an admin's ``POST /_claude-bedrock/reset``)
    wrapped as ``bedrock-api-key-`` was a key to every operation of its identity: here, the
    admin API's call history of every account."""
    admin = Credential("AKIAADMIN0000000003", "admin-secret", account_id="333333333333", admin=True)
    app = create_app(Settings(data_dir=str(tmp_path), credentials=(admin,), strict_auth=True))
    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    reset = HttpRequest("POST", "/_claude-bedrock/reset", "", [("host", "localhost")], b"")
    query = presign(reset, admin.access_key_id, admin.secret_access_key, "us-east-1", "bedrock", amz_date, 3600)
    assert call(app, "POST", f"/_claude-bedrock/reset?{query}", {}).status_code == 200
    wrapped = "bedrock-api-key-" + base64.b64encode(f"localhost/_claude-bedrock/reset?{query}".encode()).decode()
    refused = call(app, "GET", "/_claude-bedrock/calls", bearer(wrapped))
    assert refused.status_code == 400, refused.text
    assert refused.headers["x-amzn-errortype"].startswith("IncompleteSignatureException")
    assert "not a presigned 'CallWithBearerToken' URL" in refused.json()["message"]
    assert call(app, "GET", "/foundation-models", bearer(wrapped)).status_code == 400


def test_short_term_key_of_temporary_credentials_checks_the_session_token(tmp_path):
    temporary = Credential("ASIATEMPORARY0000003", "temp-secret", session_tokens=("session-1",),
                           account_id="333333333333", user_name="carol")
    app = create_app(Settings(data_dir=str(tmp_path), credentials=(temporary,)))
    ok = call(app, "GET", f"/inference-profiles/global.{SONNET}",
              bearer(short_term_key(temporary, "eu-west-1", session_token="session-1")))
    assert ok.status_code == 200, ok.text
    assert ok.json()["inferenceProfileArn"].startswith("arn:aws:bedrock:eu-west-1:333333333333:")
    refused = call(app, "GET", "/foundation-models", bearer(short_term_key(temporary, "eu-west-1")))
    assert refused.status_code == 403, refused.text
    assert refused.headers["x-amzn-errortype"].startswith("UnrecognizedClientException")


def sigv4_headers(credential: Credential, region: str, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    from claude_bedrock.wire.sigv4 import sign

    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    request = HttpRequest(method, path, "", [("host", "localhost")], body)
    return dict(sign(request, credential.access_key_id, credential.secret_access_key, region, "bedrock", amz_date))


def test_use_case_form_is_once_per_account_not_per_region(tmp_path):
    """AWS user guide, "Access Amazon Bedrock foundation models": Anthropic's use case details
    are submitted "once per account"; a form sent from one region is the account's in all."""
    app = scoped_app(tmp_path)
    form = base64.b64encode(b'{"companyName": "Alice Corp"}').decode()
    body = json.dumps({"formData": form}).encode()
    put = call(app, "POST", "/use-case-for-model-access",
               sigv4_headers(ALICE, "us-west-2", "POST", "/use-case-for-model-access", body), body)
    assert put.status_code == 201, put.text
    for region in ("us-west-2", "eu-west-1"):
        got = call(app, "GET", "/use-case-for-model-access",
                   sigv4_headers(ALICE, region, "GET", "/use-case-for-model-access"))
        assert got.status_code == 200, (region, got.text)
        assert got.json() == {"formData": form}
    other = call(app, "GET", "/use-case-for-model-access", sigv4_headers(BOB, "us-west-2", "GET", "/use-case-for-model-access"))
    assert other.status_code == 404, other.text


HAIKU_45 = "anthropic.claude-haiku-4-5-20251001-v1:0"


def converse(app, model_id: str) -> httpx.Response:
    body = json.dumps({"messages": [{"role": "user", "content": [{"text": "Hi"}]}],
                       "inferenceConfig": {"maxTokens": 8}}).encode()
    path = f"/model/{model_id}/converse"
    return call(app, "POST", path, sigv4_headers(ALICE, "us-west-2", "POST", path, body), body)


def test_quotas_count_global_and_regional_calls_apart(tmp_path):
    """AWS ("How inference works in Amazon Bedrock"; "Quotas for the bedrock-runtime endpoint"):
    global cross-Region, cross-Region and on-demand InvokeModel quotas are separate, per model
    and per Region; so is a limit set here for one of them."""
    app = scoped_app(tmp_path)
    limits = json.dumps({"requests_per_minute": 100,
                         "models": {f"global.{HAIKU_45}": {"requests_per_minute": 1}}}).encode()
    assert call(app, "PUT", "/_claude-bedrock/quotas", {}, limits).status_code == 200
    for model_id in (f"us.{HAIKU_45}", f"us.{HAIKU_45}", HAIKU_45):
        assert converse(app, model_id).status_code == 200
    first_global = converse(app, f"global.{HAIKU_45}")
    assert first_global.status_code == 200, first_global.text  # the regional calls are not its quota's
    assert converse(app, f"global.{HAIKU_45}").status_code == 429
    assert converse(app, f"us.{HAIKU_45}").status_code == 200  # nor does the global limit stop them
    usage = {row["endpoint"]: row["requests"]
             for row in call(app, "GET", "/_claude-bedrock/quotas", {}).json()["usage"]}
    assert usage == {"global": 1, "regional": 4}


def cached_invoke(app, region: str, model_id: str) -> dict:
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8,
                       "system": [{"type": "text", "text": "word " * 1500, "cache_control": {"type": "ephemeral"}}],
                       "messages": [{"role": "user", "content": "Hi"}]}).encode()
    path = f"/model/{model_id}/invoke"
    response = call(app, "POST", path, sigv4_headers(ALICE, region, "POST", path, body), body)
    assert response.status_code == 200, response.text
    return response.json()["usage"]


def test_prompt_cache_is_per_region(tmp_path):
    """AWS user guide, "Prompt caching", section on cross-Region inference: a call routed to
    another region "may lead to increased cache writes"; each region's deployment has its own
    cache. The cache written through us-east-1 was read through eu-west-3."""
    app = scoped_app(tmp_path)
    first = cached_invoke(app, "us-east-1", f"global.{SONNET}")
    assert first["cache_creation_input_tokens"] > 0
    assert cached_invoke(app, "us-east-1", f"global.{SONNET}")["cache_read_input_tokens"] > 0
    elsewhere = cached_invoke(app, "eu-west-3", f"global.{SONNET}")
    assert elsewhere["cache_read_input_tokens"] == 0
    assert elsewhere["cache_creation_input_tokens"] == first["cache_creation_input_tokens"]
    # the global and the geographic profile, both called in eu-west-3, share its cache
    assert cached_invoke(app, "eu-west-3", f"eu.{SONNET}")["cache_read_input_tokens"] > 0


def test_foundation_models_listed_are_those_reachable_from_the_callers_region(tmp_path):
    """ap-southeast-2 is in APAC only: a model without an APAC profile is still offered there when it
    has a global endpoint (Opus 4.5, Haiku 4.5), not when it has none (Opus 4.1); a region in no
    geography of the catalog reaches no model."""
    app = scoped_app(tmp_path)

    def listed(region: str) -> list[str]:
        response = call(app, "GET", "/foundation-models", sigv4_headers(ALICE, region, "GET", "/foundation-models"))
        assert response.status_code == 200, response.text
        return [summary["modelId"] for summary in response.json()["modelSummaries"]]

    apac = listed("ap-southeast-2")
    assert "anthropic.claude-opus-4-5-20251101-v1:0" in apac
    assert "anthropic.claude-haiku-4-5-20251001-v1:0" in apac
    assert "anthropic.claude-opus-4-1-20250805-v1:0" not in apac
    assert listed("sa-east-1") == []


def test_stream_metrics_report_a_cache_write_without_a_read(tmp_path):
    """The first streamed call of a cached prompt only writes the cache: message_stop's
    invocation metrics report the write (and a read of 0), as the usage does."""
    app = scoped_app(tmp_path)
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8,
                       "system": [{"type": "text", "text": "word " * 1500, "cache_control": {"type": "ephemeral"}}],
                       "messages": [{"role": "user", "content": "Hi"}]}).encode()
    path = f"/model/{SONNET}/invoke-with-response-stream"
    response = call(app, "POST", path, sigv4_headers(ALICE, "us-east-1", "POST", path, body), body)
    assert response.status_code == 200, response.text
    chunks = [json.loads(base64.b64decode(json.loads(message.payload)["bytes"]))
              for message in decode_messages(response.content)]
    assert [chunk["type"] for chunk in chunks].count("message_stop") == 1 and chunks[-1]["type"] == "message_stop"
    assert [index for index, chunk in enumerate(chunks) if "amazon-bedrock-invocationMetrics" in chunk] == [len(chunks) - 1]
    usage = chunks[0]["message"]["usage"]
    assert usage["cache_creation_input_tokens"] > 0 and usage["cache_read_input_tokens"] == 0
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["cacheWriteInputTokenCount"] == usage["cache_creation_input_tokens"]
    assert metrics["cacheReadInputTokenCount"] == 0


def test_application_profile_source_is_checked_against_the_callers_account_and_region(tmp_path):
    """CreateInferenceProfile copies from a foundation-model ARN (which names no account) or a
    system profile of the caller's account, in the caller's region; any other ARN is refused."""
    app = scoped_app(tmp_path)

    def create(name: str, source: str) -> httpx.Response:
        body = json.dumps({"inferenceProfileName": name, "modelSource": {"copyFrom": source}}).encode()
        return call(app, "POST", "/inference-profiles", sigv4_headers(ALICE, "us-east-1", "POST", "/inference-profiles", body), body)

    assert create("plain", f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET}").status_code == 201
    assert create("system", f"arn:aws:bedrock:us-east-1:{ALICE.account_id}:inference-profile/us.{SONNET}").status_code == 201
    for name, source in [
        ("with-account", f"arn:aws:bedrock:us-east-1:{ALICE.account_id}:foundation-model/{SONNET}"),
        ("other-region", f"arn:aws:bedrock:eu-west-1::foundation-model/{SONNET}"),
        ("other-account", f"arn:aws:bedrock:us-east-1:{BOB.account_id}:inference-profile/us.{SONNET}"),
    ]:
        refused = create(name, source)
        assert refused.status_code == 400, (name, refused.text)
        assert refused.headers["x-amzn-errortype"].startswith("ValidationException"), name
    body = json.dumps({"inferenceProfileName": "two-sources", "modelSource": {
        "copyFrom": f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET}", "copyTo": "x"}}).encode()
    union = call(app, "POST", "/inference-profiles", sigv4_headers(ALICE, "us-east-1", "POST", "/inference-profiles", body), body)
    assert union.status_code == 400 and "exactly one member" in union.json()["message"], union.text


def test_use_case_form_that_is_not_base64_is_refused(tmp_path):
    """formData is a blob (base64 in JSON): characters outside the alphabet are refused, not skipped."""
    app = scoped_app(tmp_path)
    body = json.dumps({"formData": "!!" + base64.b64encode(b'{"companyName": "Alice Corp"}').decode()}).encode()
    put = call(app, "POST", "/use-case-for-model-access",
               sigv4_headers(ALICE, "us-west-2", "POST", "/use-case-for-model-access", body), body)
    assert put.status_code == 400 and put.json()["message"] == "formData must be base64-encoded.", put.text


def test_stream_metrics_first_byte_latency_is_the_time_to_the_first_event(tmp_path):
    """firstByteLatency is measured at the first event (the simulator's 150 ms time to first token),
    invocationLatency at the end (after the paced output), not the same number twice."""
    app = scoped_app(tmp_path, simulator_latency="150:400")
    body = invoke_body()
    path = f"/model/{SONNET}/invoke-with-response-stream"
    response = call(app, "POST", path, sigv4_headers(ALICE, "us-east-1", "POST", path, body), body)
    assert response.status_code == 200, response.text
    last = json.loads(base64.b64decode(json.loads(decode_messages(response.content)[-1].payload)["bytes"]))
    metrics = last["amazon-bedrock-invocationMetrics"]
    assert 150 <= metrics["firstByteLatency"] < metrics["invocationLatency"]


def test_a_region_of_no_geography_is_named_in_the_log_once(tmp_path, caplog):
    """A misspelt region (``eu-centrl-1``) offers no model, so every call is "The provided
    model identifier is invalid.", even for a global profile: nothing pointed at the region. The
    server log names it, once; a known region's invalid identifier says nothing more."""
    app = scoped_app(tmp_path)
    with caplog.at_level("WARNING", logger="claude_bedrock.service"):
        for region in ("eu-centrl-1", "eu-centrl-1", "us-west-2"):
            model = f"global.{SONNET}" if region != "us-west-2" else "anthropic.no-such-model-v1:0"
            path = f"/model/{model}/invoke"
            response = call(app, "POST", path, sigv4_headers(ALICE, region, "POST", path, invoke_body()), invoke_body())
            assert response.status_code == 400
            assert response.json() == {"message": "The provided model identifier is invalid."}
    told = [r.getMessage() for r in caplog.records if "no geography" in r.getMessage()]
    assert told == ["region 'eu-centrl-1' is in no geography of the catalog: it offers no model, so every model "
                    "identifier is invalid there (a misspelt region?)"]


@pytest.mark.parametrize(("path", "status", "empty"), [
    ("/foundation-models", 200, {"modelSummaries": []}),
    (f"/foundation-models/{SONNET}", 404, None),
    ("/inference-profiles", 200, {"inferenceProfileSummaries": []}),
    (f"/inference-profiles/global.{SONNET}", 404, None),
    (f"/list-foundation-model-agreement-offers/{SONNET}", 404, None),
])
def test_a_region_of_no_geography_is_named_in_the_log_by_the_control_plane_too(tmp_path, caplog, path, status, empty):
    """The guide's first step, ``aws bedrock list-foundation-models --region eu-centrl-1``, answers
    an empty list (a region with no model), and a lookup there is not found: the server log names
    the region, once, as a runtime call there does."""
    app = scoped_app(tmp_path)
    with caplog.at_level("WARNING", logger="claude_bedrock.service"):
        for region in ("eu-centrl-1", "eu-centrl-1", "us-west-2"):
            response = call(app, "GET", path, sigv4_headers(ALICE, region, "GET", path, b""))
            if region != "us-west-2":
                assert response.status_code == status, response.text
                assert empty is None or response.json() == empty
    told = [r.getMessage() for r in caplog.records if "no geography" in r.getMessage()]
    assert told == ["region 'eu-centrl-1' is in no geography of the catalog: it offers no model, so every model "
                    "identifier is invalid there (a misspelt region?)"]
