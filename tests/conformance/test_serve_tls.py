"""``claude-bedrock serve --tls-cert FILE --tls-key FILE``: HTTPS for a server reached over a
network. The official clients, trusting a throwaway self-signed certificate, call it over a
real socket; files that cannot be used are one-line errors."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from click.testing import CliRunner

from claude_bedrock.cli.main import cli
from support.certificates import Certificate, self_signed
from support.servers import (ACCESS_KEY, ACCOUNT_ID, API_KEY, CONFIG_TOML, REGION, SECRET_KEY, RunningServer,
                             start_server)

pytestmark = pytest.mark.conformance

MODEL = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
MESSAGES = [{"role": "user", "content": "Hello over TLS"}]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


def trusting(certificate: Certificate) -> ssl.SSLContext:
    """A client TLS context that trusts the test certificate (httpx's ``verify``)."""
    return ssl.create_default_context(cafile=certificate.cert)


@pytest.fixture(scope="module")
def tls_server(certificate: Certificate, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("tls-server"), "--tls-cert", str(certificate.cert),
                           "--tls-key", str(certificate.key), config=CONFIG_TOML)
    yield running
    running.stop()


def test_tls_server_announces_https_in_the_export_line(tls_server):
    assert tls_server.url.startswith("https://127.0.0.1:")
    assert f"export AWS_ENDPOINT_URL_BEDROCK_RUNTIME={tls_server.url} " in tls_server.announce
    assert f"ANTHROPIC_BEDROCK_BASE_URL={tls_server.url} " in tls_server.announce


def test_tls_server_refuses_clients_that_do_not_trust_its_certificate(tls_server):
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(tls_server.url + "/_claude-bedrock/health")


def test_boto3_over_tls_invoke_stream_control_plane_and_sts(tls_server, certificate):
    import boto3

    session = boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION)
    verify = str(certificate.cert)
    runtime = session.client("bedrock-runtime", endpoint_url=tls_server.url, verify=verify)
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": MESSAGES}
    answer = json.loads(runtime.invoke_model(modelId=MODEL, body=json.dumps(body))["body"].read())
    assert answer["content"][0]["text"]
    events = list(runtime.converse_stream(
        modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Hello over TLS"}]}])["stream"])
    assert "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e)
    assert "metadata" in events[-1]
    control = session.client("bedrock", endpoint_url=tls_server.url, verify=verify)
    assert control.list_foundation_models(byProvider="Anthropic")["modelSummaries"]
    sts = session.client("sts", endpoint_url=tls_server.url, verify=verify)
    assert sts.get_caller_identity()["Arn"].endswith(":user/alice")


def test_boto3_sends_a_bearer_api_key_to_a_tls_server(tls_server, certificate, monkeypatch):
    """The README told boto3 users to use access keys against this server: boto3 refuses a
    bearer token over http://, but over --tls-cert's HTTPS it sends AWS_BEARER_TOKEN_BEDROCK."""
    import boto3

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", API_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    runtime = boto3.Session(region_name=REGION).client("bedrock-runtime", endpoint_url=tls_server.url,
                                                      verify=str(certificate.cert))
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 16, "messages": MESSAGES}
    answer = json.loads(runtime.invoke_model(modelId=MODEL, body=json.dumps(body))["body"].read())
    assert answer["content"][0]["text"]
    from claude_bedrock.testing import BedrockAdmin

    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    with BedrockAdmin(tls_server.url) as admin:  # the call is the API key's, not SigV4's
        assert admin.last_call().raw["identity_arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/api-key-user"


def _aws(args: list[str], url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANTHROPIC"))}
    env.update(HOME=str(tmp_path), AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_DEFAULT_REGION=REGION)
    return subprocess.run([sys.executable, "-m", "awscli", "bedrock-runtime", "converse", "--endpoint-url", url,
                           "--model-id", MODEL, "--messages",
                           json.dumps([{"role": "user", "content": [{"text": "Hello"}]}]), *args],
                          env=env, capture_output=True, text=True, timeout=120)


def test_aws_cli_over_tls_with_ca_bundle(tls_server, certificate, tmp_path):
    trusted = _aws(["--ca-bundle", str(certificate.cert)], tls_server.url, tmp_path)
    assert trusted.returncode == 0, trusted.stderr
    assert json.loads(trusted.stdout)["output"]["message"]["content"][0]["text"]
    untrusted = _aws([], tls_server.url, tmp_path)
    assert untrusted.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr


def test_anthropic_sdk_over_tls_with_a_bearer_key_streams(tls_server, certificate):
    from anthropic import AnthropicBedrock, DefaultHttpxClient  # the SDK's own httpx (httpx2)

    with DefaultHttpxClient(verify=trusting(certificate)) as http:
        client = AnthropicBedrock(api_key=API_KEY, aws_region=REGION, base_url=tls_server.url, max_retries=0,
                                  http_client=http)
        message = client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
        assert message.content[0].text
        with client.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
            assert "".join(stream.text_stream)
            assert stream.get_final_message().stop_reason


@pytest.mark.parametrize(("args", "message"), [
    (["--tls-key", "{key}"], "tls_key is set without tls_cert"),
    (["--tls-cert", "{missing}", "--tls-key", "{key}"], "TLS certificate not found: {missing}"),
    (["--tls-cert", "{cert}", "--tls-key", "{missing}"], "TLS key not found: {missing}"),
    (["--tls-cert", "{folder}", "--tls-key", "{key}"], "cannot read TLS certificate {folder}"),
    (["--tls-cert", "{cert}", "--tls-key", "{other_key}"],
     "TLS key {other_key} is not the key of the certificate {cert}"),
    (["--tls-cert", "{key}", "--tls-key", "{cert}"], "TLS certificate {key}: no PEM certificate in it"),
    (["--tls-cert", "{cert}", "--tls-key", "{cert}"], "TLS key {cert}: not a PEM private key"),
    (["--tls-cert", "{cert}"], "TLS certificate {cert}: no PEM private key in it; give the key file with --tls-key"),
    # a DER (binary) certificate: it was refused as "not UTF-8 text (byte 1)"
    (["--tls-cert", "{der}", "--tls-key", "{key}"], "TLS certificate {der}: no PEM certificate in it"),
])
def test_serve_tls_files_it_cannot_use_are_one_line_errors(args, message, certificate, tmp_path):
    other = self_signed(tmp_path, "other")
    der = tmp_path / "cert.der"
    der.write_bytes(ssl.PEM_cert_to_DER_cert(certificate.cert.read_text()))
    names = {"cert": certificate.cert, "key": certificate.key, "other_key": other.key,
             "missing": tmp_path / "missing.pem", "folder": tmp_path, "der": der}
    result = CliRunner().invoke(cli, ["serve", "--port", "0", "--data-dir", str(tmp_path / "data"),
                                      *(arg.format(**names) for arg in args)])
    assert result.exit_code == 2, result.output
    assert f"Error: {message.format(**names)}" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_serve_a_relative_file_of_the_config_not_found_names_the_folder_it_was_looked_for_in(certificate, tmp_path,
                                                                                              monkeypatch):
    # An operator kept ca.pem beside the config file and started the server from another folder:
    # "TLS certificate not found: ca.pem" did not say that the path is read from the working
    # directory (as every relative path of the config is), not from the config file's folder.
    config = tmp_path / "gateway" / "gateway.toml"
    config.parent.mkdir()
    config.write_text('[server]\ntls_cert = "ca.pem"\ntls_key = "key.pem"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(cli, ["serve", "--port", "0", "--data-dir", str(tmp_path / "data"),
                                      "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert f"Error: TLS certificate not found: ca.pem (a relative path is read from the working directory {elsewhere})" \
        in result.output


def test_serve_tls_settings_come_from_the_environment_and_the_config_file(certificate, tmp_path):
    from_env = {"env": {"CLAUDE_BEDROCK_TLS_CERT": str(certificate.cert),
                        "CLAUDE_BEDROCK_TLS_KEY": str(certificate.key)}}
    from_file = {"config": f"[server]\ntls_cert = {json.dumps(str(certificate.cert))}\n"
                           f"tls_key = {json.dumps(str(certificate.key))}\n"}
    for name, how in (("env", from_env), ("file", from_file)):
        server = start_server(tmp_path / name, **how)
        try:
            assert server.url.startswith("https://")
            health = httpx.get(server.url + "/_claude-bedrock/health", verify=trusting(certificate))
            assert health.json()["status"] == "ok"
        finally:
            assert server.stop() == 0


def test_serve_tls_takes_a_certificate_file_that_holds_its_key(certificate, tmp_path):
    combined = tmp_path / "combined.pem"
    combined.write_bytes(certificate.cert.read_bytes() + certificate.key.read_bytes())
    server = start_server(tmp_path, "--tls-cert", str(combined))
    try:
        assert httpx.get(server.url + "/_claude-bedrock/health", verify=trusting(certificate)).status_code == 200
    finally:
        server.stop()


def test_serve_beyond_loopback_without_tls_warns_once_that_keys_and_prompts_travel_in_clear(certificate, tmp_path):
    def log_of(name: str, *args: str) -> str:
        server = start_server(tmp_path / name, *args, config=CONFIG_TOML)
        assert server.stop() == 0
        return server.log_text()

    plain = log_of("plain", "--host", "0.0.0.0")
    secure = log_of("tls", "--host", "0.0.0.0", "--tls-cert", str(certificate.cert), "--tls-key", str(certificate.key))
    loopback = log_of("loopback")
    warning = "bound beyond loopback without TLS"
    assert plain.count(warning) == 1
    assert "bearer API keys" in plain and "--tls-cert" in plain
    assert warning not in secure and warning not in loopback


def test_our_client_trusts_the_certificate_named_by_ssl_cert_file(tls_server, certificate, monkeypatch):
    import asyncio

    from claude_bedrock import AnthropicBedrock, AsyncAnthropicBedrock

    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    keys = {"aws_access_key": ACCESS_KEY, "aws_secret_key": SECRET_KEY, "aws_region": REGION,
            "base_url": tls_server.url, "max_retries": 0}
    with AnthropicBedrock(**keys) as client:
        assert client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES).content[0].text
        with client.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
            assert "".join(stream.text_stream)

    async def ask_async() -> str:
        async with AsyncAnthropicBedrock(**keys) as client:
            return (await client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)).content[0].text

    assert asyncio.run(ask_async())
    monkeypatch.delenv("SSL_CERT_FILE")
    with httpx.Client(verify=trusting(certificate)) as http:
        with AnthropicBedrock(**keys, http_client=http) as client:
            assert client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES).content[0].text


