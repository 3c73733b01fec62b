"""The gateway's error for each way its upstream connection fails (``bedrock_upstream``
Rule 4): unreachable only when no connection was ever made, whatever failed while making it."""

from __future__ import annotations

import ssl

import httpx
import pytest

from claude_bedrock.adapters.bedrock_upstream import (
    UPSTREAM_CUT,
    UPSTREAM_UNREACHABLE,
    UPSTREAM_UNTRUSTED,
    BedrockUpstreamEngine,
)
from claude_bedrock.client.flow import _connection_error
from claude_bedrock.client.httpx_transport import _failure
from claude_bedrock.settings import Settings


def _raised_by_httpx(exc: httpx.TransportError, cause: BaseException | None = None) -> httpx.TransportError:
    exc.__cause__ = cause  # httpx re-raises its transport's error ``from`` the socket's or ssl's
    return exc


@pytest.mark.parametrize(("exc", "error", "message"), [
    (httpx.ConnectError("All connection attempts failed"), "ServiceUnavailableException", UPSTREAM_UNREACHABLE),
    (httpx.ConnectError("[Errno -2] Name or service not known"), "ServiceUnavailableException",
     UPSTREAM_UNREACHABLE),  # DNS
    (_raised_by_httpx(httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number"),
                      ssl.SSLError(1, "WRONG_VERSION_NUMBER")), "ServiceUnavailableException",
     UPSTREAM_UNREACHABLE),  # a TLS handshake that failed: no connection to speak HTTP on
    (_raised_by_httpx(httpx.ConnectError("certificate verify failed"),
                      ssl.SSLCertVerificationError(1, "certificate verify failed")), "InternalServerException",
     UPSTREAM_UNTRUSTED),  # checked first: the operator's to fix
    (httpx.ConnectTimeout("timed out"), "ServiceUnavailableException", UPSTREAM_UNREACHABLE),
    (httpx.ReadError("[Errno 104] Connection reset by peer"), "ServiceUnavailableException", UPSTREAM_CUT),
    (httpx.RemoteProtocolError("Server disconnected without sending a response."), "ServiceUnavailableException",
     UPSTREAM_CUT),
    (httpx.ReadTimeout("timed out"), "ModelTimeoutException", None),
], ids=["refused", "dns", "tls-handshake", "certificate", "connect-timeout", "reset", "disconnected", "read-timeout"])
def test_an_upstream_connection_failure_maps_by_whether_a_connection_was_made(tmp_path, exc, error, message):
    engine = BedrockUpstreamEngine(Settings(data_dir=str(tmp_path), upstream="https://127.0.0.1:9"),
                                   env={"AWS_ACCESS_KEY_ID": "AKIAGW", "AWS_SECRET_ACCESS_KEY": "s"})
    mapped = engine._error(_connection_error(_failure(exc)))
    assert type(mapped).__name__ == error
    if message is not None:
        assert mapped.message == message
