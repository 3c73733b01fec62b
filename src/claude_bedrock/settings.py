"""Server settings: every setting is declared once, in ``SETTINGS``.

The CLI generates its ``serve`` options from this table (each also readable from an
environment variable ``CLAUDE_BEDROCK_<NAME>``), and the TOML config file's ``[server]``
table accepts the same names. Precedence: command line > environment > config file >
default. An empty environment variable counts as unset; ``~`` in a file or folder setting is
the home folder, wherever it is written; a host may be written ``[::1]``.

The config file also lists credentials and API keys (README, section Authentication)::

    [server]
    strict_auth = true

    [[credentials]]
    access_key_id = "AKIAEXAMPLE"
    secret_access_key = "..."
    session_tokens = ["..."]        # optional
    account_id = "111122223333"     # optional: the server's account_id setting by default
    user_name = "alice"             # identity ARN arn:aws:iam::<account>:user/<user_name>
    admin = true                    # optional: may use the admin API of a strict server

    [[api_keys]]
    key = "my-bedrock-api-key"
    account_id = "111122223333"     # optional, as for credentials
    user_name = "ci-bot"
    region = "eu-west-1"            # optional: the region of its calls (default us-east-1)
    admin = false

    [upstream]                      # gateway mode: model calls go to a real Bedrock
    endpoint = "aws"                # or a URL; the upstream setting
    region = "eu-west-1"            # optional: upstream_region
    access_key_id = "AKIA..."       # optional: the gateway's own AWS keys (else the AWS
    secret_access_key = "..."       #   environment and ~/.aws); or api_key = "..."
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from claude_bedrock.domain.account_id import is_account_id
from claude_bedrock.domain.region_name import DEFAULT_REGION, REGION_NAME_RE

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_USER_NAME = "developer"


class ConfigError(ValueError):
    """A bad config file or setting value; the message names the file and key."""


#: The guide keeps invocation logs on a rolling basis of at least this many days (the default).
GUIDE_RETENTION_DAYS = 30
#: The longest retention window (100 years): a longer one means "keep forever", which is 0.
MAX_RETENTION_DAYS = 36_500


def _between(low: int, high: int | None = None) -> Callable[[Any], str | None]:
    """A setting check: an integer in ``[low, high]``."""
    def check(value: Any) -> str | None:
        if value < low or (high is not None and value > high):
            return f"must be between {low} and {high}" if high is not None else f"must be at least {low}"
        return None
    return check


def unbracketed_host(host: str) -> str:
    """``[::1]``, as an IPv6 address is written in a URL, read as the address ``::1``."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") and ":" in host else host


def _host_check(value: Any) -> str | None:
    try:  # bytes the locale could not decode arrive as lone surrogates: no name resolves to them
        value.encode("utf-8")
    except UnicodeError:
        return "must be a host name or an IP address"
    return None


def _latency_check(value: Any) -> str | None:
    from claude_bedrock.domain.catalog import default_catalog  # only when the setting is given
    from claude_bedrock.domain.simulated_latency import parse_latency

    try:
        parse_latency(value, {model.model_id for model in default_catalog().models})
    except ValueError as exc:
        return str(exc)
    return None


def _account_id_check(value: Any) -> str | None:
    return None if is_account_id(value) else "must be 12 digits"


def _upstream_check(value: Any) -> str | None:
    if value == "aws":
        return None
    usage = "must be 'aws' or an http(s) URL such as https://bedrock-runtime.eu-west-1.amazonaws.com"
    scheme, sep, rest = value.partition("://")
    authority = rest.split("/", 1)[0]
    if not sep or scheme not in ("http", "https") or not authority or "?" in rest or "#" in rest:
        return usage
    if "@" in authority:  # never sent (calls are signed), and the URL is logged at start-up
        return "must not hold a user name or password: the gateway's credentials go in the [upstream] table"
    if not value.isprintable() or any(char.isspace() for char in value):
        return usage
    from urllib.parse import urlsplit  # here: imported for a gateway only (start-up cost)

    try:  # a host and a port every call can use (else each would fail with a traceback)
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number in 0-65535
    except ValueError:
        return usage
    return None if parts.hostname else usage