def test_our_client_trusts_the_ca_bundle_botocore_reads(tls_server, certificate, monkeypatch, tmp_path):
    """``AWS_CA_BUNDLE``, or the chosen profile's ``ca_bundle``, as boto3 reads them (ours read
    neither). Their CAs are trusted beside the system's and SSL_CERT_FILE's (botocore trusts
    the bundle alone: a machine setting AWS_CA_BUNDLE to its corporate CAs could not follow
    the README's SSL_CERT_FILE for a local server). One that cannot be used is a
    ConfigurationError naming it."""
    import asyncio

    from claude_bedrock import AnthropicBedrock, AsyncAnthropicBedrock
    from claude_bedrock.client.errors import APIConnectionError, ConfigurationError

    keys = {"aws_access_key": ACCESS_KEY, "aws_secret_key": SECRET_KEY, "aws_region": REGION,
            "base_url": tls_server.url, "max_retries": 0}
    other = self_signed(tmp_path / "other")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(other.cert))
    with AnthropicBedrock(**keys) as client, pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(certificate.cert))
    with AnthropicBedrock(**keys) as client:
        assert client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES).content[0].text

    async def ask_async() -> str:
        async with AsyncAnthropicBedrock(**keys) as client:
            return (await client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)).content[0].text

    assert asyncio.run(ask_async())
    # a bundle of other CAs does not take away SSL_CERT_FILE's
    monkeypatch.setenv("AWS_CA_BUNDLE", str(other.cert))
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    with AnthropicBedrock(**keys) as client:
        assert client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES).content[0].text
    # a profile's ca_bundle, for the profile chosen
    monkeypatch.delenv("AWS_CA_BUNDLE")
    monkeypatch.delenv("SSL_CERT_FILE")
    (tmp_path / "config").write_text(f"[profile corp]\nca_bundle = {certificate.cert}\n"
                                     f"aws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    with AnthropicBedrock(aws_profile="corp", aws_region=REGION, base_url=tls_server.url, max_retries=0) as client:
        assert client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES).content[0].text
    # unusable: the async client says so when built, the sync one with its first HTTPS request
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with AnthropicBedrock(**keys) as client, pytest.raises(ConfigurationError, match="missing.pem.*No such file"):
        client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "junk.pem"))
    with pytest.raises(ConfigurationError, match="junk.pem"):
        AsyncAnthropicBedrock(**keys)


