"""Where a client's credentials, region and endpoints come from (pure resolution rules).

Purpose: turn constructor arguments, an environment mapping and (only when needed) the
parsed AWS shared files into one ``ClientConfig``. This module reads nothing itself: the
environment is a mapping argument and the files arrive through a loader callable
(``aws_files.load_aws_files`` in the shells), called at most once and only when a profile
is consulted.

Rules (seed "Effectuer des demandes"; issue 7; wire-protocol reference 7, 8, 9):

Credentials, first match wins:
  1. arguments: ``aws_access_key`` + ``aws_secret_key`` (+ ``aws_session_token``), or
     ``api_key`` (bearer), or ``aws_profile`` (that profile, skipping the environment, as
     ``boto3.Session(profile_name=...)`` does). Keys with ``api_key`` or with ``aws_profile``
     are contradictory and refused.
  2. environment: ``AWS_BEARER_TOKEN_BEDROCK`` (a Bedrock API key; it wins over keys, as in
     boto3 and the Anthropic SDKs), then ``AWS_ACCESS_KEY_ID`` + ``AWS_SECRET_ACCESS_KEY``
     (+ ``AWS_SESSION_TOKEN``, or botocore's legacy ``AWS_SECURITY_TOKEN``; in the files
     ``aws_session_token`` or ``aws_security_token``).
  3. shared files: profile ``AWS_PROFILE`` (else ``default``), static keys from
     ``~/.aws/credentials`` then ``~/.aws/config``. Role, SSO and process profiles are refused
     with a hint (no boto3 at run time).
  None found: ``auth`` is None and the first request raises ``ConfigurationError``.

Region: ``aws_region`` argument, then ``AWS_REGION``, then - only for an explicitly chosen
profile (``aws_profile=`` or ``AWS_PROFILE``) - that profile's ``region`` in ``~/.aws/config``,
then ``us-east-1``. ``AWS_DEFAULT_REGION`` is not read (the seed's rule).

Base URLs (runtime; the control plane and STS follow it when it is custom, since our server
answers all three on one URL):
  runtime: ``base_url``, ``ANTHROPIC_BEDROCK_BASE_URL``, ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``,
           ``AWS_ENDPOINT_URL``, ``https://bedrock-runtime.{region}.amazonaws.com``
  control: ``base_url``, ``ANTHROPIC_BEDROCK_BASE_URL``, ``AWS_ENDPOINT_URL_BEDROCK``,
           ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, ``AWS_ENDPOINT_URL``,
           ``https://bedrock.{region}.amazonaws.com``
  sts:     ``base_url``, ``ANTHROPIC_BEDROCK_BASE_URL``, ``AWS_ENDPOINT_URL_STS``,
           ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``, ``AWS_ENDPOINT_URL``, ``https://sts.{region}.amazonaws.com``
``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`` drops the ``AWS_ENDPOINT_URL*`` variables, as botocore does.

CA bundle (CAs HTTPS servers are checked against, beside the system's: see
``connections.tls_context``): ``AWS_CA_BUNDLE``, then - for an explicitly chosen profile, as
for the region - that profile's ``ca_bundle`` in ``~/.aws/config``. A ``http_client`` passed
to a client keeps its own TLS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from claude_bedrock.client.errors import ConfigurationError
from claude_bedrock.domain.region_name import DEFAULT_REGION

__all__ = [
    "DEFAULT_REGION", "ENDPOINT_VARIABLES", "IGNORE_ENDPOINTS_VARIABLE", "AwsCredentials", "ApiKey",
    "AwsFiles", "ClientConfig", "resolve_config", "resolve_auth", "endpoint_variables", "profile_credentials",
]  # fmt: skip

DEFAULT_PROFILE = "default"

#: Profile keys that mean "credentials come from somewhere this client does not go".
_INDIRECT_PROFILE_KEYS = (
    "role_arn", "source_profile", "credential_source", "sso_start_url", "sso_session",
    "credential_process", "web_identity_token_file", "login_session",
)  # fmt: skip

#: Service -> environment variables naming its endpoint, in precedence order (after base_url).
#: ``AWS_ENDPOINT_URL`` is botocore's endpoint for every service, after the service's own.
_ENDPOINT_ENV: Mapping[str, tuple[str, ...]] = {
    "runtime": ("ANTHROPIC_BEDROCK_BASE_URL", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL"),
    "control": ("ANTHROPIC_BEDROCK_BASE_URL", "AWS_ENDPOINT_URL_BEDROCK", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
                "AWS_ENDPOINT_URL"),
    "sts": ("ANTHROPIC_BEDROCK_BASE_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
            "AWS_ENDPOINT_URL"),
}
#: Every environment variable that names an endpoint (any service).
ENDPOINT_VARIABLES = tuple(dict.fromkeys(name for names in _ENDPOINT_ENV.values() for name in names))
#: botocore's switch: true, the ``AWS_ENDPOINT_URL*`` variables are ignored (not
#: ``ANTHROPIC_BEDROCK_BASE_URL``, which is the Anthropic SDK's own, nor ``base_url``).
IGNORE_ENDPOINTS_VARIABLE = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
_AWS_HOSTS: Mapping[str, str] = {"runtime": "bedrock-runtime", "control": "bedrock", "sts": "sts"}


def endpoint_variables(env: Mapping[str, str], service: str | None = None) -> tuple[str, ...]:
    """The endpoint variables that apply in ``env``, in precedence order: ``service``'s, or
    every service's (``IGNORE_ENDPOINTS_VARIABLE`` set to true leaves only the Anthropic one)."""
    names = _ENDPOINT_ENV[service] if service is not None else ENDPOINT_VARIABLES
    if env.get(IGNORE_ENDPOINTS_VARIABLE, "").strip().lower() == "true":
        return tuple(name for name in names if not name.startswith("AWS_ENDPOINT_URL"))
    return names


