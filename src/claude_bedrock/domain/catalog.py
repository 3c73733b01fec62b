"""The Claude model catalog: load and validate the packaged data file, resolve model identifiers.

The catalog is data (``domain/data/catalog.json``); this module only reads it, checks it and
indexes it. It is loaded once by whoever builds the application (``load_catalog()``, or the
cached ``default_catalog()``); nothing here runs at import time.

Invariants
    Rule 1: a catalog that loads is complete and consistent. Every field is type-checked and
            unknown fields are refused; the first problem raises ``CatalogError`` naming the JSON
            path of the bad field (``models[3].prices.input: expected a number``).
    Rule 2: every identifier a client may send resolves to exactly one ``Resolution`` or raises a
            typed AWS error; resolution is a few dict look-ups on indexes built at load time.
    Rule 3: amounts are ``Decimal`` parsed from the JSON text itself (never via float).

Identifier grammar (wire-protocol reference 1.1, 4.3, 4.4; catalog-facts "Models and endpoint
availability"). The identifier may arrive percent-encoded (botocore sends ``%3A``/``%2F``) or raw
(the Anthropic SDKs keep ``:``); it is percent-decoded exactly once.

    <base>                     bare base model ID -> regional endpoint (see "bare IDs" below)
    global.<base>              global endpoint, valid from any known region where the table says yes
    <geo>.<base>               geographic (CRIS) profile, geo in us/eu/jp/apac; valid only where the
                               table says yes AND the caller region is inside that geography
    arn:aws:bedrock:<region>::foundation-model/<base>                 like a bare base ID
    arn:aws:bedrock:<region>:<account>:inference-profile/<profile>    like the profile ID
    arn:aws:bedrock:<region>:<account>:application-inference-profile/<id>
                               looked up through the caller's ``app_profiles`` callback

ARN region must be the caller's region (an ARN names a resource of one region, as on AWS),
partition ``aws``, service ``bedrock``; a foundation-model ARN has an empty account field, profile
ARNs a 12-digit account equal to ``account_id`` when given.

Bare IDs (the seed: "remove the ``global.`` prefix" to use the regional endpoint). A bare base ID
is the regional endpoint of the caller region's geography. A region may sit in several
geographies (ap-northeast-1 is in jp and apac), so the rule is: take the caller region's
geographies in the fixed order us, eu, jp, apac (narrower Japan before wider Asia-Pacific); the
bare ID is valid if ANY of them has "yes" for the model, and routes to the FIRST such geography.
Real AWS refuses bare IDs of inference-profile-only models for on-demand use; that behaviour is
the opt-in ``strict_aws=True``.

Failures raise ``ValidationException("The provided model identifier is invalid.")`` (wire-protocol
reference 3.3) for: unknown ID, a "no" cell, a geo profile used from outside its geography, an
unknown caller or ARN region, a malformed ARN.

Source: seed 000_3a5ca855a212b51e.txt (model table), docs/catalog-facts.md,
docs/bedrock-wire-protocol.md 1.1, 3.3, 4.1, 4.3, 4.4.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import unquote

from claude_bedrock.domain.effort import EFFORT_LEVELS
from claude_bedrock.domain.errors import ResourceNotFoundException, ValidationException
from claude_bedrock.domain.region_name import REGION_NAME_RE

__all__ = [
    "ENDPOINT_COLUMNS",
    "GEOGRAPHIES",
    "INVALID_MODEL_IDENTIFIER",
    "Catalog",
    "CatalogError",
    "CatalogModel",
    "EndpointType",
    "IdentifierKind",
    "ModelPrices",
    "ParsedArn",
    "PricingRules",
    "Resolution",
    "SystemProfile",
    "parse_bedrock_arn",
    "build_catalog",
    "default_catalog",
    "load_catalog",
    "parse_catalog",
]

EndpointType = Literal["global", "regional"]
IdentifierKind = Literal[
    "base", "profile", "foundation_model_arn", "inference_profile_arn", "application_profile_arn"
]

#: Geographies in bare-ID routing priority order (see module docstring).
GEOGRAPHIES: tuple[str, ...] = ("us", "eu", "jp", "apac")
#: The five columns of the seed table, i.e. the profile prefixes.
ENDPOINT_COLUMNS: tuple[str, ...] = ("global", *GEOGRAPHIES)

INVALID_MODEL_IDENTIFIER = "The provided model identifier is invalid."
#: AWS's text for a bare ID of an inference-profile-only model (note the U+2019 apostrophe).
ON_DEMAND_UNSUPPORTED = (
    "Invocation of model ID {model_id} with on-demand throughput isn\u2019t supported. Retry your "
    "request with the ID or ARN of an inference profile that contains this model."
)
#: Text seen from AWS for end-of-life models (field observation; check).
END_OF_LIFE = (
    "This model version has reached the end of its life. "
    "Please refer to the AWS documentation for more details."
)
MAX_MODEL_IDENTIFIER_CHARS = 2048  # botocore InvokeModelIdentifier max length

_LIFECYCLE_STATUSES = ("ACTIVE", "LEGACY")
_INFERENCE_TYPES = ("ON_DEMAND", "INFERENCE_PROFILE", "PROVISIONED")
_INPUT_MODALITIES = ("TEXT", "IMAGE")
_OUTPUT_MODALITIES = ("TEXT",)
_MODEL_ID_RE = re.compile(r"[a-z0-9-]+\.[A-Za-z0-9.:-]{1,64}")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9.-]*")
_ACCOUNT_RE = re.compile(r"[0-9]{12}")
_SCHEMA_VERSION = 1

#: ARN resource type -> identifier kind.
_ARN_RESOURCE_KINDS: Mapping[str, IdentifierKind] = MappingProxyType(
    {
        "foundation-model": "foundation_model_arn",
        "inference-profile": "inference_profile_arn",
        "application-inference-profile": "application_profile_arn",
    }
)


@dataclass(frozen=True, slots=True)
class ParsedArn:
    region: str
    account: str
    resource_type: str
    resource_id: str


def parse_bedrock_arn(arn: str) -> ParsedArn | None:
    """``arn:aws:bedrock:<region>:<account>:<type>/<id>`` split into parts, or None (another
    partition or service, or no resource ID). The parts are not judged further."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[1] != "aws" or parts[2] != "bedrock":
        return None
    resource_type, _, resource_id = parts[5].partition("/")
    if not resource_id:
        return None
    return ParsedArn(parts[3], parts[4], resource_type, resource_id)


