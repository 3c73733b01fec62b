"""Test support shared by the tiers: real servers on 127.0.0.1 and the test credentials."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[2]
JS_DIR = REPO_ROOT / "tests" / "js"

ACCESS_KEY = "AKIDCLAUDEBEDROCK01"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FQoGZXIvYXdzEXAMPLE//token=="
ACCOUNT_ID = "111122223333"
USER_NAME = "alice"
API_KEY = "bedrock-api-key-for-tests-0123456789"
REGION = "us-west-2"

CONFIG_TOML = f"""
[[credentials]]
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET_KEY}"
account_id = "{ACCOUNT_ID}"
user_name = "{USER_NAME}"
admin = true

[[credentials]]
access_key_id = "ASIATEMPORARYKEY01"
secret_access_key = "{SECRET_KEY}"
session_tokens = ["{SESSION_TOKEN}"]
account_id = "{ACCOUNT_ID}"
user_name = "temp-user"

[[api_keys]]
key = "{API_KEY}"
account_id = "{ACCOUNT_ID}"
user_name = "api-key-user"
"""

_ANNOUNCE = re.compile(r"listening on (https?://\S+)")


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[str]
    data_dir: Path
    log_path: Path
    announce: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def force_quit(self) -> int:
        """Ctrl-C, wait until uvicorn waits on open connections, then Ctrl-C again (its force
        quit); the exit code."""
        self.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 30
        while "Waiting for connections to close" not in self.log_text():
            assert time.monotonic() < deadline, self.log_text()
            time.sleep(0.05)
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=30)

    def stop(self, signum: int = signal.SIGINT, timeout: float = 15) -> int:
        """Send ``signum`` (default Ctrl-C) and wait for the exit code; a server still running
        after ``timeout`` is killed (its code then -9), never left behind by a failed test."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(tmp: Path, *args: str, env: dict[str, str] | None = None, config: str | None = None,
                 hangup_stops: bool = False, preamble: str | None = None) -> RunningServer:
    """Start ``python -m claude_bedrock serve --port 0`` and wait for its announce line.

    ``preamble``: Python run in the child before the CLI (to wrap a function and tell the test
    what it saw, on stderr: the server log).

    ``hangup_stops``: start it with SIGHUP at its default, as from a terminal, even when the test
    runner ignores SIGHUP (``nohup pytest``): the server inherits that and then keeps serving
    after a hangup, as it should under nohup."""
    tmp.mkdir(parents=True, exist_ok=True)
    data_dir = tmp / "data"
    launch = ["-m", "claude_bedrock"] if preamble is None else [
        "-c", f"{preamble}\nfrom claude_bedrock.cli.main import main\nmain()"]
    cmd = [sys.executable, *launch, "serve", "--host", "127.0.0.1", "--port", "0",
           "--data-dir", str(data_dir), *args]
    if config is not None:
        config_path = tmp / "config.toml"
        config_path.write_text(config)
        cmd += ["--config", str(config_path)]
    log_path = tmp / "server.log"
    log_file = open(log_path, "w")
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_BEDROCK_")}
    process_env.update(env or {})
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log_file, text=True, env=process_env,
                               preexec_fn=at_default(signal.SIGHUP) if hangup_stops else None)
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    line = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        found = _ANNOUNCE.search(line)
        if found:
            return RunningServer(found.group(1), process, data_dir, log_path, announce=line)
    process.kill()
    raise RuntimeError(f"server did not start: {line!r}\n{log_path.read_text()}")


def at_default(*signums: int) -> Callable[[], None]:
    """A ``preexec_fn`` putting ``signums`` back to their default in the child. A child inherits
    the signals its parent ignores: pytest run under ``nohup`` ignores SIGHUP, and run as a
    background job of a script (``pytest &``) ignores SIGINT; a test sending those to a child
    as a terminal would then find it (rightly) ignoring them."""

    def reset() -> None:
        for signum in signums:
            signal.signal(signum, signal.SIG_DFL)

    return reset