def test_claude_bedrock_ask_over_tls(tls_server, certificate, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BEDROCK_BASE_URL", tls_server.url)
    untrusted = CliRunner().invoke(cli, ["ask", "Hello"])
    assert untrusted.exit_code == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.output, untrusted.output
    # the server is running: the hint says how to trust its certificate instead
    assert "is `claude-bedrock serve` running?" not in untrusted.output
    assert "SSL_CERT_FILE" in untrusted.output
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    trusted = CliRunner().invoke(cli, ["ask", "Hello"])
    assert trusted.exit_code == 0, trusted.output
    assert trusted.stdout.strip()


def test_the_testing_admin_helper_trusts_the_certificate_named_by_ssl_cert_file(tls_server, certificate,
                                                                                monkeypatch):
    """Audit: for a loopback server the helper ignores the environment (a CI's proxy cannot reach
    loopback), and so ignored SSL_CERT_FILE too: no way to trust a local HTTPS server."""
    from claude_bedrock.testing import BedrockAdmin

    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # still not used for loopback
    with BedrockAdmin(tls_server.url) as admin:
        assert admin.health()["status"] == "ok"


def test_claude_bedrock_ask_hints_fit_the_tls_mistake(tls_server, certificate, tmp_path, monkeypatch):
    """Audit: every TLS mistake a newcomer makes was hinted 'is `claude-bedrock serve` running?'
    (a running server) or 'set SSL_CERT_FILE' (already set): an http:// URL for an HTTPS server,
    an https:// URL for a plain one, a certificate that does not name the URL's host."""
    plain = start_server(tmp_path / "plain")
    try:
        with_https = CliRunner().invoke(cli, ["ask", "Hello", "--endpoint-url", plain.url.replace("http:", "https:")])
    finally:
        plain.stop()
    assert with_https.exit_code == 1, with_https.output
    assert "speaks plain HTTP" in with_https.output and "http:// URL" in with_https.output
    assert "is `claude-bedrock serve` running?" not in with_https.output

    with_http = CliRunner().invoke(cli, ["ask", "Hello", "--endpoint-url", tls_server.url.replace("https:", "http:")])
    assert with_http.exit_code == 1, with_http.output
    assert "--tls-cert" in with_http.output and "https:// URL" in with_http.output

    elsewhere = self_signed(tmp_path, "elsewhere", hosts=("example.test",))
    other = start_server(tmp_path / "other", "--tls-cert", str(elsewhere.cert), "--tls-key", str(elsewhere.key))
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(elsewhere.cert))
        mismatch = CliRunner().invoke(cli, ["ask", "Hello", "--endpoint-url", other.url])
    finally:
        other.stop()
    assert mismatch.exit_code == 1, mismatch.output
    assert "not issued for 127.0.0.1" in mismatch.output and "subjectAltName" in mismatch.output
    assert "set SSL_CERT_FILE" not in mismatch.output


