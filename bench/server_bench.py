"""Server benchmark: claude-bedrock against a bare ASGI app on the same uvicorn, same run.

    python bench/server_bench.py            # full run (about 4 minutes)
    python bench/server_bench.py --quick    # shorter runs, for a smoke check
    python bench/server_bench.py --startup-only   # start-up alone, 15 starts of each
    python bench/server_bench.py --sigv4-baseline # also against a bare app that verifies SigV4

What it measures, for InvokeModel and a ~20-event InvokeModelWithResponseStream, at
concurrency 1, 16 and 64, with SigV4 verification on (the signing key is listed in the
server's config, so every request is fully verified):

* requests/s of claude-bedrock divided by requests/s of the bare app (ratio; targets: invoke
  at c16 >= 0.5, stream >= 0.7);
* server CPU time per request (from /proc/<pid>/stat; the figure that holds from run to run
  on a noisy machine);
* added time to first event at concurrency 1 (p50 of ours minus p50 of bare; target <= 0.5 ms);
* start-up to first served request (spawn -> first InvokeModel answered; target <= 0.25 s),
  beside the bare app's (the interpreter, uvicorn and a trivial app: the floor).

With ``--sigv4-baseline``, a third target is the bare app verifying each request's signature
with claude-bedrock's own verifier (``bare_app.py``'s ``ACCESS_KEY:SECRET``): the ratio to it
is the cost of everything but SigV4 (about a third longer run).

The load generator runs in this process on core 0; both servers are pinned to core 1 with
taskset. Runs of the two targets are interleaved and repeated; medians are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from claude_bedrock.wire.sigv4 import HttpRequest, sign

HERE = Path(__file__).resolve().parent
ACCESS_KEY, SECRET = "AKIDBENCHMARK000001", "bench-secret-key"
MODEL_PATH = "/model/global.anthropic.claude-sonnet-4-5-20250929-v1%3A0"
CONFIG = f"""
[server]
log_level = "warning"
[[credentials]]
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET}"
"""
# This prompt with max_tokens 60 gives a stream of about 20 events from the simulator.
BODY = json.dumps({"max_tokens": 60, "messages": [{"role": "user", "content": "Hello there, how are you?"}],
                   "anthropic_version": "bedrock-2023-05-31"}).encode()
CLK_TCK = os.sysconf("SC_CLK_TCK")


def pinned(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def build_request(port: int, path: str, body: bytes = BODY) -> bytes:
    host = f"127.0.0.1:{port}"
    headers = [("host", host), ("content-type", "application/json")]
    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    request = HttpRequest("POST", path, "", headers, body)
    headers += sign(request, ACCESS_KEY, SECRET, "us-west-2", "bedrock", amz_date)
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    head += f"content-length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[float, int]:
    """Read one HTTP/1.1 response; return (time the first body byte arrived, body size)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {head[:200]!r}")
    lower = head.lower()
    if b"content-length:" in lower:
        length = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
        return time.perf_counter(), len(body)
    first = 0.0
    size = 0
    while True:  # chunked
        line = await reader.readuntil(b"\r\n")
        n = int(line.strip(), 16)
        if first == 0.0:
            first = time.perf_counter()
        if n == 0:
            await reader.readuntil(b"\r\n")
            return first, size
        await reader.readexactly(n + 2)
        size += n


@dataclass
class RunResult:
    rps: float
    cpu_per_request_us: float
    ttfe_ms: list[float]
    requests: int


async def run_load(port: int, payload: bytes, concurrency: int, duration: float, pid: int) -> RunResult:
    stop_at = 0.0
    count = 0
    ttfe: list[float] = []

    async def worker() -> None:
        nonlocal count
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at:
                sent = time.perf_counter()
                writer.write(payload)
                first, _ = await read_response(reader)
                ttfe.append((first - sent) * 1000)
                count += 1
        finally:
            writer.close()

    # warm-up
    stop_at = time.perf_counter() + min(1.0, duration / 3)
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    count, ttfe = 0, []
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    stop_at = t0 + duration
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    return RunResult(count / elapsed, cpu / count * 1e6, ttfe, count)


def medians(runs: list[RunResult]) -> tuple[float, float]:
    """The median requests/s and the median server CPU per request (us) of repeated runs."""
    return statistics.median(r.rps for r in runs), statistics.median(r.cpu_per_request_us for r in runs)