class CatalogError(Exception):
    """The catalog data is malformed. ``path`` is the JSON path of the bad field."""

    def __init__(self, path: str, message: str, *, source: str | None = None) -> None:
        self.path = path or "(root)"
        self.message = message
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{self.path}: {message}")


#: A catalog entry without these fields (an older custom catalog) gets Anthropic's usual values.
DEFAULT_PROMPT_CACHE_MIN_TOKENS = 1024
DEFAULT_QUOTA_OUTPUT_BURNDOWN = 1


@dataclass(frozen=True, slots=True)
class PricingRules:
    """Catalog-wide price rules (catalog-facts "Pricing"); multipliers apply to the input rate."""

    regional_premium_multiplier: Decimal
    cache_write_5m_multiplier: Decimal
    cache_write_1h_multiplier: Decimal
    cache_read_multiplier: Decimal
    long_context_threshold_tokens: int


@dataclass(frozen=True, slots=True)
class ModelPrices:
    """One model's prices in USD per million tokens at the global endpoint, plus the rules."""

    input: Decimal
    output: Decimal
    long_context_input: Decimal | None
    long_context_output: Decimal | None
    rules: PricingRules


@dataclass(frozen=True)
class CatalogModel:
    """One Claude model on Bedrock. Equality compares every field; the hash is ``model_id``'s."""

    model_id: str
    name: str
    anthropic_name: str
    aliases: tuple[str, ...]
    provider: str
    availability: Mapping[str, bool]
    lifecycle_status: str
    deprecated_on: date | None
    retire_on: date | None
    released_on: date
    inference_types: tuple[str, ...]
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    context_window: int
    max_output_tokens: int
    supports_thinking: bool
    supports_1m_context: bool
    prices: ModelPrices
    regional_premium: bool
    #: refuses ``temperature`` and ``top_p`` together
    temperature_or_top_p: bool = False
    #: ``output-128k-2025-02-19`` raises its output limit to OUTPUT_128K_TOKENS
    supports_128k_output: bool = False
    #: the ``output_config.effort`` levels it accepts; none: it refuses the parameter
    effort_levels: tuple[str, ...] = ()
    #: keeps the thinking blocks of earlier assistant turns in its context (Claude Opus 4.5 and
    #: later); other models strip them (``tokens``, "Thinking of earlier turns")
    preserves_thinking: bool = False
    #: a prompt prefix shorter than this is never cached (no write, no read)
    prompt_cache_min_tokens: int = DEFAULT_PROMPT_CACHE_MIN_TOKENS
    #: quota tokens one output token costs ("token burndown rate")
    quota_output_burndown: int = DEFAULT_QUOTA_OUTPUT_BURNDOWN

    def __hash__(self) -> int:
        return hash(self.model_id)

    def __getstate__(self) -> dict[str, Any]:
        """Its fields, ``availability`` as a dict: a ``MappingProxyType`` does not pickle, and
        replies carry their model (the client's ``Message.cost``) into pickles and deep copies."""
        return {**self.__dict__, "availability": dict(self.availability)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, availability=MappingProxyType(state["availability"]))

    @property
    def alias(self) -> str:
        """The primary short alias (``claude-sonnet-4-5``)."""
        return self.aliases[0]

    @property
    def is_deprecated(self) -> bool:
        """Deprecated (LEGACY) models still answer; callers should flag them in logs."""
        return self.lifecycle_status == "LEGACY"

    @property
    def on_demand_supported(self) -> bool:
        """False when AWS only serves the model through inference profiles."""
        return "ON_DEMAND" in self.inference_types

    def is_retired(self, today: date) -> bool:
        return self.retire_on is not None and today >= self.retire_on

    def foundation_model_arn(self, region: str) -> str:
        return f"arn:aws:bedrock:{region}::foundation-model/{self.model_id}"


