"""Gateway mode (``serve --upstream``) test set-up shared by the conformance modules: the
upstream is a second, strict claude-bedrock server holding the gateway's own credentials,
and the gateway in front of it is configured with the test callers' keys (``servers``)."""

from __future__ import annotations

import json
from typing import Any

from support.servers import ACCESS_KEY, CONFIG_TOML, REGION, SECRET_KEY

GATEWAY_KEY = "AKIDGATEWAYUPSTREAM1"
GATEWAY_SECRET = "gateway/secret+for/upstream0123456789"
UPSTREAM_ACCOUNT = "999988887777"
UPSTREAM_CONFIG = f"""
[server]
strict_auth = true

[[credentials]]
access_key_id = "{GATEWAY_KEY}"
secret_access_key = "{GATEWAY_SECRET}"
account_id = "{UPSTREAM_ACCOUNT}"
user_name = "gateway"
admin = true
"""
GLOBAL_SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
US_HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def gateway_config(upstream_url: str, secret: str = GATEWAY_SECRET) -> str:
    """The gateway's config: the test callers' keys, and the upstream with its credentials."""
    return CONFIG_TOML + f"""
[upstream]
endpoint = "{upstream_url}"
access_key_id = "{GATEWAY_KEY}"
secret_access_key = "{secret}"
"""


def invoke_body(text: str = "Hello through the gateway", max_tokens: int = 60, **fields: Any) -> bytes:
    """An InvokeModel body asking ``text``, with any other Messages ``fields``."""
    return json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": max_tokens,
                       "messages": [{"role": "user", "content": text}], **fields}).encode()


def boto3_runtime(url: str, key: str = ACCESS_KEY, secret: str = SECRET_KEY) -> Any:
    """A boto3 bedrock-runtime client for ``url`` that does not retry."""
    import boto3
    from botocore.config import Config

    return boto3.client("bedrock-runtime", endpoint_url=url, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
