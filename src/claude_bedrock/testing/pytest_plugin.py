"""pytest plugin (entry point ``pytest11``: ``claude_bedrock``): a Bedrock server for your tests.

Fixtures:

=====================  =========  ==============================================================
``bedrock_server``     session    a ``claude-bedrock serve`` process on a free port of
                                  127.0.0.1 with a temporary data folder (or the server given
                                  with ``--claude-bedrock-url``); ``.url``, ``.admin``,
                                  ``.data_dir``; set only by ``claude_bedrock_args``
``bedrock``            function   ``BedrockAdmin`` of that server, reset before the test:
                                  ``add_rule``, ``inject_fault``, ``set_quotas``, ``calls``...
``bedrock_env``        function   the environment pointed at the server (monkeypatched):
                                  ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, ``AWS_ENDPOINT_URL_BEDROCK``,
                                  ``AWS_ENDPOINT_URL_STS``, ``ANTHROPIC_BEDROCK_BASE_URL``,
                                  ``AWS_REGION``/``AWS_DEFAULT_REGION``, fake credentials, and
                                  ``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE`` = devnull,
                                  a loopback server's host added to ``NO_PROXY``/``no_proxy``;
                                  returns the dict of variables set
``bedrock_runtime``    function   a boto3 ``bedrock-runtime`` client (default retry settings)
``bedrock_control``    function   a boto3 ``bedrock`` (control plane) client
``bedrock_region``     function   the region ``bedrock_env`` sets (ini ``claude_bedrock_region``)
``anthropic_bedrock``  function   an ``anthropic.AnthropicBedrock`` client (skips the test when
                                  the ``anthropic`` package is not installed)
=====================  =========  ==============================================================

Options: ``--claude-bedrock-url URL`` (use a running server instead of starting one); ini
``claude_bedrock_args`` (extra ``serve`` arguments, e.g. ``--rules-file tests/rules.toml``;
relative paths are relative to the ini file's folder),
``claude_bedrock_region`` (default ``us-east-1``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from claude_bedrock.settings import is_loopback
from claude_bedrock.testing.admin import BedrockAdmin

ANNOUNCE = re.compile(r"listening on (https?://\S+)")  # https: --tls-cert in claude_bedrock_args
START_TIMEOUT_S = 60.0
FAKE_ACCESS_KEY_ID = "AKIDCLAUDEBEDROCKTEST"
FAKE_SECRET_ACCESS_KEY = "claude-bedrock-test-secret-access-key"
#: Variables removed so the code under test cannot reach real AWS credentials or endpoints, and
#: its boto3 clients retry as by default.
CLEARED_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_ENDPOINT_URL",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",  # it would make botocore skip every AWS_ENDPOINT_URL_*
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AWS_API_KEY",
    # retry settings, ignored in ~/.aws/config (devnull) alike: the clients retry as by default
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
)
#: The server settings of the environment (``CLAUDE_BEDROCK_*``, a deployed or development
#: server's) that the plugin's own server never takes: it is set only by ``claude_bedrock_args``,
#: so a suite runs the same on every machine. Taken, HTTPS settings made it announce an
#: https:// URL the fixtures' clients do not trust, strict authentication refused their fake
#: keys, and the simulator's mode or seed changed every answer.
SERVER_VARIABLES_PREFIX = "CLAUDE_BEDROCK_"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("claude-bedrock", "claude-bedrock test server")
    group.addoption(
        "--claude-bedrock-url",
        dest="claude_bedrock_url",
        default=None,
        help="Use this running claude-bedrock server instead of starting one.",
    )
    parser.addini("claude_bedrock_args", type="args", default=[],
                  help="Extra arguments for `claude-bedrock serve` (e.g. --rules-file tests/rules.toml).")
    parser.addini("claude_bedrock_region", default="us-east-1", help="Region the fixtures configure.")


def pytest_configure(config: pytest.Config) -> None:
    workers = getattr(config.option, "numprocesses", None)
    if config.getoption("claude_bedrock_url", None) and workers not in (None, 0, "0"):
        raise pytest.UsageError(
            "--claude-bedrock-url cannot be shared by pytest-xdist workers: each test resets the server, "
            "so the workers would undo each other's rules, faults and call history. Leave out "
            "--claude-bedrock-url (each worker then starts its own server) or run without -n."
        )


@dataclass
class BedrockServer:
    """A running server: started by the plugin (``process``) or given by URL."""

    url: str
    admin: BedrockAdmin
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    #: The server's data folder (invocation-log files, the database), when the plugin started it.
    data_dir: Path | None = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> None:
        self.admin.close()
        if self.process is None or self.process.poll() is not None:
            return
        if os.name == "posix":
            self.process.send_signal(signal.SIGINT)
        else:  # Windows has no SIGINT to send (send_signal raises ValueError): TerminateProcess
            self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def data_dir_of(default: Path, extra_args: list[str], cwd: Path | None) -> Path:
    """The server's data folder: the last ``--data-dir`` of ``extra_args`` (they come after the
    plugin's own, so one there wins), ``~`` expanded as the server does, relative to ``cwd``;
    else ``default``."""
    found: str | None = None
    for index, arg in enumerate(extra_args):
        if arg == "--data-dir" and index + 1 < len(extra_args):
            found = extra_args[index + 1]
        elif arg.startswith("--data-dir="):
            found = arg.partition("=")[2]
    return default if found is None else (cwd or Path.cwd()) / Path(found).expanduser()


def start_server(folder: Path, extra_args: list[str], cwd: Path | None = None) -> BedrockServer:
    """Start ``python -m claude_bedrock serve`` on a free loopback port, plain HTTP (unless
    ``extra_args`` give ``--tls-cert``); wait for its URL.

    ``cwd``: the folder relative paths of ``extra_args`` are relative to (the ini file's, for
    ``claude_bedrock_args``), so that pytest may be run from any folder of the project."""
    out_path, log_path = folder / "server.out", folder / "server.log"
    command = [sys.executable, "-m", "claude_bedrock", "serve", "--host", "127.0.0.1", "--port", "0",
               "--data-dir", str(folder / "data"), *extra_args]
    env = {name: value for name, value in os.environ.items() if not name.startswith(SERVER_VARIABLES_PREFIX)}
    with open(out_path, "wb") as out, open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=out, stderr=log, stdin=subprocess.DEVNULL, cwd=cwd, env=env)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = ANNOUNCE.search(out_path.read_text(errors="replace"))
        if found:
            return BedrockServer(found.group(1), BedrockAdmin(found.group(1)), process, log_path,
                                 data_dir_of(folder / "data", extra_args, cwd))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    if process.poll() is None:
        process.kill()
        process.wait()
    raise RuntimeError(
        f"claude-bedrock server did not start ({' '.join(command)}):\n{log_path.read_text(errors='replace')}"
    )


@pytest.fixture(scope="session")
def bedrock_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BedrockServer]:
    """The session's claude-bedrock server (started once, stopped at the end)."""
    url = request.config.getoption("claude_bedrock_url")
    if url:
        server = BedrockServer(url.rstrip("/"), BedrockAdmin(url))
        try:
            server.admin.health()
        except Exception as exc:  # noqa: BLE001 - any failure means the same to the user
            server.admin.close()
            raise RuntimeError(f"the claude-bedrock server given by --claude-bedrock-url {url} does not answer: "
                               f"{exc}") from None
    else:
        config = request.config
        server = start_server(tmp_path_factory.mktemp("claude-bedrock"), list(config.getini("claude_bedrock_args")),
                              cwd=config.inipath.parent if config.inipath else config.rootpath)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bedrock(bedrock_server: BedrockServer) -> BedrockAdmin:
    """Admin client of the session server, reset to its start state before this test."""
    bedrock_server.admin.reset()
    return bedrock_server.admin


