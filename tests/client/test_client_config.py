"""Credentials, region and base-URL resolution (client/config.py, client/aws_files.py), both
as pure rules and through the client constructors with a temporary HOME and environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_bedrock import AnthropicBedrock, AsyncAnthropicBedrock, ConfigurationError
from claude_bedrock.client.aws_files import load_aws_files
from claude_bedrock.client.config import ApiKey, AwsCredentials, AwsFiles, resolve_config


def _no_files() -> AwsFiles:
    raise AssertionError("the shared files must not be read here")


def _files(credentials: dict | None = None, config: dict | None = None) -> AwsFiles:
    return AwsFiles(credentials or {}, config or {})


def _write_aws(home: Path, credentials: str = "", config: str = "") -> None:
    (home / ".aws").mkdir(exist_ok=True)
    (home / ".aws" / "credentials").write_text(credentials)
    (home / ".aws" / "config").write_text(config)


# --------------------------------------------------------------------------- credentials


def test_config_explicit_keys_win_over_environment_without_reading_files():
    env = {"AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_BEARER_TOKEN_BEDROCK": "tok"}
    config = resolve_config(env=env, load_files=_no_files, aws_access_key="ARGKEY", aws_secret_key="argsecret",
                            aws_session_token="tok", aws_region="eu-west-1")
    assert config.auth == AwsCredentials("ARGKEY", "argsecret", "tok", "arguments")


def test_config_api_key_argument_gives_bearer():
    config = resolve_config(env={}, load_files=_no_files, api_key="k", aws_region="us-east-1")
    assert isinstance(config.auth, ApiKey) and config.auth.token == "k"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_key": "k", "aws_access_key": "A", "aws_secret_key": "s"},
        {"api_key": "k", "aws_profile": "p"},
        {"aws_access_key": "A", "aws_secret_key": "s", "aws_profile": "p"},
        {"aws_access_key": "A"},
        {"aws_secret_key": "s"},
        {"aws_session_token": "t"},
    ],
)
def test_config_contradictory_arguments_are_refused(kwargs):
    with pytest.raises(ConfigurationError):
        resolve_config(env={}, load_files=_no_files, aws_region="us-east-1", **kwargs)


def test_config_environment_bearer_wins_over_environment_keys():
    env = {"AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "s", "AWS_BEARER_TOKEN_BEDROCK": "tok"}
    config = resolve_config(env=env, load_files=_no_files, aws_region="us-east-1")
    assert config.auth == ApiKey("tok", "AWS_BEARER_TOKEN_BEDROCK")


def test_config_environment_keys_with_session_token():
    env = {"AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"}
    config = resolve_config(env=env, load_files=_no_files, aws_region="us-east-1")
    assert config.auth == AwsCredentials("ENVKEY", "s", "t", "environment")


def test_config_legacy_security_token_names_are_read_as_botocore_does():
    # botocore EnvProvider / SharedCredentialProvider TOKENS: AWS_SECURITY_TOKEN and
    # aws_security_token are still written by older credential helpers
    env = {"AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SECURITY_TOKEN": "old"}
    assert resolve_config(env=env, load_files=_no_files, aws_region="us-east-1").auth.session_token == "old"
    files = _files({"default": {"aws_access_key_id": "DEF", "aws_secret_access_key": "d", "aws_security_token": "t"}})
    assert resolve_config(env={}, load_files=lambda: files).auth.session_token == "t"


def test_config_half_environment_key_pair_is_refused():
    with pytest.raises(ConfigurationError, match="AWS_SECRET_ACCESS_KEY"):
        resolve_config(env={"AWS_ACCESS_KEY_ID": "A"}, load_files=_no_files, aws_region="us-east-1")


def test_config_environment_keys_win_over_aws_profile_variable():
    env = {"AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "s", "AWS_PROFILE": "work"}
    files = _files({"work": {"aws_access_key_id": "FILEKEY", "aws_secret_access_key": "f"}})
    config = resolve_config(env=env, load_files=lambda: files, aws_region="us-east-1")
    assert config.auth.access_key == "ENVKEY"


def test_config_explicit_profile_skips_environment_keys():
    env = {"AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "s"}
    files = _files({"work": {"aws_access_key_id": "FILEKEY", "aws_secret_access_key": "f"}})
    config = resolve_config(env=env, load_files=lambda: files, aws_profile="work", aws_region="us-east-1")
    assert config.auth.access_key == "FILEKEY"


def test_config_default_profile_used_when_nothing_else():
    files = _files({"default": {"aws_access_key_id": "DEF", "aws_secret_access_key": "d", "aws_session_token": "t"}})
    config = resolve_config(env={}, load_files=lambda: files)
    assert config.auth == AwsCredentials("DEF", "d", "t", "profile default (~/.aws/credentials)")


def test_config_profile_keys_may_live_in_config_file():
    files = _files(config={"work": {"aws_access_key_id": "CFG", "aws_secret_access_key": "c"}})
    config = resolve_config(env={"AWS_PROFILE": "work"}, load_files=lambda: files)
    assert config.auth.access_key == "CFG"


def test_config_no_credentials_anywhere_gives_none():
    assert resolve_config(env={}, load_files=lambda: _files()).auth is None


def test_config_missing_explicit_profile_is_an_error():
    with pytest.raises(ConfigurationError, match="'ghost' not found"):
        resolve_config(env={}, load_files=lambda: _files(), aws_profile="ghost")
    with pytest.raises(ConfigurationError, match="'ghost' not found"):
        resolve_config(env={"AWS_PROFILE": "ghost"}, load_files=lambda: _files())


def test_config_role_profile_is_refused_with_a_hint():
    files = _files(config={"admin": {"role_arn": "arn:aws:iam::1:role/x", "source_profile": "default"}})
    with pytest.raises(ConfigurationError, match="export-credentials --profile admin"):
        resolve_config(env={}, load_files=lambda: files, aws_profile="admin")


# --------------------------------------------------------------------------- region


def test_config_region_argument_then_aws_region_then_default():
    assert resolve_config(env={"AWS_REGION": "eu-west-3"}, load_files=_no_files, api_key="k",
                          aws_region="ap-northeast-1").region == "ap-northeast-1"
    assert resolve_config(env={"AWS_REGION": "eu-west-3"}, load_files=_no_files, api_key="k").region == "eu-west-3"
    assert resolve_config(env={}, load_files=lambda: _files(), api_key="k").region == "us-east-1"


def test_config_aws_default_region_is_not_read():
    config = resolve_config(env={"AWS_DEFAULT_REGION": "eu-west-1"}, load_files=lambda: _files(), api_key="k")
    assert config.region == "us-east-1"


def test_config_default_profile_region_is_not_read():
    files = _files(config={"default": {"region": "eu-central-1"}})
    assert resolve_config(env={}, load_files=lambda: files, api_key="k").region == "us-east-1"


def test_config_explicit_profile_region_is_read_after_aws_region():
    files = _files({"work": {"aws_access_key_id": "W", "aws_secret_access_key": "w"}},
                   {"work": {"region": "eu-central-1"}})
    assert resolve_config(env={}, load_files=lambda: files, aws_profile="work").region == "eu-central-1"
    assert resolve_config(env={"AWS_PROFILE": "work"}, load_files=lambda: files).region == "eu-central-1"
    assert resolve_config(env={"AWS_REGION": "us-west-2"}, load_files=lambda: files,
                          aws_profile="work").region == "us-west-2"


# --------------------------------------------------------------------------- base URLs


def test_config_base_url_precedence():
    env = {"ANTHROPIC_BEDROCK_BASE_URL": "http://anthropic-env:1", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://aws-env:2"}
    arg = resolve_config(env=env, load_files=_no_files, api_key="k", base_url="http://arg:3/")
    assert (arg.runtime_url, arg.control_url, arg.sts_url) == ("http://arg:3",) * 3
    assert resolve_config(env=env, load_files=_no_files, api_key="k").runtime_url == "http://anthropic-env:1"
    env.pop("ANTHROPIC_BEDROCK_BASE_URL")
    assert resolve_config(env=env, load_files=_no_files, api_key="k").runtime_url == "http://aws-env:2"
    aws = resolve_config(env={}, load_files=lambda: _files(), api_key="k", aws_region="eu-west-1")
    assert aws.runtime_url == "https://bedrock-runtime.eu-west-1.amazonaws.com"
    assert aws.control_url == "https://bedrock.eu-west-1.amazonaws.com"
    assert aws.sts_url == "https://sts.eu-west-1.amazonaws.com"


def test_config_service_specific_endpoint_variables():
    env = {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://rt:1", "AWS_ENDPOINT_URL_BEDROCK": "http://cp:2",
           "AWS_ENDPOINT_URL_STS": "http://sts:3"}
    config = resolve_config(env=env, load_files=_no_files, api_key="k", aws_region="us-east-1")
    assert (config.runtime_url, config.control_url, config.sts_url) == ("http://rt:1", "http://cp:2", "http://sts:3")


def test_config_aws_endpoint_url_is_every_service_last_and_botocores_switch_ignores_the_aws_variables():
    urls = lambda env: tuple(  # noqa: E731
        getattr(resolve_config(env=env, load_files=_no_files, api_key="k", aws_region="us-east-1"), f"{s}_url")
        for s in ("runtime", "control", "sts"))
    assert urls({"AWS_ENDPOINT_URL": "http://all:1"}) == ("http://all:1",) * 3
    assert urls({"AWS_ENDPOINT_URL": "http://all:1", "AWS_ENDPOINT_URL_STS": "http://sts:3"}) == (
        "http://all:1", "http://all:1", "http://sts:3")
    ignored = {"AWS_ENDPOINT_URL": "http://all:1", "AWS_ENDPOINT_URL_STS": "http://sts:3",
               "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "True"}
    assert urls(ignored) == ("https://bedrock-runtime.us-east-1.amazonaws.com",
                             "https://bedrock.us-east-1.amazonaws.com", "https://sts.us-east-1.amazonaws.com")
    # the Anthropic SDK's own variable is not a botocore "configured endpoint"
    assert urls({**ignored, "ANTHROPIC_BEDROCK_BASE_URL": "http://anthropic:4"}) == ("http://anthropic:4",) * 3
    assert urls({**ignored, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false"}) == (
        "http://all:1", "http://all:1", "http://sts:3")


@pytest.mark.parametrize("url", ["127.0.0.1:8787", "ftp://host", "http://", "http:///path",
                                 # no host, a bad port, a broken IPv6 literal: urllib's ValueError before
                                 "http://:8787", "http://127.0.0.1:99999", "http://127.0.0.1:abc",
                                 "http://127.0.0.1:-1", "http://[::1"])
def test_config_bad_base_url_is_refused(url):
    with pytest.raises(ConfigurationError, match="must look like"):
        resolve_config(env={}, load_files=_no_files, api_key="k", aws_region="us-east-1", base_url=url)


@pytest.mark.parametrize(("env", "message"), [
    ({"AWS_REGION": "us-east-1\udce9", "AWS_BEARER_TOKEN_BEDROCK": "k"},
     r"The region \(AWS_REGION\) must be a region name such as 'us-east-1', not 'us-east-1\\udce9'"),
    ({"AWS_REGION": "eu west 1", "AWS_BEARER_TOKEN_BEDROCK": "k"}, "The region"),
    ({"AWS_ACCESS_KEY_ID": "AKIA\udce9", "AWS_SECRET_ACCESS_KEY": "s"}, r"The access key \(environment\)"),
    ({"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "sécret"}, r"The secret key \(environment\)"),
    ({"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "TOKEN\n"}, "The session token"),
    ({"AWS_BEARER_TOKEN_BEDROCK": "BEARER\udce9"}, r"The API key \(AWS_BEARER_TOKEN_BEDROCK\)"),
])
def test_config_values_no_request_can_carry_are_refused_without_the_secret(env, message):
    """Audit: a region or credential the environment held as bytes the locale could not decode
    (or text outside ASCII) was a UnicodeEncodeError traceback when the first request was
    signed; now one line, which never repeats a credential."""
    with pytest.raises(ConfigurationError, match=message) as caught:
        resolve_config(env=env, load_files=_no_files)
    secrets = [value for name, value in env.items() if name != "AWS_REGION" and len(value) >= 4]
    assert not [secret for secret in secrets if secret.strip() in str(caught.value)]


def test_config_bad_endpoint_variable_is_refused_naming_it():
    env = {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:99999"}
    with pytest.raises(ConfigurationError, match="AWS_ENDPOINT_URL_BEDROCK_RUNTIME must look like"):
        resolve_config(env=env, load_files=_no_files, api_key="k", aws_region="us-east-1")


# --------------------------------------------------------------------------- files and constructors


def test_config_shared_files_parsed_from_home(clean_env):
    _write_aws(clean_env,
               "[default]\naws_access_key_id = DEFKEY\naws_secret_access_key = d\n",
               "[default]\nregion = eu-west-1\n[profile work]\nregion = ap-northeast-1\n"
               "aws_access_key_id = WORK\naws_secret_access_key = w\n[sso-session x]\nsso_region = us-east-1\n")
    files = load_aws_files({"HOME": str(clean_env)})
    assert files.credentials["default"]["aws_access_key_id"] == "DEFKEY"
    assert files.config["work"]["region"] == "ap-northeast-1"
    assert "sso-session x" not in files.config and "x" not in files.config


def test_config_shared_file_locations_from_environment(tmp_path):
    credentials = tmp_path / "creds.ini"
    credentials.write_text("[p]\naws_access_key_id = P\naws_secret_access_key = p\n")
    files = load_aws_files({"HOME": str(tmp_path / "nowhere"), "AWS_SHARED_CREDENTIALS_FILE": str(credentials)})
    assert files.credentials["p"]["aws_access_key_id"] == "P" and files.config == {}


def test_config_unparsable_shared_file_names_the_file(clean_env):
    _write_aws(clean_env, "not an ini file\n")
    with pytest.raises(ConfigurationError, match="credentials"):
        load_aws_files({"HOME": str(clean_env)})


@pytest.mark.parametrize("cls", [AnthropicBedrock, AsyncAnthropicBedrock])
def test_config_constructor_reads_home_profile_and_environment(cls, clean_env, monkeypatch):
    _write_aws(clean_env, "[work]\naws_access_key_id = WORKKEY\naws_secret_access_key = w\n",
               "[profile work]\nregion = eu-west-3\n")
    monkeypatch.setenv("AWS_PROFILE", "work")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9")
    made = cls()
    assert made.config.auth.access_key == "WORKKEY"
    assert made.aws_region == "eu-west-3" and made.config.region_source == "profile work"
    assert made.base_url == "http://127.0.0.1:9"
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("ANTHROPIC_BEDROCK_BASE_URL", "http://127.0.0.1:10")
    made = cls(aws_access_key="A", aws_secret_key="s")
    assert made.config.auth.access_key == "A" and made.aws_region == "us-west-2"
    assert made.base_url == "http://127.0.0.1:10"


def test_config_constructor_without_credentials_fails_on_first_call_not_before(clean_env):
    made = AnthropicBedrock(base_url="http://127.0.0.1:9")
    assert made.config.auth is None
    with pytest.raises(ConfigurationError, match="No AWS credentials"):
        made.messages.create(model="claude-sonnet-4-5", max_tokens=1, messages=[{"role": "user", "content": "x"}])


@pytest.mark.parametrize("options", [{"timeout": -1}, {"timeout": 0}, {"timeout": float("inf")}, {"timeout": "30"},
                                     {"timeout": (5, 30)}, {"max_retries": -1}, {"max_retries": 1.5}])
@pytest.mark.parametrize("client_class", ["AnthropicBedrock", "AsyncAnthropicBedrock"])
def test_config_refuses_a_timeout_or_retry_count_that_cannot_work(options, client_class):
    import claude_bedrock

    with pytest.raises(claude_bedrock.ConfigurationError):
        getattr(claude_bedrock, client_class)(aws_region="us-east-1", base_url="http://127.0.0.1:9",
                                                aws_access_key="a", aws_secret_key="b", **options)