def start(cmd: list[str]) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=server_env())
    line = proc.stdout.readline()
    port = int(line.split("http://127.0.0.1:")[1].split()[0].rstrip(";"))
    return proc, port


def server_env() -> dict[str, str]:
    """The servers' environment: as a user's, with bytecode caching on (some sandboxes set
    PYTHONDONTWRITEBYTECODE, which makes every start recompile the whole package)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def startup_time(config_path: str, data_dir: str, bare_frames: str | None = None) -> float:
    """Spawn -> first InvokeModel answered, in seconds (of the bare app when ``bare_frames``)."""
    port = free_port()
    if bare_frames is None:
        command = [sys.executable, "-m", "claude_bedrock", "serve", "--port", str(port), "--config", config_path,
                   "--data-dir", data_dir]
    else:
        command = [sys.executable, str(HERE / "bare_app.py"), str(port), bare_frames]
    t0 = time.perf_counter()
    proc = subprocess.Popen(pinned(1) + command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=server_env())
    payload = build_request(port, MODEL_PATH + "/invoke")
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                    s.sendall(payload)
                    data = s.recv(65536)
                    if data.startswith(b"HTTP/1.1 200"):
                        return time.perf_counter() - t0
            except OSError:
                time.sleep(0.002)
            if time.perf_counter() - t0 > 20:
                raise RuntimeError("server did not start")
    finally:
        proc.terminate()
        proc.wait()


def measure_startups(config_path: str, tmp: str, count: int, frames_path: str | None = None) -> tuple[float, float]:
    """Median start-up of ours and of the bare app, ``count`` starts each, interleaved."""
    if frames_path is None:  # the bare app needs a frames file; its content does not matter here
        frames_path = os.path.join(tmp, "frames.hex")
        Path(frames_path).write_text("00")
    startup_time(config_path, os.path.join(tmp, "data-startup"))  # warm the bytecode cache
    ours, bare = [], []
    for _ in range(count):  # interleaved with the bare app's, which starts the same uvicorn
        ours.append(startup_time(config_path, os.path.join(tmp, "data-startup")))
        bare.append(startup_time(config_path, "", bare_frames=frames_path))
    return statistics.median(ours), statistics.median(bare)


def print_startup(startup: float, bare_startup: float) -> None:
    print(f"start-up to first served InvokeModel: median {startup:.3f} s; "
          f"bare app on the same uvicorn: {bare_startup:.3f} s (difference {startup - bare_startup:.3f} s)")


def stream_frames_file(port: int, tmp: str) -> tuple[str, int]:
    """Record our own stream's frames once, so the bare app sends identical bytes."""
    async def grab() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(build_request(port, MODEL_PATH + "/invoke-with-response-stream"))
        head = await reader.readuntil(b"\r\n\r\n")
        assert b" 200 " in head[:13], head
        body = b""
        while True:
            n = int((await reader.readuntil(b"\r\n")).strip(), 16)
            if n == 0:
                break
            body += (await reader.readexactly(n + 2))[:-2]
        writer.close()
        return body

    from claude_bedrock.wire.eventstream import EventStreamDecoder

    decoder = EventStreamDecoder()
    decoder.feed(asyncio.run(grab()))
    frames = [m.encode() for m in decoder]
    path = os.path.join(tmp, "frames.hex")
    Path(path).write_text("\n".join(f.hex() for f in frames))
    return path, len(frames)


def ratio_table(results: dict[tuple[str, str, int], list[RunResult]], levels: list[int],
                baseline: str) -> dict[str, dict[str, float]]:
    """Print ours against the ``baseline`` target per scenario and concurrency (medians); the
    figures by cell (``invoke-c16``...), as the JSON report has them."""
    print(f"{'scenario':8} {'conc':>4} {baseline + ' rps':>10} {'ours rps':>9} {'ratio':>6} "
          f"{baseline + ' cpu/req':>13} {'ours cpu/req':>12} {'cpu ratio':>9}")
    cells = {}
    for scenario in ("invoke", "stream"):
        for c in levels:
            b_rps, b_cpu = medians(results[(scenario, baseline, c)])
            o_rps, o_cpu = medians(results[(scenario, "ours", c)])
            print(f"{scenario:8} {c:>4} {b_rps:>10.0f} {o_rps:>9.0f} {o_rps / b_rps:>6.2f} "
                  f"{b_cpu:>11.0f}us {o_cpu:>10.0f}us {o_cpu / b_cpu:>9.2f}")
            cells[f"{scenario}-c{c}"] = {f"{baseline}_rps": b_rps, f"{baseline}_cpu_us": b_cpu, "ours_rps": o_rps,
                                         "ours_cpu_us": o_cpu,
                                         "ratio" if baseline == "bare" else f"ratio_vs_{baseline}": o_rps / b_rps}
    return cells


