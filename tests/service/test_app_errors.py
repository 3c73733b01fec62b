"""In-process app tests: routing on the raw path, the auth front door and error envelopes.
(Streaming is tested over a socket elsewhere: this transport buffers whole bodies.)"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_bedrock.domain.errors import InternalServerException, ModelStreamErrorException, ValidationException
from claude_bedrock.service.app import create_app
from claude_bedrock.service.errors import query_xml_error, stream_exception_payload
from claude_bedrock.settings import Credential, Settings
from claude_bedrock.wire.sigv4 import HttpRequest, sign

KEY, SECRET = "AKIDKNOWN", "known-secret"
BODY = json.dumps({"max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}],
                   "anthropic_version": "bedrock-2023-05-31"}).encode()
INVOKE = "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"


def make_app(tmp_path, **settings):
    creds = (Credential(KEY, SECRET, account_id="111122223333", user_name="alice"),)
    return create_app(Settings(data_dir=str(tmp_path), credentials=creds, **settings))


def call(app, method, path, body=b"", headers=None, *, key=KEY, secret=SECRET, service="bedrock",
         when: datetime | None = None, sign_it=True):
    headers = dict(headers or {})
    headers.setdefault("host", "localhost")
    if sign_it:
        amz_date = (when or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
        raw_path, _, query = path.partition("?")
        request = HttpRequest(method, raw_path, query, list(headers.items()), body)
        headers.update(sign(request, key, secret, "us-west-2", service, amz_date))

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.request(method, path, content=body, headers=headers)

    return asyncio.run(go())


def error_code(response):
    return response.headers["x-amzn-errortype"].split(":", 1)[0]


def test_app_invoke_with_verified_key(tmp_path):
    response = call(make_app(tmp_path), "POST", INVOKE, BODY)
    assert response.status_code == 200
    assert response.json()["type"] == "message"
    assert response.headers["x-amzn-requestid"]


def test_app_missing_authorization_is_refused(tmp_path):
    response = call(make_app(tmp_path), "POST", INVOKE, BODY, sign_it=False)
    assert response.status_code == 403
    assert error_code(response) == "AccessDeniedException"
    assert response.json() == {"Message": "Authorization header is missing"}


def test_app_wrong_secret_shows_expected_canonical_request(tmp_path):
    response = call(make_app(tmp_path), "POST", INVOKE, BODY, secret="wrong")
    assert response.status_code == 403
    assert error_code(response) == "InvalidSignatureException"
    assert response.headers["x-amzn-errortype"].endswith("com.amazon.coral.service/")
    message = response.json()["message"]
    assert "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%253A0/invoke" in message
    assert "The String-to-Sign should have been" in message


@pytest.mark.parametrize("offset, text", [(timedelta(minutes=-6), "Signature expired"),
                                          (timedelta(minutes=6), "Signature not yet current")])
def test_app_clock_skew_window(tmp_path, offset, text):
    response = call(make_app(tmp_path), "POST", INVOKE, BODY, when=datetime.now(timezone.utc) + offset)
    assert response.status_code == 403
    assert error_code(response) == "InvalidSignatureException"
    assert response.json()["message"].startswith(text)


def test_app_dev_mode_accepts_unknown_keys(tmp_path):
    assert call(make_app(tmp_path), "POST", INVOKE, BODY, key="AKIDUNKNOWN", secret="x").status_code == 200


def test_app_strict_mode_rejects_unknown_keys(tmp_path):
    response = call(make_app(tmp_path, strict_auth=True), "POST", INVOKE, BODY, key="AKIDUNKNOWN", secret="x")
    assert response.status_code == 403
    assert error_code(response) == "UnrecognizedClientException"
    assert response.json()["message"] == "The security token included in the request is invalid."


def test_app_strict_by_default_beyond_loopback(tmp_path):
    assert Settings(host="0.0.0.0").effective_strict_auth
    assert not Settings(host="127.0.0.1").effective_strict_auth
    assert not Settings(host="0.0.0.0", strict_auth=False).effective_strict_auth


@pytest.mark.parametrize("key", [KEY, "AKIDUNKNOWN"], ids=["listed key", "unlisted key in development mode"])
def test_app_wrong_service_scope(tmp_path, key):
    """The scope's service is checked before the key is looked up: a development server, which
    does not check an unlisted key's signature, still refuses a request signed for another service."""
    response = call(make_app(tmp_path), "POST", INVOKE, BODY, key=key, service="bedrock-runtime")
    assert response.status_code == 403
    assert error_code(response) == "InvalidSignatureException"
    assert response.json()["message"].startswith("Credential should be scoped to correct service: 'bedrock'.")


def test_app_malformed_authorization(tmp_path):
    response = call(make_app(tmp_path), "POST", INVOKE, BODY, sign_it=False,
                    headers={"authorization": "AWS4-HMAC-SHA256 Credential=garbage"})
    assert response.status_code == 400
    assert error_code(response) == "IncompleteSignatureException"
    assert "Authorization header requires 'SignedHeaders' parameter." in response.json()["message"]


