"""The effort parameter: how eagerly the model spends output tokens (pure).

A request names it in ``output_config.effort`` (InvokeModel; Converse's ``outputConfig.effort``
arrives here as the same key, ``wire/converse_request.py``). Setting ``"high"`` behaves exactly
as leaving it out; lower levels spend fewer tokens on text, tool calls and thinking.

* ``check_effort`` judges it for the model. A model whose catalog entry lists no
  ``effort_levels`` refuses the parameter, with the Anthropic API's words, "This model does not
  support the effort parameter." (a 400 quoted in oratis/LISA#218, for Claude Haiku 4.5); a model
  that lists them refuses any other value in pydantic's literal wording, "output_config.effort:
  Input should be 'low', 'medium' or 'high'", Bedrock's answer for Claude Opus 4.5 quoted in
  coder/coder#25356 (``max`` and ``xhigh`` are later models' levels). ``null`` counts as absent,
  as the SDKs' ``Optional`` has it.
* ``requested_effort`` gives a judged request's level, or None.

Not judged (no reliable source for the rule or its wording): whether Bedrock still requires the
``effort-2025-11-24`` beta with the parameter (the launch documentation did; the current one
says no beta header is required), and how real Bedrock answers the parameter without it.

Source: Anthropic "Effort" (levels, "Setting effort to "high" produces exactly the same
behavior as omitting the effort parameter entirely", supported models: Claude Opus 4.5 in this
catalog); the anthropic SDK's ``OutputConfigParam.effort`` (the levels the API knows); botocore
``bedrock-runtime`` ``OutputConfig.effort`` (a free string of up to 16 characters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.domain.request_errors import api_error, one_of

__all__ = ["DEFAULT_EFFORT", "EFFORT_LEVELS", "EFFORT_UNSUPPORTED", "check_effort", "requested_effort"]

#: Every level the Messages API knows, lowest first (anthropic SDK ``OutputConfigParam``).
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
#: The level of a request that sets none ("Effort": high is the default).
DEFAULT_EFFORT = "high"
EFFORT_UNSUPPORTED = "This model does not support the effort parameter."


def requested_effort(body: Mapping[str, Any]) -> str | None:
    """The ``output_config.effort`` of ``body``, or None when it sets none."""
    config = body.get("output_config")
    return config.get("effort") if type(config) is dict else None  # a JSON body's objects are dicts


def check_effort(body: Mapping[str, Any], model: Any) -> None:
    """Judge ``output_config.effort`` for ``model`` (its ``effort_levels``, none by default).

    Raises:
        ValidationException: the model takes no effort, or not this level.
    """
    effort = requested_effort(body)
    if effort is None:
        return
    levels: tuple[str, ...] = getattr(model, "effort_levels", ())
    if not levels:
        raise ValidationException(EFFORT_UNSUPPORTED)
    if effort not in levels:
        raise api_error("output_config.effort", one_of(levels))
