"""``claude-bedrock serve`` as a user runs it: starts, answers health, stops cleanly on Ctrl-C,
and refuses bad input with a message instead of a traceback."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import quote

import httpx
import pytest

from support.servers import CONFIG_TOML, start_server


@contextmanager
def _stopped_by_ctrl_c(process: subprocess.Popen) -> Iterator[None]:
    """Run the block with ``process`` (a ``serve``), then stop it by Ctrl-C and expect exit code 0;
    never leave it running."""
    try:
        yield
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "claude_bedrock", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_serve_starts_answers_health_and_stops_on_ctrl_c(tmp_path):
    server = start_server(tmp_path)
    with urllib.request.urlopen(server.url + "/_claude-bedrock/health", timeout=5) as response:
        assert json.loads(response.read())["status"] == "ok"
    assert server.stop() == 0
    log = server.log_text()
    assert "Traceback" not in log
    assert "Shutting down" in log or "Finished server process" in log


def test_serve_announces_the_environment_to_export(tmp_path):
    server = start_server(tmp_path)
    try:
        line = server.announce
        pasted = subprocess.run(["bash", "-c", f"{line}\nenv"], capture_output=True, text=True, timeout=30)
        assert pasted.returncode == 0, pasted.stderr  # the whole line is a shell command
        for name in ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL_BEDROCK", "AWS_ENDPOINT_URL_STS",
                     "ANTHROPIC_BEDROCK_BASE_URL"):
            assert f"{name}={server.url}\n" in pasted.stdout
    finally:
        server.stop()


def test_serve_help_lists_every_setting():
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    for option in ("--host", "--port", "--data-dir", "--config", "--strict-auth", "--seed", "--simulator-mode",
                   "--simulator-latency", "--strict-model-ids", "--model-access"):
        assert option in result.stdout
    for option in ("--tls-cert FILE", "--tls-key FILE", "--rules-file FILE", "--data-dir DIRECTORY"):
        assert option in result.stdout
    # the README says so: a data folder the server creates is owner-only (it holds every prompt)
    assert "0700" in " ".join(result.stdout.split())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "/nonexistent/config.toml"], "config file not found"),
        (["--simulator-latency", "fast"], "--simulator-latency: simulator_latency 'fast' is not FIRST_TOKEN_MS:TOKENS_PER_S"),
        (["--simulator-latency", "nosuch-model=1:2"], "nosuch-model is not a base model ID of the catalog"),
        (["--port", "notaport"], "notaport"),
    ],
)
def test_serve_bad_input_is_a_clear_error(args, message, tmp_path):
    result = run_cli("serve", "--port", "0", "--data-dir", str(tmp_path), *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_bad_config_content_names_the_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[[credentials]]\naccess_key_id = "AKID"\n')
    result = run_cli("serve", "--port", "0", "--config", str(config))
    assert result.returncode != 0
    assert "credentials[0].secret_access_key" in result.stderr


def test_serve_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--data-dir", str(tmp_path))
    assert result.returncode != 0
    assert "cannot listen" in result.stderr and "Traceback" not in result.stderr


def test_serve_unusable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_cli("serve", "--port", "0", "--data-dir", str(blocker / "data"))
    assert result.returncode != 0
    assert "cannot use data dir" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count(str(blocker / "data")) == 1  # the folder is named once


def test_serve_stops_cleanly_on_sigterm(tmp_path):
    server = start_server(tmp_path)
    try:
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=15) == 0
    finally:
        if server.process.poll() is None:  # never leave a server behind
            server.process.kill()
    assert "Traceback" not in server.log_text()


def test_serve_warns_when_strict_auth_has_no_key_to_accept(tmp_path):
    """Strict auth (--strict-auth, or any bind beyond loopback) with no key in the config
    refuses every request: the server log says so and how to fix it."""
    bare = start_server(tmp_path / "bare", "--strict-auth")
    configured = start_server(tmp_path / "configured", "--strict-auth", config=CONFIG_TOML)
    assert bare.stop() == 0 and configured.stop() == 0
    assert "every request will be refused" in bare.log_text()
    assert "--no-strict-auth" in bare.log_text()
    assert "every request will be refused" not in configured.log_text()


def test_serve_second_ctrl_c_with_an_open_stream_logs_no_traceback(tmp_path):
    """Review regression: a call cut short by the stop (second Ctrl-C, or the 10 s graceful
    wait exceeded) was recorded as Cancelled, then re-raised into uvicorn, which logged
    "Exception in ASGI application" (and "Exception in 'lifespan' protocol") with a traceback."""
    model = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    server = start_server(tmp_path, "--simulator-latency", f"{model}=0:1")
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 500,
                       "messages": [{"role": "user", "content": "a long story"}]})
    url = f"{server.url}/model/{quote('global.' + model, safe='')}/invoke-with-response-stream"
    try:
        with httpx.Client(timeout=60) as client, client.stream(
                "POST", url, content=body, headers={"Authorization": "Bearer dev"}) as stream:
            assert stream.status_code == 200
            assert server.force_quit() == 0
    finally:
        server.stop()
    log = server.log_text()
    assert "Traceback" not in log and "Exception in" not in log, log


#: In the server's process: its docx reader, wrapped to log when a reading starts and how it ends.
_NOTED_DOCX_READER = """
import sys
from claude_bedrock.domain import document_text
from claude_bedrock.domain.document_budget import ReadingStopped
from claude_bedrock.wire.converse_request import BINARY_DOCUMENT_MEDIA_TYPES
DOCX = BINARY_DOCUMENT_MEDIA_TYPES["docx"]
read = document_text._READERS[DOCX]
def noted(raw, budget):
    print("test: docx reading started", file=sys.stderr, flush=True)
    try:
        text = read(raw, budget)
    except ReadingStopped:
        print("test: docx reading stopped", file=sys.stderr, flush=True)
        raise
    print("test: docx reading returned", file=sys.stderr, flush=True)
    return text
