"""A small Python client of the admin API (``/_claude-bedrock/...``) for tests.

``BedrockAdmin(url)`` adds rules, injects faults, sets quotas, reads and clears the call history,
and resets the server. ``calls()`` returns ``RecordedCall`` objects for assertions: the request
as the application sent it (``input_body``), the response or error, timings, the injected fault
and the rule that answered. Errors of the admin API raise ``AdminError``.

On a strict server pass ``api_key=`` (sent as ``Authorization: Bearer``); the plugin's servers
are development servers on loopback, where the admin API is open.
"""

from __future__ import annotations

import json
import ssl
from collections import Counter
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from claude_bedrock.settings import is_loopback

__all__ = ["AdminError", "BedrockAdmin", "RecordedCall"]

PREFIX = "/_claude-bedrock"


class AdminError(Exception):
    """The admin API refused a request (``status``, AWS-style ``code`` and ``message``)."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(f"{status} {code or 'error'}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _text_of(content: Any, separator: str = "") -> str:
    """Text of Anthropic or Converse content: a string, or blocks with ``text`` (joined by
    ``separator``)."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content or ():
        if isinstance(block, Mapping) and isinstance(block.get("text"), str):
            parts.append(block["text"])
    return separator.join(parts)


def _user_text(content: Any) -> str:
    """The text a user message gives the model, as rules' ``user_text_contains`` reads it: its
    text blocks and the text of its tool results (Anthropic ``tool_result``, Converse
    ``toolResult`` with ``text`` or ``json`` items), joined by spaces."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content or ():
        if not isinstance(block, Mapping):
            continue
        if isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif block.get("type") == "tool_result":
            inner = block.get("content")
            parts.append(inner if isinstance(inner, str) else _user_text(inner))
        elif isinstance(block.get("toolResult"), Mapping):
            for item in block["toolResult"].get("content") or ():
                if isinstance(item, Mapping) and isinstance(item.get("text"), str):
                    parts.append(item["text"])
                elif isinstance(item, Mapping) and "json" in item:
                    parts.append(json.dumps(item["json"], ensure_ascii=False, separators=(",", ":")))
    return " ".join(part for part in parts if part)


@dataclass
class RecordedCall:
    """One runtime call as the server recorded it."""

    request_id: str
    operation: str
    model_id: str
    resolved_model_id: str | None = None
    account_id: str | None = None
    region: str | None = None
    status: int = 200
    error_code: str | None = None
    error_message: str | None = None
    latency_ms: int = 0
    first_byte_ms: int | None = None
    #: The request body as sent (InvokeModel: Anthropic Messages JSON; Converse: Converse JSON).
    input_body: Any = None
    #: Non-streaming: the response body; streaming: the list of events sent.
    output_body: Any = None
    streamed: bool = False
    usage: dict[str, int] = field(default_factory=dict)
    #: Exact cost in USD at catalog prices, as invocation logs give it: decimal strings
    #: ``total``, ``input``, ``output``, ``cacheWrite5m``, ``cacheWrite1h``, ``cacheRead``, and
    #: ``currency``, ``regionalMultiplier``, ``longContext`` (None: the model was not resolved).
    cost: dict[str, Any] | None = None
    #: Label(s) of the injected fault(s), e.g. ``ThrottlingException`` or ``latency:200ms``.
    injected_fault: str | None = None
    #: Id of the scripted rule that answered (None: the simulator did).
    rule: str | None = None
    started_at: float | None = None
    #: The record exactly as the server returned it.
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordedCall:
        known = {name for name in cls.__dataclass_fields__ if name != "raw"}
        return cls(**{key: value for key, value in data.items() if key in known}, raw=dict(data))

    def __repr__(self) -> str:
        # What a failed assertion shows, and pytest cuts a repr over 240 characters in its
        # middle: with every field, the bodies, usage and cost hid the status and error that
        # tell calls apart (the request id, 36 more characters, is one field away).
        shown = ("operation", "model_id", "status", "error_code", "injected_fault", "rule")
        return f"RecordedCall({', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})"

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error_code is None

    @property
    def system(self) -> str:
        """The system prompt's text (Anthropic ``system`` or Converse ``system`` blocks), its
        text blocks joined by newlines, as rules' ``system_contains`` reads it."""
        body = self.input_body if isinstance(self.input_body, Mapping) else {}
        return _text_of(body.get("system"), "\n")

    @property
    def messages(self) -> list[Any]:
        body = self.input_body if isinstance(self.input_body, Mapping) else {}
        return list(body.get("messages") or [])

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if isinstance(message, Mapping) and message.get("role") == "user":
                return _user_text(message.get("content"))
        return ""

    @property
    def tool_names(self) -> list[str]:
        """Names of the tools the request declared (Anthropic ``tools`` or Converse toolConfig)."""
        body = self.input_body if isinstance(self.input_body, Mapping) else {}
        tools = body.get("tools") or (body.get("toolConfig") or {}).get("tools") or []
        names = []
        for tool in tools:
            spec = tool.get("toolSpec", tool) if isinstance(tool, Mapping) else {}
            if isinstance(spec.get("name"), str):
                names.append(spec["name"])
        return names

    @property
    def output_text(self) -> str:
        """The answer's text, whatever the operation (empty for errors)."""
        body = self.output_body
        if isinstance(body, list):
            parts = []
            for event in body:
                if not isinstance(event, Mapping):
                    continue
                delta = event.get("delta") or (event.get("contentBlockDelta") or {}).get("delta") or {}
                if isinstance(delta.get("text"), str):
                    parts.append(delta["text"])
            return "".join(parts)
        if isinstance(body, Mapping):
            if "content" in body:
                return _text_of(body["content"])
            return _text_of(((body.get("output") or {}).get("message") or {}).get("content"))
        return ""


