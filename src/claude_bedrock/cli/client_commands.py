"""Client commands of ``claude-bedrock``: ``ask``, ``models``, ``whoami``, ``count-tokens``.

Purpose: wire command-line options to ``claude_bedrock.AnthropicBedrock``; no protocol logic.

Endpoint: ``--endpoint-url`` for every service (our server answers runtime, control plane and STS
on one URL); else, when an endpoint variable is set (``ANTHROPIC_BEDROCK_BASE_URL``,
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, ``AWS_ENDPOINT_URL_BEDROCK``, ``AWS_ENDPOINT_URL_STS``,
``AWS_ENDPOINT_URL``), each service's URL as the client resolves it; else our local server
``http://127.0.0.1:8787`` (start it with ``claude-bedrock serve``). ``--aws`` talks to AWS itself:
each service at its endpoint in the region (``bedrock-runtime``, ``bedrock``, ``sts``), the endpoint
variables ignored. Credentials and region follow the client's rules (``docs/client.md``); when no
credentials are found and the endpoint is a loopback address, development credentials are used
(a development server accepts them) and a note says so on stderr; elsewhere the command stops
before any request, naming what a command's user sets (not the client's constructor arguments).

Errors: every client error prints one line (``Error: ...``) and exits with status 1; a usage
error exits with 2; Ctrl-C ends the process by SIGINT (``main.main``). No traceback.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from claude_bedrock.cli.utf8 import UTF8_TEXT, utf8_text
from claude_bedrock.domain.log_text import one_line
from claude_bedrock.settings import is_loopback

if TYPE_CHECKING:
    from claude_bedrock.client.sync import AnthropicBedrock

__all__ = ["CLIENT_COMMANDS", "DEFAULT_ENDPOINT_URL", "ask", "models", "whoami", "count_tokens"]

DEFAULT_ENDPOINT_URL = "http://127.0.0.1:8787"
DEFAULT_MODEL = "claude-sonnet-4-5"
#: Used only against a loopback endpoint when nothing else is configured.
DEV_ACCESS_KEY = "AKIDCLAUDEBEDROCKDEV"
DEV_SECRET_KEY = "claude-bedrock-local-development-secret"
_AVAILABILITY_COLUMNS = ("global", "us", "eu", "jp", "apac")
NO_CREDENTIALS = (
    "No AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_BEARER_TOKEN_BEDROCK, "
    "or give --profile NAME (or AWS_PROFILE) for a profile of ~/.aws/credentials or ~/.aws/config."
)


def _base_url(option: str | None, aws: bool) -> str | None:
    """The client's ``base_url``: one URL for every service, or None to resolve each service's
    own (its endpoint variable, else AWS)."""
    from claude_bedrock.client.config import endpoint_variables

    if option and aws:
        raise click.UsageError("give either --endpoint-url or --aws")
    if option or aws:
        return option
    return None if any(os.environ.get(name) for name in endpoint_variables(os.environ)) else DEFAULT_ENDPOINT_URL


@contextmanager
def _endpoint_variables_hidden(hidden: bool) -> Iterator[None]:
    """``--aws``: the client is built without the endpoint variables, which are then put back
    (the process, a test's CliRunner included, keeps its environment)."""
    from claude_bedrock.client.config import ENDPOINT_VARIABLES

    saved = {name: os.environ.pop(name) for name in ENDPOINT_VARIABLES if hidden and name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _is_loopback(url: str) -> bool:
    return is_loopback(urlsplit(url).hostname or "")


#: OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH.
_NAME_MISMATCH_CODES = (62, 64)
#: OpenSSL's verify codes of an issuer not trusted (18 DEPTH_ZERO_SELF_SIGNED_CERT, 19
#: SELF_SIGNED_CERT_IN_CHAIN, 20 UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 21 UNABLE_TO_VERIFY_LEAF_SIGNATURE);
#: the others (an expired certificate, ...) are told by the error itself.
_UNTRUSTED_CODES = (18, 19, 20, 21)


def _connection_hint(url: str, exc: Exception) -> str:
    """What to check when a server answered but not as the URL expects (the certificate does not
    name the URL's host or is not trusted; the URL's scheme is not the one the server speaks),
    else, on this machine, whether the server runs."""
    import ssl
    from http.client import RemoteDisconnected

    cause = getattr(exc, "cause", None)
    parts = urlsplit(url)
    if isinstance(cause, ssl.SSLCertVerificationError):
        if cause.verify_code in _NAME_MISMATCH_CODES:
            return (f" (the server's certificate is not issued for {parts.hostname}: its subjectAltName"
                    " must name the URL's host)")
        if cause.verify_code not in _UNTRUSTED_CODES:
            return ""
        trusted = [f"{name}={os.environ[name]}" for name in ("SSL_CERT_FILE", "AWS_CA_BUNDLE") if os.environ.get(name)]
        if trusted:  # CA files the client trusts: the issuer is in none of them
            return f" (the server's certificate is not issued by a CA of {' or '.join(trusted)})"
        return " (to trust the server's certificate, set SSL_CERT_FILE to its CA file)"
    if isinstance(cause, ssl.SSLError) and cause.reason == "WRONG_VERSION_NUMBER":
        return " (the server speaks plain HTTP: use an http:// URL)"
    if isinstance(cause, RemoteDisconnected) and parts.scheme == "http":
        return " (a server started with --tls-cert speaks HTTPS only: use an https:// URL)"
    return " (is `claude-bedrock serve` running?)" if _is_loopback(url) else ""


def _note_warning(message: Warning | str, *_: Any, **__: Any) -> None:
    click.echo(f"warning: {message}", err=True)


@contextmanager
def _client_errors(url: str) -> Iterator[None]:
    """Turn client exceptions into one-line click errors (exit status 1), and warnings (a
    deprecated model) into one-line notes on stderr."""
    from claude_bedrock.client.core import ModelDeprecationWarning
    from claude_bedrock.client.errors import APIConnectionError, APIStatusError, ClaudeBedrockError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", ModelDeprecationWarning)
            warnings.showwarning = _note_warning
            yield
    except APIConnectionError as exc:
        raise click.ClickException(f"cannot reach {url}: {exc.message}{_connection_hint(url, exc)}") from None
    except APIStatusError as exc:
        request = f" [request {exc.request_id}]" if exc.request_id else ""
        # (a server's message may quote what was sent, say a beta flag: its control characters
        # are shown, not run by the terminal)
        message = one_line(" ".join(exc.message.split()))
        raise click.ClickException(f"{exc.status_and_code}: {message}{request}") from None
    except ClaudeBedrockError as exc:
        raise click.ClickException(one_line(" ".join(str(exc).split()))) from None


def _make_client(region: str | None, endpoint_url: str | None, profile: str | None, aws: bool,
                 service: str = "runtime") -> tuple[AnthropicBedrock, str]:
    """The client, and the URL of the ``service`` the command calls (for its error messages)."""
    from claude_bedrock.client.sync import AnthropicBedrock

    base_url = _base_url(endpoint_url, aws)
    with _client_errors(base_url or "the endpoint"), _endpoint_variables_hidden(aws):
        client = AnthropicBedrock(aws_region=region, aws_profile=profile, base_url=base_url)
        url = client.config.url_for(service)
        if client.config.auth is None and _is_loopback(url):
            click.echo(f"note: no AWS credentials found; using development credentials for {url}", err=True)
            client = AnthropicBedrock(
                aws_region=region, base_url=base_url, aws_access_key=DEV_ACCESS_KEY, aws_secret_key=DEV_SECRET_KEY
            )
        elif client.config.auth is None:  # the client's own words name constructor arguments a command has not
            raise click.ClickException(NO_CREDENTIALS)
    return client, url


def client_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--region``, ``--endpoint-url``, ``--aws``, ``--profile``: shared by every client command."""
    func = click.option("--profile", type=UTF8_TEXT, default=None,
                        help="AWS profile of ~/.aws/credentials and ~/.aws/config.")(func)
    func = click.option(
        "--aws", is_flag=True,
        help="Talk to AWS: each service (runtime, control plane, STS) at its endpoint in --region; "
        "the AWS_ENDPOINT_URL* and ANTHROPIC_BEDROCK_BASE_URL variables are ignored.",
    )(func)  # fmt: skip
    func = click.option(
        "--endpoint-url", type=UTF8_TEXT, default=None, metavar="URL",
        help="One endpoint for every service, e.g. a claude-bedrock server [default: $ANTHROPIC_BEDROCK_BASE_URL, "
        "else each service's $AWS_ENDPOINT_URL_<SERVICE> (the runtime's for a service without one), else "
        "$AWS_ENDPOINT_URL, else the service's AWS endpoint in --region; with none of these variables set, "
        f"{DEFAULT_ENDPOINT_URL}]",
    )(func)  # fmt: skip
    return click.option("--region", type=UTF8_TEXT, default=None,
                        help="AWS region [default: $AWS_REGION, else the region of the --profile or $AWS_PROFILE "
                        "profile, else us-east-1].")(func)


def _argument_text(value: str, what: str) -> str:
    """A text argument, ``-`` reading stdin."""
    if value != "-":
        return utf8_text(value, what)
    with click.open_file("-", "rb") as stdin:  # left open: click does not close the standard streams
        return utf8_text(stdin.read(), what)


def _system(system: str | None) -> dict[str, Any]:
    return {"system": system} if system else {}


def _money(amount: Any) -> str:
    from claude_bedrock.cli.money import usd

    return f"${usd(amount)}" if amount is not None else "n/a"


@click.command()
@click.argument("prompt")
@click.option("--model", type=UTF8_TEXT, default=DEFAULT_MODEL, show_default=True,
              help="Alias, Anthropic name or Bedrock model ID.")
@click.option("--endpoint", type=click.Choice(["global", "regional"]), default=None,
              help="Endpoint type for an alias [default: global when the model has one].")
@click.option("--max-tokens", type=click.IntRange(min=1), default=1024, show_default=True,
              help="Longest answer, in tokens.")
@click.option("--system", type=UTF8_TEXT, default=None, help="System prompt.")
@click.option("--beta", "betas", type=UTF8_TEXT, multiple=True, metavar="FLAG",
              help="Beta flag sent in anthropic_beta, e.g. context-1m-2025-08-07 (the guide's 1M-token "
                   "context window, Sonnet 4 and 4.5); repeat for several.")
@client_options
def ask(prompt: str, model: str, endpoint: str | None, max_tokens: int, system: str | None, betas: tuple[str, ...],
        region: str | None, endpoint_url: str | None, aws: bool, profile: str | None) -> None:
    """Ask Claude; the answer streams to stdout, usage and cost go to stderr.

    PROMPT "-" reads the prompt from stdin.
    """
    prompt = _argument_text(prompt, "PROMPT")
    params = _system(system)
    from claude_bedrock.client.errors import APIConnectionError

    client, url = _make_client(region, endpoint_url, profile, aws)
    answered = False  # some of the answer is on stdout
    with _client_errors(url), client:
        try:
            with client.messages.stream(
                model=model, endpoint=endpoint, max_tokens=max_tokens,  # type: ignore[arg-type]
                messages=[{"role": "user", "content": prompt}], betas=list(betas) or None, **params,
            ) as stream:  # fmt: skip
                for text in stream.text_stream:  # as given: click strips ANSI codes off a pipe unless color=True
                    click.echo(text, nl=False, color=True)
                    answered = True
                message = stream.get_final_message()
        except APIConnectionError as exc:
            if not answered:
                raise
            click.echo()  # the error on a line of its own, after the part of the answer
            raise click.ClickException(f"the connection to {url} closed during the answer: {exc.message}")
        except Exception:
            if answered:
                click.echo()
            raise
        click.echo()
        cost = message.cost
        endpoint_type = f" ({cost.endpoint_type})" if cost is not None else ""
        click.echo(
            f"{message.bedrock_model_id} · {message.usage.input_tokens} in / {message.usage.output_tokens} out "
            f"tokens · {message.stop_reason} · cost {_money(cost.total if cost else None)}{endpoint_type}",
            err=True,
        )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--provider", type=UTF8_TEXT, default="anthropic", show_default=True, help="byProvider filter.")
@client_options
def models(as_json: bool, provider: str, region: str | None, endpoint_url: str | None, aws: bool,
           profile: str | None) -> None:
    """List foundation models, with the guide's endpoint availability (global, us, eu, jp, apac)."""
    client, url = _make_client(region, endpoint_url, profile, aws, "control")
    with _client_errors(url), client:
        listed = client.models.list(by_provider=provider)
    if not listed and not as_json:
        raise click.ClickException(
            f"No foundation models from provider {provider!r} in region {client.aws_region}: check --region and --provider."
        )
    if as_json:
        click.echo(json.dumps(
            [{**m.raw, "alias": m.alias, "availability": m.availability} for m in listed], indent=2
        ))  # fmt: skip
        return
    rows = [("MODEL ID", "NAME", "LIFECYCLE", *(c.upper() for c in _AVAILABILITY_COLUMNS))]
    for m in listed:
        cells = tuple(
            ("yes" if m.availability[c] else "no") if m.availability is not None else "-" for c in _AVAILABILITY_COLUMNS
        )
        rows.append((m.model_id, m.model_name, _lifecycle(m), *cells))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _lifecycle(model: Any) -> str:
    """The LIFECYCLE cell: the status, dated as the guide's table dates a deprecation."""
    status = model.lifecycle_status or "-"
    if status == "LEGACY" and model.deprecated_on is not None:
        return f"{status} since {model.deprecated_on.isoformat()}"
    return status


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@client_options
def whoami(as_json: bool, region: str | None, endpoint_url: str | None, aws: bool, profile: str | None) -> None:
    """Show the account and identity of the configured credentials (STS GetCallerIdentity)."""
    client, url = _make_client(region, endpoint_url, profile, aws, "sts")
    with _client_errors(url), client:
        identity = client.whoami()
    if as_json:
        click.echo(json.dumps({"Account": identity.account, "Arn": identity.arn, "UserId": identity.user_id}))
        return
    click.echo(f"Account: {identity.account}\nArn:     {identity.arn}\nUserId:  {identity.user_id}")


@click.command("count-tokens")
@click.argument("text", required=False)
@click.option("--file", "path", type=click.File("rb"), default=None,
              help="Read the text from a file ('-' for stdin).")
@click.option("--model", type=UTF8_TEXT, default=DEFAULT_MODEL, show_default=True,
              help="Alias, Anthropic name or Bedrock model ID (counted with its base model).")
@click.option("--system", type=UTF8_TEXT, default=None, help="System prompt (counted too).")
@client_options
def count_tokens(text: str | None, path: Any, model: str, system: str | None,
                 region: str | None, endpoint_url: str | None, aws: bool, profile: str | None) -> None:
    """Count the input tokens of TEXT (or --file) as one user message (Bedrock CountTokens).

    TEXT "-" reads the text from stdin.
    """
    if (text is None) == (path is None):
        raise click.UsageError("give either TEXT or --file")
    content = _argument_text(text, "TEXT") if text is not None else utf8_text(path.read(), f"--file {path.name}")
    params = _system(system)
    client, url = _make_client(region, endpoint_url, profile, aws)
    with _client_errors(url), client:
        counted = client.messages.count_tokens(model=model, messages=[{"role": "user", "content": content}], **params)
    click.echo(str(counted.input_tokens))


CLIENT_COMMANDS = (ask, models, whoami, count_tokens)
