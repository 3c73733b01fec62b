"""The testing toolkit inside a running server: scripted rules, faults, quotas, call history.

``install(state)`` (called by ``create_app``) builds one ``Toolkit`` from the settings, sets it
as ``state.events_hook`` and adds its call-history observer. Per model call the hook does, in
order (the hook only wraps when something is configured; otherwise the engine's stream passes
through untouched)::

    draw faults ──► latency (sleep) ──► error fault? raise ──► quota reserve (may raise 429)
        ──► first matching rule? its reply's events : engine.stream(call)
        ──► stream fault? strike after N events ──► settle the quota with the real usage
            (of a call cut short, the output it produced up to the cut, as it is billed)

A CountTokens call (not a model call: no rules, quotas nor stream) only has its faults drawn,
once validated, when the plan holds any (``Toolkit.count_tokens_faults``): the latency, a wait
its client leaving ends, then the error fault, if any.

An error before the first event becomes a plain JSON error response; a stream fault becomes
an exception frame or a dropped connection (``service.runtime``). Every injected fault is
written to ``record.injected_fault`` (quota refusals as ``quota:<limit>``); a reply
interrupted by an injected stream fault is handed back, so the retry gets the same turn. A
call its client gave up on (``ClientDisconnected``: a read timeout during injected latency,
say, which ends the latency at once: ``service.disconnect``) hands its turn back too, and a
fault that never struck is handed back to the plan and left out of the call's label: an error
fault drawn for a call whose client left during the latency, and a stream fault drawn for a
call that never reached its stream (refused by a quota or a rule's error, or abandoned).

Baseline: the ``[testing]`` table of the config file (``rules``, ``faults``, ``quotas``,
``history_size``) and the file named by ``--rules-file`` (TOML always; YAML when PyYAML is
importable: it is not a dependency) are loaded at start; ``Toolkit.reset`` returns to it. A
call that started before the last reset (the previous test's) is not recorded, and after its
latency the engine answers it, whatever the new rules, faults and quotas say.

The history keeps the last ``history_size`` (default ``HISTORY_SIZE``) call records, in the
order the calls started (a call is recorded when it ends), and no more than ``HISTORY_MAX_BYTES``
of them by the memory they hold (``held_bytes``); records hold bodies and results, never
headers or secrets.
"""

from __future__ import annotations

import dataclasses
import random
import sys
import tomllib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_bedrock.domain.catalog import DEFAULT_QUOTA_OUTPUT_BURNDOWN
from claude_bedrock.domain.engine import Engine, ModelCall, StreamEvent
from claude_bedrock.domain.errors import BedrockError, ErrorAsFirstFrame
from claude_bedrock.domain.json_body import json_bytes
from claude_bedrock.domain.tokens import count_request
from claude_bedrock.service.calls import CallRecord
from claude_bedrock.service.disconnect import DisconnectWatch
from claude_bedrock.service.runtime import UsageTracker
from claude_bedrock.service.waits import sleep_at_least
from claude_bedrock.service.state import ServiceState
from claude_bedrock.settings import ConfigError, Settings, read_user_file

if TYPE_CHECKING:  # loaded when a scenario first needs them (see Toolkit)
    from claude_bedrock.domain.faults import Fault, FaultPlan, Injection
    from claude_bedrock.domain.quotas import QuotaConfig, QuotaLedger
    from claude_bedrock.domain.scripting import CallView, RuleBook, Selection

__all__ = ["ADMIN_PREFIX", "HISTORY_SIZE", "CallHistory", "Scenario", "Toolkit", "install", "load_scenario", "toolkit_of"]

#: Where the admin API (``service/admin.py``, loaded on its first request) answers.
ADMIN_PREFIX = "/_claude-bedrock"
HISTORY_SIZE = 1000
#: The history also forgets its oldest calls once the memory their records hold adds up to
#: this much (``held_bytes``): a thousand 20 MB bodies must not hold 20 GB, nor a few hundred
#: echoed long prompts, whose streams are thousands of small events, a gigabyte.
HISTORY_MAX_BYTES = 64 * 1024 * 1024
_SCENARIO_KEYS = frozenset({"rules", "faults", "quotas", "history_size"})


# --------------------------------------------------------------------------- baseline


@dataclass(frozen=True)
class Scenario:
    """What the server starts with and returns to on reset."""

    rules: tuple[Any, ...] = ()
    faults: tuple[Any, ...] = ()
    #: None when no ``quotas`` table was given (no limits).
    quotas: QuotaConfig | None = None
    history_size: int = HISTORY_SIZE


