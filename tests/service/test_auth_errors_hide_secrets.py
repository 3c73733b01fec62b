"""Review regressions: auth error messages never repeat a secret (an API key sent without its
scheme, a signature, a session token), while still naming what is wrong."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from urllib.parse import quote

import httpx

from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Credential, Settings
from claude_bedrock.wire.sigv4 import HttpRequest, presign, sign

KEY, SECRET, TOKEN = "ASIAREVIEWKEY", "review-secret", "FQoGZXIvYXdzSESSIONTOKEN//review=="
PATH = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
BODY = b'{"messages":[{"role":"user","content":[{"text":"hi"}]}]}'
SIGNATURE = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"


def post(app, headers: dict[str, str], path: str = PATH) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.post(path, content=BODY, headers=headers)

    return asyncio.run(go())


def make_app(tmp_path):
    credential = Credential(KEY, SECRET, account_id="111122223333", session_tokens=(TOKEN,))
    return create_app(Settings(data_dir=str(tmp_path), credentials=(credential,)))


def test_api_key_without_scheme_is_not_echoed(tmp_path):
    api_key = "ABSKQmVkcm9ja0FQSUtleS1yZXZpZXctYXQtMTExMTIyMjIzMzMzOnNlY3JldA=="
    response = post(make_app(tmp_path), {"authorization": api_key})
    assert response.status_code == 400
    assert "Unsupported Authorization scheme" in response.text
    assert api_key not in response.text and api_key[:20] not in response.text


def test_unknown_scheme_name_is_still_shown(tmp_path):
    response = post(make_app(tmp_path), {"authorization": "Basic dXNlcjpwYXNz"})
    assert "Unsupported Authorization scheme 'Basic'" in response.json()["message"]
    assert "dXNlcjpwYXNz" not in response.text


def test_signature_is_not_echoed_by_incomplete_signature_errors(tmp_path):
    app = make_app(tmp_path)
    base = f"AWS4-HMAC-SHA256 Credential={KEY}/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host"
    cases = [
        {"authorization": f"{base}, Signature={SIGNATURE}"},  # no X-Amz-Date nor Date
        {"authorization": f"{base}, Signature={SIGNATURE}, junk", "x-amz-date": "20250101T000000Z"},
        {"authorization": f"{base}, Signature={SIGNATURE.upper()}", "x-amz-date": "20250101T000000Z"},
        {"authorization": f"AWS4-HMAC-SHA256 Signature={SIGNATURE}", "x-amz-date": "20250101T000000Z"},
    ]
    for headers in cases:
        response = post(app, headers)
        assert response.status_code == 400, response.text
        assert response.headers["x-amzn-errortype"].startswith("IncompleteSignatureException")
        assert SIGNATURE not in response.text.lower(), headers


def test_session_token_is_not_echoed_in_signature_mismatch(tmp_path):
    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers = {"host": "localhost", "content-type": "application/json"}
    request = HttpRequest("POST", PATH, "", list(headers.items()), BODY)
    headers.update(sign(request, KEY, "wrong-secret", "us-west-2", "bedrock", amz_date, session_token=TOKEN))
    response = post(make_app(tmp_path), headers)
    assert response.status_code == 403
    message = response.json()["message"]
    assert "The Canonical String for this request should have been" in message
    assert "x-amz-security-token:<redacted>" in message
    assert TOKEN not in message


def test_date_header_out_of_range_is_incomplete_signature_not_500(tmp_path):
    authorization = (f"AWS4-HMAC-SHA256 Credential={KEY}/99991231/us-east-1/bedrock/aws4_request, "
                     f"SignedHeaders=host, Signature={SIGNATURE}")
    response = post(make_app(tmp_path), {"authorization": authorization, "date": "Fri, 31 Dec 9999 23:59:59 -2300"})
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"].startswith("IncompleteSignatureException")


def test_session_token_of_a_presigned_url_is_not_echoed_in_signature_mismatch(tmp_path):
    """A presigned URL carries its session token in the query, so the canonical request the
    mismatch message quotes holds it on its query line (X-Amz-Security-Token=...)."""
    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    request = HttpRequest("POST", PATH, "", [("host", "localhost")], BODY)
    query = presign(request, KEY, "wrong-secret", "us-west-2", "bedrock", amz_date, 300, session_token=TOKEN)
    response = post(make_app(tmp_path), {}, path=f"{PATH}?{query}")
    assert response.status_code == 403, response.text
    message = response.json()["message"]
    assert "The Canonical String for this request should have been" in message
    assert "X-Amz-Security-Token=<redacted>" in message
    assert TOKEN not in message and quote(TOKEN, safe="") not in message
