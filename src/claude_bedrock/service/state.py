"""Everything a running server holds, built once by ``create_app`` (no module globals).

State that belongs to customers (application inference profiles, agreements, logging
configuration, prompt cache) is scoped per account and region by the stores that hold it.
Control-plane state lives in ``store`` (a ``ControlStore``): ``create_app`` attaches the SQLite
store under ``settings.data_dir`` when none was given, so an unusable data folder fails at
start-up rather than on the first request.

Model access rule (``has_model_access``): an explicit agreement decision stored for
(account, region, model) wins: CreateFoundationModelAgreement grants, DeleteFoundationModel-
Agreement revokes. Without one, ``settings.model_access`` decides: "granted" (the default, for
development) gives every model, "none" gives none until an agreement is created.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from claude_bedrock.domain.catalog import Catalog, CatalogModel, Resolution, default_catalog
from claude_bedrock.domain.engine import Engine, ModelCall
from claude_bedrock.domain.errors import MODEL_ACCESS_DENIED, AccessDeniedException, ValidationException
from claude_bedrock.domain.prompt_cache import PromptCache, minimum_tokens_of
from claude_bedrock.domain.simulated_latency import parse_latency
from claude_bedrock.domain.simulator import SimulatorEngine
from claude_bedrock.domain.thinking_signatures import ThinkingSigner
from claude_bedrock.service.auth import Authenticator
from claude_bedrock.service.calls import CallRecord, ObserverList
from claude_bedrock.service.control_state import ControlStore
from claude_bedrock.service.waits import sleep_at_least
from claude_bedrock.settings import Settings

if TYPE_CHECKING:  # loaded with the first stream
    from claude_bedrock.service.chunk_frames import ChunkFrameCache

log = logging.getLogger("claude_bedrock.service")


#: An engine hook may wrap the engine's events (fault injection, scripted answers).
EventsHook = Callable[[ModelCall, CallRecord, Engine], AsyncIterator[dict[str, Any]]]


class ServiceState:
    def __init__(
        self,
        settings: Settings,
        *,
        catalog: Catalog | None = None,
        engine: Engine | None = None,
        clock: Callable[[], float] = time.time,
        store: ControlStore | None = None,
        thinking_signer: ThinkingSigner | None = None,
    ) -> None:
        self.settings = settings
        self._store = store
        self._unknown_regions_told: set[str] = set()  # the regions ``warn_of_unknown_region`` logged
        self.catalog = catalog or default_catalog()
        self.clock = clock
        self.prompt_cache = PromptCache(clock=clock, minimum_tokens=minimum_tokens_of(self.catalog))
        #: Signs the simulator's thinking blocks and checks those sent back.
        self.thinking_signer = thinking_signer or ThinkingSigner()
        #: Thinking blocks sent back are checked here: not by a gateway (``upstream``), whose
        #: blocks were signed upstream, which checks them itself.
        self.checks_thinking_signatures = settings.verify_thinking_signatures and not settings.upstream
        #: A gateway's name in the ``x-claude-bedrock-via`` chain of the calls it relays
        #: (``runtime.gateway_hop``); None when the simulator answers. A gateway also refuses
        #: requests naming a guardrail (its upstream would report what a relay cannot carry).
        self.gateway_id: str | None = uuid.uuid4().hex[:16] if settings.upstream else None
        self.engine: Engine = engine or SimulatorEngine(
            seed=settings.seed,
            mode=settings.simulator_mode,
            cache=self.prompt_cache,
            clock=clock,
            latency=parse_latency(settings.simulator_latency, {model.model_id for model in self.catalog.models}),
            sleep=sleep_at_least,  # (uvloop's timers end early: a latency would be recorded short)
            signer=self.thinking_signer,
        )
        self.authenticator = Authenticator(settings)
        self.observers: ObserverList = []
        #: Calls whose client has left, until they are recorded (``service.disconnect``).
        self.calls_ending: set[asyncio.Future[None]] = set()
        self.events_hook: EventsHook | None = None
        #: The testing toolkit (rules, faults, quotas, call history), set by
        #: ``testing_hooks.install``; typed loosely to keep the import one-way.
        self.testing: Any = None
        self._deprecation_noted: set[str] = set()
        self._access_cache: dict[tuple[str, str, str], bool] = {}
        self._access_generation = -1

    @functools.cached_property
    def chunk_frames(self) -> ChunkFrameCache:
        """Encoded stream frames of events engines repeat (built by the first stream)."""
        from claude_bedrock.service.chunk_frames import ChunkFrameCache

        return ChunkFrameCache()

    # -- control-plane state --------------------------------------------------------------

    @property
    def store(self) -> ControlStore:
        """The control-plane store; ``create_app`` attaches the SQLite one under ``data_dir``."""
        if self._store is None:
            raise RuntimeError("no state store attached: build the application with create_app()")
        return self._store

    @store.setter
    def store(self, store: ControlStore) -> None:
        self._store = store

    @property
    def has_store(self) -> bool:
        return self._store is not None

    # -- model resolution -------------------------------------------------------------

    def _today(self) -> date:
        """The UTC date by the state's clock."""
        return datetime.fromtimestamp(self.clock(), timezone.utc).date()

    def resolve(self, model_identifier: str, region: str, account_id: str) -> Resolution:
        """Resolve for a runtime call; a model past its catalog ``retire_on`` date (UTC, by
        ``clock``) is refused as AWS refuses end-of-life models."""
        try:
            return self.catalog.resolve(
                model_identifier,
                region,
                account_id=account_id,
                strict_aws=self.settings.strict_model_ids,
                today=self._today,
                # Only ARNs (``arn:`` or ``arn%3A``) can name an application profile.
                app_profiles=(
                    self.application_profile_target(account_id, region) if model_identifier.startswith("arn") else None
                ),
            )
        except ValidationException:
            self.warn_of_unknown_region(region)
            raise

    def warn_of_unknown_region(self, region: str) -> None:
        """A region no geography of the catalog holds offers no model: every call is "The
        provided model identifier is invalid." (AWS has no endpoint there at all), every model
        listing is empty and every model lookup not found, which does not point at a misspelt
        region (``eu-centrl-1``). The log says so, once per region; a known region: nothing."""
        told = self._unknown_regions_told
        if region in told or len(told) >= 100 or region in self.catalog.regions_of("global"):
            return  # (callers choose regions: the memory is bounded, and so is the log)
        told.add(region)
        log.warning("region %r is in no geography of the catalog: it offers no model, so every model "
                    "identifier is invalid there (a misspelt region?)", region)

    def application_profile_target(self, account_id: str, region: str) -> Callable[[str], str | None]:
        """Lookup for application inference profile ARNs of this account and region.

        The returned function maps ``arn:aws:bedrock:<region>:<account>:application-inference-
        profile/<id>`` to the ARN the profile wraps (``modelSource.copyFrom``), or None when the
        ARN names another account or region or no such profile exists.
        """
        prefix = f"arn:aws:bedrock:{region}:{account_id}:application-inference-profile/"

        def lookup(arn: str) -> str | None:
            if not arn.startswith(prefix):
                return None
            record = self.store.get_application_profile(account_id, region, arn[len(prefix):])
            return record.source_arn if record is not None else None

        return lookup

    def has_model_access(self, account_id: str, region: str, model_id: str) -> bool:
        """The model access rule (module docstring); answers are cached until the store's
        next write (this runs on every runtime call)."""
        store = self.store
        if self._access_generation != store.generation:
            self._access_cache.clear()
            self._access_generation = store.generation
        key = (account_id, region, model_id)
        allowed = self._access_cache.get(key)
        if allowed is None:
            agreement = store.get_agreement(account_id, region, model_id)
            allowed = agreement.granted if agreement is not None else self.settings.model_access == "granted"
            if len(self._access_cache) > 10_000:
                self._access_cache.clear()
            self._access_cache[key] = allowed
        return allowed

    def check_model_access(self, account_id: str, region: str, model: CatalogModel) -> None:
        """Raise AccessDeniedException when the account has no access to ``model`` here."""
        if not self.has_model_access(account_id, region, model.model_id):
            raise AccessDeniedException(MODEL_ACCESS_DENIED)

    def note_deprecated(self, model: CatalogModel) -> None:
        if model.is_deprecated and model.model_id not in self._deprecation_noted:
            self._deprecation_noted.add(model.model_id)
            log.warning(
                "model %s is deprecated (since %s); it still answers, plan a migration",
                model.model_id,
                model.deprecated_on,
            )

    # -- engine -----------------------------------------------------------------------

    def events(self, call: ModelCall, record: CallRecord) -> AsyncIterator[dict[str, Any]]:
        if self.events_hook is not None:
            return self.events_hook(call, record, self.engine)
        return self.engine.stream(call)

    def publish(self, record: CallRecord) -> None:
        for observer in self.observers:
            try:
                observer(record)
            except Exception:  # noqa: BLE001 - an observer must never break a response
                log.exception("call observer failed")
