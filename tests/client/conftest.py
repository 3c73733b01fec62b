"""Fixtures of the client tests: a real server over a socket, the scripted fault server, and
an environment with no AWS or Anthropic variables and an empty home folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.fault_server import FaultServer, invoke_ok
from support.servers import ACCESS_KEY, CONFIG_TOML, REGION, SECRET_KEY, RunningServer, start_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """``claude-bedrock serve`` with the test credentials (signatures are verified)."""
    running = start_server(tmp_path_factory.mktemp("client-server"), config=CONFIG_TOML)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def fault_server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


@pytest.fixture
def faults(fault_server: FaultServer) -> FaultServer:
    """The fault server with a fresh script (one successful InvokeModel reply) and no history."""
    fault_server.script(invoke_ok())
    return fault_server


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AWS_* / ANTHROPIC_* variables, HOME = an empty temporary folder (returned)."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "ANTHROPIC_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def client(server: RunningServer):
    from claude_bedrock import AnthropicBedrock

    with AnthropicBedrock(
        aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY, aws_region=REGION, base_url=server.url, max_retries=0
    ) as made:
        yield made


@pytest.fixture
def async_client_factory(server: RunningServer):
    from claude_bedrock import AsyncAnthropicBedrock

    def make(**overrides):
        options = dict(aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY, aws_region=REGION,
                       base_url=server.url, max_retries=0)
        options.update(overrides)
        return AsyncAnthropicBedrock(**options)

    return make
