"""Model invocation logging configuration: store, read and forget the ``loggingConfig``.

    PUT    /logging/modelinvocations   PutModelInvocationLoggingConfiguration    -> {}
    GET    /logging/modelinvocations   GetModelInvocationLoggingConfiguration    -> {"loggingConfig"?}
    DELETE /logging/modelinvocations   DeleteModelInvocationLoggingConfiguration -> {}

This module only validates and stores the configuration (per account and region, in the state
store); delivering log records is the invocation-logging component's job, which reads it with
``StateStore.get_logging_config``.

Validation follows the botocore ``LoggingConfig`` shape (lengths, required members, the role
ARN pattern, booleans) plus the naming rules AWS applies to the destinations: S3 bucket names
(3..63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit,
no ``..``) and CloudWatch log group names (``[.-_/#A-Za-z0-9]``). At least one destination
(``s3Config`` or ``cloudWatchConfig``) is required. Unknown members are dropped; the stored
JSON holds only modelled members.
Source: botocore bedrock 2023-04-20 ``LoggingConfig``, ``CloudWatchConfig``, ``S3Config``;
wire-protocol reference 4.5.
"""

from __future__ import annotations

import re
from typing import Any

from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.service.auth import Identity
from claude_bedrock.service.control_state import write as store_write
from claude_bedrock.service.control_input import Rule, Violations, json_object, typed_member
from claude_bedrock.service.http import Request
from claude_bedrock.service.state import ServiceState

_IP_ADDRESS = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
BUCKET_NAME = Rule(min=3, max=63, pattern=r"[a-z0-9][a-z0-9.-]*[a-z0-9]", required=True)
KEY_PREFIX = Rule(min=0, max=1024)
LOG_GROUP_NAME = Rule(min=1, max=512, pattern=r"[.\-_/#A-Za-z0-9]+", required=True)
ROLE_ARN = Rule(min=0, max=2048, pattern=r"arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+", required=True)
#: The boolean members of ``LoggingConfig``, in model order.
DELIVERY_FLAGS = (
    "textDataDeliveryEnabled",
    "imageDataDeliveryEnabled",
    "embeddingDataDeliveryEnabled",
    "videoDataDeliveryEnabled",
    "audioDataDeliveryEnabled",
)


#: S3's bucket naming rules beyond the botocore pattern (the wording of the messages is ours).
_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def _bucket_naming_rules_broken(bucket: str) -> list[str]:
    broken = []
    if ".." in bucket:
        broken.append("Member must not contain two adjacent periods")
    if _IP_ADDRESS.fullmatch(bucket):
        broken.append("Member must not be formatted as an IP address")
    for prefix in _RESERVED_BUCKET_PREFIXES:
        if bucket.startswith(prefix):
            broken.append(f"Member must not start with the reserved prefix '{prefix}'")
    for suffix in _RESERVED_BUCKET_SUFFIXES:
        if bucket.endswith(suffix):
            broken.append(f"Member must not end with the reserved suffix '{suffix}'")
    return broken


def _s3_config(value: Any, path: str, violations: Violations) -> dict[str, Any] | None:
    """botocore ``S3Config`` checked and normalized, or None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationException(f"Invalid type for '{path}': expected an object.")
    bucket = violations.check(typed_member(value, "bucketName", str, f"{path}.bucketName"), f"{path}.bucketName", BUCKET_NAME)
    prefix = violations.check(typed_member(value, "keyPrefix", str, f"{path}.keyPrefix"), f"{path}.keyPrefix", KEY_PREFIX)
    if isinstance(bucket, str):
        for broken in _bucket_naming_rules_broken(bucket):
            violations.messages.append(f"Value '{bucket}' at '{path}.bucketName' failed to satisfy constraint: {broken}")
    config: dict[str, Any] = {"bucketName": bucket}
    if prefix is not None:
        config["keyPrefix"] = prefix
    return config


def _cloudwatch_config(value: Any, violations: Violations) -> dict[str, Any] | None:
    """botocore ``CloudWatchConfig`` checked and normalized, or None when absent."""
    if value is None:
        return None
    path = "loggingConfig.cloudWatchConfig"
    if not isinstance(value, dict):
        raise ValidationException(f"Invalid type for '{path}': expected an object.")
    group = typed_member(value, "logGroupName", str, f"{path}.logGroupName")
    role = typed_member(value, "roleArn", str, f"{path}.roleArn")
    violations.check(group, f"{path}.logGroupName", LOG_GROUP_NAME)
    violations.check(role, f"{path}.roleArn", ROLE_ARN)
    config: dict[str, Any] = {"logGroupName": group, "roleArn": role}
    large = _s3_config(value.get("largeDataDeliveryS3Config"), f"{path}.largeDataDeliveryS3Config", violations)
    if large is not None:
        config["largeDataDeliveryS3Config"] = large
    return config


def normalize_logging_config(body: dict[str, Any]) -> dict[str, Any]:
    """The request's ``loggingConfig``, validated, with only modelled members.

    Raises: ValidationException listing every failure.
    """
    raw = typed_member(body, "loggingConfig", dict)
    violations = Violations()
    violations.check(raw, "loggingConfig", Rule(required=True))
    violations.raise_if_any()
    config: dict[str, Any] = {}
    cloudwatch = _cloudwatch_config(raw.get("cloudWatchConfig"), violations)
    s3 = _s3_config(raw.get("s3Config"), "loggingConfig.s3Config", violations)
    if cloudwatch is not None:
        config["cloudWatchConfig"] = cloudwatch
    if s3 is not None:
        config["s3Config"] = s3
    for flag in DELIVERY_FLAGS:
        value = typed_member(raw, flag, bool, f"loggingConfig.{flag}")
        if value is not None:
            config[flag] = value
    violations.raise_if_any()
    if cloudwatch is None and s3 is None:
        raise ValidationException("At least one of s3Config or cloudWatchConfig must be provided in loggingConfig.")
    return config


async def put_model_invocation_logging_configuration(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """PutModelInvocationLoggingConfiguration: replace this account and region's config."""
    config = normalize_logging_config(json_object(request))
    await store_write(state.store.put_logging_config, identity.account_id, identity.region, config)
    return 0, {}


async def get_model_invocation_logging_configuration(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """GetModelInvocationLoggingConfiguration: ``{}`` when logging is not configured."""
    config = state.store.get_logging_config(identity.account_id, identity.region)
    return 0, ({} if config is None else {"loggingConfig": config})


async def delete_model_invocation_logging_configuration(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """DeleteModelInvocationLoggingConfiguration: forget it (succeeds when none is set)."""
    await store_write(state.store.delete_logging_config, identity.account_id, identity.region)
    return 0, {}