@dataclass(frozen=True, slots=True)
class AwsCredentials:
    """SigV4 credentials. ``source`` says where they were found (never printed: the secret)."""

    access_key: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    source: str = "arguments"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A Bedrock API key, sent as ``Authorization: Bearer <token>``."""

    token: str = field(repr=False)
    source: str = "arguments"


@dataclass(frozen=True, slots=True)
class AwsFiles:
    """Parsed shared files: section values by profile name (``[profile x]`` -> ``x``)."""

    credentials: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    config: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    credentials_path: str = "~/.aws/credentials"
    config_path: str = "~/.aws/config"


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Everything a client needs to address and sign requests."""

    region: str
    auth: AwsCredentials | ApiKey | None
    runtime_url: str
    control_url: str
    sts_url: str
    region_source: str = "default"
    profile: str | None = None
    #: PEM file of the CAs to trust for HTTPS (module rules), None: the system's.
    ca_bundle: str | None = None

    def url_for(self, service: str) -> str:
        """Base URL of ``"runtime"``, ``"control"`` or ``"sts"``."""
        return {"runtime": self.runtime_url, "control": self.control_url, "sts": self.sts_url}[service]


def resolve_config(
    *,
    env: Mapping[str, str],
    load_files: Callable[[], AwsFiles],
    aws_access_key: str | None = None,
    aws_secret_key: str | None = None,
    aws_session_token: str | None = None,
    api_key: str | None = None,
    aws_profile: str | None = None,
    aws_region: str | None = None,
    base_url: str | None = None,
) -> ClientConfig:
    """Apply the module's rules.

    Raises:
        ConfigurationError: contradictory arguments, half a key pair, an explicit profile that
            does not exist or has no static keys, a base URL that is not http(s)://host[...], a
            region that is no host name label (botocore's rule) or credentials that are not
            printable ASCII (``_check_sendable``).
    """
    files_cache: list[AwsFiles] = []

    def files() -> AwsFiles:
        if not files_cache:
            files_cache.append(load_files())
        return files_cache[0]

    explicit_profile = aws_profile or env.get("AWS_PROFILE") or None

    def profile_setting(name: str) -> str | None:
        """A setting of the explicitly chosen profile in ``~/.aws/config`` (none without one)."""
        return files().config.get(explicit_profile, {}).get(name) if explicit_profile else None

    auth = resolve_auth(env=env, load_files=files, aws_access_key=aws_access_key, aws_secret_key=aws_secret_key,
                        aws_session_token=aws_session_token, api_key=api_key, aws_profile=aws_profile)

    if aws_region:
        region, region_source = aws_region, "argument"
    elif env.get("AWS_REGION"):
        region, region_source = env["AWS_REGION"], "AWS_REGION"
    else:
        profile_region = profile_setting("region")
        if profile_region:
            region, region_source = profile_region, f"profile {explicit_profile}"
        else:
            region, region_source = DEFAULT_REGION, "default"

    _check_sendable(region, region_source, auth)
    urls = {service: _endpoint(service, base_url, env, region) for service in _AWS_HOSTS}
    ca_bundle = env.get("AWS_CA_BUNDLE") or profile_setting("ca_bundle")
    return ClientConfig(
        region=region,
        auth=auth,
        runtime_url=urls["runtime"],
        control_url=urls["control"],
        sts_url=urls["sts"],
        region_source=region_source,
        profile=explicit_profile,
        ca_bundle=ca_bundle or None,
    )