def _region_check(value: Any) -> str | None:
    return None if REGION_NAME_RE.fullmatch(value) else "must be an AWS region name such as 'eu-west-1'"


@dataclass(frozen=True)
class SettingSpec:
    name: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    #: Why a value of the right type is refused, or None.
    check: Callable[[Any], str | None] | None = None
    #: The value's name in ``serve --help`` (default: its type's, e.g. TEXT).
    metavar: str | None = None
    #: A refused value is repeated in the error (not for one that may hold a password).
    echo_refused: bool = True

    @property
    def is_path(self) -> bool:
        """A file or folder: ``~`` and ``~user`` are expanded wherever the value comes from (a
        shell expands them on the command line, not in a config file or a quoted variable)."""
        return self.metavar in ("FILE", "DIRECTORY")


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("host", str, "127.0.0.1", "Address to bind.", check=_host_check),
    SettingSpec("port", int, 8787, "Port to bind (0 picks a free port).", check=_between(0, 65535)),
    SettingSpec(
        "tls_cert",
        str,
        None,
        "Serve HTTPS with this PEM certificate (chain) file; its key in --tls-key, or in the same file. "
        "Off: plain HTTP, where bearer API keys, session tokens, prompts and answers travel in clear.",
        metavar="FILE",
    ),
    SettingSpec("tls_key", str, None, "PEM private key of --tls-cert (needs --tls-cert).", metavar="FILE"),
    SettingSpec("data_dir", str, "./data", "Folder for the embedded database and log sinks; one the server "
                "creates is 0700 (owner only: it holds every logged prompt and answer).", metavar="DIRECTORY"),
    SettingSpec(
        "strict_auth",
        bool,
        None,
        "Reject access keys and API keys not listed in the config (default: on when bound beyond "
        "loopback, off on loopback). Off, an unlisted key is accepted unchecked and the admin API "
        "(reset, scripted answers, every call's prompts) is open to anyone who reaches the server.",
    ),
    SettingSpec("seed", int, 0, "Seed of the deterministic simulator."),
    SettingSpec(
        "simulator_mode", str, "prose", "Simulator answers: plausible prose or echo.", ("prose", "echo")
    ),
    SettingSpec(
        "simulator_latency",
        str,
        None,
        "Simulated latency: FIRST_TOKEN_MS:TOKENS_PER_S for every model, or a comma list of "
        "MODEL_ID=FIRST_TOKEN_MS:TOKENS_PER_S (MODEL_ID * for the rest). Off by default.",
        check=_latency_check,
        echo_refused=False,  # the refusal names the part at fault
    ),
    SettingSpec(
        "strict_model_ids",
        bool,
        False,
        "AWS's stricter rule: refuse bare base model IDs for on-demand calls.",
    ),
    SettingSpec(
        "verify_thinking_signatures",
        bool,
        True,
        "Refuse thinking blocks sent back changed, forged or from another model, as Bedrock does "
        "(turn off to send hand-written thinking blocks). In gateway mode the upstream checks them.",
    ),
    SettingSpec(
        "account_id",
        str,
        DEFAULT_ACCOUNT_ID,
        "Default account (12 digits): of config-file keys without account_id, and of unknown keys in "
        "development mode.",
        check=_account_id_check,
    ),
    SettingSpec(
        "model_access",
        str,
        "granted",
        "Model access of a new account: every model granted, or none until an agreement exists.",
        ("granted", "none"),
    ),
    SettingSpec("log_level", str, "info", "Server log level.", ("debug", "info", "warning", "error")),
    SettingSpec(
        "access_log",
        bool,
        False,
        "Write one key=value line per request to the server log (request ID, operation, status, error, "
        "account, region, model, tokens, latency, client address), whatever --log-level; never keys, "
        "signatures, prompts or answers.",
    ),
    SettingSpec(
        "log_retention_days",
        int,
        GUIDE_RETENTION_DAYS,
        f"Invocation logs are kept for this many days (rolling window, at most {MAX_RETENTION_DAYS}; 0 keeps "
        f"them forever). Under the guide's {GUIDE_RETENTION_DAYS} days the server warns at start.",
        check=_between(0, MAX_RETENTION_DAYS),
    ),
    SettingSpec(
        "log_flush_interval_ms",
        int,
        500,
        "Invocation-log records wait at most this long in memory before being written (at most an hour).",
        check=_between(1, 3_600_000),
    ),
    SettingSpec("log_batch_size", int, 500, "Invocation-log records written per batch at most.", check=_between(1)),
    SettingSpec(
        "upstream",
        str,
        None,
        "Gateway mode: answer model calls from a real Bedrock instead of the simulator: 'aws' "
        "(bedrock-runtime.<region>.amazonaws.com, in each caller's region) or the URL of a Bedrock-compatible "
        "endpoint. The gateway's own credentials: the config file's [upstream] table, else the AWS "
        "environment (AWS_ACCESS_KEY_ID..., AWS_BEARER_TOKEN_BEDROCK, AWS_PROFILE, ~/.aws; with the gateway extra, "
        "botocore's whole chain, roles included, refreshed as they expire), found at start-up: none found, the "
        "server does not start.",
        metavar="aws|URL",
        check=_upstream_check,
        echo_refused=False,  # a URL may hold a password (refused): not repeated on terminals and in logs
    ),
    SettingSpec(
        "upstream_region",
        str,
        None,
        "Gateway mode: the region of every upstream call (default: each caller's own region).",
        metavar="REGION",
        check=_region_check,
    ),
    SettingSpec(
        "upstream_max_retries",
        int,
        0,
        "Gateway mode: retries of an upstream call refused before its first event (throttled, 5xx, "
        "connection failure), at most 10. 0 hands every failure to the caller, whose SDK retries (not both).",
        check=_between(0, 10),
    ),
    SettingSpec(
        "upstream_timeout",
        int,
        600,
        "Gateway mode: seconds an upstream call may wait for its next bytes, 1 to 3600 (to connect: 5 s, then it is unreachable).",
        metavar="SECONDS",
        check=_between(1, 3600),
    ),
    SettingSpec(
        "rules_file",
        str,
        None,
        "Testing scenario loaded at start: scripted rules, faults, quotas (TOML; YAML if PyYAML is installed).",
        metavar="FILE",
    ),
)