def _read_file(path: Path) -> Any:
    text = read_user_file(path, "rules file")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            raise ConfigError(
                f"{path}: YAML rules files need PyYAML, which claude-bedrock does not install "
                "(pip install pyyaml), or write the rules file in TOML"
            ) from None
        try:
            return yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _table(raw: Any, origin: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: expected a table with rules, faults, quotas")
    unknown = set(raw) - _SCENARIO_KEYS
    if unknown:
        raise ConfigError(f"{origin}: unknown key(s) {', '.join(sorted(unknown))}; "
                          f"expected {', '.join(sorted(_SCENARIO_KEYS))}")
    return raw


def _list(raw: Mapping[str, Any], key: str, origin: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"{origin}.{key}: expected a list")
    return value


def load_scenario(settings: Settings, *, rng: Callable[[], float] | None = None) -> Scenario:
    """The baseline from ``settings.extra["testing"]`` then ``settings.rules_file``.

    Rules and faults are validated here (a bad one fails the start with ConfigError naming the
    file and key); the rules of the config come before those of the rules file.
    """
    sources: list[tuple[Mapping[str, Any], str]] = []
    config_table = settings.extra.get("testing")
    if config_table is not None:
        origin = f"{settings.config_file or 'config'} [testing]"
        sources.append((_table(config_table, origin), origin))
    rules_file = getattr(settings, "rules_file", None)
    if rules_file:
        sources.append((_table(_read_file(Path(rules_file)), str(rules_file)), str(rules_file)))
    rules: list[Any] = []
    faults: list[Any] = []
    quotas: QuotaConfig | None = None
    history_size = HISTORY_SIZE
    if sources:
        from claude_bedrock.domain.faults import FaultPlan
        from claude_bedrock.domain.quotas import parse_quota_config
        from claude_bedrock.domain.scripting import RuleBook, ScriptError
    for table, origin in sources:
        table_rules, table_faults = _list(table, "rules", origin), _list(table, "faults", origin)
        try:  # validate now, so a typo stops the start (naming its file) rather than the first test
            RuleBook().extend(table_rules, f"{origin} rules")
            FaultPlan(rng or random.Random(0).random).extend(table_faults, f"{origin} faults")
        except ScriptError as exc:
            raise ConfigError(f"testing scenario: {exc}") from None
        rules += table_rules
        faults += table_faults
        try:
            if "quotas" in table:
                quotas = parse_quota_config(table["quotas"], f"{origin} quotas")
        except ScriptError as exc:
            raise ConfigError(str(exc)) from None
        size = table.get("history_size", history_size)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"{origin} history_size: expected a positive integer")
        history_size = size
    return Scenario(tuple(rules), tuple(faults), quotas, history_size)


# --------------------------------------------------------------------------- history


@dataclass(slots=True)
class HistoryEntry:
    record: CallRecord
    rule_id: str | None
    #: ``held_bytes(record)`` when it was added
    held: int = 0

    def describe(self) -> dict[str, Any]:
        """JSON-ready: the record's fields (raw bytes as text) plus the answering rule."""
        out = {
            key: value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else value
            for key, value in dataclasses.asdict(self.record).items()
        }
        out["rule"] = self.rule_id
        return out


#: The fields of a record that can hold much (the others, ``usage`` too, are a few numbers and
#: short strings).
_HELD_FIELDS = ("input_body", "input_bytes", "output_body", "logged_output", "error_message", "request_metadata")
#: What JSON-like data holds beyond its JSON text, per object, array and string (CPython: a
#: small dict takes 184 bytes, a list 56 plus 8 a member, a string 49 more than its characters;
#: the list's and string's figures are rounded to cover their members' pointers).
_DICT_BYTES, _LIST_BYTES, _STRING_BYTES = 184, 64, 48


