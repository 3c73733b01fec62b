"""The gateway engine: model calls answered by a real Bedrock (or any endpoint speaking the
bedrock-runtime protocol), their events relayed through the server's own renderers.

Purpose: a platform team puts the server in front of Bedrock. Callers keep the server's
keys, accounts, model access, invocation logs, usage reports and testing toolkit; the answers
come from upstream, through the package's own client (``client.aio``: SigV4 or an API key,
event-stream decoding, typed errors).

Rules:
  1. Every call goes upstream as InvokeModelWithResponseStream, whatever the caller's
     operation: one stream of Anthropic events, which the service renders as the caller asked
     (InvokeModel JSON, Converse, ConverseStream...), as it renders the simulator's. The
     gateway's credentials need ``bedrock:InvokeModelWithResponseStream``.
  2. The model goes upstream as the inference profile the gateway resolved
     (``ModelCall.profile_id``: ``global.…``, ``us.…``), so the upstream serves and bills the
     endpoint the caller chose; in the caller's region unless ``upstream_region`` says one
     (then a geography's profile that region does not offer becomes the same model's profile
     of a geography it belongs to: still a geography's endpoint, as priced).
  3. The answer's ``id`` and ``model`` are the gateway's (the engine contract); the upstream
     request ID is in the server log (debug). ``message_stop`` loses the upstream's
     invocation metrics: the renderer writes the gateway's own. The service tier and latency
     the upstream reports (its response headers) are the ones the caller is told
     (``ModelCall.served_settings``), not the ones asked for.
  4. An upstream error reaches the caller as the same AWS error (code, HTTP status, message,
     modelled extra members) before the stream started, and as the same exception frame after
     (but a ConverseStream's timeout: its output has no ``modelTimeoutException`` member, so
     the frame is a ``modelStreamErrorException`` of original status 408).
     An error about the gateway's own credentials or permissions is the operator's to fix: it
     is logged, and the caller gets an error saying the gateway failed, never the upstream's
     words (which would mislead callers about their own keys, and name the gateway's IAM
     identity). The upstream's model-access refusal is one of them: it is about the gateway's
     AWS account (callers' own model access is the gateway's to decide, before relaying), and
     so are an untrusted certificate and an error no bedrock-runtime operation has. An
     unreachable upstream (refusing connections, or not accepting them in 5 s) is 503
     ServiceUnavailableException, a silent one 408 ModelTimeoutException. An answer that is
     no Bedrock answer (an error without an AWS error type, bytes that are not an event
     stream, events out of the Messages order, a stream ending before ``message_stop``,
     events the renderers cannot take: ``upstream_answer``) is 500 InternalServerException (a
     frame once the stream started), logged in one line; a failure after ``message_stop``
     (the response not ended in time, or cut) is logged, the answer being whole; an event
     type the gateway does not know (Anthropic may add some) is left out.
  5. Retries: ``upstream_max_retries`` (default 0: the caller's SDK retries, not both), and
     only before the first event.
  6. The gateway's own credentials are found when the engine is built (the server's start):
     the ``[upstream]`` table's keys or API key, or (the table naming no profile)
     ``AWS_BEARER_TOKEN_BEDROCK``, as they are; else, when botocore is installed, its whole
     AWS chain (instance and container roles, SSO, assumed roles, web identity...), temporary
     ones refreshed as they expire (in a worker thread: the refresh
     asks an AWS endpoint); else the package client's static rules (environment keys, static
     profiles). None, or ones that cannot be got, is a ``ConfigError``: the server does not
     start. A refresh that fails later is a 500 saying so, and a log line. The upstream's
     certificate is checked against the system's CAs (``SSL_CERT_FILE`` replaces them) and
     ``AWS_CA_BUNDLE``'s (``connections.tls_context``); an unusable bundle is a ``ConfigError``
     too.
  7. Context editing was applied by the gateway (``ModelCall.request`` is the edited prompt):
     the upstream gets that prompt without ``context_management``, and the final
     ``message_delta`` reports the gateway's edits.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from claude_bedrock.adapters.upstream_answer import AnswerCheck
from claude_bedrock.domain.engine import NON_STREAMING_OPERATIONS, SETTING_HEADERS, ModelCall, StreamEvent
from claude_bedrock.domain.errors import (
    ERRORS_BY_CODE,
    MODEL_ACCESS_DENIED,
    AccessDeniedException,
    BedrockError,
    ErrorAsFirstFrame,
    InternalServerException,
    ModelStreamErrorException,
    ModelTimeoutException,
    ServiceUnavailableException,
)
from claude_bedrock.domain.log_text import one_line
from claude_bedrock.domain.message import DONE, EVENT_TYPES, START, next_state
from claude_bedrock.wire.sigv4 import redact_session_tokens

if TYPE_CHECKING:
    import ssl

    import httpx

    from claude_bedrock.client.aio import AsyncAnthropicBedrock
    from claude_bedrock.domain.catalog import Catalog
    from claude_bedrock.settings import Settings

__all__ = ["BedrockUpstreamEngine", "AWS_ENDPOINT"]

log = logging.getLogger("claude_bedrock.upstream")

#: The upstream ``aws``: the regional bedrock-runtime endpoint of the call's region.
AWS_ENDPOINT = "https://bedrock-runtime.{region}.amazonaws.com"

#: Upstream error codes about the gateway's own credentials (AWS's front door).
CREDENTIAL_ERRORS = frozenset({
    "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException",
    "ExpiredTokenException", "MissingAuthenticationTokenException", "InvalidClientTokenId",
    "SignatureDoesNotMatch", "AccessDeniedException",
})  # fmt: skip
#: The extra members Bedrock's runtime errors model (botocore bedrock-runtime: ModelErrorException's
#: ``originalStatusCode`` and ``resourceName``, ModelStreamErrorException's ``originalStatusCode``
#: and ``originalMessage``): the only body members relayed besides the message.
MODELLED_MEMBERS = ("originalStatusCode", "originalMessage", "resourceName")
GATEWAY_CREDENTIALS_REFUSED = (
    "The gateway's credentials for its upstream Bedrock were refused ({code}); its operator can see why "
    "in the server log."
)
#: The upstream's model-access refusal: of the gateway's own account, not the caller's.
GATEWAY_MODEL_ACCESS_DENIED = (
    "The gateway's own account has no access to this model at its upstream Bedrock; its operator can see "
    "why in the server log."
)
NO_CREDENTIALS = (
    "--upstream: no credentials for the gateway's own calls: give access_key_id and secret_access_key, "
    "api_key or profile in the config file's [upstream] table, or set AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, AWS_BEARER_TOKEN_BEDROCK or AWS_PROFILE"
)
GATEWAY_CREDENTIALS_STALE = (
    "The gateway's credentials for its upstream Bedrock expired and could not be refreshed; its operator can see "
    "why in the server log."
)
UPSTREAM_UNREACHABLE = "The gateway could not reach its upstream Bedrock. Retry your request."
UPSTREAM_CUT = "The gateway's connection to its upstream Bedrock broke during the answer. Retry your request."
UPSTREAM_TIMED_OUT = "The gateway's upstream Bedrock did not answer in time. Retry your request."
UPSTREAM_UNTRUSTED = (
    "The gateway does not trust its upstream Bedrock's certificate; its operator can see why in the server log."
)
UPSTREAM_UNREADABLE = "The gateway could not read its upstream Bedrock's response."
UPSTREAM_UNRELAYED = ("The gateway's upstream Bedrock answered an error no bedrock-runtime operation has ({code}); "
                      "its operator can see why in the server log.")
_MESSAGE_STOP: StreamEvent = {"type": "message_stop"}


class BedrockUpstreamEngine:
    """``Engine`` relaying each call to an upstream bedrock-runtime (module docstring)."""

    def __init__(self, settings: Settings, *, env: Mapping[str, str] | None = None,
                 catalog: Catalog | None = None) -> None:
        self._endpoint = settings.upstream or "aws"
        self._region = settings.upstream_region
        self._catalog = catalog
        #: profile the caller's region resolved -> the one to invoke in ``upstream_region``
        self._profiles: dict[str, str] = {}
        self._max_retries = settings.upstream_max_retries
        self._timeout = float(settings.upstream_timeout)
        env = os.environ if env is None else env
        self._credentials, self._provider, self._credentials_source = _gateway_credentials(settings, env)
        self._tls = _gateway_tls(env)
        #: the provider's refresh in flight, shared by the calls that wait for it
        self._refreshing: asyncio.Future[Any] | None = None
        self._http: httpx.AsyncClient | None = None
        #: region -> (the credentials it signs with, the client)
        self._clients: dict[str, tuple[Mapping[str, str | None], AsyncAnthropicBedrock]] = {}

    def describe(self) -> str:
        """Where calls go and where the gateway's credentials came from, for the start-up log
        (no credential)."""
        where = "AWS (bedrock-runtime.<region>.amazonaws.com)" if self._endpoint == "aws" else self._endpoint
        region = f"region {self._region}" if self._region else "each caller's region"
        return f"{where}, {region}, with credentials from {self._credentials_source}"

    # -- the engine contract --------------------------------------------------------------

    def stream(self, call: ModelCall) -> AsyncIterator[StreamEvent]:
        return self._relay(call)

    async def count_tokens(self, call: ModelCall) -> int:
        """CountTokens upstream, for the bare model ID (Bedrock refuses profile IDs there)."""
        from claude_bedrock.client.errors import ClaudeBedrockError

        try:
            client = await self._client_for(call.region)
            return await client._relay_count_tokens(call.model_id, self._body(call), call.betas, call.invoke_settings)
        except ClaudeBedrockError as exc:
            raise self._error(exc) from None

    async def aclose(self) -> None:
        http, self._http = self._http, None
        self._clients.clear()
        if http is not None:
            await http.aclose()

    # -- relaying -------------------------------------------------------------------------

    async def _relay(self, call: ModelCall) -> AsyncIterator[StreamEvent]:
        from claude_bedrock.client.errors import ClaudeBedrockError

        model = self._upstream_profile(call)
        try:
            client = await self._client_for(call.region)
            stream = await client._relay_stream(model, self._body(call), call.betas, call.invoke_settings)
        except ClaudeBedrockError as exc:
            error = self._error(exc)
            if getattr(exc, "http_status", None) == 200 and call.operation not in NON_STREAMING_OPERATIONS:
                # the upstream's stream opened on it too
                raise ErrorAsFirstFrame(_stream_member_of(error, call.operation)) from None
            raise error from None
        log.debug("%s %s: upstream request %s", call.operation, model, stream.request_id)
        headers = stream.info.headers  # the tier and latency the upstream served the call with
        call.served_settings = [(name, value) for name in SETTING_HEADERS if (value := headers.get(name))]
        state = START
        check = AnswerCheck(call.operation)
        try:
            async for event in stream:
                kind = event.get("type")
                if kind not in EVENT_TYPES:  # a newer Anthropic event than the renderers know
                    log.debug("upstream event %r left out (request %s)", kind, stream.request_id)
                    continue
                following = next_state(state, kind)
                if following is None:
                    raise _unreadable(f"event {kind!r} out of order")
                state = following
                problem = check.problem(kind, event)
                if problem is not None:
                    raise _unreadable(problem)
                if kind == "message_start":
                    message = event["message"]
                    event = {**event, "message": {**message, "id": call.message_id, "model": call.anthropic_name}}
                elif kind == "message_stop":
                    event = _MESSAGE_STOP
                elif kind == "message_delta" and call.context_management is not None:
                    event = {**event, "context_management": call.context_management}
                yield event
        except ClaudeBedrockError as exc:
            if state == DONE:  # the answer is whole: the end of the upstream's response is not the caller's
                log.warning("upstream response failed after message_stop (request %s): %s", stream.request_id,
                            one_line(str(exc)))
                return
            raise _stream_member_of(self._error(exc, started=True), call.operation) from None
        finally:
            await stream.close()
        if state != DONE:
            raise _unreadable("the event stream ended before message_stop")

    def _upstream_profile(self, call: ModelCall) -> str:
        """The profile to invoke upstream (Rule 2): the caller's, unless ``upstream_region``
        does not offer it (a ``us.`` profile of a us-west-2 caller sent to eu-west-1): then the
        same model's profile of a geography that region belongs to, as a caller there would
        have used. None offered: the caller's, which the upstream refuses in its own words."""
        profile = call.profile_id or call.model_id
        if self._region is None or profile.startswith("global."):
            return profile
        found = self._profiles.get(profile)
        if found is None:
            from claude_bedrock.domain.catalog import GEOGRAPHIES, default_catalog

            catalog = self._catalog = self._catalog or default_catalog()
            # a geography's profile for a geography's (never global: another price)
            candidates = [profile] + [f"{geography}.{call.model_id}" for geography in GEOGRAPHIES]
            found = next((candidate for candidate in candidates
                          if catalog.get_system_profile(candidate, self._region) is not None), profile)
            self._profiles[profile] = found
        return found

    def _body(self, call: ModelCall) -> dict[str, Any]:
        body = dict(call.request)
        body.pop("anthropic_beta", None)  # the betas in force go back in, header ones included
        if call.context_management is not None:
            body.pop("context_management", None)  # applied here (Rule 7)
        return body

    async def _client_for(self, region: str) -> AsyncAnthropicBedrock:
        """The client for upstream calls of ``region``, signing with the credentials of the
        moment (a refreshed provider's new ones make a new client)."""
        region = self._region or region
        credentials = self._credentials if self._provider is None else await self._current_credentials()
        entry = self._clients.get(region)
        if entry is None or entry[0] != credentials:
            from claude_bedrock.client.aio import AsyncAnthropicBedrock
            from claude_bedrock.client.connections import timeouts_of
            from claude_bedrock.client.httpx_transport import async_client

            if self._http is None:
                import httpx

                # As many upstream connections as calls in flight: a client's default cap (100)
                # would queue the 101st stream until one ends.
                limits = httpx.Limits(max_connections=None, max_keepalive_connections=100)
                self._http = async_client(timeouts_of(self._timeout), limits, tls=self._tls)
            url = AWS_ENDPOINT.format(region=region) if self._endpoint == "aws" else self._endpoint
            client = AsyncAnthropicBedrock(
                aws_region=region,
                base_url=url,
                **credentials,
                max_retries=self._max_retries,
                timeout=self._timeout,
                http_client=self._http,
            )
            entry = self._clients[region] = (credentials, client)
        return entry[1]

    async def _current_credentials(self) -> Mapping[str, str | None]:
        """The provider's credentials now (Rule 6): refreshed in a worker thread when they
        are due (the refresh asks an AWS endpoint); once they must be (about to expire), one
        refresh for all the calls waiting (each in its own thread would queue on botocore's
        lock, and try again in turn when it fails); else taken as they are (no I/O).

        Raises:
            InternalServerException: the refresh failed (logged: the operator's to fix).
        """
        provider = self._provider
        try:
            due = provider.refresh_needed() if hasattr(provider, "refresh_needed") else False
            if due and not provider.refresh_needed(getattr(provider, "_mandatory_refresh_timeout", 600)):
                # still valid (botocore's advisory window): a thread refreshes, the others go on at once
                frozen = await asyncio.to_thread(provider.get_frozen_credentials)
            elif due:  # botocore makes every caller wait: for one refresh
                if self._refreshing is None:
                    self._refreshing = asyncio.ensure_future(asyncio.to_thread(provider.get_frozen_credentials))
                    self._refreshing.add_done_callback(self._refreshed)
                frozen = await asyncio.shield(self._refreshing)  # a caller gone leaves it to the others
            else:
                frozen = provider.get_frozen_credentials()
        except Exception as exc:  # noqa: BLE001 - botocore's many credential errors
            log.error("the gateway's credentials (%s) could not be refreshed: %s", self._credentials_source,
                      one_line(str(exc)))
            raise InternalServerException(GATEWAY_CREDENTIALS_STALE) from None
        return {"aws_access_key": frozen.access_key, "aws_secret_key": frozen.secret_key,
                "aws_session_token": frozen.token}

    def _refreshed(self, refresh: asyncio.Future[Any]) -> None:
        """The shared refresh is over: the next call due starts another."""
        self._refreshing = None
        if not refresh.cancelled():
            refresh.exception()  # retrieved: every waiter may have gone

    # -- errors (Rule 4) --------------------------------------------------------------------

    def _error(self, exc: Exception, *, started: bool = False) -> BedrockError:
        """The AWS error a caller gets for the upstream's ``exc`` (Rule 4); ``started``: the
        answer had begun."""
        from claude_bedrock.client.errors import (
            APIConnectionError,
            APIStatusError,
            APITimeoutError,
        )

        if isinstance(exc, APITimeoutError) and not _never_connected(exc):
            log.warning("upstream timed out: %s", exc)
            return ModelTimeoutException(UPSTREAM_TIMED_OUT)
        if isinstance(exc, APIConnectionError) and _certificate_refused(exc):
            # the operator's to fix (trust the upstream's CA): a retry cannot succeed
            log.error("upstream certificate not trusted: %s (trust its CA with AWS_CA_BUNDLE or SSL_CERT_FILE)", exc)
            return InternalServerException(UPSTREAM_UNTRUSTED)
        if isinstance(exc, APIConnectionError):
            # a connection made and then lost (an upstream that dropped it after its head, before
            # the first event) is no unreachable upstream: the operator would look for a network fault
            broke = started or not _never_connected(exc)
            log.warning("upstream %s: %s", "connection broke" if broke else "unreachable", exc)
            return ServiceUnavailableException(UPSTREAM_CUT if broke else UPSTREAM_UNREACHABLE)
        if not isinstance(exc, APIStatusError):
            return _unreadable(str(exc))
        code = _error_code(exc.code)
        if code in (None, str(exc.status_code)):  # the client's stand-ins when the answer names no
            # AWS error type, which every Bedrock error does: a web server's or a proxy's page
            return _unreadable(f"HTTP {exc.status_code} without an AWS error type: {exc.message}")
        if code == "AccessDeniedException" and exc.message == MODEL_ACCESS_DENIED:
            log.error("upstream refused the gateway's account access to the model: %s (request %s; grant it "
                      "model access there, in the upstream call's region)", exc.message, exc.request_id)
            return AccessDeniedException(GATEWAY_MODEL_ACCESS_DENIED)
        if code in CREDENTIAL_ERRORS:
            # AWS's signature error quotes the canonical request: its token line is the gateway's
            log.error("upstream refused the gateway's credentials: %s: %s (request %s)", code,
                      one_line(redact_session_tokens(exc.message)), exc.request_id)
            if code == "AccessDeniedException":
                return AccessDeniedException(GATEWAY_CREDENTIALS_REFUSED.format(code=code))
            return InternalServerException(GATEWAY_CREDENTIALS_REFUSED.format(code=code))
        cls = ERRORS_BY_CODE.get(code or "")
        if cls is None:  # no bedrock-runtime error (UnknownOperationException: a wrong URL path...)
            log.error("upstream answered an error the gateway does not relay: HTTP %s %s: %s (request %s)",
                      exc.status_code, code, one_line(exc.message), exc.request_id)
            return InternalServerException(UPSTREAM_UNRELAYED.format(code=code))
        body = exc.body if isinstance(exc.body, dict) else {}
        return cls(exc.message, **{key: body[key] for key in MODELLED_MEMBERS if key in body})


