"""Model access: the guide's "subscribe to the Anthropic models" step (bedrock control plane).

    GET  /list-foundation-model-agreement-offers/{modelId}        ListFoundationModelAgreementOffers
    POST /create-foundation-model-agreement               202     CreateFoundationModelAgreement
    POST /delete-foundation-model-agreement               202     DeleteFoundationModelAgreement
    GET  /foundation-model-availability/{modelId}                 GetFoundationModelAvailability
    POST /use-case-for-model-access                       201     PutUseCaseForModelAccess
    GET  /use-case-for-model-access                               GetUseCaseForModelAccess

Who may call which model is ``ServiceState.has_model_access`` (the rule is written there):
creating an agreement grants the model in the caller's account and region, deleting it
revokes, and without either the server setting ``model_access`` decides. Runtime calls to a
model without access fail with 403 AccessDeniedException "You don't have access to the model
with the specified model ID." (wire-protocol reference 3.3).

Each model has one public offer whose token is derived from the model ID, so it is stable
across restarts; CreateFoundationModelAgreement refuses any other token. Creating an agreement
that is already in effect succeeds again (202). Deleting when no access is in effect is a
ResourceNotFoundException. The use-case form is stored as given (base64 on the wire) and is
not required for agreements; it is kept once per account, whichever region it is submitted
from or read in (AWS user guide, "Access Amazon Bedrock foundation models": Anthropic's use
case details are submitted "once per account").

Source: botocore bedrock 2023-04-20 ``ListFoundationModelAgreementOffersResponse``, ``Offer``,
``GetFoundationModelAvailabilityResponse``, ``AcknowledgementFormDataBody``; wire-protocol
reference 4.6.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from decimal import Decimal
from typing import Any

from claude_bedrock.domain.catalog import CatalogModel
from claude_bedrock.domain.errors import ResourceNotFoundException, ValidationException
from claude_bedrock.service.auth import Identity
from claude_bedrock.service.control_state import write as store_write
from claude_bedrock.service.control_input import Rule, Violations, json_object, query_params, typed_member
from claude_bedrock.service.http import Request
from claude_bedrock.service.models_api import MODEL_NOT_FOUND, find_offered_model, offered_in
from claude_bedrock.service.state import ServiceState

LEGAL_TERMS_URL = "https://aws.amazon.com/legal/bedrock/third-party-models/"
REFUND_POLICY = "No refunds are offered for usage-based charges."
PRICE_UNIT = "1M tokens"

#: botocore ``BedrockModelId``.
MODEL_ID = Rule(
    min=0, max=140, required=True,
    pattern=(
        r"[a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}"
        r"([:][a-z0-9-]{1,63}){0,2}(/[a-z0-9]{12}|)"
    ),
)
OFFER_TYPE = Rule(enum=("ALL", "PUBLIC"))
OFFER_TOKEN = Rule(required=True)
#: botocore ``AcknowledgementFormDataBody`` (a blob: the length is of the decoded bytes).
FORM_DATA = Rule(min=10, max=16384, required=True)


def offer_token(model_id: str) -> str:
    """The token of ``model_id``'s public offer: opaque, stable, and specific to the model."""
    digest = hashlib.sha256(f"claude-bedrock offer\n{model_id}".encode()).digest()
    return "offer-" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _money(amount: Decimal) -> str:
    """``3.00``, ``0.25``, ``0.3125``: at least two decimals, no trailing noise."""
    text = format(amount.normalize(), "f")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def _endpoints_note(model: CatalogModel) -> str:
    """Which endpoints the card's prices are for (the guide: the 10% regional premium)."""
    if not model.availability["global"]:
        return "regional endpoints"
    if model.regional_premium:
        return "global endpoint; regional endpoints cost 10% more"
    return "global and regional endpoints"


