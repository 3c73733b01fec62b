"""What the control plane keeps per account and region, as the service layer sees it: the
records, the store-level failures, and ``ControlStore``, the interface a state store
implements. The embedded SQLite implementation is ``claude_bedrock.adapters.store.StateStore``;
``create_app`` (the composition root) attaches it, so service modules never import adapters.

Every method is keyed by ``(account_id, region, ...)``, but the use-case form, which AWS keeps
once per account (``(account_id)``); a store supplies the timestamps and
raises ``StoreConflict`` / ``TooManyTags`` rather than AWS errors (the handlers translate), and
``StoreUnavailable`` when it cannot read or write at all (the app answers InternalServerException).

Handlers call a store's writes through ``write``, in a worker thread: a write may wait, up to
the store's busy timeout, for another process's lock on the file (a second server, a ``sqlite3``
shell), and the event loop goes on serving every other request meanwhile. Reads stay on the
loop: they do not wait behind writes (``StateStore`` Rule 3), and runtime calls make them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

__all__ = [
    "AgreementRecord",
    "ApplicationProfileRecord",
    "ControlStore",
    "StoreConflict",
    "StoreUnavailable",
    "TooManyTags",
    "write",
]

T = TypeVar("T")


async def write(operation: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``operation(*args, **kwargs)``, a store write, run in a worker thread (module docstring)."""
    return await asyncio.to_thread(operation, *args, **kwargs)


class StoreUnavailable(Exception):
    """The store cannot read or write its data: another process's lock held past the wait, an
    I/O error, a read-only or full disk, a damaged file. The message is one line naming the file
    and the cause, for the server log (not for clients)."""


class StoreConflict(Exception):
    """A uniqueness rule was broken. ``field`` names it: ``"name"`` or ``"profile_id"``."""

    def __init__(self, field: str) -> None:
        super().__init__(f"duplicate {field}")
        self.field = field


class TooManyTags(Exception):
    """Applying the tags would leave the resource with more than ``limit`` tags."""

    def __init__(self, resource_arn: str, limit: int) -> None:
        super().__init__(f"{resource_arn} would have more than {limit} tags")
        self.resource_arn = resource_arn
        self.limit = limit


@dataclass(frozen=True, slots=True)
class ApplicationProfileRecord:
    """One application inference profile as stored (botocore ``GetInferenceProfileResponse``)."""

    account_id: str
    region: str
    profile_id: str
    name: str
    description: str | None
    #: ``modelSource.copyFrom``: a foundation-model or system inference-profile ARN.
    source_arn: str
    #: Destination foundation-model ARNs (``models[].modelArn``).
    models: tuple[str, ...]
    client_token: str | None
    created_at: float
    updated_at: float

    @property
    def arn(self) -> str:
        return f"arn:aws:bedrock:{self.region}:{self.account_id}:application-inference-profile/{self.profile_id}"


@dataclass(frozen=True, slots=True)
class AgreementRecord:
    """An explicit model-access decision; ``granted`` False means the agreement was deleted."""

    account_id: str
    region: str
    model_id: str
    granted: bool
    offer_token: str | None
    updated_at: float


class ControlStore(Protocol):
    """The state store the control plane and the runtime's access checks rely on."""

    #: Changes after every committed write through this store (read caches key on it).
    generation: int

    def close(self) -> None: ...

    def reset(self) -> None:
        """Forget everything (tests)."""

    def create_application_profile(
        self,
        *,
        account_id: str,
        region: str,
        profile_id: str,
        name: str,
        description: str | None,
        source_arn: str,
        models: tuple[str, ...],
        client_token: str | None,
        tags: Mapping[str, str],
        max_tags: int,
    ) -> tuple[ApplicationProfileRecord, bool]:
        """Insert a profile and its tags atomically; ``(record, created)``, idempotent on the token."""

    def get_application_profile(self, account_id: str, region: str, profile_id: str) -> ApplicationProfileRecord | None: ...

    def list_application_profiles(self, account_id: str, region: str) -> list[ApplicationProfileRecord]:
        """Ordered by ``(created_at, profile_id)``: ListInferenceProfiles pages by that key."""

    def delete_application_profile(self, account_id: str, region: str, profile_id: str) -> bool: ...

    def get_tags(self, account_id: str, region: str, resource_arn: str) -> dict[str, str]: ...

    def tag_resource(
        self, account_id: str, region: str, resource_arn: str, tags: Mapping[str, str], max_tags: int
    ) -> None: ...

    def untag_resource(self, account_id: str, region: str, resource_arn: str, keys: list[str]) -> None: ...

    def get_agreement(self, account_id: str, region: str, model_id: str) -> AgreementRecord | None: ...

    def list_agreements(self, account_id: str, region: str) -> list[AgreementRecord]: ...

    def set_agreement(
        self, account_id: str, region: str, model_id: str, *, granted: bool, offer_token: str | None
    ) -> AgreementRecord: ...

    def get_use_case(self, account_id: str) -> bytes | None:
        """The account's use-case form: one per account, shared by its regions."""

    def put_use_case(self, account_id: str, form_data: bytes) -> None: ...

    def get_logging_config(self, account_id: str, region: str) -> dict[str, Any] | None: ...

    def put_logging_config(self, account_id: str, region: str, config: Mapping[str, Any]) -> None: ...

    def delete_logging_config(self, account_id: str, region: str) -> bool: ...

    def logging_configs(self) -> list[tuple[str, str, dict[str, Any]]]: ...
