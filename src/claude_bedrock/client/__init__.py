"""The ``claude_bedrock`` Python client: a sans-I/O core with thin sync and async shells.

Layout (one job per module)::

    config.py      where credentials, region and base URLs come from (pure rules)
    aws_files.py   reads ~/.aws/credentials and ~/.aws/config (the only file I/O)
    core.py        model choice, request building and signing (sans-I/O)
    responses.py   whole responses -> result types or typed errors (sans-I/O)
    streams.py     event streams -> typed events / errors; reply accumulation (sans-I/O)
    retry.py       retry decisions: backoff with full jitter, Retry-After
    flow.py        one call's sequence (attempts, retries, stream decoding) as a generator
    operations.py  each operation as a Call: request + reply parser or stream decoder
    driver.py      drives flows, sync and async, over an exchange (the I/O of one call)
    connections.py the sync exchange: pooled keep-alive sockets, http.client responses
    httpx_transport.py  exchanges over httpx.Client / httpx.AsyncClient
    sync.py        AnthropicBedrock (public surface)
    aio.py         AsyncAnthropicBedrock (public surface)
    types.py       result types; errors.py: the exception tree

Nothing is imported here, so ``import claude_bedrock`` stays cheap; the public names are
re-exported lazily by ``claude_bedrock/__init__.py``.
"""
