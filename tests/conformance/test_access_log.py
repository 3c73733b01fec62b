"""The access log (``--access-log``): one key=value line per request on the server log, seen
as an operator sees it, from a real ``claude-bedrock serve`` called by boto3 and by hand."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

import pytest

from claude_bedrock.service.app import BedrockApp, create_app
from claude_bedrock.settings import Settings, build_settings
from support.servers import (
    ACCESS_KEY,
    ACCOUNT_ID,
    API_KEY,
    CONFIG_TOML,
    REGION,
    SECRET_KEY,
    RunningServer,
    start_server,
)

HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
#: Streams slowly (--simulator-latency below): a client can leave before its end.
SLOW_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
PROMPT = "What colour is a swan seen at dusk?"
INVOKE_BODY = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 60,
                          "messages": [{"role": "user", "content": PROMPT}]})
LINE = re.compile(r"claude_bedrock\.access: (.*)$", re.M)


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with the access log on (by its environment variable), at log level warning:
    the lines were asked for, so they are written all the same."""
    running = start_server(
        tmp_path_factory.mktemp("access"), "--log-level", "warning",
        "--simulator-latency", f"{SLOW_MODEL}=0:40", config=CONFIG_TOML,
        env={"CLAUDE_BEDROCK_ACCESS_LOG": "true"},
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def clients(logged: RunningServer, boto_session):
    from botocore.config import Config

    config = Config(retries={"max_attempts": 1})
    return {name: boto_session.client(name, endpoint_url=logged.url, config=config)
            for name in ("bedrock-runtime", "bedrock", "sts")}


def _lines(server: RunningServer) -> list[str]:
    return LINE.findall(server.log_text())


def _line_of(server: RunningServer, request_id: str) -> dict[str, str]:
    """The one access line of ``request_id``, as a dict (waits for it a moment)."""
    deadline = time.monotonic() + 10
    while True:
        found = [line for line in _lines(server) if f"request_id={request_id} " in line]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(found) == 1, (request_id, server.log_text()[-3000:])
    return _fields(found[0])


def _fields(line: str) -> dict[str, str]:
    pairs = re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', line)
    assert " ".join(f"{k}={v}" for k, v in pairs) == line, line  # nothing outside key=value pairs
    return dict(pairs)


def test_access_log_invoke_model_line_tells_the_call(logged, clients):
    response = clients["bedrock-runtime"].invoke_model(modelId=HAIKU, body=INVOKE_BODY)
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    line = _line_of(logged, response["ResponseMetadata"]["RequestId"])
    assert list(line)[:4] == ["request_id", "method", "operation", "status"]
    assert line | {"latency_ms": "*"} == {
        "request_id": response["ResponseMetadata"]["RequestId"], "method": "POST", "operation": "InvokeModel",
        "status": "200", "account": ACCOUNT_ID, "region": REGION, "model": HAIKU, "endpoint": "regional",
        "input_tokens": headers["x-amzn-bedrock-input-token-count"],
        "output_tokens": headers["x-amzn-bedrock-output-token-count"], "latency_ms": "*", "client": "127.0.0.1",
    }
    assert line["latency_ms"].isdigit()


def test_access_log_a_stream_is_one_line_at_its_end_with_its_tokens(logged, clients):
    response = clients["bedrock-runtime"].invoke_model_with_response_stream(modelId=HAIKU, body=INVOKE_BODY)
    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    line = _line_of(logged, response["ResponseMetadata"]["RequestId"])
    assert (line["operation"], line["status"]) == ("InvokeModelWithResponseStream", "200")
    assert line["input_tokens"] == str(metrics["inputTokenCount"])
    assert line["output_tokens"] == str(metrics["outputTokenCount"])


def test_access_log_converse_line(logged, clients):
    response = clients["bedrock-runtime"].converse(
        modelId=HAIKU, messages=[{"role": "user", "content": [{"text": PROMPT}]}])
    line = _line_of(logged, response["ResponseMetadata"]["RequestId"])
    assert (line["operation"], line["status"], line["account"]) == ("Converse", "200", ACCOUNT_ID)
    assert line["input_tokens"] == str(response["usage"]["inputTokens"])
    assert line["output_tokens"] == str(response["usage"]["outputTokens"])


def test_access_log_an_error_has_its_status_and_code(logged, clients):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as raised:
        clients["bedrock-runtime"].invoke_model(modelId="anthropic.claude-nonexistent-v9:0", body=INVOKE_BODY)
    line = _line_of(logged, raised.value.response["ResponseMetadata"]["RequestId"])
    assert (line["status"], line["error"]) == ("400", "ValidationException")
    assert line["model"] == "anthropic.claude-nonexistent-v9:0"


def test_access_log_a_refused_signature_has_its_code_and_no_account(logged, boto_session):
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key="wrong-secret",
                           region_name=REGION).client("bedrock", endpoint_url=logged.url)
    with pytest.raises(ClientError) as raised:
        client.list_foundation_models()
    line = _line_of(logged, raised.value.response["ResponseMetadata"]["RequestId"])
    assert (line["operation"], line["status"], line["error"]) == (
        "ListFoundationModels", "403", "InvalidSignatureException")
    assert "account" not in line


