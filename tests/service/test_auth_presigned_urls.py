"""Review regression: a presigned URL made with temporary credentials carries its session
token as the X-Amz-Security-Token query parameter; the authenticator read only the header
and refused every such URL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import httpx
import pytest

from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Credential, Settings
from claude_bedrock.wire.sigv4 import HttpRequest, presign

KEY, SECRET, TOKEN = "ASIAPRESIGNED01", "presign-secret", "session-token-of-the-url"
PATH = "/foundation-models"


def get(app, query: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get(f"{PATH}?{query}")

    return asyncio.run(go())


def presigned_query(token: str) -> str:
    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    request = HttpRequest("GET", PATH, "", [("host", "localhost")], b"")
    return presign(request, KEY, SECRET, "us-east-1", "bedrock", amz_date, 300, session_token=token)


@pytest.fixture
def app(tmp_path):
    credential = Credential(KEY, SECRET, account_id="111122223333", session_tokens=(TOKEN,))
    return create_app(Settings(data_dir=str(tmp_path), strict_auth=True, credentials=(credential,)))


def test_presigned_url_with_its_session_token_is_accepted(app):
    response = get(app, presigned_query(TOKEN))
    assert response.status_code == 200, response.text
    assert response.json()["modelSummaries"]


def test_presigned_url_with_another_session_token_is_refused(app):
    response = get(app, presigned_query("not-the-issued-token"))
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("UnrecognizedClientException")


def test_an_unlisted_access_key_of_a_presigned_url_is_logged_on_one_line(tmp_path, caplog):
    """A presigned URL's X-Amz-Credential is percent-decoded from the query, so its access key
    may hold a line break or an ANSI escape: the development-mode warning wrote it as sent,
    which forged a second server-log line and drove the operator's terminal."""
    app = create_app(Settings(data_dir=str(tmp_path), strict_auth=False))
    query = ("X-Amz-Algorithm=AWS4-HMAC-SHA256"
             "&X-Amz-Credential=AK%0A2026-01-01%20CRITICAL%20forged%1b%5b31m/20260101/us-east-1/bedrock/aws4_request"
             "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "a" * 64)
    with caplog.at_level("WARNING", logger="claude_bedrock.auth"):
        assert get(app, query).status_code == 200
    [warning] = [r.getMessage() for r in caplog.records if r.name == "claude_bedrock.auth"]
    assert "\n" not in warning and "\x1b" not in warning
    assert "AK\\n2026-01-01 CRITICAL forged\\x1b[31m" in warning


@pytest.mark.parametrize("region", ["us-east-1%0Aforged%20x", "us-east-1%1b%5b31m", "nowhere", "US-EAST-1"])
def test_a_credential_scope_whose_region_is_no_region_name_is_refused(tmp_path, region):
    """The scope's region names the caller's region (its state, its logs): a presigned URL's,
    percent-decoded, could hold a line break and was taken as sent. AWS refuses a scope that
    names no valid region; so does the server now (development mode included)."""
    app = create_app(Settings(data_dir=str(tmp_path), strict_auth=False))
    query = ("X-Amz-Algorithm=AWS4-HMAC-SHA256"
             f"&X-Amz-Credential=AKIDEXAMPLE/20260101/{region}/bedrock/aws4_request"
             "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "a" * 64)
    response = get(app, query)
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("InvalidSignatureException")
    assert response.json()["message"] == "Credential should be scoped to a valid region. "
    good = query.replace(region, "eu-west-3")
    assert get(app, good).status_code == 200


def test_the_regions_seen_valid_are_remembered_within_a_bound(tmp_path):
    from claude_bedrock.service.auth import MAX_KNOWN_REGIONS

    app = create_app(Settings(data_dir=str(tmp_path), strict_auth=False))
    letters = "abcdefghijklmnopqrstuvwxyz"
    for n in range(MAX_KNOWN_REGIONS + 20):
        region = f"us-{letters[n // 26 % 26]}{letters[n % 26]}x-1"
        query = ("X-Amz-Algorithm=AWS4-HMAC-SHA256"
                 f"&X-Amz-Credential=AKIDEXAMPLE/20260101/{region}/bedrock/aws4_request"
                 "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "a" * 64)
        assert get(app, query).status_code == 200
    assert len(app.state.authenticator._valid_regions) == MAX_KNOWN_REGIONS


def test_unlisted_keys_past_the_remembered_ones_are_still_warned_about_once(tmp_path, caplog, monkeypatch):
    """A shared development server meets a new unlisted key per CI job (temporary credentials
    rotate): once MAX_WARNED_KEYS of them had been seen, every request of any further key
    logged the "signature not checked" warning again, one server-log line per call for good."""
    from claude_bedrock.service import auth

    monkeypatch.setattr(auth, "MAX_WARNED_KEYS", 4)
    app = create_app(Settings(data_dir=str(tmp_path), strict_auth=False))
    keys = [f"AKIDROTATED{i:04d}" for i in range(10)]
    with caplog.at_level("WARNING", logger="claude_bedrock.auth"):
        for key in keys:
            query = ("X-Amz-Algorithm=AWS4-HMAC-SHA256"
                     f"&X-Amz-Credential={key}/20260101/us-east-1/bedrock/aws4_request"
                     "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host"
                     "&X-Amz-Signature=" + "a" * 64)
            for _ in range(3):  # a job makes several calls with its key
                assert get(app, query).status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.name == "claude_bedrock.auth"]
    assert [next(key for key in keys if key in warning) for warning in warnings] == keys
