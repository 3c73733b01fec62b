"""claude-bedrock: Claude on Amazon Bedrock, runnable anywhere Python runs.

The package is layered; dependencies point one way only:
wire (sans-I/O protocol) <- domain (catalog, validation, engines) <- service (ASGI)
<- adapters / client / cli / testing.

The client names below are imported on first access (PEP 562), so ``import claude_bedrock``
loads no HTTP library: import time is benchmarked (``bench/client_bench.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> module that defines it (all under ``claude_bedrock.client``).
_LAZY: dict[str, str] = {
    "AnthropicBedrock": "sync",
    "AsyncAnthropicBedrock": "aio",
    "ModelDeprecationWarning": "core",
    **{
        name: "errors"
        for name in (
            "ClaudeBedrockError", "ClientError", "ConfigurationError", "ModelNotAvailableError",
            "APIError", "APIConnectionError", "APITimeoutError", "APIResponseValidationError",
            "APIStatusError", "BadRequestError", "AuthenticationError", "PermissionDeniedError",
            "NotFoundError", "RequestTimeoutError", "ConflictError", "UnprocessableEntityError",
            "ModelError", "RateLimitError", "InternalServerError", "ServiceUnavailableError",
            "StreamError", "ThrottlingError", "ModelStreamError", "ModelTimeoutError",
            "StreamValidationError", "StreamInternalServerError", "StreamServiceUnavailableError",
        )  # fmt: skip
    },
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ imports on first access
    from claude_bedrock.client.aio import AsyncAnthropicBedrock  # noqa: F401
    from claude_bedrock.client.core import ModelDeprecationWarning  # noqa: F401
    from claude_bedrock.client.errors import *  # noqa: F401,F403
    from claude_bedrock.client.sync import AnthropicBedrock  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'claude_bedrock' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"claude_bedrock.client.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
