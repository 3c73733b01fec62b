"""The client's sans-I/O core: choose the model ID, build and sign each operation's request.

Purpose: everything about a request that is not I/O. ``ClientCore`` turns method arguments
into a ``PreparedRequest`` (method, URL, raw path, headers, body) and signs it for a given
instant; the shells (``sync``, ``aio``) only move bytes. Responses are decoded by
``responses`` and ``streams``; the call sequence (retries included) is ``flow``.

Invariants:
  * Rule 1 - no I/O, no ambient state: the instant to sign at is an argument, the catalog
    is a loader callable (loaded on first need), credentials come in a ``ClientConfig``.
  * Rule 2 - a model ID is one path segment: it is percent-encoded with botocore's rule
    (``quote(id, safe="-._~")``: ``:`` -> ``%3A``, ``/`` -> ``%2F``), so application
    inference profile ARNs reach the server whole (wire-protocol reference 1.1, 11.2-11.3).
  * Rule 3 - we sign what botocore would sign for the same headers: every header we set
    except ``user-agent`` (botocore ``SIGNED_HEADERS_BLACKLIST``), plus ``x-amz-date`` and
    ``x-amz-security-token``; the payload hash is SHA-256 of the body (reference 6.1). The
    signature is composed from ``wire.sigv4``'s step functions (canonical URI, query and
    headers, string to sign, key derivation, signature) - the same ones the server verifies
    with - with request headers that are already lower-case and unique, which is cheaper
    than the general ``sigv4.sign``; a test checks the result against botocore.
  * Rule 4 - a model alias or Anthropic name is resolved through the catalog for the
    client's region and endpoint type, and refused with ``ModelNotAvailableError`` when the
    seed table forbids it, before any request. Bedrock IDs and ARNs (anything with a ``.``
    or starting ``arn:``) are sent exactly as given.

Operations (wire-protocol reference 1, 4, 5)::

    InvokeModel                    POST /model/{modelId}/invoke                  runtime  bedrock
    InvokeModelWithResponseStream  POST /model/{modelId}/invoke-with-response-stream
    Converse / ConverseStream      POST /model/{modelId}/converse[-stream]
    CountTokens                    POST /model/{modelId}/count-tokens
    ListFoundationModels           GET  /foundation-models?byProvider=...          control  bedrock
    GetFoundationModel             GET  /foundation-models/{modelIdentifier}
    GetCallerIdentity              POST /  (form Action=GetCallerIdentity)         sts      sts
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlencode, urlsplit

from claude_bedrock import __version__
from claude_bedrock.client.config import ApiKey, ClientConfig
from claude_bedrock.client.errors import ConfigurationError, ModelNotAvailableError
from claude_bedrock.client.types import PricingContext
from claude_bedrock.wire import sigv4

if TYPE_CHECKING:
    from claude_bedrock.domain.catalog import Catalog, CatalogModel, Resolution

__all__ = [
    "ANTHROPIC_VERSION", "OPERATIONS", "CONVERSE_FIELDS", "EndpointChoice", "ModelDeprecationWarning",
    "ModelChoice", "Operation", "PreparedRequest", "ClientCore", "model_path_segment",
]  # fmt: skip

#: The ``anthropic_version`` Bedrock documents (our server also accepts the 2.x SDK's value).
ANTHROPIC_VERSION = "bedrock-2023-05-31"
JSON = "application/json"
EVENTSTREAM = "application/vnd.amazon.eventstream"
USER_AGENT = f"claude-bedrock/{__version__} Python/{sys.version_info[0]}.{sys.version_info[1]}"
#: botocore never signs these (``botocore.auth.SIGNED_HEADERS_BLACKLIST``).
_UNSIGNED_HEADERS = frozenset(
    {
        "baggage", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization",
        "te", "traceparent", "tracestate", "trailer", "transfer-encoding", "upgrade", "user-agent",
        "x-amzn-trace-id",
    }
)  # fmt: skip
_STS_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

EndpointChoice = Literal["global", "regional"]
ServiceName = Literal["runtime", "control", "sts"]


class ModelDeprecationWarning(FutureWarning):
    """The chosen model is deprecated (LEGACY): it still answers, plan a migration.

    A ``FutureWarning`` (Python's category for deprecations meant for end users), so it shows
    by default wherever the call is made, not only in ``__main__``."""


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    method: str
    service: ServiceName
    path: str  # after the base URL's own path; ``{}`` marks the one path label
    signing_name: str
    stream: bool = False


OPERATIONS: Mapping[str, Operation] = MappingProxyType(
    {
        op.name: op
        for op in (
            Operation("InvokeModel", "POST", "runtime", "/model/{}/invoke", "bedrock"),
            Operation(
                "InvokeModelWithResponseStream", "POST", "runtime", "/model/{}/invoke-with-response-stream",
                "bedrock", stream=True,
            ),  # fmt: skip
            Operation("Converse", "POST", "runtime", "/model/{}/converse", "bedrock"),
            Operation("ConverseStream", "POST", "runtime", "/model/{}/converse-stream", "bedrock", stream=True),
            Operation("CountTokens", "POST", "runtime", "/model/{}/count-tokens", "bedrock"),
            Operation("ListFoundationModels", "GET", "control", "/foundation-models", "bedrock"),
            Operation("GetFoundationModel", "GET", "control", "/foundation-models/{}", "bedrock"),
            Operation("GetCallerIdentity", "POST", "sts", "/", "sts"),
        )
    }
)

#: ``models.list`` filter keyword -> query parameter (botocore ``ListFoundationModelsRequest``).
LIST_MODELS_FILTERS: Mapping[str, str] = MappingProxyType(
    {
        "by_customization_type": "byCustomizationType",
        "by_output_modality": "byOutputModality",
        "by_inference_type": "byInferenceType",
        "project_identifier": "projectIdentifier",
    }
)

#: Converse keyword argument -> wire member (botocore ``ConverseRequest``).
CONVERSE_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "messages": "messages",
        "system": "system",
        "inference_config": "inferenceConfig",
        "tool_config": "toolConfig",
        "guardrail_config": "guardrailConfig",
        "additional_model_request_fields": "additionalModelRequestFields",
        "additional_model_response_field_paths": "additionalModelResponseFieldPaths",
        "prompt_variables": "promptVariables",
        "request_metadata": "requestMetadata",
        "performance_config": "performanceConfig",
        "service_tier": "serviceTier",
        "output_config": "outputConfig",
        "project_identifier": "projectIdentifier",
    }
)


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """One request, unsigned. ``raw_path`` is exactly what goes on the wire (still encoded)."""

    operation: Operation
    origin: str  # scheme://host[:port]
    raw_path: str
    raw_query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def method(self) -> str:
        return self.operation.method

    @property
    def target(self) -> str:
        """The request target: raw path, then ``?query`` when there is one."""
        return f"{self.raw_path}?{self.raw_query}" if self.raw_query else self.raw_path

    @property
    def url(self) -> str:
        return self.origin + self.target


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The model ID a call sends and how its reply is priced.

    ``requested`` is what the caller passed; ``model_id`` what goes in the path;
    ``catalog_model`` / ``endpoint_type`` come from resolving ``model_id`` for the client's
    region (None when the catalog does not know it).
    """

    requested: str
    model_id: str
    catalog_model: CatalogModel | None = None
    endpoint_type: str | None = None

    @property
    def pricing(self) -> PricingContext | None:
        if self.catalog_model is None or self.endpoint_type is None:
            return None
        return PricingContext(self.catalog_model, self.endpoint_type)

    @property
    def deprecated(self) -> bool:
        return self.catalog_model is not None and self.catalog_model.is_deprecated


def model_path_segment(model_id: str) -> str:
    """The model ID as one percent-encoded path segment (botocore's rule, Rule 2)."""
    return quote(model_id, safe="-._~")


@dataclass(frozen=True, slots=True)
class _Base:
    """A base URL split for request building: ``origin`` + ``prefix`` + operation path."""

    origin: str  # scheme://netloc
    host: str  # Host header value (default port dropped)
    prefix: str  # path of the base URL, no trailing "/"

    @classmethod
    def parse(cls, url: str) -> _Base:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        default_port = {"http": ":80", "https": ":443"}.get(parts.scheme.lower(), "")
        host = netloc[: -len(default_port)] if default_port and netloc.endswith(default_port) else netloc
        return cls(f"{parts.scheme}://{netloc}", host, parts.path.rstrip("/"))


def _catalog_loader() -> Catalog:
    from claude_bedrock.domain.catalog import default_catalog

    return default_catalog()


class ClientCore:
    """Builds and signs requests for one client configuration (sans-I/O, thread-safe).

    Args:
        config: resolved credentials, region and base URLs.
        endpoint: default endpoint type for model aliases; None = global when the model has
            one, else regional.
        catalog: loader of the model catalog (default: the packaged one, loaded on first use).
        default_headers: headers added to every request (signed unless botocore never signs
            them).
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        endpoint: EndpointChoice | None = None,
        catalog: Callable[[], Catalog] | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        if endpoint not in (None, "global", "regional"):
            raise ConfigurationError(f"endpoint must be 'global' or 'regional', not {endpoint!r}.")
        self.config = config
        self.region = config.region
        self.endpoint = endpoint
        self._load_catalog = catalog or _catalog_loader
        self._bases = {service: _Base.parse(config.url_for(service)) for service in ("runtime", "control", "sts")}
        self._default_headers = tuple(_checked_header(k, v) for k, v in (default_headers or {}).items())
        self._keys = sigv4.SigningKeyCache(maxsize=8)
        self._canonical_uri = functools.lru_cache(maxsize=64)(sigv4.canonical_uri)
        self._choices: dict[tuple[str, str | None], ModelChoice] = {}

    @property
    def catalog(self) -> Catalog:
        return self._load_catalog()

    # -- models ---------------------------------------------------------------------------

    def choose_model(self, model: str, endpoint: EndpointChoice | None = None, *, warn_stacklevel: int = 0) -> ModelChoice:
        """The ``ModelChoice`` for ``model`` (Rule 4); warns when the model is deprecated.

        Args:
            warn_stacklevel: 1 when the caller's own code calls this method, plus one per frame
                in between, so the ``ModelDeprecationWarning`` points at the caller's line
                (0 = no warning).

        Raises:
            ModelNotAvailableError: an alias/name the catalog does not know, or one the table
                forbids on the endpoint type from this region; an empty model.
            ConfigurationError: ``endpoint`` is neither "global" nor "regional".
        """
        endpoint = endpoint or self.endpoint
        key = (model, endpoint)
        choice = self._choices.get(key)
        if choice is None:
            choice = self._choose(model, endpoint)
            if len(self._choices) < 256:
                self._choices[key] = choice
        if warn_stacklevel and choice.deprecated:
            assert choice.catalog_model is not None
            cm = choice.catalog_model
            since = f" since {cm.deprecated_on.isoformat()}" if cm.deprecated_on else ""
            warnings.warn(
                f"{cm.name} ({cm.model_id}) is deprecated{since}; it still answers, plan a migration.",
                ModelDeprecationWarning,
                stacklevel=warn_stacklevel + 1,
            )
        return choice

    def _choose(self, model: str, endpoint: EndpointChoice | None) -> ModelChoice:
        if not isinstance(model, str) or not model.strip():
            raise ModelNotAvailableError("model must be a non-empty string.", model=str(model), endpoint=endpoint,
                                         region=self.region)
        if endpoint not in (None, "global", "regional"):
            raise ConfigurationError(f"endpoint must be 'global' or 'regional', not {endpoint!r}.")
        catalog = self.catalog
        if model.startswith("arn:") or "." in model:
            resolution = self._resolve(catalog, model)
            if resolution is None:
                return ModelChoice(model, model)
            return ModelChoice(model, model, resolution.model, resolution.endpoint_type)
        from claude_bedrock.domain.errors import ValidationException

        found = catalog.find(model)
        if found is None:
            known = ", ".join(m.alias for m in catalog.models)
            close = catalog.closest_name(model)
            hint = f" (did you mean {close!r}?)" if close else ""
            raise ModelNotAvailableError(
                f"Unknown model {model!r}{hint}: use a catalog alias ({known}), an Anthropic model name, "
                "or a Bedrock model ID / ARN.",
                model=model, endpoint=endpoint, region=self.region,
            )  # fmt: skip
        chosen = endpoint or ("global" if found.availability["global"] else "regional")
        try:
            model_id = catalog.resolve_alias(model, chosen, self.region)
        except ValidationException as exc:
            raise ModelNotAvailableError(exc.message, model=model, endpoint=chosen, region=self.region) from None
        resolution = self._resolve(catalog, model_id)
        endpoint_type = resolution.endpoint_type if resolution is not None else chosen
        return ModelChoice(model, model_id, found, endpoint_type)

    def _resolve(self, catalog: Catalog, model_id: str) -> Resolution | None:
        from claude_bedrock.domain.errors import BedrockError

        try:
            return catalog.resolve(model_id, self.region)
        except BedrockError:
            return None

    def base_model_id(self, choice: ModelChoice) -> str:
        """The bare foundation-model ID CountTokens and GetFoundationModel accept, when known."""
        if choice.catalog_model is None or ":foundation-model/" in choice.model_id:
            return choice.model_id
        return choice.catalog_model.model_id

    # -- request building -------------------------------------------------------------------

    def _request(
        self,
        operation: Operation,
        label: str | None,
        headers: Iterable[tuple[str, str]],
        body: bytes = b"",
        query: str = "",
        extra_headers: Mapping[str, str] | None = None,
    ) -> PreparedRequest:
        base = self._bases[operation.service]
        path = operation.path.format(model_path_segment(label)) if label is not None else operation.path
        raw_path = base.prefix + path
        all_headers: dict[str, str] = {"host": base.host}
        for name, value in (*headers, *self._default_headers):
            all_headers[name] = value
        for name, value in (extra_headers or {}).items():
            name, value = _checked_header(name, value)
            all_headers[name] = value
        return PreparedRequest(operation, base.origin, raw_path, query, tuple(all_headers.items()), body)

    def invoke_request(
        self,
        choice: ModelChoice,
        params: Mapping[str, Any],
        *,
        stream: bool,
        betas: Sequence[str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> PreparedRequest:
        """InvokeModel / InvokeModelWithResponseStream with an Anthropic Messages body.

        ``params`` are the Messages fields (``max_tokens``, ``messages``, ``system``...); None
        values are dropped; ``anthropic_version`` is added when absent; ``betas`` (and any
        ``anthropic-beta`` extra header) go into body ``anthropic_beta`` and the
        ``anthropic-beta`` header, as the Anthropic SDKs do.
        """
        return self.invoke_request_for(choice.model_id, _given(params), stream=stream, betas=betas,
                                       extra_headers=extra_headers, extra_body=extra_body)

    def invoke_request_for(
        self,
        model_id: str,
        params: Mapping[str, Any],
        *,
        stream: bool,
        betas: Sequence[str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> PreparedRequest:
        """``invoke_request`` for a model ID and a body taken as they are: no catalog judgement,
        and ``null`` fields kept (the server's gateway relays its callers' bodies, for IDs it
        has resolved itself)."""
        body, all_betas = _messages_body(params, betas, extra_headers, extra_body)
        headers: list[tuple[str, str]] = [("content-type", JSON), ("user-agent", USER_AGENT)]
        if stream:
            headers += [("accept", EVENTSTREAM), ("x-amzn-bedrock-accept", JSON)]
        else:
            headers.append(("accept", JSON))
        if all_betas:
            headers.append(("anthropic-beta", ",".join(all_betas)))
        name = "InvokeModelWithResponseStream" if stream else "InvokeModel"
        return self._request(OPERATIONS[name], model_id, headers, _json(body), extra_headers=extra_headers)

    def converse_request(
        self,
        choice: ModelChoice,
        fields: Mapping[str, Any],
        *,
        stream: bool,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> PreparedRequest:
        """Converse / ConverseStream. ``fields`` use the keyword names of ``CONVERSE_FIELDS``.

        Raises:
            TypeError: an unknown field name.
        """
        body: dict[str, Any] = {}
        for name, value in fields.items():
            wire = CONVERSE_FIELDS.get(name)
            if wire is None:
                raise TypeError(f"converse() got an unexpected keyword argument {name!r}")
            if value is not None:
                body[wire] = value
        if extra_body:
            body.update(extra_body)
        headers = [("content-type", JSON), ("user-agent", USER_AGENT), ("accept", EVENTSTREAM if stream else JSON)]
        name = "ConverseStream" if stream else "Converse"
        return self._request(OPERATIONS[name], choice.model_id, headers, _json(body), extra_headers=extra_headers)

    def count_tokens_request(
        self,
        choice: ModelChoice,
        params: Mapping[str, Any],
        *,
        betas: Sequence[str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> PreparedRequest:
        """CountTokens with the ``invokeModel`` input form: the base64 of the exact body that
        InvokeModel would get (``betas`` in its ``anthropic_beta``, as for ``invoke_request``).
        The path carries the bare foundation-model ID (Bedrock refuses profile IDs here), and
        ``max_tokens`` defaults to the model's maximum output with the betas asked for (the
        ``output-128k`` beta raises it), so that a thinking budget is judged as ``create``
        would judge it."""
        params = _given(params)
        if "max_tokens" not in params:
            from claude_bedrock.domain.validation import max_output_tokens

            model = choice.catalog_model
            asked = _messages_body(params, betas, extra_headers, extra_body)[0].get("anthropic_beta")
            params["max_tokens"] = (max_output_tokens(model, asked if isinstance(asked, list) else ())
                                    if model is not None else 4096)
        return self.count_tokens_request_for(self.base_model_id(choice), params, betas=betas,
                                             extra_headers=extra_headers, extra_body=extra_body)

    def count_tokens_request_for(
        self,
        model_id: str,
        params: Mapping[str, Any],
        *,
        betas: Sequence[str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> PreparedRequest:
        """``count_tokens_request`` for a bare model ID and a body taken as they are (``params``
        with its ``max_tokens``; ``null`` fields kept)."""
        body, _ = _messages_body(params, betas, extra_headers, extra_body)
        envelope = {"input": {"invokeModel": {"body": base64.b64encode(_json(body)).decode("ascii")}}}
        headers = [("content-type", JSON), ("user-agent", USER_AGENT), ("accept", JSON)]
        return self._request(OPERATIONS["CountTokens"], model_id, headers, _json(envelope), extra_headers=extra_headers)

    def list_models_request(self, by_provider: str | None = "anthropic", **filters: str) -> PreparedRequest:
        """ListFoundationModels; ``filters`` by Python or wire name (``by_output_modality`` or
        ``byOutputModality``...).

        Raises:
            TypeError: a filter ListFoundationModels does not have (AWS would ignore it silently).
        """
        query_items = [("byProvider", by_provider)] if by_provider else []
        for name, value in sorted(filters.items()):
            wire = LIST_MODELS_FILTERS.get(name, name)
            if wire not in LIST_MODELS_FILTERS.values():
                known = ", ".join(["by_provider", *LIST_MODELS_FILTERS])
                raise TypeError(f"models.list() got an unexpected filter {name!r} (filters: {known}).")
            query_items.append((wire, value))
        headers = [("accept", JSON), ("user-agent", USER_AGENT)]
        return self._request(OPERATIONS["ListFoundationModels"], None, headers, query=urlencode(query_items))

    def get_model_request(self, model_id: str) -> PreparedRequest:
        headers = [("accept", JSON), ("user-agent", USER_AGENT)]
        return self._request(OPERATIONS["GetFoundationModel"], model_id, headers)

    def caller_identity_request(self) -> PreparedRequest:
        headers = [("content-type", "application/x-www-form-urlencoded; charset=utf-8"), ("user-agent", USER_AGENT)]
        return self._request(OPERATIONS["GetCallerIdentity"], None, headers, _STS_BODY)

    # -- signing ----------------------------------------------------------------------------

    def sign(self, request: PreparedRequest, now: datetime) -> tuple[tuple[str, str], ...]:
        """The headers to send: the request's plus authentication for instant ``now`` (UTC).

        Raises:
            ConfigurationError: no credentials, or an API key used for STS (which only
                accepts SigV4).
        """
        auth = self.config.auth
        if auth is None:
            raise ConfigurationError(
                "No AWS credentials found: pass aws_access_key/aws_secret_key or api_key, set "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_BEARER_TOKEN_BEDROCK, or configure a "
                "profile in ~/.aws/credentials."
            )
        if isinstance(auth, ApiKey):
            if request.operation.signing_name == "sts":
                raise ConfigurationError("STS (whoami) needs AWS keys; a Bedrock API key cannot call it.")
            return (*request.headers, ("authorization", f"Bearer {auth.token}"))
        amz_date = now.strftime(_AMZ_DATE_FORMAT)
        added = [("X-Amz-Date", amz_date)]
        if auth.session_token is not None:
            added.append(("X-Amz-Security-Token", auth.session_token))
        headers = [*request.headers, *((name.lower(), value) for name, value in added)]
        names = sorted(name for name, _ in headers if name not in _UNSIGNED_HEADERS)
        signed_names = ";".join(names)
        canonical = "\n".join(
            (
                request.method,
                self._canonical_uri(request.raw_path),
                sigv4.canonical_query(request.raw_query),
                sigv4.canonical_headers(headers, names) + "\n" + signed_names,
                hashlib.sha256(request.body).hexdigest(),
            )
        )
        service = request.operation.signing_name
        scope = f"{amz_date[:8]}/{self.region}/{service}/{sigv4.SCOPE_TERMINATOR}"
        key = self._keys.get(auth.secret_key, amz_date[:8], self.region, service)
        signature = sigv4.signature(key, sigv4.string_to_sign(amz_date, scope, canonical))
        authorization = (
            f"{sigv4.ALGORITHM} Credential={auth.access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )
        return (*request.headers, *added, ("Authorization", authorization))


def _checked_header(name: str, value: str) -> tuple[str, str]:
    """A caller-supplied header, lower-cased; CR, LF and NUL would forge the request (refused)."""
    if not isinstance(name, str) or not isinstance(value, str):
        raise TypeError(f"header names and values must be str, not {name!r}: {value!r}")
    if not name or any(c in name for c in "\r\n\0: ") or any(c in value for c in "\r\n\0"):
        raise ValueError(f"invalid HTTP header {name!r}: {value!r}")
    return name.lower(), value.strip()


def _messages_body(
    params: Mapping[str, Any],
    betas: Sequence[str] | None,
    extra_headers: Mapping[str, str] | None,
    extra_body: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], list[str]]:
    """An InvokeModel body from Messages fields (``anthropic_version`` added), with ``betas``
    and any ``anthropic-beta`` extra header in ``anthropic_beta``, then ``extra_body``; and the
    betas, for the ``anthropic-beta`` header."""
    body = dict(params)
    body.setdefault("anthropic_version", ANTHROPIC_VERSION)
    all_betas = list(betas or ())
    header_betas = _header(extra_headers, "anthropic-beta")
    if header_betas:
        all_betas += [b.strip() for b in header_betas.split(",") if b.strip() and b.strip() not in all_betas]
    if all_betas:
        body.setdefault("anthropic_beta", all_betas)
    if extra_body:
        body.update(extra_body)
    return body, all_betas


def _given(params: Mapping[str, Any]) -> dict[str, Any]:
    """The Messages fields a caller of the SDK-style methods gave: None means not given."""
    return {key: value for key, value in params.items() if value is not None}


def _reply_object_json(value: Any) -> Any:
    """The JSON of a reply's typed object sent back in a request: the tool-use loop's
    ``{"role": "assistant", "content": message.content}``, which the Anthropic SDK accepts;
    and of binary data (``bytes``, ``bytearray``, ``memoryview``), which JSON carries as
    base64: Converse's blob members (``source.bytes``, as botocore encodes them) and a
    Messages ``source.data``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    to_dict = getattr(value, "to_dict", None)
    if to_dict is None:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
    return to_dict()


_JSON_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_reply_object_json)


def _json(value: Any) -> bytes:
    return _JSON_ENCODER.encode(value).encode("utf-8")


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