def _data_size(value: Any) -> int:
    """About the memory ``value`` (JSON-like data) holds, from its JSON: the text, plus each
    object's, array's and string's own cost (keys counted as strings: the estimate errs high).
    Serializing with orjson costs a tenth of walking the objects in Python."""
    if value is None or isinstance(value, (str, bytes)):
        return sys.getsizeof(value)
    data = json_bytes(value, default=repr)
    return (len(data) + data.count(b"{") * _DICT_BYTES + data.count(b"[") * _LIST_BYTES
            + data.count(b'"') // 2 * _STRING_BYTES)


#: A record whose rough size (``_rough_size``) is under this counts as that much; a larger one
#: is measured (``_data_size``, whose cost grows with the record): the usual call pays a few
#: attribute reads, not a serialisation of its bodies (that cost InvokeModel 11% more work).
_MEASURED_FROM = 256 * 1024
#: The rough size: a record's own fields, then per request byte (raw and parsed), per stream
#: event and per output token (its text in the response and in the logged output). Each errs
#: high for the small records it is used for.
_RECORD_BYTES, _PER_BODY_BYTE, _PER_EVENT, _PER_OUTPUT_TOKEN = 4096, 4, 640, 16


def _rough_size(record: CallRecord) -> int:
    events = record.output_body
    tokens = record.usage.get("outputTokens") if record.usage else 0  # UsageTracker.as_dict's key
    return (_RECORD_BYTES + _PER_BODY_BYTE * len(record.input_bytes or b"")
            + _PER_EVENT * (len(events) if isinstance(events, list) else 0)
            + _PER_OUTPUT_TOKEN * (tokens if isinstance(tokens, int) else 0) + len(record.error_message or ""))


def held_bytes(record: CallRecord) -> int:
    """About the memory ``record`` holds: the request's bytes and parsed body, the response
    or a stream's events, the logged output. A value it shares with another holder (an
    engine's memoised answer) is counted as its own."""
    rough = _rough_size(record)
    if rough < _MEASURED_FROM:
        return rough
    return (sys.getsizeof(record) + sys.getsizeof(vars(record))
            + sum(_data_size(getattr(record, name)) for name in _HELD_FIELDS))


class CallHistory:
    """The most recent call records, oldest first."""

    def __init__(self, size: int = HISTORY_SIZE, max_bytes: int = HISTORY_MAX_BYTES) -> None:
        self._entries: deque[HistoryEntry] = deque()
        self._size = size
        self._max_bytes = max_bytes
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, record: CallRecord, rule_id: str | None = None) -> None:
        """Keep ``record`` in start order: a call that ends after a later one (a slow call and
        its client's retry) goes before it."""
        entries = self._entries
        position = len(entries)
        while position and entries[position - 1].record.started_at > record.started_at:
            position -= 1
        entry = HistoryEntry(record, rule_id, held_bytes(record))
        entries.insert(position, entry)
        self._bytes += entry.held
        while len(self._entries) > self._size or (self._bytes > self._max_bytes and len(self._entries) > 1):
            self._bytes -= self._entries.popleft().held

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def entries(
        self,
        *,
        operation: str | None = None,
        model_names: Callable[[CallRecord], Iterable[str]] | None = None,
        model: str | None = None,
        limit: int | None = None,
    ) -> list[HistoryEntry]:
        """Entries (oldest first) of ``operation`` and ``model``, the last ``limit`` of them."""
        from claude_bedrock.domain.scripting import model_matches

        found = [
            entry
            for entry in self._entries
            if (operation is None or entry.record.operation == operation)
            and (model is None or model_matches(model, tuple(model_names(entry.record) if model_names else
                                                              (entry.record.model_id,))))
        ]
        return found[-limit:] if limit else found


# --------------------------------------------------------------------------- the hook


async def _replay(events: Sequence[StreamEvent]) -> AsyncIterator[StreamEvent]:
    for event in events:
        yield event


def _append_label(current: str | None, label: str) -> str:
    return f"{current},{label}" if current else label


def _without_label(current: str | None, label: str) -> str | None:
    if current is None:
        return None
    labels = current.split(",")
    if label in labels:
        labels.remove(label)
    return ",".join(labels) or None


@dataclass(slots=True)
class _OpenCall:
    """What the hook gave a call that has not ended yet (``Toolkit.observe`` settles it)."""

    selection: Selection | None = None
    #: the error or stream fault drawn for the call, until it strikes (one that never does goes
    #: back: nobody saw it)
    fault: Fault | None = None


