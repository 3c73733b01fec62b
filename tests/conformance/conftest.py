"""Real servers on 127.0.0.1 for the conformance tier: ``claude-bedrock serve`` in a child
process, exactly as a user starts it, and the official clients pointed at it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from claude_bedrock.testing.admin import BedrockAdmin
from support.gateway import GATEWAY_KEY, GATEWAY_SECRET, UPSTREAM_CONFIG, boto3_runtime, gateway_config
from support.servers import (
    ACCESS_KEY,
    CONFIG_TOML,
    JS_DIR,
    REGION,
    SECRET_KEY,
    RunningServer,
    start_server,
)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A development-mode server with the test credentials configured."""
    running = start_server(tmp_path_factory.mktemp("server"), config=CONFIG_TOML)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def aws_env(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for AWS CLI / SDK subprocesses: only the endpoint changes."""
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if not (k.startswith("AWS_") or k.startswith("ANTHROPIC"))}
    env.update(
        HOME=str(home),
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=server.url,
        AWS_ENDPOINT_URL_BEDROCK=server.url,
        AWS_ENDPOINT_URL_STS=server.url,
        ANTHROPIC_BEDROCK_BASE_URL=server.url,
    )
    return env


@pytest.fixture(scope="session")
def boto_session():
    import boto3

    return boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION)


@pytest.fixture(scope="session")
def runtime_client(boto_session, server: RunningServer):
    from botocore.config import Config

    return boto_session.client(
        "bedrock-runtime", endpoint_url=server.url, config=Config(retries={"max_attempts": 1, "mode": "standard"})
    )


@pytest.fixture(scope="session")
def anthropic_client(server: RunningServer):
    from anthropic import AnthropicBedrock

    return AnthropicBedrock(
        aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY, aws_region=REGION, base_url=server.url, max_retries=0
    )


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """Install the npm SDK (package-lock pinned) once; the test setup owns this step."""
    if shutil.which("npm") is None:
        pytest.fail("npm is required for the npm SDK conformance tests")
    modules = JS_DIR / "node_modules" / "@anthropic-ai" / "bedrock-sdk"
    if not modules.is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JS_DIR, check=True,
                       timeout=600)
    return JS_DIR / "node_modules"


# --------------------------------------------------------------------------- gateway mode


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The gateway's upstream: a strict server knowing only the gateway's own key."""
    running = start_server(tmp_path_factory.mktemp("upstream"), config=UPSTREAM_CONFIG)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def gateway(upstream: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A ``serve --upstream`` server in front of ``upstream``, with the test callers' keys."""
    running = start_server(tmp_path_factory.mktemp("gateway"), config=gateway_config(upstream.url))
    yield running
    running.stop()


@pytest.fixture()
def upstream_admin(upstream: RunningServer) -> Iterator[BedrockAdmin]:
    """The upstream's testing toolkit, reset (history, rules, prompt cache) for each test."""
    with BedrockAdmin(upstream.url, aws_access_key=GATEWAY_KEY, aws_secret_key=GATEWAY_SECRET) as admin:
        admin.reset()
        yield admin
        admin.clear_faults()


@pytest.fixture(scope="module")
def via_gateway(gateway: RunningServer):
    """boto3 bedrock-runtime, a caller of the gateway."""
    return boto3_runtime(gateway.url)


@pytest.fixture(scope="module")
def direct(upstream: RunningServer):
    """boto3 bedrock-runtime on the upstream itself, with the gateway's key."""
    return boto3_runtime(upstream.url, GATEWAY_KEY, GATEWAY_SECRET)
