"""Client benchmark: claude_bedrock.AnthropicBedrock against anthropic.AnthropicBedrock and boto3,
on the same claude-bedrock server, in the same run.

    python bench/client_bench.py            # full run (about 1 minute)
    python bench/client_bench.py --quick    # fewer repetitions, for a smoke check

What it measures (targets: ours <= 1/3 of each competitor on both):

* import time: wall time of ``python -c "<import>"`` minus that of ``python -c pass``, median of
  N runs, for ``import claude_bedrock; claude_bedrock.AnthropicBedrock``, ``import anthropic;
  anthropic.AnthropicBedrock`` and ``import boto3``;
* client CPU per call: ``time.process_time()`` around each of N sequential non-streaming
  InvokeModel calls made in this process (after a warm-up), median per call. The server runs
  in another process, so its CPU is not counted.

Reported too, without targets: CPU per streamed call (InvokeModelWithResponseStream, all events
read) and cold start (a fresh process that imports, builds a client and makes one call).

The server is pinned to core 1 and this process to core 0 (``taskset`` / ``sched_setaffinity``
when available). Clients take turns in rounds so machine noise hits all of them alike. The
server checks every signature (the key is listed in its config). Our sync client runs on its
default transport (pooled standard-library connections); ``--httpx`` adds a row for it on an
``httpx.Client`` (``http_client=``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ACCESS_KEY, SECRET_KEY, REGION = "AKIDCLIENTBENCH00001", "client-bench-secret-key", "us-west-2"
MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
MESSAGES = [{"role": "user", "content": "Hello, world"}]
MAX_TOKENS = 16
CONFIG = f"""
[server]
log_level = "warning"
[[credentials]]
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET_KEY}"
"""
IMPORTS = {
    "claude_bedrock": "import claude_bedrock; claude_bedrock.AnthropicBedrock",
    "anthropic": "import anthropic; anthropic.AnthropicBedrock",
    "boto3": "import boto3",
}
COLD_START = {
    "claude_bedrock": (
        "import claude_bedrock\n"
        "c = claude_bedrock.AnthropicBedrock(aws_access_key={ak!r}, aws_secret_key={sk!r}, aws_region={region!r},"
        " base_url={url!r}, max_retries=0)\n"
        "c.messages.create(model={model!r}, max_tokens=16, messages=[{{'role': 'user', 'content': 'Hi'}}])\n"
    ),
    "anthropic": (
        "import anthropic\n"
        "c = anthropic.AnthropicBedrock(aws_access_key={ak!r}, aws_secret_key={sk!r}, aws_region={region!r},"
        " base_url={url!r}, max_retries=0)\n"
        "c.messages.create(model={model!r}, max_tokens=16, messages=[{{'role': 'user', 'content': 'Hi'}}])\n"
    ),
    "boto3": (
        "import boto3, json\n"
        "c = boto3.client('bedrock-runtime', endpoint_url={url!r}, region_name={region!r},"
        " aws_access_key_id={ak!r}, aws_secret_access_key={sk!r})\n"
        "json.loads(c.invoke_model(modelId={model!r}, body=json.dumps({{'anthropic_version': 'bedrock-2023-05-31',"
        " 'max_tokens': 16, 'messages': [{{'role': 'user', 'content': 'Hi'}}]}}))['body'].read())\n"
    ),
}


def clean_env() -> dict[str, str]:
    """A user's environment: no AWS/Anthropic settings, and bytecode caching on (some
    sandboxes set PYTHONDONTWRITEBYTECODE, which makes every import recompile its modules)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "ANTHROPIC_", "CLAUDE_BEDROCK_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    return env