def _stream_member_of(error: BedrockError, operation: str) -> BedrockError:
    """``error`` as the exception frame of ``operation``'s stream: a timeout of a ConverseStream,
    whose output has no ``modelTimeoutException`` member (botocore's ``ConverseStreamOutput``:
    boto3 would raise an error without code or message), is a ``modelStreamErrorException``
    of original status 408 (Rule 4)."""
    if operation != "ConverseStream" or not isinstance(error, ModelTimeoutException):
        return error
    return ModelStreamErrorException(error.message, originalStatusCode=error.status, originalMessage=error.message)


def _never_connected(exc: BaseException) -> bool:
    """A failure to connect: refused, or a timeout while connecting (a firewall dropping the
    gateway's connections, a host that is down): the upstream is unreachable (503), not slow
    to answer (408), nor one whose connection broke."""
    import httpx

    return isinstance(exc.__cause__, (httpx.ConnectTimeout, httpx.ConnectError))  # the client chains httpx's error


def _certificate_refused(exc: BaseException) -> bool:
    """A TLS certificate verification failure somewhere in ``exc``'s causes."""
    import ssl

    seen: BaseException | None = exc
    for _ in range(8):  # the client's error, httpx's, httpcore's, ssl's
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _unreadable(why: str) -> InternalServerException:
    """The caller's error for an upstream answer that is not a Bedrock one; the log says why."""
    log.error("upstream response unreadable: %s", one_line(why))
    return InternalServerException(UPSTREAM_UNREADABLE)


