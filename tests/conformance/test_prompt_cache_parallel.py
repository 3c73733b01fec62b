"""Prompt caching of identical calls sent at once, with the anthropic SDK over a real socket.

Anthropic: "a cache entry only becomes available after the first response begins". With the
simulator pacing answers (``--simulator-latency``: 1.5 s to the first token, a margin for a loaded machine), calls sent
together all write the prefix; a call sent once the first answers began reads it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from anthropic import AnthropicBedrock

from support.servers import ACCESS_KEY, CONFIG_TOML, REGION, SECRET_KEY, start_server

MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
#: Over Sonnet 4.5's 1,024-token minimum cacheable prefix.
SYSTEM = [{"type": "text", "text": "You answer questions about the water cycle. " * 150,
           "cache_control": {"type": "ephemeral"}}]


def test_identical_calls_sent_at_once_all_write_the_cache_and_a_later_one_reads_it(tmp_path):
    server = start_server(tmp_path, "--simulator-latency", f"{MODEL}=1500:2000", config=CONFIG_TOML)
    try:
        client = AnthropicBedrock(aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY, aws_region=REGION,
                                  base_url=server.url, max_retries=0)

        def ask(_: int = 0):
            return client.messages.create(model=f"global.{MODEL}", max_tokens=20, system=SYSTEM,
                                          messages=[{"role": "user", "content": "Where does rain come from?"}]).usage

        with ThreadPoolExecutor(4) as pool:
            together = list(pool.map(ask, range(4)))
        written = together[0].cache_creation_input_tokens
        assert written > 1024
        assert [(u.cache_creation_input_tokens, u.cache_read_input_tokens) for u in together] == [(written, 0)] * 4
        later = ask()
        assert (later.cache_creation_input_tokens, later.cache_read_input_tokens) == (0, written)
    finally:
        server.stop()