@dataclass(frozen=True, slots=True)
class SystemProfile:
    """A system-defined inference profile usable from some region (for ListInferenceProfiles)."""

    profile_id: str
    geography: str  # "global" or one of GEOGRAPHIES
    model: CatalogModel
    destination_regions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a model identifier means for one caller region.

    ``geography`` is None for the global endpoint. ``profile_id`` is the profile that routes the
    call (for a bare base ID, the implied ``<geo>.<base>`` profile). ``price_multiplier`` is the
    regional premium factor as a float (1.1 or 1.0); exact pricing lives in ``domain.pricing``.
    """

    model: CatalogModel
    endpoint_type: EndpointType
    geography: str | None
    profile_id: str
    price_multiplier: float
    identifier_kind: IdentifierKind
    destination_regions: tuple[str, ...]
    identifier: str  # the identifier as decoded
    region: str  # the caller's region


def _invalid() -> ValidationException:
    return ValidationException(INVALID_MODEL_IDENTIFIER)


class Catalog:
    """The validated catalog with look-up indexes built once. Build with ``build_catalog``."""

    def __init__(
        self,
        *,
        models: Iterable[CatalogModel],
        geographies: Mapping[str, tuple[str, ...]],
        default_region: str,
        pricing_rules: PricingRules,
        context_1m_window_tokens: int,
        context_1m_beta_flag: str,
    ) -> None:
        self.models: tuple[CatalogModel, ...] = tuple(models)
        self.geographies: Mapping[str, tuple[str, ...]] = MappingProxyType(
            {geo: tuple(geographies[geo]) for geo in GEOGRAPHIES}
        )
        self.default_region = default_region
        self.pricing_rules = pricing_rules
        self.context_1m_window_tokens = context_1m_window_tokens
        self.context_1m_beta_flag = context_1m_beta_flag

        known: dict[str, None] = {}
        for geo in GEOGRAPHIES:
            known.update(dict.fromkeys(self.geographies[geo]))
        self.known_regions: tuple[str, ...] = tuple(known)
        self._regions_of: dict[str, tuple[str, ...]] = {
            "global": self.known_regions,
            **self.geographies,
        }
        self._geographies_of: dict[str, tuple[str, ...]] = {
            region: tuple(g for g in GEOGRAPHIES if region in self.geographies[g])
            for region in self.known_regions
        }
        self._by_id = {m.model_id: m for m in self.models}
        self._by_anthropic_name = {m.anthropic_name: m for m in self.models}
        self._by_alias = {a: m for m in self.models for a in m.aliases}
        # identifier -> (model, column); column None means the bare base ID.
        self._identifiers: dict[str, tuple[CatalogModel, str | None]] = {}
        for m in self.models:
            self._identifiers[m.model_id] = (m, None)
            for column in ENDPOINT_COLUMNS:
                self._identifiers[f"{column}.{m.model_id}"] = (m, column)
        # (identifier, region, strict_aws) -> Resolution, for identifiers that are not ARNs:
        # their resolution depends on nothing else, and it runs on every runtime call. Only
        # identifiers the catalog knows get an entry, so the size is bounded by the table.
        self._resolved: dict[tuple[str, str, bool], Resolution] = {}

    # -- look-ups ---------------------------------------------------------------------------

    def get(self, model_id: str) -> CatalogModel | None:
        """The model with this base Bedrock model ID, or None."""
        return self._by_id.get(model_id)

    def by_anthropic_name(self, name: str) -> CatalogModel | None:
        """The model with this Anthropic name (``claude-sonnet-4-5-20250929``), or None."""
        return self._by_anthropic_name.get(name)

    def by_alias(self, alias: str) -> CatalogModel | None:
        """The model with this short alias (``claude-sonnet-4-5``), or None."""
        return self._by_alias.get(alias)

    def find(self, name: str) -> CatalogModel | None:
        """Look a model up by base model ID, Anthropic name or alias."""
        for index in (self._by_id, self._by_anthropic_name, self._by_alias):
            if name in index:
                return index[name]
        return None

    def closest_name(self, name: str) -> str | None:
        """The base model ID, Anthropic name or alias an unknown ``name`` is most likely a slip
        for (``claude-sonet-4-5``: ``claude-sonnet-4-5``), for a "did you mean"; None if none is
        close."""
        import difflib  # here: only for a refused name (start-up cost)

        names = sorted({name for m in self.models for name in (m.model_id, m.anthropic_name, *m.aliases)})
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        return close[0] if close else None

    def geographies_of(self, region: str) -> tuple[str, ...]:
        """The geographies containing ``region`` in routing order; () for an unknown region."""
        return self._geographies_of.get(region, ())

    def regions_of(self, geography: str) -> tuple[str, ...]:
        """Source/destination regions of a geography; ``"global"`` gives every known region.

        Raises:
            KeyError: unknown geography.
        """
        return self._regions_of[geography]

    def system_profiles(self, region: str) -> tuple[SystemProfile, ...]:
        """The system-defined profiles the table allows from ``region``, in catalog order."""
        geos = self._geographies_of.get(region)
        if geos is None:
            return ()
        profiles: list[SystemProfile] = []
        for model in self.models:
            for column in ("global", *geos):
                if model.availability[column]:
                    profiles.append(
                        SystemProfile(
                            f"{column}.{model.model_id}", column, model, self._regions_of[column]
                        )
                    )
        return tuple(profiles)

    def get_system_profile(self, profile_id: str, region: str) -> SystemProfile | None:
        """The profile ``profile_id`` if the table allows it from ``region``, else None."""
        entry = self._identifiers.get(profile_id)
        if entry is None or entry[1] is None:
            return None
        model, column = entry
        if not self._profile_allowed(model, column, region):
            return None
        return SystemProfile(profile_id, column, model, self._regions_of[column])

    # -- resolution -------------------------------------------------------------------------

    def resolve(
        self,
        model_identifier: str,
        region: str,
        *,
        account_id: str | None = None,
        strict_aws: bool = False,
        app_profiles: Callable[[str], str | None] | None = None,
        today: Callable[[], date] | None = None,
    ) -> Resolution:
        """Resolve any model identifier a client may send, for a caller in ``region``.

        Args:
            model_identifier: base ID, profile ID or ARN, percent-encoded or not.
            region: the caller's region (the endpoint it signed for).
            account_id: the caller's account; profile ARNs must carry it when given.
            strict_aws: refuse bare IDs (and foundation-model ARNs) of inference-profile-only
                models with AWS's on-demand message instead of following the seed.
            app_profiles: maps an application-inference-profile ARN to the model or profile
                identifier it wraps, or None when there is no such profile.
            today: when given, the current date (called only for a model that has a
                ``retire_on`` date): models past that date are refused.

        Returns:
            The ``Resolution``.

        Raises:
            ValidationException: invalid identifier (see module docstring), or the strict-AWS
                on-demand refusal.
            ResourceNotFoundException: the model is retired as of ``today``.
        """
        if not isinstance(model_identifier, str) or not model_identifier:
            raise _invalid()
        identifier = model_identifier
        if "%" in identifier:
            try:
                identifier = unquote(identifier, errors="strict")
            except UnicodeDecodeError:
                raise _invalid() from None
        memo_key = (identifier, region, strict_aws)
        resolution = self._resolved.get(memo_key)
        if resolution is None:
            call = _Call(region, account_id, strict_aws, app_profiles)
            resolution = self._resolve(identifier, call, allow_application=True)
            if not identifier.startswith("arn:"):
                self._resolved[memo_key] = resolution
        if today is not None and resolution.model.retire_on is not None and resolution.model.is_retired(today()):
            raise ResourceNotFoundException(END_OF_LIFE)
        return resolution

    def resolve_alias(self, alias_or_name: str, endpoint: EndpointType, region: str) -> str:
        """The Bedrock model ID a client should send for a model on the chosen endpoint type.

        ``("claude-sonnet-4-5", "global", any)`` gives ``global.anthropic.claude-sonnet-4-5-...``;
        ``"regional"`` gives the ``<geo>.`` profile picked by the bare-ID rule for ``region``.

        Raises:
            ValidationException: unknown model or region, or the table forbids the choice.
        """
        model = self.find(alias_or_name)
        if model is None:
            known = ", ".join(m.alias for m in self.models)
            raise ValidationException(
                f"Unknown model {alias_or_name!r}: use an alias ({known}), an Anthropic model "
                "name or a Bedrock model ID."
            )
        geos = self._geographies_of.get(region)
        if geos is None:
            raise ValidationException(f"Unknown region {region!r}.")
        if endpoint not in ("global", "regional"):
            raise ValidationException(
                f"Unknown endpoint type {endpoint!r}: use 'global' or 'regional'."
            )
        if endpoint == "global" and model.availability["global"]:
            return f"global.{model.model_id}"
        regional = next((geo for geo in geos if model.availability[geo]), None)
        if endpoint == "regional" and regional is not None:
            return f"{regional}.{model.model_id}"
        if regional is not None:
            raise ValidationException(
                f"{model.name} has no global endpoint; use the regional endpoint instead."
            )
        offered = [c for c in GEOGRAPHIES if model.availability[c]]
        missing = "no global endpoint, and no" if endpoint == "global" else "no"
        advice = "; use the global endpoint instead" if model.availability["global"] else ""
        raise ValidationException(
            f"{model.name} has {missing} regional endpoint for region {region} "
            f"(geographies {', '.join(geos)}); it is offered in: {', '.join(offered) or 'none'}{advice}."
        )

    def _resolve(self, identifier: str, call: _Call, allow_application: bool) -> Resolution:
        if call.region not in self._geographies_of or len(identifier) > MAX_MODEL_IDENTIFIER_CHARS:
            raise _invalid()
        if identifier.startswith("arn:"):
            return self._resolve_arn(identifier, call, allow_application)
        entry = self._identifiers.get(identifier)
        if entry is None:
            raise _invalid()
        model, column = entry
        if column is None:
            return self._resolve_bare(model, identifier, "base", call)
        return self._resolve_profile(model, column, identifier, "profile", call)

    def _resolve_arn(self, arn: str, call: _Call, allow_application: bool) -> Resolution:
        parsed = parse_bedrock_arn(arn)
        kind = _ARN_RESOURCE_KINDS.get(parsed.resource_type) if parsed is not None else None
        # a regional resource: called in its own region only
        if parsed is None or kind is None or parsed.region != call.region:
            raise _invalid()
        account, resource_id = parsed.account, parsed.resource_id
        if kind == "foundation_model_arn":
            entry = self._identifiers.get(resource_id)
            if account or entry is None or entry[1] is not None:
                raise _invalid()
            return self._resolve_bare(entry[0], arn, kind, call)
        if not _ACCOUNT_RE.fullmatch(account) or call.account_id not in (None, account):
            raise _invalid()
        if kind == "inference_profile_arn":
            entry = self._identifiers.get(resource_id)
            if entry is None or entry[1] is None:
                raise _invalid()
            return self._resolve_profile(entry[0], entry[1], arn, kind, call)
        # Application inference profile: one level of indirection through the caller's store.
        if not allow_application or call.app_profiles is None:
            raise _invalid()
        target = call.app_profiles(arn)
        if not target:
            raise _invalid()
        inner = self._resolve(target, call, allow_application=False)
        return replace(inner, identifier_kind=kind, identifier=arn)

    def _profile_allowed(self, model: CatalogModel, column: str, region: str) -> bool:
        if not model.availability[column] or region not in self._geographies_of:
            return False
        return column == "global" or column in self._geographies_of[region]

    def _resolve_profile(
        self, model: CatalogModel, column: str, identifier: str, kind: IdentifierKind, call: _Call
    ) -> Resolution:
        if not self._profile_allowed(model, column, call.region):
            raise _invalid()
        return self._routed(model, column, identifier, kind, call)

    def _resolve_bare(
        self, model: CatalogModel, identifier: str, kind: IdentifierKind, call: _Call
    ) -> Resolution:
        if call.strict_aws and not model.on_demand_supported:
            raise ValidationException(ON_DEMAND_UNSUPPORTED.format(model_id=model.model_id))
        for geo in self._geographies_of[call.region]:
            if model.availability[geo]:
                return self._routed(model, geo, identifier, kind, call)
        raise _invalid()

    def _routed(
        self, model: CatalogModel, column: str, identifier: str, kind: IdentifierKind, call: _Call
    ) -> Resolution:
        is_global = column == "global"
        premium = not is_global and model.regional_premium
        multiplier = model.prices.rules.regional_premium_multiplier if premium else 1
        return Resolution(
            model=model,
            endpoint_type="global" if is_global else "regional",
            geography=None if is_global else column,
            profile_id=f"{column}.{model.model_id}",
            price_multiplier=float(multiplier),
            identifier_kind=kind,
            destination_regions=self._regions_of[column],
            identifier=identifier,
            region=call.region,
        )


@dataclass(frozen=True, slots=True)
class _Call:
    """The per-request resolution options, passed down the private resolver steps."""

    region: str
    account_id: str | None
    strict_aws: bool
    app_profiles: Callable[[str], str | None] | None


# -- loading and validation ----------------------------------------------------------------


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate a catalog file; without ``path``, the one packaged with this module.

    Raises:
        CatalogError: the file is not valid JSON or a field is missing, mistyped or inconsistent.
    """
    if path is None:
        resource = resources.files("claude_bedrock.domain").joinpath("data/catalog.json")
        return parse_catalog(resource.read_text(encoding="utf-8"), source="catalog.json")
    return parse_catalog(Path(path).read_text(encoding="utf-8"), source=str(path))