class Toolkit:
    """Rules, faults, quotas and history of one server (module docstring).

    The rule book, fault plan and quota ledger are built on first use (``rules``, ``faults``,
    ``quotas``), and their domain modules imported then: a server whose scenario has none of
    them never loads them (start-up time is measured).
    """

    def __init__(self, state: ServiceState, scenario: Scenario,
                 sleep: Callable[[float], Awaitable[Any]] = sleep_at_least) -> None:
        self.state = state
        self.scenario = scenario
        self.sleep = sleep
        self.history = CallHistory(scenario.history_size)
        self._rules: RuleBook | None = None
        self._faults: FaultPlan | None = None
        self._quotas: QuotaLedger | None = None
        self._open: dict[str, _OpenCall] = {}
        self.reset()
        self._reset_at = float("-inf")  # no call predates the server

    @property
    def rules(self) -> RuleBook:
        if self._rules is None:
            from claude_bedrock.domain.scripting import RuleBook

            self._rules = RuleBook()
        return self._rules

    @property
    def faults(self) -> FaultPlan:
        if self._faults is None:
            from claude_bedrock.domain.faults import FaultPlan

            self._faults = FaultPlan(self._rng())
        return self._faults

    @property
    def quotas(self) -> QuotaLedger:
        if self._quotas is None:
            from claude_bedrock.domain.quotas import QuotaLedger

            self._quotas = QuotaLedger(self._baseline_quotas(), self.state.clock)
        return self._quotas

    def _baseline_quotas(self) -> QuotaConfig:
        if self.scenario.quotas is not None:
            return self.scenario.quotas
        from claude_bedrock.domain.quotas import QuotaConfig

        return QuotaConfig()

    def _rng(self) -> Callable[[], float]:
        return random.Random(self.state.settings.seed).random

    def reset(self) -> None:
        """Back to the baseline: its rules and faults with fresh counters, its quota limits,
        empty counters and history, a re-seeded fault rng, an empty prompt cache."""
        if self._rules is not None or self.scenario.rules:
            self.rules.clear()
            self.rules.extend(self.scenario.rules, "rules")
        if self._faults is not None or self.scenario.faults:
            self.faults.clear()
            self.faults.reseed(self._rng())
            self.faults.extend(self.scenario.faults, "faults")
        if self._quotas is not None or self.scenario.quotas is not None:
            self.quotas.configure(self._baseline_quotas())
            self.quotas.reset()
        self.history.clear()
        self._open.clear()
        self.state.prompt_cache.reset()
        #: calls that started before this belong to the previous test (``_stale``)
        self._reset_at = self.state.clock()

    def _stale(self, record: CallRecord) -> bool:
        """Whether ``record``'s call started before the last reset: a call the previous test
        left running (its client timed out during injected latency, or a failed test still
        holds its stream). It must not reach the new history nor take the new rules' turns."""
        return record.started_at < self._reset_at

    # -- call history -------------------------------------------------------------------

    def observe(self, record: CallRecord) -> None:
        """Observer: keep every runtime call (successful or not), and settle what the hook
        gave it: a turn its client gave up on and a fault that never struck (an error fault
        whose client left during the latency, a stream fault of a call that never streamed)
        go back."""
        opened = self._open.pop(record.request_id, None)
        if self._stale(record):
            return
        rule_id = None
        if opened is not None:
            if opened.selection is not None:
                rule_id = opened.selection.rule.id
                if record.error_code == "ClientDisconnected":
                    opened.selection.give_back()
            fault = opened.fault
            if fault is not None:
                if self._faults is not None:
                    self._faults.give_back(fault)
                record.injected_fault = _without_label(record.injected_fault, fault.label)
        self.history.add(record, rule_id)

    def model_names(self, requested: str, base_id: str | None) -> tuple[str, ...]:
        """Every name a call's model answers to, for rule, fault and history filters."""
        names = [requested]
        model = self.state.catalog.get(base_id) if base_id else None
        if model is not None:
            names += [model.model_id, model.anthropic_name, *model.aliases]
        return tuple(names)

    def _burndown(self, base_id: str) -> int:
        """Quota tokens one output token costs on the model (the catalog's burndown rate)."""
        model = self.state.catalog.get(base_id)
        return model.quota_output_burndown if model is not None else DEFAULT_QUOTA_OUTPUT_BURNDOWN

    def record_model_names(self, record: CallRecord) -> tuple[str, ...]:
        return self.model_names(record.model_id, record.resolved_model_id)

    # -- the events hook ----------------------------------------------------------------

    @property
    def active(self) -> bool:
        return bool((self._rules is not None and len(self._rules))
                    or (self._faults is not None and len(self._faults))
                    or (self._quotas is not None and self._quotas.config.enabled))

    @property
    def has_faults(self) -> bool:
        return self._faults is not None and len(self._faults) > 0

    def _draw(self, view: CallView, record: CallRecord) -> tuple[Injection, _OpenCall]:
        """The call's faults (``FaultPlan.draw``), their labels written to its record; and the
        call, opened (``observe`` settles it)."""
        opened = self._open[record.request_id] = _OpenCall()
        injection = self.faults.draw(view)
        opened.fault = injection.fault
        if injection.label:
            record.injected_fault = injection.label
        return injection, opened

    async def count_tokens_faults(self, record: CallRecord, model_id: str, request: Mapping[str, Any],
                                  watch: DisconnectWatch) -> None:
        """The faults of a validated CountTokens call of base model ``model_id`` (the handler
        asks only when ``has_faults``): their latency, ended by the client leaving
        (``ClientDisconnected``), then the error fault, raised."""
        from claude_bedrock.domain.scripting import CallView

        view = CallView(self.model_names(record.model_id, model_id), record.operation, record.account_id,
                        record.region, request)
        injection, opened = self._draw(view, record)
        if injection.latency_ms:
            with watch:
                await self.sleep(injection.latency_ms / 1000)
            if self._stale(record):  # reset while it waited: the new scenario is not its own
                return
        if injection.before is not None:
            opened.fault = None  # it strikes
            raise injection.before.error()

    def events(self, call: ModelCall, record: CallRecord, engine: Engine) -> AsyncIterator[StreamEvent]:
        """``ServiceState.events_hook``: the engine's events, or the scripted/faulty ones."""
        if not self.active:
            return engine.stream(call)
        return self._events(call, record, engine)

    async def _events(self, call: ModelCall, record: CallRecord, engine: Engine) -> AsyncIterator[StreamEvent]:
        from claude_bedrock.domain.quotas import QuotaExceeded
        from claude_bedrock.domain.scripting import CallView, reply_events

        view = CallView(self.model_names(record.model_id, call.model_id), call.operation, call.account_id,
                        call.region, call.request)
        injection, opened = self._draw(view, record)
        if injection.latency_ms:
            await self.sleep(injection.latency_ms / 1000)
            if self._stale(record):  # reset while it waited: the new scenario is not its own
                async for event in engine.stream(call):
                    yield event
                return
        if injection.before is not None:
            opened.fault = None  # it strikes
            raise injection.before.error()
        input_tokens = (call.input_tokens if call.input_tokens is not None
                        else count_request(call.request, preserve_thinking=call.preserve_thinking))
        try:
            reservation = self.quotas.reserve(
                account_id=call.account_id, region=call.region, model_id=call.model_id,
                endpoint=record.endpoint_type or "regional",  # set when the model was resolved
                model_names=view.model_names, input_tokens=input_tokens,
                max_tokens=int(call.request.get("max_tokens") or 0), burndown=self._burndown(call.model_id),
            )
        except QuotaExceeded as exc:
            record.injected_fault = _append_label(record.injected_fault, f"quota:{exc.quota}")
            raise
        selection = opened.selection = self.rules.select(view)
        # A call cut short settles what it produced, as it is billed (counted only under a quota).
        usage = UsageTracker() if reservation is not None else None
        try:
            if selection is None:
                source = engine.stream(call)
            else:
                error = selection.reply.error()
                if error is not None:
                    raise error
                input_usage = self.state.prompt_cache.apply(
                    account_id=call.account_id, region=call.region, model_id=call.model_id, request=call.request,
                    input_tokens=input_tokens, preserve_thinking=call.preserve_thinking,
                    segments=call.prompt_segments)
                source = _replay(reply_events(selection.reply, call, input_usage, self.state.thinking_signer))
            async for event in _striking(source, opened, selection):
                if usage is not None:
                    usage.observe(event)
                yield event
        finally:
            if reservation is not None and usage is not None:
                reservation.settle(usage.input, usage.output, usage.cache_write)


