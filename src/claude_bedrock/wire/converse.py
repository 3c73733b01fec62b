"""Converse / ConverseStream wire translation: the public face of the ``converse_*`` modules.

Purpose: one import for the server. A Converse request becomes an Anthropic Messages body
(``converse_to_anthropic``); the engine's Anthropic stream events become a Converse response
(``ConverseResponseBuilder``) or ConverseStream events (``ConverseStreamRenderer``).

Layout (one job per module, all sans-I/O):

* ``converse_shapes``   the request shapes of the service model as data, and their validator;
* ``converse_request``  Bedrock's conversation rules and the request translation;
* ``converse_response`` the event accumulation and both renderings of the reply.

Source: wire-protocol reference 1.4, 1.5, 2.6, 3.3, 10, 11; botocore bedrock-runtime 2023-09-30.
"""

from __future__ import annotations

from claude_bedrock.wire.converse_request import (
    ANTHROPIC_VERSION,
    ConverseTranslation,
    converse_to_anthropic,
)
from claude_bedrock.wire.converse_response import (
    STOP_REASONS,
    ConverseRenderError,
    ConverseResponseBuilder,
    ConverseStreamRenderer,
    converse_response_from_message,
    converse_usage,
)

__all__ = [
    "ANTHROPIC_VERSION",
    "STOP_REASONS",
    "ConverseRenderError",
    "ConverseResponseBuilder",
    "ConverseStreamRenderer",
    "ConverseTranslation",
    "converse_response_from_message",
    "converse_to_anthropic",
    "converse_usage",
]