_SPECS = {spec.name: spec for spec in SETTINGS}


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    account_id: str = DEFAULT_ACCOUNT_ID
    user_name: str = DEFAULT_USER_NAME
    session_tokens: tuple[str, ...] = ()
    #: may use the admin API (``/_claude-bedrock``) of a strict server
    admin: bool = False

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:user/{self.user_name}"

    def __repr__(self) -> str:  # never show the secret
        return f"Credential(access_key_id={self.access_key_id!r}, account_id={self.account_id!r})"


@dataclass(frozen=True)
class ApiKey:
    key: str
    account_id: str = DEFAULT_ACCOUNT_ID
    user_name: str = DEFAULT_USER_NAME
    #: the region of the key's calls (a bearer request carries none); None: from the Host or
    #: the key itself where it can tell (short-term keys), else DEFAULT_REGION
    region: str | None = None
    admin: bool = False

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:user/{self.user_name}"

    def __repr__(self) -> str:
        return f"ApiKey(account_id={self.account_id!r}, user_name={self.user_name!r})"


@dataclass(frozen=True)
class UpstreamCredentials:
    """The gateway's own credentials for its upstream (config ``[upstream]``): AWS keys, a
    Bedrock API key, or a profile of ~/.aws."""

    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    api_key: str | None = None
    profile: str | None = None

    def __repr__(self) -> str:  # never show a secret
        return f"UpstreamCredentials(access_key_id={self.access_key_id!r}, profile={self.profile!r})"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8787
    tls_cert: str | None = None
    tls_key: str | None = None
    data_dir: str = "./data"
    strict_auth: bool | None = None
    seed: int = 0
    simulator_mode: Literal["prose", "echo"] = "prose"
    simulator_latency: str | None = None
    strict_model_ids: bool = False
    verify_thinking_signatures: bool = True
    account_id: str = DEFAULT_ACCOUNT_ID
    model_access: Literal["granted", "none"] = "granted"
    log_level: str = "info"
    access_log: bool = False
    rules_file: str | None = None
    upstream: str | None = None
    upstream_region: str | None = None
    upstream_max_retries: int = 0
    upstream_timeout: int = 600
    upstream_credentials: UpstreamCredentials | None = None
    log_retention_days: int = 30
    log_flush_interval_ms: int = 500
    log_batch_size: int = 500
    credentials: tuple[Credential, ...] = ()
    api_keys: tuple[ApiKey, ...] = ()
    config_file: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def effective_strict_auth(self) -> bool:
        """Strict unless explicitly relaxed, whenever the bind address is not loopback."""
        if self.strict_auth is not None:
            return self.strict_auth
        return not is_loopback(self.host)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def is_loopback(host: str) -> bool:
    """``host`` (a name or address, without port or brackets) names this machine's loopback:
    ``localhost``, ``*.localhost``, ``127.x.x.x``, ``::1``."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def coerce(name: str, value: Any, origin: str, *, typed: bool = False) -> Any:
    """Convert ``value`` (from a CLI, env var or TOML) to the setting's type.

    ``typed``: the value comes from TOML, which has booleans and numbers of its own, so the
    spellings of the command line and environment (``"yes"``, ``"8787"``) are refused there."""
    spec = _SPECS.get(name)
    if spec is None:
        raise ConfigError(f"{origin}: unknown setting {name!r}{_unknown_hint(name, _SPECS)}")
    if value is None:
        return None
    try:
        if typed and spec.type in (bool, int) and isinstance(value, str):
            raise ValueError(value)
        if spec.type is bool:
            if isinstance(value, bool):
                result: Any = value
            elif typed:  # a TOML number
                raise ValueError(value)
            elif str(value).lower() in ("1", "true", "yes", "on"):
                result = True
            elif str(value).lower() in ("0", "false", "no", "off"):
                result = False
            else:
                raise ValueError(value)
        elif spec.type is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)  # int() would drop a TOML fraction silently
            result = int(value)
        elif isinstance(value, (bool, int, float, list, dict)):  # a TOML value of another type
            raise ValueError(value)
        else:
            result = str(value)
            if spec.is_path:
                result = os.path.expanduser(result)
            elif name == "host":
                result = unbracketed_host(result)
    except ValueError:
        kind = _TYPE_WORDS.get(spec.type, spec.type.__name__)
        if spec.type is bool and not typed:  # the command line and environment take more words
            kind = "a boolean (true/false, yes/no, on/off, 1/0)"
        raise ConfigError(f"{origin}: {name} must be {kind}, got {value!r}") from None
    if spec.choices and result not in spec.choices:
        raise ConfigError(f"{origin}: {name} must be one of {', '.join(spec.choices)}, got {result!r}")
    problem = spec.check(result) if spec.check else None
    if problem is not None:
        got = f", got {result!r}" if spec.echo_refused else ""
        raise ConfigError(f"{origin}: {name} {problem}{got}")
    return result


_TYPE_WORDS = {int: "an integer", bool: "a boolean (true/false)", str: "a string"}


def _unknown_hint(name: str, known: Any) -> str:
    """What to write instead of the unknown setting ``name``: the setting it is most likely a
    slip for (``strict-auth``, ``prot``), else where the names are listed."""
    import difflib  # here: only for a refused config file (start-up cost)

    close = difflib.get_close_matches(name.lower().replace("-", "_"), list(known), n=1, cutoff=0.75)
    if close:
        return f"; did you mean {close[0]!r}?"
    return "; the settings are the serve options' names with _ for - (claude-bedrock serve --help)"


def read_user_bytes(path: Path, what: str) -> bytes:
    """The bytes of a file named on the command line (a TLS certificate or key, PEM or not);
    any problem reading it is a ConfigError naming it (a relative path not found: with the
    working directory it is read from, also when the config file named it)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        where = "" if path.is_absolute() else f" (a relative path is read from the working directory {Path.cwd()})"
        raise ConfigError(f"{what} not found: {path}{where}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def read_user_file(path: Path, what: str) -> str:
    """The text of a UTF-8 file named on the command line (config or rules file); any
    problem reading it is a ConfigError naming it (a relative path not found: with the working
    directory it is read from, also when the config file named it). A leading byte order mark,
    as Windows editors write, is dropped: TOML would refuse it as a statement."""
    try:
        return read_user_bytes(path, what).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None


#: The config file's tables.
_TABLES = {"server", "credentials", "api_keys", "testing", "upstream"}


def load_config_file(path: str | Path, account_id: str | None = None) -> dict[str, Any]:
    """Read a TOML config file into ``Settings`` keyword arguments.

    Credentials and API keys without ``account_id`` are in the server's default account:
    ``account_id`` when given (the setting from the command line or environment, which win
    over the file), else the ``[server]`` table's, else ``DEFAULT_ACCOUNT_ID``."""
    path = Path(path).expanduser()  # ~ as in the file's own path settings (CLAUDE_BEDROCK_CONFIG='~/c.toml')
    try:
        raw = tomllib.loads(read_user_file(path, "config file"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    unknown = set(raw) - _TABLES
    if unknown:
        raise ConfigError(f"{path}: unknown table(s): {', '.join(sorted(unknown))}; "
                          f"expected {', '.join(sorted(_TABLES))}")
    server = raw.get("server", {})
    if not isinstance(server, dict):
        raise ConfigError(f"{path}: server: expected a table ([server])")
    out: dict[str, Any] = {}
    for name, value in server.items():
        out[name] = coerce(name, value, f"{path} [server]", typed=True)
    account = account_id or out.get("account_id") or DEFAULT_ACCOUNT_ID
    out["credentials"] = tuple(
        _credential(entry, f"{path} credentials[{i}]", account)
        for i, entry in enumerate(_entries(raw, "credentials", path))
    )
    _listed_once([c.access_key_id for c in out["credentials"]], path, "credentials", "access_key_id")
    out["api_keys"] = tuple(
        _api_key(entry, f"{path} api_keys[{i}]", account) for i, entry in enumerate(_entries(raw, "api_keys", path))
    )
    _listed_once([k.key for k in out["api_keys"]], path, "api_keys", "key")
    if "upstream" in raw:
        _upstream_table(raw["upstream"], f"{path} [upstream]", out)
    out["extra"] = {"testing": raw["testing"]} if "testing" in raw else {}
    return out


#: ``[upstream]`` keys that are settings (the rest are the gateway's credentials).
_UPSTREAM_SETTINGS = {"endpoint": "upstream", "region": "upstream_region", "max_retries": "upstream_max_retries",
                      "timeout": "upstream_timeout"}
_UPSTREAM_SECRETS = ("access_key_id", "secret_access_key", "session_token", "api_key", "profile")


def _upstream_table(entry: Any, origin: str, out: dict[str, Any]) -> None:
    """The ``[upstream]`` table into ``out``: its settings (also accepted in ``[server]``, but
    not in both) and the gateway's credentials."""
    entry = _table(entry, origin, set(_UPSTREAM_SETTINGS) | set(_UPSTREAM_SECRETS))
    for key, name in _UPSTREAM_SETTINGS.items():
        if key in entry:
            if name in out:
                raise ConfigError(f"{origin}.{key}: {name} is also set in [server]; set it once")
            out[name] = coerce(name, entry[key], origin, typed=True)
    secrets = {key: _require_str(entry, key, origin) for key in _UPSTREAM_SECRETS if key in entry}
    if not secrets:
        return
    keys = ("access_key_id" in secrets) + ("secret_access_key" in secrets)
    if keys == 1:
        raise ConfigError(f"{origin}: access_key_id and secret_access_key go together")
    if "session_token" in secrets and not keys:
        raise ConfigError(f"{origin}.session_token: needs access_key_id and secret_access_key")
    if sum((keys > 0, "api_key" in secrets, "profile" in secrets)) > 1:
        raise ConfigError(f"{origin}: give one kind of credentials: access keys, api_key or profile")
    out["upstream_credentials"] = UpstreamCredentials(**secrets)


def _entries(raw: dict[str, Any], key: str, path: Path) -> list[Any]:
    """The ``[[key]]`` array of tables (a single ``[key]`` table is a common slip)."""
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"{path}: {key}: expected an array of tables ([[{key}]])")
    return value


def _listed_once(values: list[str], path: Path, table: str, key: str) -> None:
    """A key listed twice would silently be its last entry's (an AWS access key belongs to
    one user); the message names the entries, never an API key itself."""
    first: dict[str, int] = {}
    for i, value in enumerate(values):
        if value in first:
            raise ConfigError(f"{path} {table}[{i}].{key}: already listed in {table}[{first[value]}]")
        first[value] = i


def _require_str(entry: dict[str, Any], key: str, origin: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{origin}.{key}: expected a non-empty string")
    return value


def _account(entry: dict[str, Any], origin: str, default: str) -> str:
    account = _require_str(entry, "account_id", origin, default)
    if not is_account_id(account):
        raise ConfigError(f"{origin}.account_id: expected 12 digits, got {account!r}")
    return account




def _table(entry: Any, origin: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ConfigError(f"{origin}: expected a table")
    unknown = set(entry) - keys
    if unknown:
        raise ConfigError(f"{origin}: unknown key(s): {', '.join(sorted(unknown))}; "
                          f"expected {', '.join(sorted(keys))}")
    return entry


def _admin(entry: dict[str, Any], origin: str) -> bool:
    value = entry.get("admin", False)
    if not isinstance(value, bool):
        raise ConfigError(f"{origin}.admin: expected a boolean (true/false)")
    return value


def _credential(entry: Any, origin: str, account: str) -> Credential:
    entry = _table(entry, origin, {"access_key_id", "secret_access_key", "session_tokens", "account_id",
                                   "user_name", "admin"})
    tokens = entry.get("session_tokens", [])
    if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
        raise ConfigError(f"{origin}.session_tokens: expected a list of strings")
    return Credential(
        access_key_id=_require_str(entry, "access_key_id", origin),
        secret_access_key=_require_str(entry, "secret_access_key", origin),
        account_id=_account(entry, origin, account),
        user_name=_require_str(entry, "user_name", origin, DEFAULT_USER_NAME),
        session_tokens=tuple(tokens),
        admin=_admin(entry, origin),
    )


def _api_key(entry: Any, origin: str, account: str) -> ApiKey:
    entry = _table(entry, origin, {"key", "account_id", "user_name", "region", "admin"})
    region = entry.get("region")
    if region is not None and not (isinstance(region, str) and REGION_NAME_RE.fullmatch(region)):
        raise ConfigError(f"{origin}.region: expected an AWS region name such as 'eu-west-1', got {region!r}")
    return ApiKey(
        key=_require_str(entry, "key", origin),
        account_id=_account(entry, origin, account),
        user_name=_require_str(entry, "user_name", origin, DEFAULT_USER_NAME),
        region=region,
        admin=_admin(entry, origin),
    )


def build_settings(cli: dict[str, Any], env: dict[str, str], config_file: str | None) -> Settings:
    """Merge the sources: command line > environment > config file > default."""
    overrides: dict[str, Any] = {}
    for spec in SETTINGS:
        env_name = f"CLAUDE_BEDROCK_{spec.name.upper()}"
        if env.get(env_name):  # set but empty (VAR= in a unit file, a cleared export) counts as unset
            overrides[spec.name] = coerce(spec.name, env[env_name], f"environment {env_name}")
    for name, value in cli.items():
        if value is not None:
            overrides[name] = coerce(name, value, f"--{name.replace('_', '-')}")
    values: dict[str, Any] = {}
    if config_file:
        values.update(load_config_file(config_file, overrides.get("account_id")))
        values["config_file"] = str(config_file)
    settings = Settings(**(values | overrides))
    if settings.upstream is None and (settings.upstream_credentials or settings.upstream_region):
        # callers would take the simulator's answers for the upstream's
        raise ConfigError(f"{settings.config_file or 'upstream settings'}: [upstream] credentials or region, but no "
                          "upstream: set endpoint in [upstream] (or --upstream aws|URL), or remove them")
    return settings