def taskset(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") else []


def start_server(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    config = tmp / "config.toml"
    config.write_text(CONFIG)
    cmd = [*taskset(1), sys.executable, "-m", "claude_bedrock", "serve", "--host", "127.0.0.1", "--port", "0",
           "--data-dir", str(tmp / "data"), "--config", str(config)]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=clean_env())
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            return process, found.group(1)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise RuntimeError("the server did not start")


def median_wall(code: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([*taskset(0), sys.executable, "-c", code], check=True, env=clean_env())
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def import_times(runs: int) -> dict[str, float]:
    """Median extra wall time of each import over an empty interpreter, in seconds."""
    results: dict[str, list[float]] = {name: [] for name in IMPORTS}
    baseline: list[float] = []
    for _ in range(runs):  # interleaved, one run each per round
        baseline.append(median_wall("pass", 1))
        for name, code in IMPORTS.items():
            results[name].append(median_wall(code, 1))
    base = statistics.median(baseline)
    return {name: statistics.median(samples) - base for name, samples in results.items()}


def cold_starts(url: str, runs: int) -> dict[str, float]:
    values = dict(ak=ACCESS_KEY, sk=SECRET_KEY, region=REGION, url=url, model=MODEL)
    return {name: median_wall(code.format(**values), runs) for name, code in COLD_START.items()}


# --------------------------------------------------------------------------- per-call CPU


def make_callers(url: str, with_httpx: bool) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """name -> (invoke once, stream once and read every event)."""
    import anthropic
    import boto3
    from botocore.config import Config

    import claude_bedrock

    ours = claude_bedrock.AnthropicBedrock(aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY, aws_region=REGION,
                                           base_url=url, max_retries=0)
    theirs = anthropic.AnthropicBedrock(aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY, aws_region=REGION,
                                        base_url=url, max_retries=0)
    runtime = boto3.client("bedrock-runtime", endpoint_url=url, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                           aws_secret_access_key=SECRET_KEY, config=Config(retries={"max_attempts": 1}))
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": MAX_TOKENS, "messages": MESSAGES})

    def boto3_stream() -> object:
        for _ in runtime.invoke_model_with_response_stream(modelId=MODEL, body=body)["body"]:
            pass
        return None

    def drain(stream: object) -> object:
        for _ in stream:  # type: ignore[attr-defined]
            pass
        return None

    callers = {
        "claude_bedrock": (
            lambda: ours.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES),
            lambda: drain(ours.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES, stream=True)),
        ),
        "anthropic": (
            lambda: theirs.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES),
            lambda: drain(theirs.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES, stream=True)),
        ),
        "boto3": (
            lambda: json.loads(runtime.invoke_model(modelId=MODEL, body=body)["body"].read()),
            boto3_stream,
        ),
    }
    if with_httpx:
        import httpx

        over_httpx = claude_bedrock.AnthropicBedrock(aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY,
                                                     aws_region=REGION, base_url=url, max_retries=0,
                                                     http_client=httpx.Client())
        callers["claude_bedrock/httpx"] = (
            lambda: over_httpx.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES),
            lambda: drain(over_httpx.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=MESSAGES,
                                                     stream=True)),
        )
    return callers


def cpu_per_call(callers: dict[str, Callable[[], object]], rounds: int, calls: int, warmup: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in callers}
    for call in callers.values():
        for _ in range(warmup):
            call()
    for _ in range(rounds * calls):  # one call of each client in turn: noise hits them alike
        for name, call in callers.items():
            started = time.process_time()
            call()
            samples[name].append(time.process_time() - started)
    return {name: statistics.median(values) for name, values in samples.items()}


# --------------------------------------------------------------------------- report


def report(title: str, values: dict[str, float], unit: str, scale: float, targeted: bool) -> list[str]:
    ours = values["claude_bedrock"]
    lines = [f"{title}"]
    for name, value in values.items():
        ratio = "" if name.startswith("claude_bedrock") else f"   ours / {name} = {ours / value:.3f}"
        if targeted and not name.startswith("claude_bedrock"):
            ratio += "  (target <= 0.333: " + ("met" if ours / value <= 1 / 3 else "NOT met") + ")"
        lines.append(f"  {name:15s} {value * scale:9.2f} {unit}{ratio}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, for a smoke check")
    parser.add_argument("--httpx", action="store_true", help="also measure our client over an httpx.Client")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()
    import_runs, cold_runs, rounds, calls, warmup = (5, 3, 3, 30, 20) if args.quick else (15, 7, 5, 100, 50)

    if hasattr(os, "sched_setaffinity") and shutil.which("taskset"):
        os.sched_setaffinity(0, {0})
    for name in list(os.environ):
        if name.startswith(("AWS_", "ANTHROPIC_")):
            del os.environ[name]
    os.environ.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)

    with tempfile.TemporaryDirectory() as tmp:
        server, url = start_server(Path(tmp))
        try:
            imports = import_times(import_runs)
            cold = cold_starts(url, cold_runs)
            callers = make_callers(url, args.httpx)
            invoke = cpu_per_call({n: c[0] for n, c in callers.items()}, rounds, calls, warmup)
            stream = cpu_per_call({n: c[1] for n, c in callers.items()}, rounds, max(calls // 2, 10), warmup // 2)
        finally:
            server.terminate()
            server.wait(timeout=15)

    lines = [f"client benchmark ({'quick' if args.quick else 'full'}), server {url}, python {sys.version.split()[0]}"]
    lines += report("import time (median extra wall time)", imports, "ms", 1e3, True)
    lines += report("client CPU per InvokeModel call (median)", invoke, "us", 1e6, True)
    lines += report("client CPU per streamed call, all events read (median)", stream, "us", 1e6, False)
    lines += report("cold start: new process, import + client + one call (median wall)", cold, "ms", 1e3, False)
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({"import_s": imports, "invoke_cpu_s": invoke, "stream_cpu_s": stream,
                                         "cold_start_s": cold}, indent=2))


if __name__ == "__main__":
    main()