def test_access_log_a_runtime_call_refused_before_its_handler_names_its_model(logged, boto_session):
    # Rule 2: no CallRecord (the signature was refused first), yet the line says which model was asked for
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key="wrong-secret",
                           region_name=REGION).client("bedrock-runtime", endpoint_url=logged.url)
    with pytest.raises(ClientError) as raised:
        client.invoke_model(modelId="anthropic.claude-3-haiku-20240307-v1:0", body=b"{}")
    line = _line_of(logged, raised.value.response["ResponseMetadata"]["RequestId"])
    assert (line["operation"], line["status"], line["error"], line["model"]) == (
        "InvokeModel", "403", "InvalidSignatureException", "anthropic.claude-3-haiku-20240307-v1:0")


def test_access_log_a_control_plane_call(logged, clients):
    response = clients["bedrock"].list_foundation_models()
    line = _line_of(logged, response["ResponseMetadata"]["RequestId"])
    assert line | {"latency_ms": "*"} == {
        "request_id": response["ResponseMetadata"]["RequestId"], "method": "GET",
        "operation": "ListFoundationModels", "status": "200", "account": ACCOUNT_ID, "region": REGION,
        "latency_ms": "*", "client": "127.0.0.1",
    }


def test_access_log_sts_and_its_errors(logged, clients):
    response = clients["sts"].get_caller_identity()
    line = _line_of(logged, response["ResponseMetadata"]["RequestId"])
    assert (line["operation"], line["status"], line["account"]) == ("GetCallerIdentity", "200", ACCOUNT_ID)
    # An STS error is an XML document without an error-type header: its code still shows.
    status, head, _ = _raw(logged, "POST", "/", b"Action=GetSessionToken&Version=2011-06-15",
                           headers=f"Authorization: Bearer {API_KEY}\r\n")
    request_id = re.search(r"x-amzn-requestid: (\S+)", head, re.I).group(1)  # type: ignore[union-attr]
    line = _line_of(logged, request_id)
    assert (line["operation"], line["status"], line["error"]) == ("GetCallerIdentity", "400", "IncompleteSignature")