def resolve_auth(
    *,
    env: Mapping[str, str],
    load_files: Callable[[], AwsFiles],
    aws_access_key: str | None = None,
    aws_secret_key: str | None = None,
    aws_session_token: str | None = None,
    api_key: str | None = None,
    aws_profile: str | None = None,
) -> AwsCredentials | ApiKey | None:
    """The credentials rules alone (arguments, environment, shared files); None: none found.

    Raises:
        ConfigurationError: as ``resolve_config``, for the credentials.
    """
    auth = _explicit_auth(aws_access_key, aws_secret_key, aws_session_token, api_key, aws_profile)
    if auth is None and aws_profile:
        auth = profile_credentials(aws_profile, load_files(), required=True)
    if auth is None:
        auth = _env_auth(env)
    if auth is None:
        explicit_profile = aws_profile or env.get("AWS_PROFILE") or None
        auth = profile_credentials(explicit_profile or DEFAULT_PROFILE, load_files(), required=bool(explicit_profile))
    return auth


def _explicit_auth(
    access_key: str | None,
    secret_key: str | None,
    session_token: str | None,
    api_key: str | None,
    profile: str | None,
) -> AwsCredentials | ApiKey | None:
    has_keys = bool(access_key or secret_key)
    if api_key and (has_keys or profile):
        raise ConfigurationError("api_key cannot be combined with AWS keys or aws_profile; choose one.")
    if has_keys and profile:
        raise ConfigurationError("aws_access_key/aws_secret_key cannot be combined with aws_profile.")
    if has_keys:
        if not (access_key and secret_key):
            raise ConfigurationError("aws_access_key and aws_secret_key must be given together.")
        return AwsCredentials(access_key, secret_key, session_token or None, "arguments")
    if session_token:
        raise ConfigurationError("aws_session_token needs aws_access_key and aws_secret_key.")
    if api_key:
        return ApiKey(api_key, "api_key argument")
    return None


def _env_auth(env: Mapping[str, str]) -> AwsCredentials | ApiKey | None:
    token = env.get("AWS_BEARER_TOKEN_BEDROCK")
    if token:
        return ApiKey(token, "AWS_BEARER_TOKEN_BEDROCK")
    access_key = env.get("AWS_ACCESS_KEY_ID")
    secret_key = env.get("AWS_SECRET_ACCESS_KEY")
    if access_key and secret_key:
        token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN") or None
        return AwsCredentials(access_key, secret_key, token, "environment")
    if access_key or secret_key:
        missing = "AWS_SECRET_ACCESS_KEY" if access_key else "AWS_ACCESS_KEY_ID"
        raise ConfigurationError(f"{missing} is not set while its pair is; set both or neither.")
    return None