@pytest.fixture
def bedrock_region(request: pytest.FixtureRequest) -> str:
    """The region ``bedrock_env`` configures (ini ``claude_bedrock_region``; override to vary)."""
    return str(request.config.getini("claude_bedrock_region"))


@pytest.fixture
def bedrock_env(bedrock: BedrockAdmin, bedrock_region: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point unmodified AWS and Anthropic clients at the test server (for this test)."""
    for name in CLEARED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    values = {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
        "AWS_ENDPOINT_URL_BEDROCK": bedrock.url,
        "AWS_ENDPOINT_URL_STS": bedrock.url,
        "ANTHROPIC_BEDROCK_BASE_URL": bedrock.url,
        "AWS_REGION": bedrock_region,
        "AWS_DEFAULT_REGION": bedrock_region,
        "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    host = urlsplit(bedrock.url).hostname or ""
    if is_loopback(host):  # a proxy of the environment (a CI's HTTP_PROXY) cannot reach our loopback
        bypass = os.environ.get("no_proxy") or os.environ.get("NO_PROXY")  # lower case wins, as in urllib
        values["NO_PROXY"] = values["no_proxy"] = f"{bypass},{host}" if bypass else host
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _boto3_session() -> Any:
    boto3 = pytest.importorskip("boto3", reason="the bedrock_runtime/bedrock_control fixtures need boto3")
    return boto3.session.Session()


@pytest.fixture
def bedrock_runtime(bedrock_env: dict[str, str]) -> Any:
    """A boto3 ``bedrock-runtime`` client configured only by the environment."""
    return _boto3_session().client("bedrock-runtime")


@pytest.fixture
def bedrock_control(bedrock_env: dict[str, str]) -> Any:
    """A boto3 ``bedrock`` (control plane) client configured only by the environment."""
    return _boto3_session().client("bedrock")


@pytest.fixture
def anthropic_bedrock(bedrock_env: dict[str, str]) -> Any:
    """An ``anthropic.AnthropicBedrock`` client configured only by the environment."""
    anthropic = pytest.importorskip(
        "anthropic", reason="the anthropic_bedrock fixture needs the anthropic SDK: pip install 'anthropic[bedrock]'"
    )
    return anthropic.AnthropicBedrock()