def test_access_log_a_client_that_leaves_mid_stream(logged):
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 400,
                       "messages": [{"role": "user", "content": "Tell me a long story"}]}).encode()
    sock = _send(logged, "POST", f"/model/{SLOW_MODEL.replace(':', '%3A')}/invoke-with-response-stream", body,
                 headers=f"Authorization: Bearer {API_KEY}\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    sock.close()  # the answer is far from done (40 tokens a second)
    request_id = re.search(rb"x-amzn-requestid: (\S+)", head, re.I).group(1).decode()  # type: ignore[union-attr]
    line = _line_of(logged, request_id)
    assert (line["status"], line["error"]) == ("0", "ClientDisconnected")
    assert int(line["output_tokens"]) < 400


def test_access_log_escapes_what_the_client_chose(logged):
    forged = "x\n2026-01-01 INFO claude_bedrock.access: request_id=forged status=200 \x1b[2J\"="
    encoded = "".join(c if c.isalnum() else f"%{ord(c):02X}" for c in forged)
    status, head, _ = _raw(logged, "POST", f"/model/{encoded}/invoke", INVOKE_BODY.encode(),
                           headers=f"Authorization: Bearer {API_KEY}\r\n")
    request_id = re.search(r"x-amzn-requestid: (\S+)", head, re.I).group(1)  # type: ignore[union-attr]
    line = _line_of(logged, request_id)
    assert line["model"] == r'"x\n2026-01-01 INFO claude_bedrock.access: request_id=forged status=200 \x1b[2J\"="'
    _raw(logged, "GET", "/no%0Asuch%1B[2J/path%20x=1?X-Amz-Signature=abc123", b"")
    unknown = _fields(_lines_waiting(logged, "operation=- ")[-1])
    assert unknown["path"] == r'"/no%0Asuch%1B[2J/path%20x=1"'  # as sent, its query string never
    assert "\x1b" not in logged.log_text()
    assert not [line for line in _lines(logged) if line.startswith("request_id=forged")]


def test_access_log_never_holds_secrets_or_prompts(logged, clients):
    clients["bedrock-runtime"].invoke_model(modelId=HAIKU, body=INVOKE_BODY)
    _raw(logged, "GET", "/foundation-models", b"", headers=f"Authorization: Bearer {API_KEY}\r\n")
    time.sleep(0.2)
    text = "\n".join(_lines(logged))
    for secret in (SECRET_KEY, API_KEY, ACCESS_KEY, "Signature=", "abc123", PROMPT, "swan"):
        assert secret not in text


def test_access_log_is_off_by_default(tmp_path, boto_session):
    app = create_app(Settings(data_dir=str(tmp_path / "data")))
    assert app.handle_http.__func__ is BedrockApp._http  # type: ignore[attr-defined]
    assert not [o for o in app.state.observers if "access" in getattr(o, "__module__", "")]
    assert "noting" not in getattr(app.state.authenticator.finish, "__name__", "")
    assert build_settings({}, {}, None).access_log is False
    running = start_server(tmp_path / "off", config=CONFIG_TOML)
    try:
        client = boto_session.client("bedrock-runtime", endpoint_url=running.url)
        client.invoke_model(modelId=HAIKU, body=INVOKE_BODY)
        time.sleep(0.2)
        assert "claude_bedrock.access" not in running.log_text()
    finally:
        running.stop()


def test_access_log_setting_spellings(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[server]\naccess_log = true\n")
    assert build_settings({}, {}, str(config)).access_log is True
    assert build_settings({}, {"CLAUDE_BEDROCK_ACCESS_LOG": "on"}, None).access_log is True
    assert build_settings({"access_log": False}, {"CLAUDE_BEDROCK_ACCESS_LOG": "on"}, None).access_log is False


# --------------------------------------------------------------------------- raw HTTP


def _send(server: RunningServer, method: str, path: str, body: bytes, headers: str = "") -> socket.socket:
    url = urlparse(server.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {len(body)}\r\n"
                 "Connection: close\r\n\r\n".encode() + body)
    return sock


def _raw(server: RunningServer, method: str, path: str, body: bytes, headers: str = "") -> tuple[int, str, bytes]:
    sock = _send(server, method, path, body, headers)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.decode("latin-1"), rest


def _lines_waiting(server: RunningServer, needle: str) -> list[str]:
    deadline = time.monotonic() + 10
    while not (found := [line for line in _lines(server) if needle in line]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert found, server.log_text()[-3000:]
    return found


def test_access_log_readme_shows_the_option_and_a_line():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "`--access-log`" in readme
    assert re.search(r"claude_bedrock\.access: request_id=\S+ method=POST operation=InvokeModel status=200", readme)