async def _striking(
    source: AsyncIterator[StreamEvent], opened: _OpenCall, selection: Selection | None
) -> AsyncIterator[StreamEvent]:
    """``source``, cut by the call's stream fault after its ``after_events`` events (or before
    the last); a stream error after 0 events is the stream's first frame (``ErrorAsFirstFrame``)."""
    fault = opened.fault  # a stream fault (an error fault struck before the stream), or None
    try:
        if fault is None:
            async for event in source:
                yield event
            return
        sent = 0
        pending = await anext(source, None)
        while pending is not None:
            following = await anext(source, None)
            if sent >= fault.after_events or following is None:
                opened.fault = None  # it struck
                if selection is not None:
                    selection.give_back()
                error = fault.error()
                if fault.after_events == 0 and isinstance(error, BedrockError):
                    raise ErrorAsFirstFrame(error)
                raise error
            yield pending
            sent += 1
            pending = following
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()


# --------------------------------------------------------------------------- wiring


def install(state: ServiceState) -> Toolkit:
    """Build the toolkit for ``state`` and hook it in (events hook + history observer).

    Raises:
        ConfigError: a bad ``[testing]`` table or rules file.
    """
    toolkit = Toolkit(state, load_scenario(state.settings))
    state.events_hook = toolkit.events
    state.observers.append(toolkit.observe)
    state.testing = toolkit
    return toolkit


def toolkit_of(state: ServiceState) -> Toolkit | None:
    """The toolkit installed on ``state``, if any."""
    toolkit = getattr(state, "testing", None)
    return toolkit if isinstance(toolkit, Toolkit) else None