def profile_credentials(name: str, files: AwsFiles, *, required: bool) -> AwsCredentials | None:
    """Static keys of profile ``name``: the credentials file wins over the config file.

    Raises:
        ConfigurationError: ``required`` and the profile is missing, or it names credentials
            this client cannot obtain (role, SSO, process) or holds half a key pair.
    """
    sections = [
        (path, section)
        for path, section in (
            (files.credentials_path, files.credentials.get(name)),
            (files.config_path, files.config.get(name)),
        )
        if section is not None
    ]
    if not sections:
        if required:
            raise ConfigurationError(
                f"AWS profile {name!r} not found in {files.credentials_path} or {files.config_path}."
            )
        return None
    for path, section in sections:
        access_key = section.get("aws_access_key_id")
        secret_key = section.get("aws_secret_access_key")
        if access_key and secret_key:
            token = section.get("aws_session_token") or section.get("aws_security_token") or None
            return AwsCredentials(access_key, secret_key, token, f"profile {name} ({path})")
        if access_key or secret_key:
            raise ConfigurationError(f"AWS profile {name!r} in {path} has only half of a key pair.")
    indirect = sorted({key for _, section in sections for key in section if key in _INDIRECT_PROFILE_KEYS})
    if indirect:
        raise ConfigurationError(
            f"AWS profile {name!r} obtains credentials through {', '.join(indirect)}, which this client "
            "does not run; export static keys first, e.g. "
            f"`eval $(aws configure export-credentials --profile {name} --format env)`."
        )
    if required:
        raise ConfigurationError(f"AWS profile {name!r} has no aws_access_key_id / aws_secret_access_key.")
    return None


def _endpoint(service: str, base_url: str | None, env: Mapping[str, str], region: str) -> str:
    if base_url:
        return _check_url(base_url, "base_url")
    for name in endpoint_variables(env, service):
        value = env.get(name)
        if value:
            return _check_url(value, name)
    return f"https://{_AWS_HOSTS[service]}.{region}.amazonaws.com"


#: botocore's rule for a region name (``validate_region_name``): one host name label.
_REGION_LABEL = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?", re.ASCII)


def _check_sendable(region: str, region_source: str, auth: AwsCredentials | ApiKey | None) -> None:
    """Refuse a region or credentials no request can carry (a value the environment held as
    bytes the locale could not decode, or text outside ASCII: no AWS region, key or token has
    any), in one line rather than an encoding error when the first request is signed. The
    credentials are never repeated."""
    if not _REGION_LABEL.fullmatch(region):
        raise ConfigurationError(f"The region ({region_source}) must be a region name such as 'us-east-1', "
                                 f"not {ascii(region)}.")
    if isinstance(auth, AwsCredentials):
        values = [("access key", auth.access_key), ("secret key", auth.secret_key),
                  ("session token", auth.session_token or "")]
    elif isinstance(auth, ApiKey):
        values = [("API key", auth.token)]
    else:
        values = []
    for what, value in values:
        if not (value.isascii() and value.isprintable()):
            raise ConfigurationError(f"The {what} ({auth.source}) holds characters no AWS credential has "
                                     "(not printable ASCII).")  # type: ignore[union-attr]


def _check_url(url: str, source: str) -> str:
    scheme, sep, rest = url.partition("://")
    try:  # urllib refuses a port out of 0-65535 or not a number, and a broken [IPv6] literal
        parts = urlsplit(url)
        has_host = bool(parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:
        has_host = False
    if not sep or scheme.lower() not in ("http", "https") or not has_host:
        raise ConfigurationError(f"{source} must look like http(s)://host[:port][/path], not {url!r}.")
    return url.rstrip("/")