def offer_body(model: CatalogModel) -> dict[str, Any]:
    """botocore ``Offer`` for ``model``: its token prices as the rate card (base prices: the
    global endpoint's, or the regional one's for a model without a global endpoint)."""
    rates = (("InputTokens", model.prices.input, "input"), ("OutputTokens", model.prices.output, "output"))
    endpoints = _endpoints_note(model)
    return {
        "offerId": "o-" + offer_token(model.model_id)[6:22].lower(),
        "offerToken": offer_token(model.model_id),
        "termDetails": {
            "usageBasedPricingTerm": {
                "rateCard": [
                    {
                        "dimension": dimension,
                        "price": _money(price),
                        "description": f"{model.name}: USD per million {kind} tokens ({endpoints})",
                        "unit": PRICE_UNIT,
                    }
                    for dimension, price, kind in rates
                ]
            },
            "legalTerm": {"url": LEGAL_TERMS_URL},
            "supportTerm": {"refundPolicyDescription": REFUND_POLICY},
        },
    }


def _model_id(value: Any, violations: Violations) -> str:
    violations.check(value, "modelId", MODEL_ID)
    violations.raise_if_any()
    return value.split("/", 1)[0]


async def list_foundation_model_agreement_offers(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """ListFoundationModelAgreementOffers: the model's single public offer."""
    violations = Violations()
    violations.check(query_params(request).get("offerType"), "offerType", OFFER_TYPE)
    model = find_offered_model(state, _model_id(params["modelId"], violations), identity.region)
    return 0, {"modelId": model.model_id, "offers": [offer_body(model)]}


async def create_foundation_model_agreement(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """CreateFoundationModelAgreement (202): grants the model in this account and region."""
    body = json_object(request)
    violations = Violations()
    token = violations.check(typed_member(body, "offerToken", str), "offerToken", OFFER_TOKEN)
    model = find_offered_model(state, _model_id(typed_member(body, "modelId", str), violations), identity.region)
    if token != offer_token(model.model_id):
        raise ValidationException(f"The offer token is not valid for model {model.model_id}.")
    await store_write(state.store.set_agreement, identity.account_id, identity.region, model.model_id,
                      granted=True, offer_token=token)
    return 0, {"modelId": model.model_id}


async def delete_foundation_model_agreement(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """DeleteFoundationModelAgreement (202): revokes the model in this account and region."""
    body = json_object(request)
    model = find_offered_model(state, _model_id(typed_member(body, "modelId", str), Violations()), identity.region)
    if not state.has_model_access(identity.account_id, identity.region, model.model_id):
        raise ResourceNotFoundException(f"No agreement is in effect for model {model.model_id}.")
    await store_write(state.store.set_agreement, identity.account_id, identity.region, model.model_id,
                      granted=False, offer_token=None)
    return 0, {}


async def get_foundation_model_availability(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """GetFoundationModelAvailability: agreement, authorization, entitlement and region status."""
    model_id = _model_id(params["modelId"], Violations())
    model = state.catalog.get(model_id)
    if model is None:
        raise ResourceNotFoundException(MODEL_NOT_FOUND)
    granted = state.has_model_access(identity.account_id, identity.region, model.model_id)
    return 0, {
        "modelId": model.model_id,
        "agreementAvailability": {"status": "AVAILABLE" if granted else "NOT_AVAILABLE"},
        "authorizationStatus": "AUTHORIZED",
        "entitlementAvailability": "AVAILABLE",
        "regionAvailability": "AVAILABLE" if offered_in(state.catalog, model, identity.region) else "NOT_AVAILABLE",
    }


async def put_use_case_for_model_access(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """PutUseCaseForModelAccess (201): store the form (base64 in JSON, 10..16384 bytes)."""
    encoded = typed_member(json_object(request), "formData", str)
    form: bytes | None = None
    if encoded is not None:
        try:
            form = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationException("formData must be base64-encoded.") from None
    violations = Violations()
    violations.check(form, "formData", FORM_DATA)
    violations.raise_if_any()
    assert form is not None
    await store_write(state.store.put_use_case, identity.account_id, form)
    return 0, {}


async def get_use_case_for_model_access(
    state: ServiceState, request: Request, identity: Identity, params: dict[str, str]
) -> tuple[int, Any]:
    """GetUseCaseForModelAccess: the stored form, or ResourceNotFoundException."""
    form = state.store.get_use_case(identity.account_id)
    if form is None:
        raise ResourceNotFoundException("No use case for model access has been submitted.")
    return 0, {"formData": base64.b64encode(form).decode()}