def test_app_unknown_route(tmp_path):
    response = call(make_app(tmp_path), "POST", "/model/x/explode", BODY)
    assert response.status_code == 404
    assert error_code(response) == "UnknownOperationException"


def test_app_body_over_25mb_refused_from_content_length(tmp_path):
    app = make_app(tmp_path)

    async def go():
        sent = []
        scope = {"type": "http", "method": "POST", "path": INVOKE, "raw_path": INVOKE.encode(),
                 "query_string": b"", "headers": [(b"content-length", b"30000000"), (b"host", b"x")]}

        async def receive():  # never called: the size is refused before reading
            raise AssertionError("body was read")

        async def send(message):
            sent.append(message)

        await app(scope, receive, send)
        return sent

    sent = asyncio.run(go())
    assert sent[0]["status"] == 400
    assert b"ValidationException" in dict(sent[0]["headers"])[b"x-amzn-errortype"]


@pytest.mark.parametrize("key", [KEY, "AKIDUNKNOWN"], ids=["listed key", "unlisted key in development mode"])
def test_app_arn_model_id_with_encoded_slash_routes_as_one_segment(tmp_path, key):
    """The ARN names the region the request is signed for (us-west-2), which is the caller's
    region, a development-mode caller's included."""
    arn = "arn%3Aaws%3Abedrock%3Aus-west-2%3A111122223333%3Ainference-profile%2Fglobal.anthropic.claude-sonnet-4-5-20250929-v1%3A0"
    response = call(make_app(tmp_path, account_id="111122223333"), "POST", f"/model/{arn}/invoke", BODY, key=key)
    assert response.status_code == 200, response.text


def test_app_health_needs_no_auth(tmp_path):
    response = call(make_app(tmp_path), "GET", "/_claude-bedrock/health", sign_it=False)
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_request_ids_are_random_version_4_uuids():
    import uuid

    from claude_bedrock.service.app import new_request_id

    ids = {new_request_id() for _ in range(2000)}
    assert len(ids) == 2000
    for value in ids:
        parsed = uuid.UUID(value)
        assert str(parsed) == value and parsed.version == 4 and parsed.variant == uuid.RFC_4122


@given(st.text())
def test_xml_escape_matches_the_standard_library(text):
    """STS and XML error bodies escape character data as ``html.escape(quote=False)`` does."""
    import html

    from claude_bedrock.service.errors import escape

    assert escape(text) == html.escape(text, quote=False)


def test_app_model_past_its_catalog_retirement_date_is_refused(tmp_path):
    # A catalog retire_on (GetFoundationModel's endOfLifeTime) ends the model's life: calls
    # after it fail as AWS fails them, instead of answering as if the model were alive.
    from importlib import resources

    from claude_bedrock.domain.catalog import build_catalog
    from claude_bedrock.service.state import ServiceState

    doc = json.loads(resources.files("claude_bedrock.domain").joinpath("data/catalog.json").read_text())
    sonnet_37 = next(m for m in doc["models"] if m["id"] == "anthropic.claude-3-7-sonnet-20250219-v1:0")
    today = datetime.now(timezone.utc).date().isoformat()
    sonnet_37["lifecycle"].update(deprecated_on=today, retire_on=today)
    creds = (Credential(KEY, SECRET, account_id="111122223333", user_name="alice"),)
    app = create_app(state=ServiceState(Settings(data_dir=str(tmp_path), credentials=creds),
                                        catalog=build_catalog(doc)))
    response = call(app, "POST", "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/invoke", BODY)
    assert response.status_code == 404 and error_code(response) == "ResourceNotFoundException"
    assert "end of its life" in response.json()["message"]
    assert call(app, "POST", INVOKE, BODY).status_code == 200


@pytest.mark.parametrize(("error", "kind"), [
    (InternalServerException("boom & <bust>"), "Receiver"),  # a server fault is the Receiver's
    (ValidationException("bad"), "Sender"),
])
def test_sts_error_document_types_the_fault(error, kind):
    """STS's query-XML error names who is at fault in ``<Type>``, its message escaped."""
    status, headers, body = query_xml_error(error, "req-1")
    root = ElementTree.fromstring(body)
    ns = {"sts": "https://sts.amazonaws.com/doc/2011-06-15/"}
    assert status == error.status
    assert root.findtext("sts:Error/sts:Type", namespaces=ns) == kind
    assert root.findtext("sts:Error/sts:Message", namespaces=ns) == error.message
    assert root.findtext("sts:RequestId", namespaces=ns) == "req-1"
    assert dict(headers)["content-length"] == str(len(body))


def test_stream_exception_payload_carries_the_modelled_fields():
    """A modelStreamErrorException frame carries originalStatusCode and originalMessage beside
    the message (botocore ``ModelStreamErrorException``)."""
    error = ModelStreamErrorException("stream failed", originalStatusCode=500, originalMessage="boom")
    assert json.loads(stream_exception_payload(error)) == {
        "message": "stream failed", "originalStatusCode": 500, "originalMessage": "boom"}
