"""Inference profiles and their tags (bedrock control plane).

    GET    /inference-profiles                 ListInferenceProfiles  (maxResults, nextToken, type)
    GET    /inference-profiles/{id}            GetInferenceProfile    (profile ID or ARN)
    POST   /inference-profiles          201    CreateInferenceProfile (application profiles)
    DELETE /inference-profiles/{id}            DeleteInferenceProfile (application profiles)
    POST   /tagResource, /untagResource, /listTagsForResource   (application profiles)

Two kinds of profile:

* SYSTEM_DEFINED: ``<column>.<base model id>`` for every cell of the seed table that the
  caller's region may use (``Catalog.system_profiles``), ARN
  ``arn:aws:bedrock:<caller region>:<caller account>:inference-profile/<id>``, ``models`` =
  the foundation-model ARN in each destination region. Read-only.
* APPLICATION: created by the caller around a foundation-model ARN or a system profile ARN
  of its own region (``modelSource.copyFrom``); ID = 12 lowercase alphanumerics, ARN
  ``...:application-inference-profile/<id>``; ``models`` copied from the source. Stored per
  account and region; usable as a model ID in every runtime operation through
  ``ServiceState.application_profile_target``.

Listing: without ``typeEquals`` (wire ``type``) only SYSTEM_DEFINED profiles are listed, as on
AWS (aws/aws-cli#9728, reproduced by the CLI team; hashicorp/terraform-provider-aws#42959):
application profiles need ``typeEquals=APPLICATION``. Order is stable: system profiles in
catalog order, application profiles oldest first. ``nextToken`` is opaque and continues one
listing (one ``typeEquals``): an offset into the system profiles, the last profile listed for
application ones (a profile deleted between two pages makes the next one skip no other); a bad
token, or one the other listing handed out, is a ValidationException.
Source: botocore bedrock 2023-04-20 ``InferenceProfileSummary``, ``CreateInferenceProfileRequest``,
``TagResourceRequest``; wire-protocol reference 4.3, 4.4.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from claude_bedrock.service.control_state import (
    ApplicationProfileRecord,
    StoreConflict,
    TooManyTags,
    write as store_write,
)
from claude_bedrock.domain.catalog import ParsedArn, SystemProfile, parse_bedrock_arn
from claude_bedrock.domain.errors import (
    ConflictException,
    ResourceNotFoundException,
    TooManyTagsException,
    ValidationException,
)
from claude_bedrock.service.auth import Identity
from claude_bedrock.service.control_input import (
    Rule,
    Violations,
    integer_param,
    iso_timestamp,
    json_object,
    paginate,
    query_params,
    typed_member,
)
from claude_bedrock.service.http import Request
from claude_bedrock.service.models_api import PROJECT_IDENTIFIER, offered_in
from claude_bedrock.service.state import ServiceState

MAX_TAGS = 200
DEFAULT_PAGE_SIZE = 1000
PROFILE_ID_CHARS = 12
_PROFILE_ID_ALPHABET = string.ascii_lowercase + string.digits

#: Profile name prefixes by table column (field dumps: "US Anthropic Claude 3 Haiku",
#: "Global Claude Sonnet 4.5").
_NAME_FORMATS = {
    "global": "Global {name}",
    "us": "US Anthropic {name}",
    "eu": "EU Anthropic {name}",
    "jp": "JP Anthropic {name}",
    "apac": "APAC Anthropic {name}",
}

# botocore shapes of the request members.
LIST_RULES = {
    "maxResults": Rule(min=1, max=1000),
    "nextToken": Rule(min=1, max=2048, pattern=r"\S*"),
    "type": Rule(enum=("SYSTEM_DEFINED", "APPLICATION")),
    "projectIdentifier": PROJECT_IDENTIFIER,
}
PROFILE_IDENTIFIER = Rule(
    min=1, max=2048,
    pattern=(
        r"(arn:aws(|-us-gov|-cn|-iso|-iso-b):bedrock:(|[0-9a-z-]{0,20}):(|[0-9]{12}):"
        r"(inference-profile|application-inference-profile)/)?[a-zA-Z0-9-:.]+"
    ),
)
CREATE_RULES = {
    "inferenceProfileName": Rule(min=1, max=64, pattern=r"([0-9a-zA-Z][ _-]?)+", required=True),
    "description": Rule(min=1, max=200, pattern=r"([0-9a-zA-Z:.][ _-]?)+"),
    "clientRequestToken": Rule(min=1, max=256, pattern=r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?"),
    "modelSource": Rule(required=True),
    "tags": Rule(min=0, max=MAX_TAGS),
}
MODEL_SOURCE_ARN = Rule(
    min=1, max=2048, required=True,
    pattern=(
        r"arn:aws(|-us-gov|-cn|-iso|-iso-b):bedrock:(|[0-9a-z-]{0,20}):(|[0-9]{12}):"
        r"(inference-profile|foundation-model)/[a-zA-Z0-9-:.]+"
    ),
)
TAG_KEY = Rule(min=1, max=128, pattern=r"[a-zA-Z0-9\s._:/=+@-]*", required=True)
TAG_VALUE = Rule(min=0, max=256, pattern=r"[a-zA-Z0-9\s._:/=+@-]*", required=True)
#: botocore ``TaggableResourcesArn`` (botocore checks only its length; the pattern is the
#: service's: a foundation-model or non-Bedrock ARN is a ValidationException).
RESOURCE_ARN = Rule(
    min=20, max=1011, required=True,
    pattern=(
        r".*(^[a-zA-Z0-9][a-zA-Z0-9\-]*$)|"
        r"(^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:custom-model/(imported)/[a-z0-9]{12}$)|"
        r"(^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:([0-9]{12}|)("
        r"(:(fine-tuning-job|model-customization-job|custom-model)/[a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}"
        r"([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2}(/[a-z0-9]{12})$)"
        r"|(:guardrail/[a-z0-9]+$)"
        r"|(:automated-reasoning-policy/[a-zA-Z0-9]+(:[a-zA-Z0-9]+)?$)"
        r"|(:(inference-profile|application-inference-profile)/[a-zA-Z0-9-:.]+$)"
        r"|(:project/(proj_[a-z2-7]{20}|default)$)"
        r"|(:(provisioned-model|model-invocation-job|model-evaluation-job|evaluation-job|model-import-job"
        r"|imported-model|async-invoke|provisioned-model-v2|provisioned-model-reservation|prompt-router"
        r"|custom-model-deployment)/[a-z0-9]{12}$))).*"
    ),
)


def _join_regions(regions: tuple[str, ...]) -> str:
    return regions[0] if len(regions) == 1 else f"{', '.join(regions[:-1])} and {regions[-1]}"


def system_profile_body(profile: SystemProfile, identity: Identity) -> dict[str, Any]:
    """botocore ``InferenceProfileSummary`` of a system-defined profile, seen by ``identity``."""
    model = profile.model
    if profile.geography == "global":
        description = f"Routes requests to {model.name} globally across all supported AWS Regions."
    else:
        description = f"Routes requests to {model.name} in {_join_regions(profile.destination_regions)}."
    created = iso_timestamp(model.released_on)
    return {
        "inferenceProfileName": _NAME_FORMATS[profile.geography].format(name=model.name),
        "description": description,
        "createdAt": created,
        "updatedAt": created,
        "inferenceProfileArn": (
            f"arn:aws:bedrock:{identity.region}:{identity.account_id}:inference-profile/{profile.profile_id}"
        ),
        "models": [{"modelArn": model.foundation_model_arn(region)} for region in profile.destination_regions],
        "inferenceProfileId": profile.profile_id,
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }


def application_profile_body(record: ApplicationProfileRecord) -> dict[str, Any]:
    """botocore ``InferenceProfileSummary`` of an application profile."""
    body: dict[str, Any] = {"inferenceProfileName": record.name}
    if record.description is not None:
        body["description"] = record.description
    body.update(
        createdAt=iso_timestamp(record.created_at),
        updatedAt=iso_timestamp(record.updated_at),
        inferenceProfileArn=record.arn,
        models=[{"modelArn": arn} for arn in record.models],
        inferenceProfileId=record.profile_id,
        status="ACTIVE",
        type="APPLICATION",
    )
    return body


def _not_found(identifier: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"The inference profile {identifier} was not found.")


def _find_profile(state: ServiceState, identity: Identity, identifier: str) -> dict[str, Any]:
    """The profile named by an ID or ARN (already checked against ``PROFILE_IDENTIFIER``), as a
    response body; ResourceNotFoundException if none."""
    application = _find_application(state, identity, identifier)
    if application is not None:
        return application_profile_body(application)
    profile_id = identifier
    if identifier.startswith("arn:"):
        arn = parse_bedrock_arn(identifier)
        if arn is None or arn.resource_type != "inference-profile" or not _is_callers(arn, identity):
            raise _not_found(identifier)
        profile_id = arn.resource_id
    profile = state.catalog.get_system_profile(profile_id, identity.region)
    if profile is None:
        state.warn_of_unknown_region(identity.region)
        raise _not_found(identifier)
    return system_profile_body(profile, identity)


def _is_callers(arn: ParsedArn, identity: Identity) -> bool:
    return arn.region == identity.region and arn.account == identity.account_id


def _find_application(state: ServiceState, identity: Identity, identifier: str) -> ApplicationProfileRecord | None:
    """The caller's application profile named by its ID or ARN, else None."""
    profile_id = identifier
    if identifier.startswith("arn:"):
        arn = parse_bedrock_arn(identifier)
        if arn is None or arn.resource_type != "application-inference-profile" or not _is_callers(arn, identity):
            return None
        profile_id = arn.resource_id
    if len(profile_id) != PROFILE_ID_CHARS:
        return None
    return state.store.get_application_profile(identity.account_id, identity.region, profile_id)


