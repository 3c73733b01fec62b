"""The package's public client names, and what importing them costs (no HTTP library, no
boto3 at run time)."""

from __future__ import annotations

import json
import subprocess
import sys

import claude_bedrock
from claude_bedrock.client import errors

EXPECTED = {
    "__version__", "AnthropicBedrock", "AsyncAnthropicBedrock", "ModelDeprecationWarning",
    *(name for name in errors.__all__ if name[0].isupper() and name not in ("STATUS_ERRORS", "STREAM_ERRORS")),
}  # fmt: skip


def test_public_api_all_matches_the_exported_names():
    assert set(claude_bedrock.__all__) == EXPECTED
    for name in claude_bedrock.__all__:
        assert getattr(claude_bedrock, name) is not None
    assert claude_bedrock.RateLimitError is errors.RateLimitError


def _modules_after(code: str) -> set[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_public_api_import_loads_no_http_library_nor_aws_sdk():
    loaded = _modules_after("import claude_bedrock\nclaude_bedrock.AnthropicBedrock\nclaude_bedrock.AsyncAnthropicBedrock")
    assert not {"httpx", "boto3", "botocore", "anthropic", "pydantic", "claude_bedrock.domain.catalog"} & loaded


def test_public_api_sync_client_runs_on_the_standard_library_async_on_httpx_never_boto3():
    sync_loaded = _modules_after(
        "import claude_bedrock\n"
        "c = claude_bedrock.AnthropicBedrock(aws_access_key='A', aws_secret_key='s', base_url='http://127.0.0.1:9')\n"
        "c.choose_model('claude-sonnet-4-5')"
    )
    assert "http.client" in sync_loaded and not {"httpx", "boto3", "botocore", "anthropic"} & sync_loaded
    async_loaded = _modules_after(
        "import claude_bedrock\n"
        "c = claude_bedrock.AsyncAnthropicBedrock(aws_access_key='A', aws_secret_key='s', base_url='http://127.0.0.1:9')"
    )
    assert "httpx" in async_loaded and not {"boto3", "botocore", "anthropic"} & async_loaded


def test_public_api_create_is_typed_by_its_stream_argument():
    # py.typed is shipped: `message = client.messages.create(...)` then `message.content` must
    # type-check, as with the Anthropic SDK's overloads (stream=False -> Message, True -> Stream)
    import typing

    from claude_bedrock.client import aio, sync

    for create, stream_type in ((sync.Messages.create, "Stream"), (aio.AsyncMessages.create, "AsyncStream")):
        returns = {o.__annotations__["stream"]: o.__annotations__["return"] for o in typing.get_overloads(create)}
        assert returns == {"Literal[False]": "Message", "Literal[True]": stream_type,
                           "bool": f"Message | {stream_type}"}