@functools.cache
def default_catalog() -> Catalog:
    """The packaged catalog, loaded and validated on first use."""
    return load_catalog()


def parse_catalog(text: str, *, source: str = "<string>") -> Catalog:
    """Validate catalog JSON text (numbers are parsed as exact ``Decimal``)."""
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise CatalogError("", f"invalid JSON: {exc}", source=source) from None
    return build_catalog(document, source=source)


def build_catalog(document: Any, *, source: str | None = None) -> Catalog:
    """Validate an already-decoded catalog document and build the indexed ``Catalog``."""
    try:
        return _read_catalog(document)
    except CatalogError as exc:
        if source is None or exc.source is not None:
            raise
        raise CatalogError(exc.path, exc.message, source=source) from None


def _read_catalog(doc: Any) -> Catalog:
    data = _CATALOG_SCHEMA(doc, "")
    if data["schema_version"] != _SCHEMA_VERSION:
        raise CatalogError("schema_version", f"unsupported version (expected {_SCHEMA_VERSION})")
    constants = data["constants"]
    rules = PricingRules(
        regional_premium_multiplier=constants["regional_premium_multiplier"],
        cache_write_5m_multiplier=constants["cache_write_5m_multiplier"],
        cache_write_1h_multiplier=constants["cache_write_1h_multiplier"],
        cache_read_multiplier=constants["cache_read_multiplier"],
        long_context_threshold_tokens=constants["long_context_threshold_tokens"],
    )
    geographies = data["geographies"]
    if not any(data["default_region"] in regions for regions in geographies.values()):
        raise CatalogError("default_region", f"{data['default_region']!r} is in no geography")

    models: list[CatalogModel] = []
    first_use: dict[str, str] = {}  # every id / anthropic name / alias -> path of its first use
    for index, m in enumerate(data["models"]):
        path = f"models[{index}]"
        names = [("id", m["id"]), ("anthropic_name", m["anthropic_name"])]
        names += [(f"aliases[{i}]", alias) for i, alias in enumerate(m["aliases"])]
        for field_name, value in names:
            if value in first_use:
                message = f"duplicate name {value!r} (first at {first_use[value]})"
                raise CatalogError(f"{path}.{field_name}", message)
            first_use[value] = f"{path}.{field_name}"
        models.append(_build_model(m, path, rules))

    return Catalog(
        models=models,
        geographies=geographies,
        default_region=data["default_region"],
        pricing_rules=rules,
        context_1m_window_tokens=constants["context_1m_window_tokens"],
        context_1m_beta_flag=constants["context_1m_beta_flag"],
    )


