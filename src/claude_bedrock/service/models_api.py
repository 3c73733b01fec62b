"""Foundation models: ListFoundationModels and GetFoundationModel (bedrock control plane).

    GET /foundation-models                      ListFoundationModels -> {"modelSummaries": [...]}
    GET /foundation-models/{modelIdentifier}    GetFoundationModel   -> {"modelDetails": {...}}

Invariants
    Rule 1: the answer is the catalog, seen from the caller's region: a model is listed (and
            found) when the region may call it through some endpoint (global, or one of the
            region's geographies says yes). From a US region that is every catalog model.
    Rule 2: ARNs carry the caller's region and an empty account
            (``arn:aws:bedrock:us-west-2::foundation-model/<id>``). An ARN asked of the server
            names the model in its own region only, as every ARN the server takes: one of
            another region or partition is not found here (ResourceNotFoundException).
    Rule 3: filters are checked against their botocore shapes first (enum and pattern failures
            are ValidationExceptions); ``byProvider`` compares case-insensitively.

``inferenceTypesSupported`` is the catalog's: ``["INFERENCE_PROFILE"]`` for current Claude
models, as real Bedrock answers (wire-protocol reference 4.1, 11.13).
Source: botocore bedrock 2023-04-20 ``FoundationModelSummary``, ``FoundationModelDetails``,
``ListFoundationModelsRequest``; wire-protocol reference 4.1, 4.2.
"""

from __future__ import annotations

from typing import Any, Callable

from claude_bedrock.domain.catalog import Catalog, CatalogModel, parse_bedrock_arn
from claude_bedrock.domain.errors import ResourceNotFoundException
from claude_bedrock.service.auth import Identity
from claude_bedrock.service.control_input import Rule, Violations, iso_timestamp, query_params
from claude_bedrock.service.http import Request
from claude_bedrock.service.state import ServiceState

MODEL_NOT_FOUND = "Could not resolve the foundation model from the provided model identifier."

#: botocore ``ProjectIdentifier``.
PROJECT_IDENTIFIER = Rule(
    min=1, max=2048,
    pattern=r"([a-zA-Z0-9_-]+|arn:aws(-[^:]+)?:bedrock:[0-9a-z-]{1,20}:[0-9]{12}:project/[a-zA-Z0-9_-]+)",
)
#: botocore ``GetFoundationModelIdentifier``.
MODEL_IDENTIFIER = Rule(
    min=1, max=2048,
    pattern=(
        r"(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}::foundation-model/[a-z0-9-]{1,63}[.]{1}"
        r"([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2})|([a-z0-9-]{1,63}[.]{1}"
        r"[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})"
    ),
)

ModelFilter = Callable[[CatalogModel, str], bool]

#: Query parameter (wire name) -> (botocore constraint, predicate on a catalog model).
LIST_FILTERS: dict[str, tuple[Rule, ModelFilter]] = {
    "byProvider": (Rule(pattern=r"[A-Za-z0-9- ]{1,63}"), lambda m, v: m.provider.lower() == v.lower()),
    "byCustomizationType": (
        Rule(enum=("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION")),
        lambda m, v: False,  # no Claude model on Bedrock supports customization
    ),
    "byOutputModality": (Rule(enum=("TEXT", "IMAGE", "EMBEDDING")), lambda m, v: v in m.output_modalities),
    "byInferenceType": (Rule(enum=("ON_DEMAND", "PROVISIONED")), lambda m, v: v in m.inference_types),
}


def offered_in(catalog: Catalog, model: CatalogModel, region: str) -> bool:
    """True when a caller in ``region`` can reach ``model`` through some endpoint."""
    geographies = catalog.geographies_of(region)
    if not geographies:
        return False
    return model.availability["global"] or any(model.availability[geo] for geo in geographies)


def model_summary(model: CatalogModel, region: str) -> dict[str, Any]:
    """botocore ``FoundationModelSummary`` (and ``FoundationModelDetails``, the same members)."""
    lifecycle: dict[str, Any] = {"status": model.lifecycle_status, "startOfLifeTime": iso_timestamp(model.released_on)}
    if model.deprecated_on is not None:
        lifecycle["legacyTime"] = iso_timestamp(model.deprecated_on)
    if model.retire_on is not None:
        lifecycle["endOfLifeTime"] = iso_timestamp(model.retire_on)
    return {
        "modelArn": model.foundation_model_arn(region),
        "modelId": model.model_id,
        "modelName": model.name,
        "providerName": model.provider,
        "inputModalities": list(model.input_modalities),
        "outputModalities": list(model.output_modalities),
        "responseStreamingSupported": True,
        "customizationsSupported": [],
        "inferenceTypesSupported": list(model.inference_types),
        "modelLifecycle": lifecycle,
    }


def find_offered_model(state: ServiceState, identifier: str, region: str) -> CatalogModel:
    """The catalog model named by a base model ID or foundation-model ARN, offered in ``region``.

    Raises: ResourceNotFoundException otherwise (also for an ARN of another region or partition).
    """
    model_id: str | None = identifier
    if identifier.startswith("arn:"):
        arn = parse_bedrock_arn(identifier)
        model_id = arn.resource_id if arn is not None and arn.region == region and not arn.account else None
    model = state.catalog.get(model_id) if model_id is not None else None
    if model is None or not offered_in(state.catalog, model, region):
        state.warn_of_unknown_region(region)
        raise ResourceNotFoundException(MODEL_NOT_FOUND)
    return model


async def list_foundation_models(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """ListFoundationModels: the catalog's models offered in the caller's region, filtered."""
    query = query_params(request)
    violations = Violations()
    for name, (rule, _) in LIST_FILTERS.items():
        violations.check(query.get(name), name, rule)
    violations.check(query.get("projectIdentifier"), "projectIdentifier", PROJECT_IDENTIFIER)
    violations.raise_if_any()
    state.warn_of_unknown_region(identity.region)
    active = [(predicate, query[name]) for name, (_, predicate) in LIST_FILTERS.items() if name in query]
    summaries = [
        model_summary(model, identity.region)
        for model in state.catalog.models
        if offered_in(state.catalog, model, identity.region)
        and all(predicate(model, value) for predicate, value in active)
    ]
    return 0, {"modelSummaries": summaries}


async def get_foundation_model(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """GetFoundationModel by base model ID or foundation-model ARN."""
    identifier = params["modelIdentifier"]
    violations = Violations()
    violations.check(identifier, "modelIdentifier", MODEL_IDENTIFIER)
    violations.check(query_params(request).get("projectIdentifier"), "projectIdentifier", PROJECT_IDENTIFIER)
    violations.raise_if_any()
    model = find_offered_model(state, identifier, identity.region)
    return 0, {"modelDetails": model_summary(model, identity.region)}
