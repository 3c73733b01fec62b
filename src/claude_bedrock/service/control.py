"""The bedrock control-plane operation table (service ``bedrock``, API 2023-04-20, rest-json).

Each row is the botocore operation's HTTP method, ``requestUri`` and success status, with the
handler that serves it; ``create_app`` registers them on the router beside the runtime routes.
A test checks the table against botocore's ``service-2.json``. Handlers live in small modules
by topic, imported on first use: ``models_api`` (foundation models), ``profiles_api`` (inference profiles, tags),
``access_api`` (model access), ``logging_api`` (invocation logging configuration).

Path parameters arrive percent-decoded once by the router (ARNs contain ``%2F`` on the wire).
"""

from __future__ import annotations

from claude_bedrock.service.routes import LazyHandler, Route


def _route(method: str, uri: str, operation: str, handler: str, status: int = 200) -> Route:
    """``handler`` is ``"<module>.<function>"`` inside ``claude_bedrock.service``, imported on
    the first call (see ``routes.LazyHandler``)."""
    module, _, function = handler.partition(".")
    return Route(method, uri, operation, "json", LazyHandler(f"claude_bedrock.service.{module}:{function}"),
                 status=status)


CONTROL_ROUTES: list[Route] = [
    _route("GET", "/foundation-models", "ListFoundationModels", "models_api.list_foundation_models"),
    _route("GET", "/foundation-models/{modelIdentifier}", "GetFoundationModel", "models_api.get_foundation_model"),
    _route("GET", "/inference-profiles", "ListInferenceProfiles", "profiles_api.list_inference_profiles"),
    _route("POST", "/inference-profiles", "CreateInferenceProfile", "profiles_api.create_inference_profile", 201),
    _route(
        "GET", "/inference-profiles/{inferenceProfileIdentifier}", "GetInferenceProfile",
        "profiles_api.get_inference_profile",
    ),
    _route(
        "DELETE", "/inference-profiles/{inferenceProfileIdentifier}", "DeleteInferenceProfile",
        "profiles_api.delete_inference_profile",
    ),
    _route("POST", "/tagResource", "TagResource", "profiles_api.tag_resource"),
    _route("POST", "/untagResource", "UntagResource", "profiles_api.untag_resource"),
    _route("POST", "/listTagsForResource", "ListTagsForResource", "profiles_api.list_tags_for_resource"),
    _route(
        "GET", "/list-foundation-model-agreement-offers/{modelId}", "ListFoundationModelAgreementOffers",
        "access_api.list_foundation_model_agreement_offers",
    ),
    _route(
        "POST", "/create-foundation-model-agreement", "CreateFoundationModelAgreement",
        "access_api.create_foundation_model_agreement", 202,
    ),
    _route(
        "POST", "/delete-foundation-model-agreement", "DeleteFoundationModelAgreement",
        "access_api.delete_foundation_model_agreement", 202,
    ),
    _route(
        "GET", "/foundation-model-availability/{modelId}", "GetFoundationModelAvailability",
        "access_api.get_foundation_model_availability",
    ),
    _route(
        "POST", "/use-case-for-model-access", "PutUseCaseForModelAccess",
        "access_api.put_use_case_for_model_access", 201,
    ),
    _route(
        "GET", "/use-case-for-model-access", "GetUseCaseForModelAccess", "access_api.get_use_case_for_model_access"
    ),
    _route(
        "PUT", "/logging/modelinvocations", "PutModelInvocationLoggingConfiguration",
        "logging_api.put_model_invocation_logging_configuration",
    ),
    _route(
        "GET", "/logging/modelinvocations", "GetModelInvocationLoggingConfiguration",
        "logging_api.get_model_invocation_logging_configuration",
    ),
    _route(
        "DELETE", "/logging/modelinvocations", "DeleteModelInvocationLoggingConfiguration",
        "logging_api.delete_model_invocation_logging_configuration",
    ),
]

__all__ = ["CONTROL_ROUTES"]