def _gateway_credentials(settings: Settings, env: Mapping[str, str]) -> tuple[dict[str, str | None], Any, str]:
    """The gateway's own credentials, found once at start-up (Rule 6): the client's credential
    arguments (static ones) or a botocore credentials provider (refreshable ones), and where
    they came from.

    Raises:
        ConfigError: none found, or a profile or environment that gives none: the server
            does not start (every call would fail).
    """
    from claude_bedrock.client.config import ApiKey, resolve_auth
    from claude_bedrock.client.errors import ConfigurationError
    from claude_bedrock.client.sync import load_shared_files
    from claude_bedrock.settings import ConfigError, UpstreamCredentials

    table = settings.upstream_credentials or UpstreamCredentials()
    # the table's profile is the explicit choice: it beats an environment API key (as the client's rules)
    if not (table.access_key_id or table.api_key or (env.get("AWS_BEARER_TOKEN_BEDROCK") and not table.profile)):
        provider = _aws_chain(table.profile, env)
        if provider is not None:
            refreshed = ", refreshed as they expire" if hasattr(provider, "refresh_needed") else ""
            return {}, provider, f"the AWS credential chain ({provider.method}{refreshed})"
    try:
        auth = resolve_auth(env=env, load_files=lambda: load_shared_files(env), aws_access_key=table.access_key_id,
                            aws_secret_key=table.secret_access_key, aws_session_token=table.session_token,
                            api_key=table.api_key, aws_profile=table.profile)
    except ConfigurationError as exc:
        raise ConfigError(f"--upstream: the gateway's own credentials: {exc}") from None
    if auth is None:
        raise ConfigError(NO_CREDENTIALS)
    source = "the config file's [upstream] table" if table.access_key_id or table.api_key else auth.source
    if isinstance(auth, ApiKey):
        return {"api_key": auth.token}, None, source
    return {"aws_access_key": auth.access_key, "aws_secret_key": auth.secret_key,
            "aws_session_token": auth.session_token}, None, source


