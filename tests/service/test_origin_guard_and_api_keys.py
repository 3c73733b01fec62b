"""Review regressions (control-plane and security audit):

* a development server refuses what a web page can send it: a cross-site request (``Origin``)
  and, on a loopback bind, a request addressed to a name that is not loopback (DNS rebinding);
* a Bedrock API key's calls are in the key's region (config ``region``, the scope of a
  short-term key, or an AWS-like Host), not always us-east-1;
* two ``Authorization`` headers, or one beside a presigned query, are refused;
* ``/v1/messages/count_tokens`` checks model access like ``/model/{id}/count-tokens``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timezone

import httpx
import pytest

from claude_bedrock.domain.errors import AccessDeniedException
from claude_bedrock.service import origin_guard
from claude_bedrock.service.app import create_app
from claude_bedrock.service.http import Request
from claude_bedrock.service.origin_guard import OriginGuard
from claude_bedrock.settings import ApiKey, ConfigError, Settings, load_config_file
from claude_bedrock.wire.sigv4 import HttpRequest, presign

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def call(app, method: str, path: str, headers: dict[str, str] | list[tuple[str, str]], body: bytes = b"",
         host: str = "localhost") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
            return await client.request(method, path, content=body, headers=headers)

    return asyncio.run(go())


def dev_app(tmp_path, **settings):
    return create_app(Settings(data_dir=str(tmp_path), **settings))


DEV = {"authorization": "Bearer any-development-key"}


@pytest.mark.parametrize("origin", ["http://evil.example", "https://attacker.test:8443", "null", "http://[x]",
                                    "http://[::1"])
def test_dev_server_refuses_cross_site_requests(tmp_path, origin):
    app = dev_app(tmp_path)
    fault = call(app, "POST", "/_claude-bedrock/faults", {"origin": origin, "content-type": "text/plain"},
                 b'{"kind": "ThrottlingException", "count": 1}')
    assert fault.status_code == 403
    assert fault.json()["message"].startswith(f"Requests from web pages (Origin: {origin}) are refused")
    assert call(app, "POST", "/_claude-bedrock/reset", {"origin": origin}).status_code == 403
    listed = call(app, "GET", "/foundation-models", {**DEV, "origin": origin})
    assert listed.status_code == 403 and listed.headers["x-amzn-errortype"].startswith("AccessDeniedException")
    assert call(app, "GET", "/_claude-bedrock/faults", {}).json()["faults"] == []  # nothing was added


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1:8787", "http://[::1]:5173"])
def test_dev_server_accepts_loopback_origins(tmp_path, origin):
    assert call(dev_app(tmp_path), "GET", "/foundation-models", {**DEV, "origin": origin}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8787", "10.0.0.5", "localhost.evil.example"])
def test_loopback_dev_server_refuses_foreign_host_names(tmp_path, host):
    response = call(dev_app(tmp_path), "GET", "/_claude-bedrock/calls", {"host": host})
    assert response.status_code == 403
    assert response.json()["message"].startswith(f"Host {host!r} is not a loopback name")


@pytest.mark.parametrize("host", ["localhost", "localhost:8787", "127.0.0.1:8787", "127.1.2.3", "[::1]:8787",
                                  "app.localhost", "bedrock-runtime.us-west-2.amazonaws.com", "LOCALHOST.",
                                  # names are case-insensitive, and may end with the root's dot
                                  "BEDROCK-RUNTIME.US-WEST-2.AMAZONAWS.COM", "bedrock.us-east-1.amazonaws.com.:443"])
def test_loopback_dev_server_accepts_loopback_and_aws_names(tmp_path, host):
    assert call(dev_app(tmp_path), "GET", "/foundation-models", {**DEV, "host": host}).status_code == 200


def test_a_refused_host_is_refused_again(tmp_path):
    # the decision is remembered per Host value: the refusal is, not an admission
    app = dev_app(tmp_path)
    for _ in range(2):
        assert call(app, "GET", "/foundation-models", {**DEV, "host": "evil.example"}).status_code == 403


def _guard_request(*hosts: str) -> Request:
    return Request("GET", "/foundation-models", "", [("host", host) for host in hosts])


def test_a_second_host_line_is_checked_beside_a_remembered_one():
    # the server refuses two Host lines (a 400), but the app is an ASGI app: any server may run it
    guard = OriginGuard(loopback_bind=True)
    guard.check(_guard_request("localhost"))  # remembered as allowed
    with pytest.raises(AccessDeniedException, match="'evil.example' is not a loopback name"):
        guard.check(_guard_request("localhost", "evil.example"))


def test_the_guard_remembers_only_so_many_host_values():
    guard = OriginGuard(loopback_bind=True)
    for n in range(origin_guard.MAX_REMEMBERED_HOSTS + 10):  # clients choose the Host: bounded
        guard.check(_guard_request(f"{n}.localhost"))
    assert len(guard._hosts) == origin_guard.MAX_REMEMBERED_HOSTS
    with pytest.raises(AccessDeniedException):  # a value not remembered is still judged
        guard.check(_guard_request("evil.example"))


def test_guard_scope_follows_the_bind_and_the_auth_mode(tmp_path):
    # bound beyond loopback and explicitly relaxed: any Host (the server's own names are
    # unknown), but still no web pages
    open_lan = dev_app(tmp_path / "lan", host="0.0.0.0", strict_auth=False)
    assert call(open_lan, "GET", "/foundation-models", {**DEV, "host": "devbox.lan:8787"}).status_code == 200
    assert call(open_lan, "GET", "/foundation-models", {**DEV, "origin": "http://evil.example"}).status_code == 403
    # strict: signatures are checked, so neither check applies (an unknown key is refused anyway)
    strict = dev_app(tmp_path / "strict", strict_auth=True, api_keys=(ApiKey("configured-key"),))
    headers = {"authorization": "Bearer configured-key", "origin": "http://evil.example", "host": "evil.example"}
    assert call(strict, "GET", "/foundation-models", headers).status_code == 200


def _foundation_model_region(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["modelSummaries"][0]["modelArn"].split(":")[3]


def _short_term_key(region: str) -> str:
    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    request = HttpRequest("POST", "/", "Action=CallWithBearerToken", [("host", "bedrock.amazonaws.com")], b"")
    query = presign(request, "AKIDSHORTTERM", "secret", region, "bedrock", amz_date, 43200)
    url = f"bedrock.amazonaws.com/?{query}&Version=1"
    return "bedrock-api-key-" + base64.b64encode(url.encode()).decode()


def test_api_key_calls_are_in_the_keys_region(tmp_path):
    app = dev_app(tmp_path, api_keys=(ApiKey("eu-key", region="eu-west-1"), ApiKey("plain-key")))
    regional = call(app, "GET", "/foundation-models", {"authorization": "Bearer eu-key"})
    assert _foundation_model_region(regional) == "eu-west-1"
    assert _foundation_model_region(call(app, "GET", "/foundation-models", {"authorization": "Bearer plain-key"})) \
        == "us-east-1"
    # an AWS-like Host names the endpoint's region, which wins as on AWS
    aws_host = {"authorization": "Bearer eu-key", "host": "bedrock.ap-northeast-1.amazonaws.com"}
    assert _foundation_model_region(call(app, "GET", "/foundation-models", aws_host)) == "ap-northeast-1"
    # a Host whose region part is no region name names no region: the key's applies
    odd_host = {"authorization": "Bearer eu-key", "host": "bedrock.Not_A_Region.amazonaws.com"}
    assert _foundation_model_region(call(app, "GET", "/foundation-models", odd_host)) == "eu-west-1"
    # a short-term key carries its region in its presigned URL's scope
    short = {"authorization": f"Bearer {_short_term_key('eu-central-1')}"}
    assert _foundation_model_region(call(app, "GET", "/foundation-models", short)) == "eu-central-1"
    # so a regional model ID of that region works with the key
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20,
                       "messages": [{"role": "user", "content": "Hi"}]}).encode()
    invoked = call(app, "POST", f"/model/eu.{HAIKU}/invoke", {"authorization": "Bearer eu-key"}, body)
    assert invoked.status_code == 200, invoked.text


@pytest.mark.parametrize(("entry", "message"), [
    ('region = "Europe"', "region: expected an AWS region name such as 'eu-west-1', got 'Europe'"),
    ("region = 3", "region: expected an AWS region name such as 'eu-west-1', got 3"),
    ('admin = "yes"', "admin: expected a boolean (true/false)"),
])
def test_api_key_config_region_and_admin_are_checked(tmp_path, entry, message):
    config = tmp_path / "config.toml"
    config.write_text(f'[[api_keys]]\nkey = "k"\n{entry}\n')
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config_file(config)


def test_two_authorization_headers_are_refused(tmp_path):
    app = dev_app(tmp_path)
    twice = [("authorization", "Bearer first"), ("authorization", "Bearer second")]
    response = call(app, "GET", "/foundation-models", twice)
    assert response.headers["x-amzn-errortype"].startswith("IncompleteSignatureException")
    assert response.json()["message"] == "The request carries more than one Authorization header."
    both = call(app, "GET", "/foundation-models?X-Amz-Algorithm=AWS4-HMAC-SHA256", DEV)
    assert both.headers["x-amzn-errortype"].startswith("IncompleteSignatureException")
    assert both.json()["message"].startswith("Only one auth mechanism allowed")


def test_anthropic_count_tokens_path_checks_model_access(tmp_path):
    app = dev_app(tmp_path, model_access="none")
    body = json.dumps({"model": f"us.{HAIKU}", "messages": [{"role": "user", "content": "Hi"}]}).encode()
    response = call(app, "POST", "/v1/messages/count_tokens", DEV, body)
    assert response.status_code == 403
    assert response.json()["message"] == "You don't have access to the model with the specified model ID."
