"""The admin API under the reserved prefix ``/_claude-bedrock`` (AWS paths never start with
``_``, so no AWS route can clash). JSON in, JSON out.

=======  ==========================  =========================================================
GET      /health                     ``{"status": "ok", "version"}``; always open (``HEAD``
                                     too, for load balancers' checks)
POST     /reset                      back to the start: rules, faults, quotas, history, prompt
                                     cache (``Toolkit.reset``) and the control-plane store
GET      /rules                      ``{"rules": [...]}`` with ``used`` and ``remaining``
POST     /rules                      one rule, a list, or ``{"rules": [...]}``; 201
                                     ``{"rules": [...]}`` (all or none are added)
DELETE   /rules[/{id}]               remove every rule, or one (404 when unknown)
GET      /faults                     ``{"faults": [...]}`` with ``remaining`` and ``fired``
POST     /faults                     one fault, a list, or ``{"faults": [...]}``; 201
DELETE   /faults[/{id}]              remove every fault, or one
GET      /calls                      ``{"calls": [...]}`` oldest first, each with its ``cost``;
                                     query ``operation``, ``model`` (name or glob), ``limit``
                                     (the last N); calls whose client has just left are
                                     waited for
DELETE   /calls                      forget the history
GET      /quotas                     ``{"limits": {...}, "usage": [...]}``
PUT      /quotas                     replace the limits (``requests_per_minute``,
                                     ``tokens_per_minute``, ``models``; null = no limit);
                                     the counters carry on
=======  ==========================  =========================================================

Rule, fault and quota formats: ``domain.scripting``, ``domain.faults``, ``domain.quotas``; a bad
one is a 400 ValidationException naming the key. Unknown routes are 404.

Security: on a development server (loopback bind, the default) the admin API is open, like
the rest of the server (``service.origin_guard`` keeps web pages out). On a strict server
(bound beyond loopback, or ``--strict-auth``) every route but ``/health`` requires a configured
key marked ``admin = true`` (the admin API sees and changes every account's calls and state):
SigV4 for service ``bedrock`` with that access key, or ``Authorization: Bearer`` with that API
key; any other caller gets 403 AccessDeniedException.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, unquote

from claude_bedrock import __version__
from claude_bedrock.domain.errors import AccessDeniedException, ResourceNotFoundException, ValidationException
from claude_bedrock.domain.invocation_log import call_cost, cost_json, input_body_of
from claude_bedrock.domain.json_body import json_bytes
from claude_bedrock.domain.quotas import parse_quota_config
from claude_bedrock.domain.scripting import RUNTIME_OPERATIONS, ScriptError, model_filter
from claude_bedrock.service.control_state import write
from claude_bedrock.service.http import Receive, Request, Send, read_body, send_response
from claude_bedrock.service.state import ServiceState
from claude_bedrock.service.testing_hooks import ADMIN_PREFIX, HistoryEntry, Toolkit, toolkit_of
from claude_bedrock.wire.sigv4 import PRESIGN_PARAMS

__all__ = ["ADMIN_PREFIX", "handle"]


Result = tuple[int, Any]
#: The operations the call history records (``/calls?operation=``).
HISTORY_OPERATIONS = (*RUNTIME_OPERATIONS, "CountTokens")
#: A handler returns its result, or (when it writes the store) an awaitable of it.
Handler = Callable[[ServiceState, Request, str | None], Result | Awaitable[Result]]


def _toolkit(state: ServiceState) -> Toolkit:
    toolkit = toolkit_of(state)
    if toolkit is None:
        raise ResourceNotFoundException("The testing toolkit is not installed on this server.")
    return toolkit


def _body(request: Request) -> Any:
    if not request.body:
        raise ValidationException("The request body must be JSON.")
    return request.json()


def _items(body: Any, key: str) -> list[Any]:
    """One item, a list of them, or ``{key: [...]}``."""
    if isinstance(body, dict) and set(body) == {key}:
        body = body[key]
    items = body if isinstance(body, list) else [body]
    if not items:
        raise ValidationException(f"Expected at least one item in {key}.")
    return items


def _query(request: Request) -> dict[str, str]:
    """The query's parameters, a presigned URL's own (its authentication) left out."""
    return {key: values[-1] for key, values in parse_qs(request.raw_query).items() if key not in PRESIGN_PARAMS}


# --------------------------------------------------------------------------- handlers


def health(state: ServiceState, request: Request, item: str | None) -> Result:
    return 200, {"status": "ok", "version": __version__}


async def reset(state: ServiceState, request: Request, item: str | None) -> Result:
    toolkit = toolkit_of(state)
    if toolkit is not None:
        toolkit.reset()
    else:
        state.prompt_cache.reset()
    if getattr(state, "has_store", True):
        store_reset = getattr(state.store, "reset", None)
        if store_reset is not None:  # a store write: it may wait on another process's lock
            await write(store_reset)
    return 200, {"status": "reset"}


def list_rules(state: ServiceState, request: Request, item: str | None) -> Result:
    return 200, {"rules": [rule.describe() for rule in _toolkit(state).rules.rules]}


def add_rules(state: ServiceState, request: Request, item: str | None) -> Result:
    added = _toolkit(state).rules.extend(_items(_body(request), "rules"), "rules")
    return 201, {"rules": [rule.describe() for rule in added]}


def delete_rules(state: ServiceState, request: Request, item: str | None) -> Result:
    rules = _toolkit(state).rules
    if item is None:
        rules.clear()
    elif not rules.remove(item):
        raise ResourceNotFoundException(f"No rule {item!r}.")
    return 200, {"status": "deleted"}


def list_faults(state: ServiceState, request: Request, item: str | None) -> Result:
    return 200, {"faults": [fault.describe() for fault in _toolkit(state).faults.faults]}


def add_faults(state: ServiceState, request: Request, item: str | None) -> Result:
    added = _toolkit(state).faults.extend(_items(_body(request), "faults"), "faults")
    return 201, {"faults": [fault.describe() for fault in added]}


def delete_faults(state: ServiceState, request: Request, item: str | None) -> Result:
    faults = _toolkit(state).faults
    if item is None:
        faults.clear()
    elif not faults.remove(item):
        raise ResourceNotFoundException(f"No fault {item!r}.")
    return 200, {"status": "deleted"}


#: How long a history read waits at most for the calls whose client has just left.
ENDING_WAIT_S = 5.0


async def _calls_ended(state: ServiceState) -> None:
    """Wait for the calls whose client has already left to be recorded: a test asserts on the
    call right after its client gave up (a timeout during injected latency). The server has read
    the closed connection by the poll that brought this request; its ``connection_lost`` runs
    at most one turn of the event loop later, and the call's disconnect watcher one turn after
    that, which puts the call in ``state.calls_ending`` (``service.disconnect``)."""
    for _ in range(2):
        await asyncio.sleep(0)
    if state.calls_ending:
        await asyncio.wait(set(state.calls_ending), timeout=ENDING_WAIT_S)


async def list_calls(state: ServiceState, request: Request, item: str | None) -> Result:
    await _calls_ended(state)
    toolkit = _toolkit(state)
    query = _query(request)
    unknown = set(query) - {"operation", "model", "limit"}
    if unknown:
        raise ValidationException(f"Unknown filter(s): {', '.join(sorted(unknown))}; use operation, model, limit.")
    operation = query.get("operation")
    if operation is not None and operation not in HISTORY_OPERATIONS:
        # a misspelt name would make ``assert not calls(operation=...)`` pass without testing anything
        raise ValidationException(f"Unknown operation {operation!r}; use one of {', '.join(HISTORY_OPERATIONS)}.")
    model = query.get("model")
    if model is not None and not any(entry.record.model_id == model for entry in toolkit.history.entries()):
        model_filter(model, "model")  # a misspelt name is refused as in rules (unless a call used it)
    limit_text = query.get("limit")
    digits = (limit_text or "").lstrip("0")
    if limit_text is not None and not (limit_text.isascii() and limit_text.isdigit() and digits):
        raise ValidationException("limit must be a positive integer.")
    entries = toolkit.history.entries(
        operation=operation,
        model=model,
        model_names=toolkit.record_model_names,
        # more digits than any history's length: every call (int() refuses over 4300 digits)
        limit=int(digits) if 0 < len(digits) <= 18 else None,
    )
    return 200, {"calls": [_call_json(state, entry) for entry in entries]}


def _call_json(state: ServiceState, entry: HistoryEntry) -> dict[str, Any]:
    """A recorded call with its cost, as its invocation log record gives it (None when the
    model was not resolved), and its ``input_body`` as that record gives it too: for a call
    refused before its body was parsed (an unknown model ID), the body received, when JSON."""
    record = entry.record
    price = call_cost(record, state.catalog.get(record.resolved_model_id) if record.resolved_model_id else None)
    described = entry.describe()
    if record.input_body is None:
        described["input_body"] = input_body_of(record)[0]
    return {**described, "cost": cost_json(price) if price is not None else None}


def delete_calls(state: ServiceState, request: Request, item: str | None) -> Result:
    _toolkit(state).history.clear()
    return 200, {"status": "deleted"}


def get_quotas(state: ServiceState, request: Request, item: str | None) -> Result:
    quotas = _toolkit(state).quotas
    return 200, {"limits": quotas.config.describe(), "usage": quotas.usage()}


def put_quotas(state: ServiceState, request: Request, item: str | None) -> Result:
    quotas = _toolkit(state).quotas
    quotas.configure(parse_quota_config(_body(request)))
    return 200, {"limits": quotas.config.describe(), "usage": quotas.usage()}


#: (method, collection) -> handler; ``item`` handlers take ``/collection/{id}``.
ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/health"): health,
    ("HEAD", "/health"): health,
    ("POST", "/reset"): reset,
    ("GET", "/rules"): list_rules,
    ("POST", "/rules"): add_rules,
    ("DELETE", "/rules"): delete_rules,
    ("GET", "/faults"): list_faults,
    ("POST", "/faults"): add_faults,
    ("DELETE", "/faults"): delete_faults,
    ("GET", "/calls"): list_calls,
    ("DELETE", "/calls"): delete_calls,
    ("GET", "/quotas"): get_quotas,
    ("PUT", "/quotas"): put_quotas,
}
ITEM_ROUTES: dict[tuple[str, str], Handler] = {
    ("DELETE", "/rules"): delete_rules,
    ("DELETE", "/faults"): delete_faults,
}
OPEN_ROUTES = frozenset({("GET", "/health"), ("HEAD", "/health")})


def _route(method: str, path: str) -> tuple[Handler, str | None, tuple[str, str]]:
    path = path.rstrip("/") or "/"
    handler = ROUTES.get((method, path))
    if handler is not None:
        return handler, None, (method, path)
    collection, _, item = path[1:].partition("/")
    key = (method, "/" + collection)
    handler = ITEM_ROUTES.get(key)
    if handler is not None and item and "/" not in item:
        return handler, unquote(item), key  # an id may hold any character, percent-encoded
    raise ResourceNotFoundException(f"No admin operation matches {method} {ADMIN_PREFIX}{path}")


async def handle(state: ServiceState, request: Request, receive: Receive, send: Send) -> None:
    """Serve one admin request (``request.raw_path`` starts with ``ADMIN_PREFIX``), its body
    not read yet: it is read once the route and the head's authentication passed.

    Raises:
        BedrockError: rendered by the app like any AWS error (400, 403, 404).
    """
    handler, item, key = _route(request.method, request.raw_path[len(ADMIN_PREFIX):])
    open_route = key in OPEN_ROUTES
    admitted = state.authenticator.admit(request, "bedrock") if not open_route and state.authenticator.strict else None
    if not open_route:  # an open route takes no body: an anonymous one is left unread, not buffered
        await read_body(request, receive)
    if admitted is not None:
        identity = state.authenticator.finish(request, admitted)
        if not identity.admin:  # it sees and changes every account's calls, faults and state
            raise AccessDeniedException(
                f"{identity.arn} may not use the admin API of this server: "
                "mark its key 'admin = true' in the config file."
            )
    try:
        result = handler(state, request, item)
        status, body = await result if inspect.isawaitable(result) else result
    except ScriptError as exc:
        raise ValidationException(str(exc)) from None
    payload = json_bytes(body)
    headers = [("content-type", "application/json"), ("content-length", str(len(payload)))]
    await send_response(send, status, headers, payload)