def _gateway_tls(env: Mapping[str, str]) -> ssl.SSLContext | None:
    """The TLS context trusting ``AWS_CA_BUNDLE`` (Rule 6), built at start-up and kept for the
    upstream's connections; None without one (httpx's default).

    Raises:
        ConfigError: the bundle cannot be used: the server does not start.
    """
    from claude_bedrock.client.connections import tls_context
    from claude_bedrock.client.errors import ConfigurationError
    from claude_bedrock.settings import ConfigError

    bundle = env.get("AWS_CA_BUNDLE") or None
    if bundle is None:
        return None
    try:
        return tls_context(bundle)
    except ConfigurationError as exc:
        raise ConfigError(f"--upstream: {exc}") from None


def _aws_chain(profile: str | None, env: Mapping[str, str]) -> Any:
    """botocore's credentials (the whole AWS chain: environment, shared files, SSO, assumed
    roles, web identity, ECS and EC2 instance roles), got once now; None when botocore is not
    installed, or ``env`` is not the process environment (which botocore reads): the
    package's own static rules then apply.

    Raises:
        ConfigError: botocore finds none, or cannot get them.
    """
    if env is not os.environ:
        return None
    try:
        import botocore.session
    except ImportError:
        return None
    from claude_bedrock.settings import ConfigError

    try:
        session = botocore.session.get_session()
        if profile:
            session.set_config_variable("profile", profile)
        provider = session.get_credentials()
        if provider is not None:
            provider.get_frozen_credentials()  # a role or SSO profile that cannot give any fails now
    except Exception as exc:  # noqa: BLE001 - botocore's many credential errors
        raise ConfigError(f"--upstream: the gateway's own credentials: {one_line(str(exc))}") from None
    if provider is None:
        raise ConfigError(NO_CREDENTIALS)
    return provider


def _error_code(code: str | None) -> str | None:
    """The AWS error code: ``ThrottlingException`` for a stream member ``throttlingException``
    and for an Anthropic ``rate_limit_error`` event inside a chunk too."""
    from claude_bedrock.client.streams import ANTHROPIC_STREAM_ERRORS

    code = ANTHROPIC_STREAM_ERRORS.get(code or "", code)
    return code[:1].upper() + code[1:] if code else code

