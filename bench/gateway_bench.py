"""Gateway benchmark: what a gateway (``serve --upstream URL``) adds to a call, same run.

    python bench/gateway_bench.py            # full run (about 2 minutes)
    python bench/gateway_bench.py --quick    # shorter runs, for a smoke check

An upstream claude-bedrock (the simulator, SigV4 verified) and a gateway in front of it (SigV4
verified for its callers, SigV4 signed for the upstream) are both pinned to core 1; the load
generator runs in this process on core 0. For InvokeModel and a ~20-event stream, at
concurrency 1 and 16, runs straight to the upstream and through the gateway are interleaved
and repeated; medians are reported:

* the gateway's CPU time per relayed call, beside the upstream's own CPU time per call when it
  is called directly (the cost of serving a simulator answer): their ratio is what a relay
  costs compared with answering;
* requests/s through the gateway divided by requests/s straight to the upstream (both servers
  share one core through the gateway, so this ratio is below 0.5 by construction);
* added time to the first byte (InvokeModel: the whole answer; stream: the first event) at
  concurrency 1, p50 through the gateway minus p50 straight.

There is no target: the numbers are for the README and the issue note.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from server_bench import (
    ACCESS_KEY,
    MODEL_PATH,
    SECRET,
    RunResult,
    add_run_options,
    build_request,
    cpu_seconds,
    medians,
    pinned,
    run_levels,
    run_load,
    start,
)

UPSTREAM_CONFIG = f"""
[server]
log_level = "warning"
strict_auth = true
[[credentials]]
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET}"
"""


def gateway_config(upstream_port: int) -> str:
    return UPSTREAM_CONFIG + f"""
[upstream]
endpoint = "http://127.0.0.1:{upstream_port}"
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET}"
"""


def serve(tmp: str, name: str, config: str) -> tuple[object, int]:
    path = os.path.join(tmp, f"{name}.toml")
    Path(path).write_text(config)
    return start(pinned(1) + [sys.executable, "-m", "claude_bedrock", "serve", "--port", "0", "--config", path,
                              "--data-dir", os.path.join(tmp, name)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_options(parser, "1,16")
    args = parser.parse_args()
    levels = run_levels(args)

    tmp = tempfile.mkdtemp(prefix="cb-gateway-bench-")
    upstream, upstream_port = serve(tmp, "upstream", UPSTREAM_CONFIG)
    gateway, gateway_port = serve(tmp, "gateway", gateway_config(upstream_port))
    results: dict[tuple[str, str, int], list[RunResult]] = {}
    relayed_upstream_cpu: dict[tuple[str, int], list[float]] = {}
    try:
        for _ in range(args.repeats):
            for scenario, suffix in (("invoke", "/invoke"), ("stream", "/invoke-with-response-stream")):
                for c in levels:
                    payload = build_request(upstream_port, MODEL_PATH + suffix)
                    straight = asyncio.run(run_load(upstream_port, payload, c, args.duration, upstream.pid))
                    results.setdefault((scenario, "straight", c), []).append(straight)
                    payload = build_request(gateway_port, MODEL_PATH + suffix)
                    before = cpu_seconds(upstream.pid)
                    relayed = asyncio.run(run_load(gateway_port, payload, c, args.duration, gateway.pid))
                    results.setdefault((scenario, "gateway", c), []).append(relayed)
                    # the upstream's share of a relayed call (warm-up calls included: an upper bound)
                    relayed_upstream_cpu.setdefault((scenario, c), []).append(
                        (cpu_seconds(upstream.pid) - before) / relayed.requests * 1e6)
    finally:
        for proc in (gateway, upstream):
            proc.terminate()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{args.repeats} repeat(s) of {args.duration}s per cell; medians")
    print(f"{'scenario':8} {'conc':>4} {'straight rps':>12} {'gateway rps':>11} {'ratio':>6} "
          f"{'upstream cpu/call':>17} {'gateway cpu/call':>16} {'gw/upstream':>11}")
    for scenario in ("invoke", "stream"):
        for c in levels:
            s_rps, s_cpu = medians(results[(scenario, "straight", c)])
            g_rps, g_cpu = medians(results[(scenario, "gateway", c)])
            print(f"{scenario:8} {c:>4} {s_rps:>12.0f} {g_rps:>11.0f} {g_rps / s_rps:>6.2f} "
                  f"{s_cpu:>15.0f}us {g_cpu:>14.0f}us {g_cpu / s_cpu:>11.2f}")
            upstream_share = statistics.median(relayed_upstream_cpu[(scenario, c)])
            print(f"{'':8} {'':>4} (the upstream spent {upstream_share:.0f}us per relayed call)")
    if 1 in levels:
        for scenario in ("invoke", "stream"):
            s = statistics.median([t for r in results[(scenario, "straight", 1)] for t in r.ttfe_ms])
            g = statistics.median([t for r in results[(scenario, "gateway", 1)] for t in r.ttfe_ms])
            print(f"{scenario}: time to first byte, c1 p50: straight {s:.3f} ms, through the gateway {g:.3f} ms, "
                  f"added {g - s:.3f} ms")


if __name__ == "__main__":
    main()