# -- handlers -----------------------------------------------------------------------------------


async def list_inference_profiles(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """ListInferenceProfiles: one page of the profiles of the requested type (SYSTEM_DEFINED
    when ``type`` is absent)."""
    query = query_params(request)
    values: dict[str, Any] = dict(query)
    values["maxResults"] = integer_param(query, "maxResults")
    violations = Violations()
    violations.check_all(values, LIST_RULES)
    violations.raise_if_any()
    listing = query.get("type", "SYSTEM_DEFINED")
    if listing == "SYSTEM_DEFINED":
        state.warn_of_unknown_region(identity.region)
        items = [system_profile_body(p, identity) for p in state.catalog.system_profiles(identity.region)]
        page, next_token = paginate(items, values["maxResults"], query.get("nextToken"), DEFAULT_PAGE_SIZE,
                                    listing)
    else:
        # Paged by the store's order (created_at, profile_id): a profile deleted between two
        # pages must not make the next one skip another.
        records = state.store.list_application_profiles(identity.account_id, identity.region)
        chosen, next_token = paginate(records, values["maxResults"], query.get("nextToken"), DEFAULT_PAGE_SIZE,
                                      listing, key=lambda r: (r.created_at, r.profile_id))
        page = [application_profile_body(r) for r in chosen]
    body: dict[str, Any] = {"inferenceProfileSummaries": page}
    if next_token is not None:
        body["nextToken"] = next_token
    return 0, body


async def get_inference_profile(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """GetInferenceProfile by ID or ARN (system or application)."""
    identifier = params["inferenceProfileIdentifier"]
    violations = Violations()
    violations.check(identifier, "inferenceProfileIdentifier", PROFILE_IDENTIFIER)
    violations.check(query_params(request).get("projectIdentifier"), "projectIdentifier", PROJECT_IDENTIFIER)
    violations.raise_if_any()
    return 0, _find_profile(state, identity, identifier)


def _source_models(state: ServiceState, identity: Identity, source: str) -> tuple[str, ...]:
    """Destination model ARNs of a ``copyFrom`` ARN; ValidationException when it is unusable."""
    arn = parse_bedrock_arn(source)
    models: tuple[str, ...] = ()
    if arn is not None and arn.region == identity.region:
        if arn.resource_type == "foundation-model" and not arn.account:
            model = state.catalog.get(arn.resource_id)
            if model is not None and offered_in(state.catalog, model, identity.region):
                models = (model.foundation_model_arn(identity.region),)
        elif arn.resource_type == "inference-profile" and arn.account == identity.account_id:
            profile = state.catalog.get_system_profile(arn.resource_id, identity.region)
            if profile is not None:
                models = tuple(profile.model.foundation_model_arn(r) for r in profile.destination_regions)
    if not models:
        raise ValidationException(
            f"The model source {source} is not a foundation model or system-defined inference profile "
            f"available in {identity.region}."
        )
    return models


def _read_tags(body: dict[str, Any], name: str, violations: Violations) -> dict[str, str]:
    """``[{"key", "value"}]`` (botocore ``TagList``) as a dict, constraints recorded."""
    tags = typed_member(body, name, list) or []
    result: dict[str, str] = {}
    for index, tag in enumerate(tags, start=1):
        if not isinstance(tag, dict):
            raise ValidationException(f"Invalid type for '{name}.{index}': expected an object.")
        key = typed_member(tag, "key", str, f"{name}.{index}.member.key")
        value = typed_member(tag, "value", str, f"{name}.{index}.member.value")
        violations.check(key, f"{name}.{index}.member.key", TAG_KEY)
        violations.check(value, f"{name}.{index}.member.value", TAG_VALUE)
        if isinstance(key, str) and isinstance(value, str):
            result[key] = value
    return result


async def create_inference_profile(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """CreateInferenceProfile (201): an application profile wrapping a model or system profile."""
    body = json_object(request)
    for name in ("inferenceProfileName", "description", "clientRequestToken"):
        typed_member(body, name, str)
    source = typed_member(body, "modelSource", dict)
    violations = Violations()
    violations.check_all(body, CREATE_RULES)
    tags = _read_tags(body, "tags", violations)
    copy_from = None
    if source is not None:
        if set(source) != {"copyFrom"}:
            raise ValidationException("modelSource must contain exactly one member: copyFrom.")
        copy_from = violations.check(typed_member(source, "copyFrom", str, "modelSource.copyFrom"),
                                     "modelSource.copyFrom", MODEL_SOURCE_ARN)
    violations.raise_if_any()
    assert copy_from is not None
    models = _source_models(state, identity, copy_from)
    name = body["inferenceProfileName"]
    for _attempt in range(5):  # a fresh random ID collides with odds ~1e-18; retry anyway
        profile_id = "".join(secrets.choice(_PROFILE_ID_ALPHABET) for _ in range(PROFILE_ID_CHARS))
        try:
            record, _created = await store_write(
                state.store.create_application_profile,
                account_id=identity.account_id,
                region=identity.region,
                profile_id=profile_id,
                name=name,
                description=body.get("description"),
                source_arn=copy_from,
                models=models,
                client_token=body.get("clientRequestToken"),
                tags=tags,
                max_tags=MAX_TAGS,
            )
        except StoreConflict as conflict:
            if conflict.field == "name":
                raise ConflictException(f"An inference profile with the name {name} already exists.") from None
            continue
        except TooManyTags as exc:
            raise TooManyTagsException(_too_many_tags(exc), resourceName=exc.resource_arn) from None
        return 0, {"inferenceProfileArn": record.arn, "status": "ACTIVE"}
    raise ConflictException("Could not allocate an inference profile ID; retry the request.")


async def delete_inference_profile(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """DeleteInferenceProfile: application profiles only; system profiles cannot be deleted."""
    identifier = params["inferenceProfileIdentifier"]
    violations = Violations()
    violations.check(identifier, "inferenceProfileIdentifier", PROFILE_IDENTIFIER)
    violations.raise_if_any()
    record = _find_application(state, identity, identifier)
    if record is None:
        _find_profile(state, identity, identifier)  # raises ResourceNotFoundException if unknown
        raise ValidationException("System-defined inference profiles cannot be deleted.")
    if not await store_write(state.store.delete_application_profile, identity.account_id, identity.region,
                             record.profile_id):
        raise _not_found(identifier)  # deleted meanwhile, by another call or another server
    return 0, {}


def _too_many_tags(exc: TooManyTags) -> str:
    return f"The resource {exc.resource_arn} can't have more than {exc.limit} tags."


def _resource_arn(body: dict[str, Any], violations: Violations) -> str:
    """The ``resourceARN`` member, its constraints recorded in ``violations``."""
    arn = typed_member(body, "resourceARN", str)
    violations.check(arn, "resourceARN", RESOURCE_ARN)
    return arn or ""


def _require_profile(state: ServiceState, identity: Identity, arn: str) -> ApplicationProfileRecord:
    record = _find_application(state, identity, arn) if arn.startswith("arn:") else None
    if record is None:
        raise ResourceNotFoundException(f"The resource {arn} was not found.")
    return record


async def tag_resource(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """TagResource: add or overwrite tags of an application inference profile."""
    body = json_object(request)
    violations = Violations()
    arn = _resource_arn(body, violations)
    violations.check(body.get("tags"), "tags", Rule(min=0, max=MAX_TAGS, required=True))
    tags = _read_tags(body, "tags", violations)
    violations.raise_if_any()
    record = _require_profile(state, identity, arn)
    try:
        await store_write(state.store.tag_resource, identity.account_id, identity.region, record.arn, tags,
                          MAX_TAGS)
    except TooManyTags as exc:
        raise TooManyTagsException(_too_many_tags(exc), resourceName=arn) from None
    return 0, {}


async def untag_resource(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """UntagResource: remove tag keys (unknown keys are ignored)."""
    body = json_object(request)
    violations = Violations()
    arn = _resource_arn(body, violations)
    keys = typed_member(body, "tagKeys", list)
    violations.check(keys, "tagKeys", Rule(min=0, max=MAX_TAGS, required=True))
    for index, key in enumerate(keys or [], start=1):
        if not isinstance(key, str):
            raise ValidationException(f"Invalid type for 'tagKeys.{index}': expected a string.")
        violations.check(key, f"tagKeys.{index}.member", TAG_KEY)
    violations.raise_if_any()
    record = _require_profile(state, identity, arn)
    await store_write(state.store.untag_resource, identity.account_id, identity.region, record.arn,
                      list(keys or []))
    return 0, {}


async def list_tags_for_resource(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """ListTagsForResource: ``{"tags": [{"key", "value"}]}`` sorted by key."""
    body = json_object(request)
    violations = Violations()
    arn = _resource_arn(body, violations)
    violations.raise_if_any()
    record = _require_profile(state, identity, arn)
    tags = state.store.get_tags(identity.account_id, identity.region, record.arn)
    return 0, {"tags": [{"key": key, "value": value} for key, value in tags.items()]}