def _build_model(m: dict[str, Any], path: str, rules: PricingRules) -> CatalogModel:
    """Cross-field checks on one schema-checked model, then the ``CatalogModel``."""
    if m["id"].split(".", 1)[0] in ENDPOINT_COLUMNS:
        raise CatalogError(f"{path}.id", "a base model ID must not start with a profile prefix")
    lifecycle, prices = m["lifecycle"], m["prices"]
    if lifecycle["status"] == "LEGACY" and lifecycle["deprecated_on"] is None:
        raise CatalogError(f"{path}.lifecycle.deprecated_on", "a LEGACY model needs this date")
    if lifecycle["deprecated_on"] and lifecycle["retire_on"]:
        if lifecycle["retire_on"] < lifecycle["deprecated_on"]:
            raise CatalogError(f"{path}.lifecycle.retire_on", "retirement precedes deprecation")
    if ("long_context_input" in prices) != ("long_context_output" in prices):
        missing = "long_context_output" if "long_context_input" in prices else "long_context_input"
        raise CatalogError(f"{path}.prices.{missing}", "long-context prices come in pairs")
    if m["max_output_tokens"] > m["context_window"]:
        raise CatalogError(f"{path}.max_output_tokens", "exceeds the context window")
    return CatalogModel(
        model_id=m["id"],
        name=m["name"],
        anthropic_name=m["anthropic_name"],
        aliases=m["aliases"],
        provider=m["provider"],
        availability=MappingProxyType(m["availability"]),
        lifecycle_status=lifecycle["status"],
        deprecated_on=lifecycle["deprecated_on"],
        retire_on=lifecycle["retire_on"],
        released_on=m["released_on"],
        inference_types=m["inference_types"],
        input_modalities=m["input_modalities"],
        output_modalities=m["output_modalities"],
        context_window=m["context_window"],
        max_output_tokens=m["max_output_tokens"],
        supports_thinking=m["extended_thinking"],
        supports_1m_context=m["context_1m_beta"],
        temperature_or_top_p=m.get("temperature_or_top_p", False),
        supports_128k_output=m.get("output_128k_beta", False),
        effort_levels=m.get("effort_levels", ()),
        preserves_thinking=m.get("preserves_thinking", False),
        prompt_cache_min_tokens=m.get("prompt_cache_min_tokens", DEFAULT_PROMPT_CACHE_MIN_TOKENS),
        quota_output_burndown=m.get("quota_output_burndown", DEFAULT_QUOTA_OUTPUT_BURNDOWN),
        prices=ModelPrices(
            input=prices["input"],
            output=prices["output"],
            long_context_input=prices.get("long_context_input"),
            long_context_output=prices.get("long_context_output"),
            rules=rules,
        ),
        regional_premium=m["regional_premium"],
    )