class _SigV4Auth(httpx.Auth):
    """Signs each admin request with SigV4 for service ``bedrock``, as the server checks an
    admin access key (``service.admin``)."""

    requires_request_body = True

    def __init__(self, access_key: str, secret_key: str, session_token: str | None, region: str) -> None:
        self._key = (access_key, secret_key)
        self._session_token = session_token
        self._region = region

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        from claude_bedrock.wire.sigv4 import AMZ_DATE_FORMAT, HttpRequest, sign

        wire = HttpRequest.from_wire(request.method, request.url.raw_path, request.headers.raw, request.content)
        amz_date = datetime.now(timezone.utc).strftime(AMZ_DATE_FORMAT)
        for name, value in sign(wire, *self._key, self._region, "bedrock", amz_date,
                                session_token=self._session_token):
            request.headers[name] = value
        yield request


class BedrockAdmin:
    """Client of one server's admin API.

    Args:
        url: the server's base URL (``http://127.0.0.1:8787``).
        api_key: for a strict server: a configured Bedrock API key marked ``admin = true``.
        aws_access_key, aws_secret_key, aws_session_token: or a configured access key marked
            ``admin = true``: each request is signed with SigV4.
        region: the region those requests are signed for.
        timeout: seconds per request.
    """

    def __init__(self, url: str, *, api_key: str | None = None, aws_access_key: str | None = None,
                 aws_secret_key: str | None = None, aws_session_token: str | None = None,
                 region: str = "us-east-1", timeout: float = 30.0) -> None:
        if (aws_access_key is None) != (aws_secret_key is None):
            raise ValueError("give both aws_access_key and aws_secret_key, or neither")
        if api_key and aws_access_key:
            raise ValueError("give either api_key or an access key, not both")
        self.url = url.rstrip("/")
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        auth = (_SigV4Auth(aws_access_key, aws_secret_key, aws_session_token, region)
                if aws_access_key is not None and aws_secret_key is not None else None)
        # a proxy of the environment (a CI's HTTP_PROXY) cannot reach this machine's loopback;
        # without the environment httpx ignores SSL_CERT_FILE too, which the standard library's
        # default context reads (a local HTTPS server's certificate: docs/client.md)
        parts = urlsplit(self.url)
        local = is_loopback(parts.hostname or "")
        verify: ssl.SSLContext | bool = ssl.create_default_context() if local and parts.scheme == "https" else True
        self._http = httpx.Client(base_url=self.url + PREFIX, headers=headers, timeout=timeout, trust_env=not local,
                                  verify=verify, auth=auth)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BedrockAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BedrockAdmin({self.url!r})"

    def _request(self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body, params=params)
        if response.status_code >= 400:
            try:
                data = response.json()
            except ValueError:
                data = {}
            code = response.headers.get("x-amzn-errortype", "").split(":")[0] or None
            raise AdminError(response.status_code, code, data.get("message") or data.get("Message") or response.text)
        return response.json() if response.content else None

    # -- server -------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/health")

    def reset(self) -> None:
        """Back to the server's start: rules, faults, quotas, history, prompt cache, store."""
        self._request("POST", "/reset")

    # -- rules --------------------------------------------------------------------------

    def add_rule(
        self,
        rule: Mapping[str, Any] | None = None,
        *,
        text: str | None = None,
        tool_use: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        turns: Sequence[Any] | None = None,
        error: str | Mapping[str, Any] | None = None,
        stop_reason: str | None = None,
        times: int | None = None,
        id: str | None = None,
        **match: Any,
    ) -> dict[str, Any]:
        """Add a scripted rule; returns it as stored (with its ``id``).

        Either pass a whole ``rule`` (``{"match": ..., "respond": ...}``), or build one:
        ``add_rule(text="Hi", user_text_contains="hello", model="claude-sonnet-4-5")`` where
        the keyword conditions are ``model``, ``operation``, ``account``,
        ``user_text_contains``, ``system_contains``, ``has_tools``, and the reply is ``text``
        and/or ``tool_use={"name", "input"}``, or ``turns=[...]``, or ``error="ThrottlingException"``;
        ``stop_reason`` overrides the reply's natural one (``"max_tokens"``).
        """
        if rule is None:
            respond: dict[str, Any] = {}
            if turns is not None:
                respond["turns"] = list(turns)
            if text is not None:
                respond["text"] = text
            if tool_use is not None:
                respond["tool_use"] = tool_use if isinstance(tool_use, Mapping) else list(tool_use)
            if error is not None:
                respond["error"] = {"code": error} if isinstance(error, str) else dict(error)
            if stop_reason is not None:
                respond["stop_reason"] = stop_reason
            rule = {"match": match, "respond": respond}
            if times is not None:
                rule["times"] = times
            if id is not None:
                rule["id"] = id
        elif match or any(value is not None for value in (text, tool_use, turns, error, stop_reason, times, id)):
            raise TypeError("pass either a whole rule or keyword arguments, not both")
        return self._request("POST", "/rules", rule)["rules"][0]

    def add_rules(self, rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return self._request("POST", "/rules", {"rules": list(rules)})["rules"]

    def rules(self) -> list[dict[str, Any]]:
        return self._request("GET", "/rules")["rules"]

    def assert_rules_used_up(self, *rule_ids: str) -> None:
        """Fail (AssertionError naming each rule) when a scripted rule was never used, or has
        uses or turns left (``times``, ``turns``): the code under test made fewer matching calls
        than the script expected. ``rule_ids``: check only these rules (the rules of a rules
        file, there for every test, are otherwise checked too); an id no rule has fails.
        The message also names the calls the simulator answered: a call the script expected
        that matched no rule (a condition that does not hold) is one of them."""
        __tracebackhide__ = True  # pytest shows the test's line, not this one
        rules = self.rules()
        if rule_ids:
            unknown = sorted(set(rule_ids) - {rule["id"] for rule in rules})
            if unknown:
                raise AssertionError(f"no scripted rule {', '.join(map(repr, unknown))} (rules: "
                                     f"{', '.join(repr(rule['id']) for rule in rules) or 'none'})")
            rules = [rule for rule in rules if rule["id"] in rule_ids]
        left = [rule for rule in rules if rule["used"] == 0 or (rule["remaining"] or 0) > 0]
        if left:
            message = "scripted rules not used up: " + "; ".join(
                f"{rule['id']} (used {rule['used']}" + (f", {rule['remaining']} left)" if rule["remaining"] else ")")
                for rule in left)
            simulated = [call for call in self.calls()  # CountTokens: no model call, never scripted
                         if call.rule is None and call.ok and call.operation != "CountTokens"]
            if simulated:
                shown = "; ".join(f"{call.operation} {call.last_user_text[:80]!r}" for call in simulated[-3:])
                message += (f". The simulator answered {len(simulated)} call(s)"
                            f"{', the last 3' if len(simulated) > 3 else ''}: {shown}")
            raise AssertionError(message)

    def remove_rule(self, rule_id: str) -> None:
        self._request("DELETE", f"/rules/{quote(rule_id, safe='')}")

    def clear_rules(self) -> None:
        self._request("DELETE", "/rules")

    # -- faults -------------------------------------------------------------------------

    def inject_fault(self, kind: str, **options: Any) -> dict[str, Any]:
        """Inject a fault; returns it as stored.

        ``kind``: ``ThrottlingException``, ``ModelTimeoutException``,
        ``ServiceUnavailableException``, ``InternalServerException``, ``ModelNotReadyException``,
        ``ModelErrorException``, ``stream_error``, ``drop_connection`` or ``latency``. Options:
        ``count`` (the next N calls; default 1) or ``probability``, ``model``, ``operation``
        (a name or a list; ``CountTokens`` is reached only when named), ``account`` (the
        caller's 12-digit account ID: the calls of one account),
        ``after_events``, ``exception``, ``latency_ms``, ``message``, ``id``.
        """
        spec = {"kind": kind, **{key: value for key, value in options.items() if value is not None}}
        return self._request("POST", "/faults", spec)["faults"][0]

    def faults(self) -> list[dict[str, Any]]:
        return self._request("GET", "/faults")["faults"]

    def remove_fault(self, fault_id: str) -> None:
        self._request("DELETE", f"/faults/{quote(fault_id, safe='')}")

    def clear_faults(self) -> None:
        self._request("DELETE", "/faults")

    # -- quotas -------------------------------------------------------------------------

    def set_quotas(
        self,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        models: Mapping[str, Mapping[str, int | None]] | None = None,
    ) -> dict[str, Any]:
        """Replace the quota limits (None: no limit); the counters carry on."""
        body: dict[str, Any] = {"requests_per_minute": requests_per_minute, "tokens_per_minute": tokens_per_minute}
        if models:
            body["models"] = {name: dict(limits) for name, limits in models.items()}
        return self._request("PUT", "/quotas", body)

    def quotas(self) -> dict[str, Any]:
        return self._request("GET", "/quotas")

    # -- history ------------------------------------------------------------------------

    def calls(
        self, *, operation: str | None = None, model: str | None = None, limit: int | None = None
    ) -> list[RecordedCall]:
        """Recorded runtime calls, oldest first, optionally filtered (the last ``limit``)."""
        params = {key: value for key, value in {"operation": operation, "model": model, "limit": limit}.items()
                  if value is not None}
        return [RecordedCall.from_json(item) for item in self._request("GET", "/calls", params=params)["calls"]]

    def last_call(self, **filters: Any) -> RecordedCall:
        """The most recent call, filtered as ``calls`` is (AssertionError when there is none,
        naming the filters and what was recorded)."""
        __tracebackhide__ = True
        found = self.calls(limit=1, **filters)
        if not found:
            wanted = ", ".join(f"{key}={value!r}" for key, value in filters.items() if value is not None)
            recorded = Counter((call.operation, call.model_id) for call in self.calls()) if wanted else Counter()
            seen = ", ".join(f"{count} {operation} {model}" for (operation, model), count in recorded.items())
            raise AssertionError("no call recorded" + (f" with {wanted}" if wanted else "")
                                 + (f" (recorded: {seen})" if seen else ""))
        return found[0]

    def clear_calls(self) -> None:
        self._request("DELETE", "/calls")
