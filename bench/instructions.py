"""Deterministic server benchmark: CPU instructions per request, claude-bedrock against the bare
ASGI app, counted by valgrind (callgrind) in the same run.

    python bench/instructions.py                 # invoke and stream, concurrency 16 (~6 min)
    python bench/instructions.py --quick         # fewer requests (~3 min)
    python bench/instructions.py --app-only      # the ASGI app alone, without uvicorn (~1 min)
    python bench/instructions.py --app-only --distinct   # ... every request a new prompt

Wall-clock figures on a shared 2-core machine move by +-50% between runs; instruction counts
move little (hash seed fixed; what remains is the scheduling of concurrent requests and the
garbage collector: a few percent, see bench/README.md). Each server (``claude-bedrock serve`` with SigV4
verification on, and ``bench/bare_app.py``) runs under callgrind twice, answering ``small``
then ``large`` requests over keep-alive connections; the difference of the two totals divided
by the difference in requests is the cost of one request, start-up and warm-up cancelled out.
A last pair of runs counts a whole life: start-up, one InvokeModel, shutdown (the bare
app's is the interpreter, uvicorn and a trivial app: the floor of any server on it).
``bare / ours`` is the throughput ratio the server would reach if both were CPU-bound with the
same instructions per cycle (in practice ours runs somewhat fewer instructions per cycle, so
the wall-clock ratio of ``server_bench.py`` comes out a little lower).

Needs ``valgrind`` on the PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import server_bench as sb  # noqa: E402  (the shared request builder, config and frame recorder)

SCENARIOS = {"invoke": "/invoke", "stream": "/invoke-with-response-stream"}


def _server_command(target: str, tmp: str, frames_path: str) -> list[str]:
    callgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    if target == "bare":
        return callgrind + [sys.executable, str(HERE / "bare_app.py"), "0", frames_path]
    config = os.path.join(tmp, "config.toml")
    return callgrind + [sys.executable, "-m", "claude_bedrock", "serve", "--port", "0", "--config", config,
                        "--data-dir", tempfile.mkdtemp(dir=tmp)]


def count_instructions(target: str, scenario: str, requests: int, concurrency: int, tmp: str,
                       frames_path: str) -> int:
    """Total instructions of one server process that answered ``requests`` requests."""
    proc = subprocess.Popen(_server_command(target, tmp, frames_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**sb.server_env(), "PYTHONHASHSEED": "0"})
    port = int(proc.stdout.readline().split("http://127.0.0.1:")[1].split()[0].rstrip(";"))
    payload = sb.build_request(port, sb.MODEL_PATH + SCENARIOS[scenario])

    async def drive() -> None:
        async def worker(count: int) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(count):
                writer.write(payload)
                await sb.read_response(reader)
            writer.close()

        share, rest = divmod(requests, concurrency)
        await asyncio.gather(*(worker(share + (i < rest)) for i in range(concurrency)))

    try:
        asyncio.run(drive())
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=600)
    totals = [line for line in err.splitlines() if "Collected" in line]
    if not totals:
        raise RuntimeError(f"callgrind printed no total for {target} {scenario}:\n{err[-2000:]}")
    return int(totals[-1].split()[-1])


def per_request(target: str, scenario: str, small: int, large: int, concurrency: int, tmp: str,
                frames_path: str) -> float:
    low = count_instructions(target, scenario, small, concurrency, tmp, frames_path)
    high = count_instructions(target, scenario, large, concurrency, tmp, frames_path)
    return (high - low) / (large - small)


def distinct_body(n: int) -> bytes:
    """The benchmark's body with a prompt of its own (the simulator's memo cannot answer it)."""
    body = json.loads(sb.BODY)
    body["messages"][0]["content"] += f" (question {n})"
    return json.dumps(body).encode()


def drive_app(scenario: str, requests: int, distinct: bool, pool: int = 1) -> None:
    """Child of ``--app-only``: the ASGI app called directly, one request at a time.

    With ``distinct``, ``pool`` signed requests (one prompt each) are built first, the same
    number in both runs of a pair, so that signing them cancels out of the difference."""
    from claude_bedrock.service.app import create_app
    from claude_bedrock.settings import build_settings

    tmp = tempfile.mkdtemp(prefix="cb-app-")
    Path(tmp, "config.toml").write_text(sb.CONFIG)
    app = create_app(build_settings({"data_dir": os.path.join(tmp, "data")}, {}, os.path.join(tmp, "config.toml")))
    path = sb.MODEL_PATH + SCENARIOS[scenario]

    def signed(n: int) -> tuple[dict, bytes]:
        raw = sb.build_request(8787, path, distinct_body(n)) if distinct else sb.build_request(8787, path)
        head, body = raw.split(b"\r\n\r\n", 1)
        headers = [tuple(line.split(b": ", 1)) for line in head.split(b"\r\n")[1:]]
        scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "headers": [(name.lower(), value) for name, value in headers], "client": ("127.0.0.1", 1)}
        return scope, body

    calls = [signed(n) for n in range(max(pool, requests) if distinct else 1)]

    async def one(n: int) -> None:
        scope, body = calls[n % len(calls)]
        incoming = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict:
            if incoming:
                return incoming.pop()
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            pass

        await app(scope, receive, send)

    async def run() -> None:
        for n in range(requests):
            await one(n)

    asyncio.run(run())
    shutil.rmtree(tmp, ignore_errors=True)


def app_only(scenario: str, small: int, large: int, distinct: bool) -> float:
    def total(requests: int) -> int:
        done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                               __file__, "--drive-app", scenario, str(requests), str(int(distinct)), str(large)],
                              capture_output=True, text=True, env={**sb.server_env(), "PYTHONHASHSEED": "0"})
        return int([line for line in done.stderr.splitlines() if "Collected" in line][-1].split()[-1])

    return (total(large) - total(small)) / (large - small)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200/800 requests instead of 400/1600")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--app-only", action="store_true",
                        help="count the ASGI app alone (called directly, no uvicorn, one request at a time)")
    parser.add_argument("--distinct", action="store_true",
                        help="with --app-only: every request a prompt of its own (no answer memo, no frame cache)")
    parser.add_argument("--drive-app", nargs="+", metavar="ARG", help=argparse.SUPPRESS)  # SCENARIO N DISTINCT [POOL]
    args = parser.parse_args()
    if args.drive_app:
        scenario, requests, distinct, *pool = args.drive_app
        drive_app(scenario, int(requests), distinct == "1", int(pool[0]) if pool else 1)
        return
    if shutil.which("valgrind") is None:
        sys.exit("bench/instructions.py needs valgrind on the PATH")
    if args.app_only:
        small, large = (100, 400) if args.quick else (200, 800)
        # One run outside valgrind first: a child that had to compile a changed module (and
        # write its .pyc) would count the compilation as work done by requests.
        for scenario in SCENARIOS:  # each loads modules of its own (streams: the frame encoder)
            subprocess.run([sys.executable, __file__, "--drive-app", scenario, "1", "0"], check=True,
                           env=sb.server_env())
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = {scenario: pool.submit(app_only, scenario, small, large, args.distinct)
                       for scenario in SCENARIOS}
            prompts = "a prompt of its own each" if args.distinct else "one repeated prompt"
            for scenario, future in results.items():
                print(f"{scenario:8} app alone, {prompts}: {future.result():>11,.0f} instructions/request")
        return
    small, large = (200, 800) if args.quick else (400, 1600)
    tmp = tempfile.mkdtemp(prefix="cb-instr-")
    Path(tmp, "config.toml").write_text(sb.CONFIG)
    recorder, port = sb.start([sys.executable, "-m", "claude_bedrock", "serve", "--port", "0",
                               "--config", os.path.join(tmp, "config.toml"), "--data-dir", os.path.join(tmp, "rec")])
    try:
        frames_path, frame_count = sb.stream_frames_file(port, tmp)
    finally:
        recorder.terminate()
        recorder.wait()
    cells = [(scenario, target) for scenario in SCENARIOS for target in ("bare", "ours")]
    startup_cells = ("bare", "ours")
    print(f"counting {len(cells)} cells, {small} and {large} requests each at concurrency {args.concurrency}, "
          "two at a time...", flush=True)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {cell: pool.submit(per_request, cell[1], cell[0], small, large, args.concurrency, tmp,
                                         frames_path) for cell in cells}
            starts = {target: pool.submit(count_instructions, target, "invoke", 1, 1, tmp, frames_path)
                      for target in startup_cells}
            counts = {cell: future.result() for cell, future in futures.items()}
            startup = {target: future.result() for target, future in starts.items()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"stream: {frame_count} events per response")
    print(f"{'scenario':8} {'bare instr/req':>15} {'ours instr/req':>15} {'bare/ours':>9}")
    for scenario in SCENARIOS:
        bare, ours = counts[(scenario, "bare")], counts[(scenario, "ours")]
        print(f"{scenario:8} {bare:>15,.0f} {ours:>15,.0f} {bare / ours:>9.2f}")
    print(f"start-up, one InvokeModel and shutdown: bare {startup['bare'] / 1e6:,.0f}M instructions, "
          f"ours {startup['ours'] / 1e6:,.0f}M ({startup['bare'] / startup['ours']:.2f})")


if __name__ == "__main__":
    main()