# -- the small schema walker --------------------------------------------------------------------
# A reader takes (json_value, json_path), returns the converted value or raises CatalogError
# naming the path. The schema below is built from readers, so its shape reads like the file.

_Reader = Callable[[Any, str], Any]


def _json_type(value: Any) -> str:
    for kind, name in ((bool, "a boolean"), ((int, float, Decimal), "a number"), (str, "a string")):
        if isinstance(value, kind):
            return name
    for kind, name in ((list, "an array"), (dict, "an object")):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _object(
    required: Mapping[str, _Reader],
    optional: Mapping[str, _Reader] | None = None,
    *,
    what: str = "field",
    values: _Reader | None = None,
) -> _Reader:
    """An object with exactly these keys (``values`` instead reads free keys, all alike)."""
    optional = optional or {}

    def read(value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise CatalogError(path, f"expected an object, got {_json_type(value)}")
        prefix = f"{path}." if path else ""
        out: dict[str, Any] = {}
        for key, reader in required.items():
            if key not in value:
                raise CatalogError(prefix + key, f"missing required {what}")
            out[key] = reader(value[key], prefix + key)
        for key, item in value.items():
            if key in required:
                continue
            reader = optional.get(key, values)
            if reader is None:
                expected = ", ".join([*required, *optional])
                raise CatalogError(prefix + str(key), f"unknown {what} (expected {expected})")
            out[key] = reader(item, prefix + key)
        return out

    return read


def _array(item_reader: _Reader) -> _Reader:
    """A non-empty array; string items must be unique."""

    def read(value: Any, path: str) -> tuple[Any, ...]:
        if not isinstance(value, list) or not value:
            raise CatalogError(path, f"expected a non-empty array, got {_json_type(value)}")
        items: list[Any] = []
        for i, item in enumerate(value):
            converted = item_reader(item, f"{path}[{i}]")
            if isinstance(converted, str) and converted in items:
                raise CatalogError(f"{path}[{i}]", f"duplicate entry {converted!r}")
            items.append(converted)
        return tuple(items)

    return read


def _string(pattern: re.Pattern[str] | None = None, choices: tuple[str, ...] = ()) -> _Reader:
    def read(value: Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise CatalogError(path, f"expected a non-empty string, got {_json_type(value)}")
        if pattern is not None and not pattern.fullmatch(value):
            raise CatalogError(path, f"{value!r} does not match {pattern.pattern}")
        if choices and value not in choices:
            raise CatalogError(path, f"{value!r} is not one of {', '.join(choices)}")
        return value

    return read


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise CatalogError(path, f"expected a boolean, got {_json_type(value)}")
    return value


def _integer(value: Any, path: str) -> int:
    """A positive integer."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise CatalogError(path, f"expected an integer, got {_json_type(value)}")
    if value < 1:
        raise CatalogError(path, "expected a positive integer")
    return value


def _number(value: Any, path: str) -> Decimal:
    """A positive amount, kept exact: JSON text is parsed with ``parse_float=Decimal``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise CatalogError(path, f"expected a number, got {_json_type(value)}")
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    if not amount.is_finite() or amount <= 0:
        raise CatalogError(path, "expected a positive number")
    return amount


def _date(nullable: bool = False) -> _Reader:
    def read(value: Any, path: str) -> date | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            expected = "an ISO date or null" if nullable else "an ISO date"
            raise CatalogError(path, f"expected {expected}, got {_json_type(value)}")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise CatalogError(path, f"{value!r} is not an ISO date (YYYY-MM-DD)") from None

    return read


_MODEL_SCHEMA = _object(
    {
        "id": _string(_MODEL_ID_RE),
        "name": _string(),
        "anthropic_name": _string(_NAME_RE),
        "aliases": _array(_string(_NAME_RE)),
        "provider": _string(),
        "availability": _object(dict.fromkeys(ENDPOINT_COLUMNS, _boolean), what="endpoint type"),
        "lifecycle": _object(
            {
                "status": _string(choices=_LIFECYCLE_STATUSES),
                "deprecated_on": _date(nullable=True),
                "retire_on": _date(nullable=True),
            }
        ),
        "released_on": _date(),
        "inference_types": _array(_string(choices=_INFERENCE_TYPES)),
        "input_modalities": _array(_string(choices=_INPUT_MODALITIES)),
        "output_modalities": _array(_string(choices=_OUTPUT_MODALITIES)),
        "context_window": _integer,
        "max_output_tokens": _integer,
        "extended_thinking": _boolean,
        "context_1m_beta": _boolean,
        "prices": _object(
            {"input": _number, "output": _number},
            {"long_context_input": _number, "long_context_output": _number},
        ),
        "regional_premium": _boolean,
    },
    {"temperature_or_top_p": _boolean, "output_128k_beta": _boolean, "preserves_thinking": _boolean,
     "effort_levels": _array(_string(choices=EFFORT_LEVELS)),
     "prompt_cache_min_tokens": _integer, "quota_output_burndown": _integer},
)

_CATALOG_SCHEMA = _object(
    {
        "schema_version": _integer,
        "default_region": _string(REGION_NAME_RE),
        "constants": _object(
            {
                "regional_premium_multiplier": _number,
                "cache_write_5m_multiplier": _number,
                "cache_write_1h_multiplier": _number,
                "cache_read_multiplier": _number,
                "long_context_threshold_tokens": _integer,
                "context_1m_window_tokens": _integer,
                "context_1m_beta_flag": _string(),
            }
        ),
        "geographies": _object(
            dict.fromkeys(GEOGRAPHIES, _array(_string(REGION_NAME_RE))), what="geography"
        ),
        "models": _array(_MODEL_SCHEMA),
    },
    {"sources": _object({}, values=_string())},
)
