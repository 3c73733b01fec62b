"""Testing toolkit: drive a claude-bedrock server from tests.

* ``BedrockAdmin``: Python client of the admin API (rules, faults, quotas, call history, reset).
* ``RecordedCall``: one recorded runtime call, for assertions.
* The pytest plugin (``claude_bedrock.testing.pytest_plugin``, registered as a ``pytest11``
  entry point) provides the fixtures ``bedrock_server``, ``bedrock``, ``bedrock_env``,
  ``bedrock_runtime``, ``bedrock_control`` and ``anthropic_bedrock``. See docs/testing.md.
"""

from claude_bedrock.testing.admin import AdminError, BedrockAdmin, RecordedCall

__all__ = ["AdminError", "BedrockAdmin", "RecordedCall"]