def add_run_options(parser: argparse.ArgumentParser, concurrency: str) -> None:
    """The options every benchmark here takes: run length, repeats, concurrency levels."""
    parser.add_argument("--quick", action="store_true", help="1.5 s runs, one repeat")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per measured run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", default=concurrency)


def run_levels(args: argparse.Namespace) -> list[int]:
    """Apply ``--quick``, pin this process (the load generator) to core 0; the concurrency levels."""
    if args.quick:
        args.duration, args.repeats = 1.5, 1
    try:
        os.sched_setaffinity(0, {0})
    except (AttributeError, OSError):
        pass
    return [int(c) for c in args.concurrency.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_options(parser, "1,16,64")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--startup-only", action="store_true", help="measure start-up only (15 starts each)")
    parser.add_argument("--sigv4-baseline", action="store_true",
                        help="also measure a bare app that verifies SigV4 as ours does (ratio 'vs sigv4')")
    args = parser.parse_args()
    levels = run_levels(args)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    tmp = tempfile.mkdtemp(prefix="cb-bench-")
    config_path = os.path.join(tmp, "config.toml")
    Path(config_path).write_text(CONFIG)
    if args.startup_only:
        try:
            startup, bare_startup = measure_startups(config_path, tmp, 15)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print_startup(startup, bare_startup)
        return
    ours, ours_port = start(pinned(1) + [sys.executable, "-m", "claude_bedrock", "serve", "--port", "0",
                                         "--config", config_path, "--data-dir", os.path.join(tmp, "data")])
    frames_path, frame_count = stream_frames_file(ours_port, tmp)
    bare, bare_port = start(pinned(1) + [sys.executable, str(HERE / "bare_app.py"), "0", frames_path])
    targets = {"bare": (bare, bare_port), "ours": (ours, ours_port)}
    if args.sigv4_baseline:
        targets["sigv4"] = start(pinned(1) + [sys.executable, str(HERE / "bare_app.py"), "0", frames_path,
                                              f"{ACCESS_KEY}:{SECRET}"])
    results: dict[tuple[str, str, int], list[RunResult]] = {}
    try:
        for _ in range(args.repeats):
            for scenario, suffix in (("invoke", "/invoke"), ("stream", "/invoke-with-response-stream")):
                for c in levels:
                    for name, (proc, port) in targets.items():
                        payload = build_request(port, MODEL_PATH + suffix)
                        result = asyncio.run(run_load(port, payload, c, args.duration, proc.pid))
                        results.setdefault((scenario, name, c), []).append(result)
        startup, bare_startup = measure_startups(config_path, tmp, 7, frames_path)
    finally:
        for proc, _ in targets.values():
            proc.terminate()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    report: dict[str, object] = {"stream_events": frame_count, "runs": {}}
    print(f"stream: {frame_count} events per response; {args.repeats} repeat(s) of {args.duration}s per cell")
    for baseline in targets:
        if baseline == "ours":
            continue
        if baseline == "sigv4":
            print("\nagainst the bare app that also verifies SigV4:")
        for cell, figures in ratio_table(results, levels, baseline).items():
            report["runs"].setdefault(cell, {}).update(figures)
    if 1 in levels:
        b = statistics.median([t for r in results[("stream", "bare", 1)] for t in r.ttfe_ms])
        o = statistics.median([t for r in results[("stream", "ours", 1)] for t in r.ttfe_ms])
        print(f"time to first event, c1 p50: bare {b:.3f} ms, ours {o:.3f} ms, added {o - b:.3f} ms")
        report["ttfe_added_ms"] = o - b
    print_startup(startup, bare_startup)
    report["startup_s"] = startup
    report["bare_startup_s"] = bare_startup
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