document_text._READERS[DOCX] = noted
"""


def test_serve_second_ctrl_c_stops_the_document_readings_in_flight(tmp_path):
    """Audit: a reading of documents running in a worker thread when the server was stopped ran
    to its end (the pool's threads are joined at the interpreter's exit): with four calls each
    reading two docx of 16 MB of XML in flight, the process exited 17 to 20 s after a second
    Ctrl-C on a busy 2-core machine. The calls' end now stops their readings at their next
    piece: the process exits within a second, and every reading running stopped (none read on
    to its end)."""
    paragraph = "<w:p><w:r><w:t>word </w:t></w:r></w:p>"
    xml = ('<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
           f"{paragraph * (16_000_000 // len(paragraph))}</w:body></w:document>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", xml)
    docx = {"format": "docx", "name": "minutes", "source": {"bytes": base64.b64encode(buffer.getvalue()).decode()}}
    body = json.dumps({"messages": [{"role": "user", "content": [
        {"document": docx}, {"document": {**docx, "name": "annex"}}, {"text": "Summarise."}]}]})
    server = start_server(tmp_path, preamble=_NOTED_DOCX_READER)
    url = f"{server.url}/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"

    def call() -> None:
        with suppress(httpx.HTTPError):  # the server stops under it
            httpx.post(url, content=body, headers={"Authorization": "Bearer dev"}, timeout=60)

    clients = [threading.Thread(target=call, daemon=True) for _ in range(4)]
    try:
        for client in clients:
            client.start()
        deadline = time.monotonic() + 30
        while server.log_text().count("docx reading started") < 2:  # both workers read
            assert time.monotonic() < deadline and server.process.poll() is None, server.log_text()
            time.sleep(0.05)
        started = time.monotonic()
        assert server.force_quit() == 0
        stopping = time.monotonic() - started
    finally:
        server.stop()
    for client in clients:
        client.join(10)
    log = server.log_text()
    assert "docx reading returned" not in log, log  # was: each running reading read on to its end
    assert log.count("docx reading stopped") == log.count("docx reading started"), log
    assert stopping < 10, stopping  # was 17 to 20 s under load; now well under a second
    assert "Traceback" not in log, log


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_serve_stop_signal_before_uvicorn_listens_still_stops_it_cleanly(tmp_path, signame):
    """A SIGTERM or Ctrl-C in the start-up window (before uvicorn installs its handlers) asks the
    server to stop once started. They used to raise SystemExit or KeyboardInterrupt wherever the
    main thread was; inside a weakref callback during an import Python ignores both, so the
    signal was lost and the server ran on (a rare hang in CI)."""
    script = (
        "import os, signal, sys, uvicorn\n"
        "from claude_bedrock.cli.main import main\n"
        "run = uvicorn.Server.run\n"
        "def early(self, *args, **kwargs):\n"
        f"    os.kill(os.getpid(), signal.{signame})  # before uvicorn listens for it\n"
        "    return run(self, *args, **kwargs)\n"
        "uvicorn.Server.run = early\n"
        "sys.argv = ['claude-bedrock', 'serve', '--port', '0', '--data-dir', sys.argv[1]]\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Application startup complete" in done.stderr and "Finished server process" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "claude-bedrock stopped." in done.stderr


def _serve_on_a_terminal(tmp_path, env: dict[str, str], stderr_on_terminal: bool) -> str:
    """Run ``serve`` with stdout on a pseudo-terminal, as from a shell, and stderr on it too or
    redirected to a file; stop it with Ctrl-C once it announced itself. Returns what reached
    stderr (the server log)."""
    import os
    import pty

    tmp_path.mkdir(parents=True, exist_ok=True)
    master, terminal = pty.openpty()
    log_path = tmp_path / "server.log"
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_BEDROCK_") and k != "NO_COLOR"}
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "claude_bedrock", "serve", "--port", "0", "--data-dir", str(tmp_path / "data")],
            stdout=terminal, stderr=terminal if stderr_on_terminal else log_file, env={**process_env, **env})
    os.close(terminal)
    seen = b""
    try:
        while b"export " not in seen or (stderr_on_terminal and b"startup complete" not in seen):
            seen += os.read(master, 4096)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
        with suppress(OSError):  # EIO once the process closed its end
            while chunk := os.read(master, 4096):
                seen += chunk
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    return seen.decode() if stderr_on_terminal else log_path.read_text()


def test_serve_log_redirected_to_a_file_has_no_colour_codes(tmp_path):
    """uvicorn colours its log lines when stdout is a terminal, whatever stream they go to: the
    server log of `serve 2> server.log`, run from a shell, was full of escape codes."""
    log = _serve_on_a_terminal(tmp_path, {}, stderr_on_terminal=False)
    assert "Application startup complete" in log
    assert "\x1b[" not in log, log


def test_serve_log_on_a_terminal_is_coloured_unless_no_color(tmp_path):
    assert "\x1b[" in _serve_on_a_terminal(tmp_path / "a", {}, stderr_on_terminal=True)
    plain = _serve_on_a_terminal(tmp_path / "b", {"NO_COLOR": "1"}, stderr_on_terminal=True)  # no-color.org
    assert "Application startup complete" in plain and "\x1b[" not in plain, plain


def test_serve_with_standard_output_closed_announces_itself_on_the_log(tmp_path):
    """Audit: started with standard output closed (a daemon's `serve >&-`), the server stopped
    with an AttributeError traceback after binding, where it writes its `export ...` line; and
    a standard output that cannot be written (`> /dev/full`) stopped it as "cannot listen on
    127.0.0.1:0: No space left on device". The line is for a person: it goes to the server
    log instead, and the server runs."""
    log_path = tmp_path / "server.log"
    command = 'exec "$0" -m claude_bedrock serve --port 0 --data-dir "$1" >&-'
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_BEDROCK_")}
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(["bash", "-c", command, sys.executable, str(tmp_path / "data")],
                                   stdout=subprocess.DEVNULL, stderr=log_file, env=env)
    with _stopped_by_ctrl_c(process):
        deadline = time.monotonic() + 30
        while not (found := re.search(r"listening on (http://\S+)", log_path.read_text())):
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        with urllib.request.urlopen(found.group(1) + "/_claude-bedrock/health", timeout=5) as response:
            assert json.loads(response.read())["status"] == "ok"
    assert "Traceback" not in log_path.read_text()
    assert "export AWS_ENDPOINT_URL_BEDROCK_RUNTIME=" in log_path.read_text()


def test_serve_with_standard_output_full_still_serves(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        process = subprocess.Popen([sys.executable, "-m", "claude_bedrock", "serve", "--port", "0", "--data-dir",
                                    str(tmp_path / "data")], stdout=full, stderr=subprocess.PIPE, text=True)
    with _stopped_by_ctrl_c(process):
        deadline = time.monotonic() + 30
        seen = ""
        while "listening on" not in seen:
            assert process.poll() is None and time.monotonic() < deadline, seen + process.stderr.read()
            seen += process.stderr.readline()
    seen += process.stderr.read()
    assert "cannot listen" not in seen and "Traceback" not in seen


def test_serve_under_nohup_keeps_serving_after_a_hangup(tmp_path):
    """A hangup stops the server gracefully (its terminal closed), unless SIGHUP is ignored, as
    ``nohup`` does: then the server must not start listening for it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "claude_bedrock", "serve", "--port", "0", "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    with _stopped_by_ctrl_c(process):
        url = re.search(r"ANTHROPIC_BEDROCK_BASE_URL=(\S+)", process.stdout.readline()).group(1)
        process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        with urllib.request.urlopen(url + "/_claude-bedrock/health", timeout=5) as response:
            assert json.loads(response.read())["status"] == "ok"
        assert process.poll() is None
    process.communicate()


@pytest.mark.parametrize(("days", "warned"), [("7", True), ("30", False), ("0", False), ("90", False)])
def test_serve_warns_when_it_keeps_logs_fewer_days_than_the_guide(tmp_path, days, warned):
    """Helper finding (seedwalk): ``serve --log-retention-days 7`` deleted logs younger than the
    guide's 30 days every hour without a word, while ``logs purge`` asks before doing so."""
    server = start_server(tmp_path, "--log-retention-days", days)
    assert server.stop() == 0
    assert ("fewer than the guide's 30" in server.log_text()) == warned


def test_serve_refuses_a_retention_window_past_a_hundred_years(tmp_path):
    """Helper finding (timehunt): a window of hundreds of digits made every hourly purge fail
    with an OverflowError in the log; 0 is "keep forever"."""
    result = run_cli("serve", "--port", "0", "--data-dir", str(tmp_path), "--log-retention-days", "99999")
    assert result.returncode != 0 and "log_retention_days must be between 0 and 36500, got 99999" in result.stderr
