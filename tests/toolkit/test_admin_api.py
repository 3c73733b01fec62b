"""The admin API under /_claude-bedrock, in-process (JSON routes only; streams are tested
over a socket in test_runtime_faults)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import httpx
import pytest

from claude_bedrock.service.app import create_app
from claude_bedrock.settings import ApiKey, Credential, Settings
from claude_bedrock.wire.sigv4 import HttpRequest, presign, sign

ADMIN = "/_claude-bedrock"
SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1%3A0"
HAIKU = "us.anthropic.claude-3-5-haiku-20241022-v1%3A0"
API_KEY = "admin-test-api-key-000000000000"


def body(text: str = "Hello", max_tokens: int = 50) -> bytes:
    return json.dumps({"max_tokens": max_tokens, "messages": [{"role": "user", "content": text}],
                       "anthropic_version": "bedrock-2023-05-31"}).encode()


class Client:
    def __init__(self, app) -> None:
        self.app = app

    def request(self, method: str, path: str, payload=None, *, signed: bool = False, headers=None):
        content = b"" if payload is None else payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = dict(headers or {})
        headers["host"] = "localhost"
        if signed:
            raw_path, _, query = path.partition("?")
            amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            request = HttpRequest(method, raw_path, query, list(headers.items()), content)
            headers.update(sign(request, "AKIDADMIN", "secret", "us-west-2", "bedrock", amz_date))

        async def go():
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
                return await client.request(method, path, content=content, headers=headers)

        return asyncio.run(go())

    def invoke(self, model: str = SONNET, text: str = "Hello", max_tokens: int = 50):
        return self.request("POST", f"/model/{model}/invoke", body(text, max_tokens), signed=True)


@pytest.fixture
def client(tmp_path) -> Client:
    return Client(create_app(Settings(data_dir=str(tmp_path))))


def error_code(response) -> str:
    return response.headers["x-amzn-errortype"].split(":", 1)[0]


def test_admin_health_is_open(client):
    response = client.request("GET", f"{ADMIN}/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_admin_rules_add_list_delete(client):
    one = client.request("POST", f"{ADMIN}/rules", {"match": {"user_text_contains": "hello"}, "respond": "Hi!"})
    assert one.status_code == 201 and one.json()["rules"][0]["id"] == "rule-1"
    many = client.request("POST", f"{ADMIN}/rules", {"rules": [{"respond": "a"}, {"id": "b", "respond": "b"}]})
    assert [r["id"] for r in many.json()["rules"]] == ["rule-2", "b"]
    assert client.invoke().json()["content"][0]["text"] == "Hi!"
    listed = client.request("GET", f"{ADMIN}/rules").json()["rules"]
    assert [(r["id"], r["used"]) for r in listed] == [("rule-1", 1), ("rule-2", 0), ("b", 0)]
    assert client.request("DELETE", f"{ADMIN}/rules/rule-1").status_code == 200
    missing = client.request("DELETE", f"{ADMIN}/rules/rule-1")
    assert missing.status_code == 404 and error_code(missing) == "ResourceNotFoundException"
    assert client.invoke().json()["content"][0]["text"] == "a"
    client.request("DELETE", f"{ADMIN}/rules")
    assert client.request("GET", f"{ADMIN}/rules").json()["rules"] == []


def test_admin_bad_rule_is_a_validation_error_naming_the_key(client):
    response = client.request("POST", f"{ADMIN}/rules", [{"respond": "ok"}, {"respond": {"txt": "x"}}])
    assert response.status_code == 400 and error_code(response) == "ValidationException"
    assert "rules[1].respond" in response.json()["message"] and "txt" in response.json()["message"]
    assert client.request("GET", f"{ADMIN}/rules").json()["rules"] == []
    assert client.request("POST", f"{ADMIN}/rules", b"not json").status_code == 400


def test_admin_scripted_error_reply(client):
    client.request("POST", f"{ADMIN}/rules", {"respond": {"error": {"code": "AccessDeniedException"}}, "times": 1})
    denied = client.invoke()
    assert denied.status_code == 403 and error_code(denied) == "AccessDeniedException"
    assert client.invoke().status_code == 200


def test_admin_faults_and_the_call_history(client):
    added = client.request("POST", f"{ADMIN}/faults", {"kind": "ThrottlingException", "count": 2, "model": "*sonnet*"})
    assert added.status_code == 201 and added.json()["faults"][0]["remaining"] == 2
    assert client.invoke().status_code == 429
    assert client.invoke(HAIKU).status_code == 200
    throttled = client.invoke()
    assert throttled.status_code == 429 and throttled.json() == {
        "message": "Too many requests, please wait before trying again."}
    assert client.invoke().status_code == 200
    assert client.request("GET", f"{ADMIN}/faults").json()["faults"][0]["fired"] == 2

    calls = client.request("GET", f"{ADMIN}/calls").json()["calls"]
    assert [(c["status"], c["injected_fault"]) for c in calls] == [
        (429, "ThrottlingException"), (200, None), (429, "ThrottlingException"), (200, None)]
    assert calls[0]["error_code"] == "ThrottlingException"
    assert calls[1]["input_body"]["messages"] == [{"role": "user", "content": "Hello"}]
    assert calls[1]["output_body"]["type"] == "message"
    haiku = client.request("GET", f"{ADMIN}/calls?model=claude-3-5-haiku").json()["calls"]
    assert len(haiku) == 1 and haiku[0]["resolved_model_id"] == "anthropic.claude-3-5-haiku-20241022-v1:0"
    last = client.request("GET", f"{ADMIN}/calls?limit=1&operation=InvokeModel").json()["calls"]
    assert [c["request_id"] for c in last] == [calls[-1]["request_id"]]
    assert client.request("GET", f"{ADMIN}/calls?limit=zero").status_code == 400
    assert client.request("GET", f"{ADMIN}/calls?limit=000").status_code == 400
    # past int()'s 4300 digits (was a 500): more than any history holds, so every call
    assert len(client.request("GET", f"{ADMIN}/calls?limit={'1' * 5000}").json()["calls"]) == len(calls)
    assert client.request("GET", f"{ADMIN}/calls?modle=x").status_code == 400
    client.request("DELETE", f"{ADMIN}/calls")
    assert client.request("GET", f"{ADMIN}/calls").json()["calls"] == []


def test_admin_history_records_validation_failures_too(client):
    response = client.request("POST", f"/model/{SONNET}/invoke", b'{"messages": []}', signed=True)
    assert response.status_code == 400
    (call,) = client.request("GET", f"{ADMIN}/calls").json()["calls"]
    assert call["error_code"] == "ValidationException" and call["rule"] is None


def test_admin_quotas_put_get_and_throttle(client):
    response = client.request("PUT", f"{ADMIN}/quotas", {"requests_per_minute": 1})
    assert response.status_code == 200
    assert response.json()["limits"] == {"requests_per_minute": 1, "tokens_per_minute": None}
    assert client.invoke().status_code == 200
    refused = client.invoke()
    assert refused.status_code == 429 and error_code(refused) == "ThrottlingException"
    assert refused.json()["message"] == "Too many requests, please wait before trying again."
    assert client.invoke(HAIKU).status_code == 200  # counters are per model
    usage = client.request("GET", f"{ADMIN}/quotas").json()["usage"]
    assert sorted(u["model_id"] for u in usage) == ["anthropic.claude-3-5-haiku-20241022-v1:0",
                                                    "anthropic.claude-sonnet-4-5-20250929-v1:0"]
    assert client.request("PUT", f"{ADMIN}/quotas", {"rpm": 3}).status_code == 400


def test_admin_reset_clears_everything(client):
    client.request("POST", f"{ADMIN}/rules", {"respond": "x"})
    client.request("POST", f"{ADMIN}/faults", {"kind": "latency", "latency_ms": 1, "probability": 1})
    client.request("PUT", f"{ADMIN}/quotas", {"requests_per_minute": 100})
    client.invoke()
    assert client.request("POST", f"{ADMIN}/reset").json() == {"status": "reset"}
    assert client.request("GET", f"{ADMIN}/rules").json()["rules"] == []
    assert client.request("GET", f"{ADMIN}/faults").json()["faults"] == []
    assert client.request("GET", f"{ADMIN}/calls").json()["calls"] == []
    assert client.request("GET", f"{ADMIN}/quotas").json() == {
        "limits": {"requests_per_minute": None, "tokens_per_minute": None}, "usage": []}


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("PUT", "/rules"), ("DELETE", "/calls/x"),
                                              ("GET", "/rules/a/b")])
def test_admin_unknown_routes_are_404(client, method, path):
    response = client.request(method, ADMIN + path)
    assert response.status_code == 404


def test_admin_on_a_strict_server_needs_an_admin_key(tmp_path):
    settings = Settings(data_dir=str(tmp_path), strict_auth=True,
                        credentials=(Credential("AKIDADMIN", "secret", account_id="111122223333", admin=True),),
                        api_keys=(ApiKey(API_KEY, account_id="111122223333", admin=True),
                                  ApiKey("tenant-key", account_id="222233334444")))
    client = Client(create_app(settings))
    assert client.request("GET", f"{ADMIN}/health").status_code == 200
    for method, path in [("GET", "/calls"), ("POST", "/rules"), ("POST", "/reset"), ("PUT", "/quotas")]:
        refused = client.request(method, ADMIN + path, {"respond": "x"})
        assert refused.status_code == 403, (method, path)
    assert client.request("GET", f"{ADMIN}/calls", signed=True).status_code == 200
    bearer = client.request("POST", f"{ADMIN}/rules", {"respond": "x"}, headers={"authorization": f"Bearer {API_KEY}"})
    assert bearer.status_code == 201
    wrong = client.request("GET", f"{ADMIN}/rules", headers={"authorization": "Bearer not-a-configured-key"})
    assert wrong.status_code == 403
    # a configured key that is not an admin's: another tenant may not read, fault or reset anyone
    for method, path in [("GET", "/calls"), ("POST", "/faults"), ("POST", "/reset")]:
        tenant = client.request(method, ADMIN + path, {"kind": "ThrottlingException"},
                                headers={"authorization": "Bearer tenant-key"})
        assert tenant.status_code == 403, (method, path)
        assert tenant.json()["message"] == (
            "arn:aws:iam::222233334444:user/developer may not use the admin API of this server: "
            "mark its key 'admin = true' in the config file.")
    assert client.request("GET", f"{ADMIN}/faults", signed=True).json()["faults"] == []


def test_admin_call_history_through_a_presigned_url_of_an_admin_key(tmp_path):
    """A presigned URL is SigV4 too: its X-Amz-* parameters were refused as unknown filters."""
    admin = Credential("AKIDADMIN", "secret", account_id="111122223333", admin=True)
    client = Client(create_app(Settings(data_dir=str(tmp_path), strict_auth=True, credentials=(admin,))))
    assert client.invoke().status_code == 200
    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    request = HttpRequest("GET", f"{ADMIN}/calls", "limit=1", [("host", "localhost")], b"")
    query = presign(request, "AKIDADMIN", "secret", "us-west-2", "bedrock", amz_date, 300)
    response = client.request("GET", f"{ADMIN}/calls?{query}")
    assert response.status_code == 200, response.text
    assert len(response.json()["calls"]) == 1
    misspelt = presign(HttpRequest("GET", f"{ADMIN}/calls", "limits=1", [("host", "localhost")], b""),
                       "AKIDADMIN", "secret", "us-west-2", "bedrock", amz_date, 300)
    refused = client.request("GET", f"{ADMIN}/calls?{misspelt}")
    assert refused.status_code == 400 and refused.json()["message"].startswith("Unknown filter(s): limits;")


def test_admin_history_is_json_even_for_a_body_that_is_not(client):
    response = client.request("POST", f"/model/{SONNET}/invoke", b"\xff not json", signed=True)
    assert response.status_code == 400
    (call,) = client.request("GET", f"{ADMIN}/calls").json()["calls"]
    assert call["error_code"] == "ValidationException"
    assert call.get("input_bytes", "\ufffd not json") == "\ufffd not json"


def test_bedrock_admin_signs_with_an_admin_access_key(tmp_path):
    """The README's config marks an access key 'admin = true', but BedrockAdmin took only an
    API key: an operator with an admin access key could not use it (curl --aws-sigv4 could)."""
    from claude_bedrock.testing import AdminError, BedrockAdmin
    from support.inprocess import serve_in_thread

    settings = Settings(data_dir=str(tmp_path), strict_auth=True,
                        credentials=(Credential("AKIDADMIN", "secret", account_id="111122223333", admin=True),
                                     Credential("AKIDTENANT", "tenant", account_id="222233334444")))
    with serve_in_thread(create_app(settings)) as url:
        with BedrockAdmin(url, aws_access_key="AKIDADMIN", aws_secret_key="secret", region="eu-west-3") as admin:
            admin.add_rule({"respond": "scripted"})
            assert [rule["used"] for rule in admin._request("GET", "/rules")["rules"]] == [0]
            assert admin.calls() == []
            admin.reset()
        for key, secret, code in [("AKIDADMIN", "wrong", "InvalidSignatureException"),
                                  ("AKIDTENANT", "tenant", "AccessDeniedException")]:
            with BedrockAdmin(url, aws_access_key=key, aws_secret_key=secret) as refused:
                with pytest.raises(AdminError) as error:
                    refused.calls()
            assert (error.value.status, error.value.code) == (403, code)
    with pytest.raises(ValueError, match="both aws_access_key and aws_secret_key"):
        BedrockAdmin("http://127.0.0.1:1", aws_access_key="AKIDADMIN")
    # mutation audit: a secret key without its access key was not refused by any test (its
    # requests would go unsigned, refused by the server for another reason)
    with pytest.raises(ValueError, match="both aws_access_key and aws_secret_key"):
        BedrockAdmin("http://127.0.0.1:1", aws_secret_key="admin")
    with pytest.raises(ValueError, match="either api_key or an access key"):  # also untested before
        BedrockAdmin("http://127.0.0.1:1", api_key="key", aws_access_key="AKIDADMIN", aws_secret_key="admin")


def test_a_recorded_call_that_failed_after_its_200_is_not_ok():
    """Mutation audit: a stream that broke after its 200 (the record's ``errorCode`` set) is not
    ``ok``; reading the status alone went unnoticed."""
    from claude_bedrock.testing.admin import RecordedCall

    broken = RecordedCall.from_json({"request_id": "r1", "operation": "ConverseStream", "model_id": "m",
                                     "status": 200, "error_code": "ThrottlingException"})
    assert not broken.ok
    assert RecordedCall.from_json({"request_id": "r2", "operation": "Converse", "model_id": "m"}).ok



def test_recorded_call_helpers_read_either_request_and_answer_form():
    """Mutation audit: Converse tool specs, Converse stream deltas, a tool result of several text
    blocks (spaces between, as rules read it) and empty text blocks (no double space) had no
    test of ``tool_names``, ``output_text`` and ``last_user_text``."""
    from claude_bedrock.testing.admin import RecordedCall

    converse = RecordedCall.from_json({
        "request_id": "r1", "operation": "ConverseStream", "model_id": "m",
        "input_body": {"toolConfig": {"tools": [{"toolSpec": {"name": "weather", "inputSchema": {"json": {}}}}]},
                       "messages": [{"role": "user", "content": [{"text": ""}, {"text": "Paris?"}, {"text": "Now"}]}]},
        "output_body": [{"messageStart": {"role": "assistant"}},
                        {"contentBlockDelta": {"delta": {"text": "Sun"}, "contentBlockIndex": 0}},
                        {"contentBlockDelta": {"delta": {"text": "ny"}, "contentBlockIndex": 0}}],
    })  # fmt: skip
    assert converse.tool_names == ["weather"]
    assert converse.output_text == "Sunny"
    assert converse.last_user_text == "Paris? Now"
    anthropic = RecordedCall.from_json({
        "request_id": "r2", "operation": "InvokeModel", "model_id": "m",
        "input_body": {"messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "18"},
                                                                     {"type": "text", "text": "degrees"}]}]}]},
    })  # fmt: skip
    assert anthropic.last_user_text == "18 degrees"
    answered = RecordedCall.from_json({"request_id": "r3", "operation": "InvokeModel", "model_id": "m",
                                       "output_body": {"content": [{"type": "text", "text": "It is 18."}]}})
    assert answered.output_text == "It is 18."


def test_recorded_system_reads_block_systems_as_system_contains_does(client):
    """A system prompt of several blocks: ``RecordedCall.system`` joined them with nothing
    ("Be brief.Really.") while rules' ``system_contains`` reads them joined by newlines, so a
    rule written from what the history showed never matched. Both now read "Be brief.\\nReally."."""
    from claude_bedrock.testing.admin import RecordedCall

    request = {"max_tokens": 50, "anthropic_version": "bedrock-2023-05-31",
               "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Really."}],
               "messages": [{"role": "user", "content": "Hello"}]}
    path = f"/model/{SONNET}/invoke"
    assert client.request("POST", path, json.dumps(request).encode(), signed=True).status_code == 200
    recorded = RecordedCall.from_json(client.request("GET", f"{ADMIN}/calls").json()["calls"][-1])
    assert recorded.system == "Be brief.\nReally."
    rule = {"id": "as-recorded", "match": {"system_contains": recorded.system}, "respond": {"text": "matched"}}
    assert client.request("POST", f"{ADMIN}/rules", rule).status_code == 201
    answer = client.request("POST", path, json.dumps(request).encode(), signed=True).json()
    assert answer["content"] == [{"type": "text", "text": "matched"}]
    converse = RecordedCall.from_json({"request_id": "r1", "operation": "Converse", "model_id": "m", "input_body": {
        "system": [{"text": "Be brief."}, {"cachePoint": {"type": "default"}}, {"text": "Really."}]}})
    assert converse.system == "Be brief.\nReally."
    assert RecordedCall.from_json({"request_id": "r2", "operation": "InvokeModel", "model_id": "m",
                                   "input_body": {"system": "One string."}}).system == "One string."


def test_a_call_refused_before_its_body_was_read_shows_that_body(client):
    """An unknown model ID is refused before the body is parsed: the call history's
    ``input_body`` was None (and ``messages``, ``last_user_text``, ``system`` empty) although the
    invocation log record shows the body. The history now gives the body received, as the log
    does; a body that is not JSON stays None, its text in ``input_bytes``."""
    from claude_bedrock.testing.admin import RecordedCall

    sent = {"max_tokens": 5, "anthropic_version": "bedrock-2023-05-31", "system": "Be brief.",
            "messages": [{"role": "user", "content": "Hello there"}]}
    response = client.request("POST", "/model/anthropic.claude-nope-v1%3A0/invoke", json.dumps(sent).encode(),
                              signed=True)
    assert response.status_code == 400
    assert client.request("POST", "/model/anthropic.claude-nope-v1%3A0/invoke", b"\xff not json",
                          signed=True).status_code == 400
    refused, not_json = (RecordedCall.from_json(call) for call in client.request("GET", f"{ADMIN}/calls").json()["calls"])
    assert refused.error_code == "ValidationException" and refused.resolved_model_id is None
    assert refused.input_body == sent
    assert refused.last_user_text == "Hello there" and refused.system == "Be brief."
    assert not_json.input_body is None and not_json.raw["input_bytes"] == "\ufffd not json"


# -- mutation-audit regressions: the admin API's input checks ------------------------------------


@pytest.mark.parametrize(("payload", "message"), [
    (None, "The request body must be JSON."),  # not read as {} (one empty rule)
    ([], "Expected at least one item in rules."),
    ({"rules": []}, "Expected at least one item in rules."),
])
def test_admin_rules_without_a_rule_are_refused(client, payload, message):
    response = client.request("POST", f"{ADMIN}/rules", payload)
    assert response.status_code == 400 and response.json()["message"] == message
    assert client.request("GET", f"{ADMIN}/rules").json()["rules"] == []


def test_admin_a_list_key_beside_others_is_one_item_not_the_list(client):
    # ``{"rules": [...]}`` is the list only when it is the whole body: else it is one rule (here a bad one)
    response = client.request("POST", f"{ADMIN}/rules", {"rules": [{"respond": "a"}], "respond": "b"})
    assert response.status_code == 400 and client.request("GET", f"{ADMIN}/rules").json()["rules"] == []


@pytest.mark.parametrize(("query", "message"), [
    ("operation=InvokeModle", "Unknown operation 'InvokeModle'"),  # a typo would match nothing silently
    ("limit=%C2%B2", "limit must be a positive integer."),  # "²": isdigit(), yet int() refuses it (a 500)
    ("limit=0", "limit must be a positive integer."),
])
def test_admin_call_history_filters_are_checked(client, query, message):
    response = client.request("GET", f"{ADMIN}/calls?{query}")
    assert response.status_code == 400 and response.json()["message"].startswith(message)


def test_admin_call_history_filters_by_a_model_id_a_call_used(client):
    # a model ID the rules would refuse as a filter is taken when a recorded call used it
    assert client.invoke(model="not-a-model").status_code != 200
    refused = client.request("GET", f"{ADMIN}/calls?model=no-call-used-this")
    assert refused.status_code == 400
    calls = client.request("GET", f"{ADMIN}/calls?model=not-a-model")
    assert calls.status_code == 200 and [c["model_id"] for c in calls.json()["calls"]] == ["not-a-model"]


def test_admin_paths_may_end_with_a_slash_and_ids_are_percent_decoded(client):
    client.request("POST", f"{ADMIN}/rules", {"id": "my rule", "respond": "a"})
    assert [r["id"] for r in client.request("GET", f"{ADMIN}/rules/").json()["rules"]] == ["my rule"]
    assert client.request("DELETE", f"{ADMIN}/rules/my%20rule").status_code == 200
    assert client.request("GET", f"{ADMIN}/rules").json()["rules"] == []


def test_admin_health_answers_head_for_load_balancers(client):
    assert client.request("HEAD", f"{ADMIN}/health").status_code == 200