def test_claude_bedrock_ask_hint_when_ssl_cert_file_holds_another_ca(tls_server, tmp_path, monkeypatch):
    """Audit: with SSL_CERT_FILE already set, to a CA that did not issue the server's
    certificate, the hint still said 'set SSL_CERT_FILE to its CA file'."""
    unrelated = self_signed(tmp_path, "unrelated")
    monkeypatch.setenv("SSL_CERT_FILE", str(unrelated.cert))
    wrong_ca = CliRunner().invoke(cli, ["ask", "Hello", "--endpoint-url", tls_server.url])
    assert wrong_ca.exit_code == 1 and "CERTIFICATE_VERIFY_FAILED" in wrong_ca.output, wrong_ca.output
    assert "set SSL_CERT_FILE" not in wrong_ca.output
    assert f"SSL_CERT_FILE={unrelated.cert}" in " ".join(wrong_ca.output.split()), wrong_ca.output


def test_a_tls_server_stops_promptly_while_a_client_keeps_an_idle_connection(certificate, tmp_path):
    """Audit: Ctrl-C on an HTTPS server whose client kept its pooled connection open (boto3 does)
    waited the whole 10 s graceful timeout ("timeout graceful shutdown exceeded"): closing a TLS
    connection waits for the client's close_notify, which a client not reading never sends. Over
    plain HTTP it stopped at once; now over TLS too."""
    import boto3

    server = start_server(tmp_path, "--tls-cert", str(certificate.cert), "--tls-key", str(certificate.key),
                          config=CONFIG_TOML)
    try:
        session = boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION)
        runtime = session.client("bedrock-runtime", endpoint_url=server.url, verify=str(certificate.cert))
        runtime.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
        assert server.stop() == 0  # the client keeps its connection, idle, in its pool
    finally:
        server.stop()
        runtime.close()
    assert "graceful shutdown exceeded" not in server.log_text(), server.log_text()
