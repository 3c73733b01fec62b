"""The lazily loaded CLI commands resolve to the command objects their modules define."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from claude_bedrock.cli.client_commands import CLIENT_COMMANDS
from claude_bedrock.cli.logs_commands import LOGS_COMMANDS
from claude_bedrock.cli.main import LAZY_COMMANDS, cli


def test_cli_lazy_commands_match_their_modules():
    assert {command.name for command in (*CLIENT_COMMANDS, *LOGS_COMMANDS)} == set(LAZY_COMMANDS)
    for name in LAZY_COMMANDS:
        assert cli.get_command(None, name).name == name  # type: ignore[arg-type]


def test_cli_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("serve", *LAZY_COMMANDS):
        assert name in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--port", "70000"], "--port: port must be between 0 and 65535, got 70000"),
    (["--port", "-1"], "--port: port must be between 0 and 65535, got -1"),
    (["--account-id", "abc"], "--account-id: account_id must be 12 digits, got 'abc'"),
    (["--log-retention-days", "-5"], "log_retention_days must be between 0 and 36500, got -5"),
    (["--log-batch-size", "0"], "log_batch_size must be at least 1, got 0"),
    # The log writer waits on its queue this long: a value past what a thread can wait
    # (threading.TIMEOUT_MAX) killed the writer at the first call, and every record was lost.
    (["--log-flush-interval-ms", "99999999999999999999"],
     "log_flush_interval_ms must be between 1 and 3600000, got 99999999999999999999"),
    # bytes the locale could not decode: the bind was a TypeError traceback
    (["--host", "caf\udce9"], "--host: host must be a host name or an IP address, got 'caf\\udce9'"),
])
def test_serve_refuses_out_of_range_settings_in_one_line(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path), *args])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output


def test_serve_refuses_a_config_file_port_out_of_range(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[server]\nport = 70000\n")
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path), "--config", str(config)])
    assert result.exit_code != 0
    assert "port must be between 0 and 65535, got 70000" in result.output


def test_setting_of_the_wrong_type_names_the_type(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path)],
                                env={"CLAUDE_BEDROCK_PORT": "notanumber"})
    assert "environment CLAUDE_BEDROCK_PORT: port must be an integer, got 'notanumber'" in result.output


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:8787"), ("0.0.0.0", "http://127.0.0.1:8787"), ("::", "http://[::1]:8787"),
    ("::1", "http://[::1]:8787"), ("192.0.2.7", "http://192.0.2.7:8787"),
])
def test_serve_announces_a_url_clients_on_this_machine_can_use(host, url):
    import io

    from claude_bedrock.service.server import announce, client_url
    from claude_bedrock.settings import Settings

    assert client_url(host, 8787) == url
    out = io.StringIO()
    announce(url, Settings(host=host), out)
    line = out.getvalue()
    assert line.startswith(f"export AWS_ENDPOINT_URL_BEDROCK_RUNTIME={url} ")
    assert (" (bound to all interfaces)" in line) == (host in ("0.0.0.0", "::"))


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "https://127.0.0.1:8443"), ("0.0.0.0", "https://127.0.0.1:8443"), ("::", "https://[::1]:8443"),
])
def test_serve_with_tls_announces_an_https_url(host, url):
    from claude_bedrock.service.server import client_url

    assert client_url(host, 8443, tls=True) == url


@pytest.mark.parametrize(("text", "message"), [
    ("credentials = 5\n", "credentials: expected an array of tables ([[credentials]])"),
    ('[credentials]\naccess_key_id = "A"\nsecret_access_key = "B"\n',
     "credentials: expected an array of tables ([[credentials]])"),
    ('[api_keys]\nkey = "A"\n', "api_keys: expected an array of tables ([[api_keys]])"),
    ("server = 5\n", "server: expected a table ([server])"),
    ("[[server]]\nport = 3\n", "server: expected a table ([server])"),
])
def test_serve_refuses_a_config_table_of_the_wrong_shape_in_one_line(tmp_path, text, message):
    config = tmp_path / "config.toml"
    config.write_text(text)
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path), "--port", "0", "--config", str(config)])
    assert result.exit_code == 2
    assert f"{config}: {message}" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_logging_table_nothing_reads_is_refused(tmp_path):
    from claude_bedrock.settings import ConfigError, load_config_file

    config = tmp_path / "config.toml"
    config.write_text("[logging]\nlog_retention_days = 7\n")
    with pytest.raises(ConfigError, match="unknown table\\(s\\): logging"):
        load_config_file(config)


@pytest.mark.parametrize("option", ["--config", "--rules-file"])
def test_serve_refuses_a_file_that_is_not_utf8_text_in_one_line(tmp_path, option):
    path = tmp_path / "settings.toml"
    path.write_bytes(b"\xff\xfe[server]\n")
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path), "--port", "0", option, str(path)])
    assert result.exit_code == 2
    assert f"{path}: not UTF-8 text" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_serve_names_a_rules_file_it_cannot_read(tmp_path):
    """A folder given as rules file is a file error, not a failure to listen."""
    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path / "data"), "--port", "0",
                                      "--rules-file", str(tmp_path)])
    assert result.exit_code == 2
    assert f"cannot read rules file {tmp_path}:" in result.output
    assert "cannot listen" not in result.output


def _commands(group, path=()):
    for name in group.list_commands(None):
        command = group.get_command(None, name)
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_every_option_of_every_command_says_what_it_does():
    undocumented = [
        f"{' '.join(path)} {param.opts[0]}"
        for path, command in _commands(cli)
        for param in command.params
        if isinstance(param, click.Option) and not param.help
    ]
    assert undocumented == []


def test_top_level_help_shows_examples():
    result = CliRunner().invoke(cli, ["--help"])
    assert "Examples:" in result.output
    assert '  claude-bedrock ask "Why is the sky blue?"' in result.output  # \b keeps the lines as written


@pytest.mark.parametrize("spec", ["nan:nan", "-1:5", "100:0", "100:inf", "*=nan:80"])
def test_simulator_latency_that_cannot_pace_a_stream_is_refused_with_the_rule(spec):
    from claude_bedrock.domain.simulated_latency import parse_latency

    with pytest.raises(ValueError, match=r"FIRST_TOKEN_MS >= 0 and TOKENS_PER_S > 0, both finite"):
        parse_latency(spec)


def test_simulator_latency_per_model_with_a_default_for_the_others():
    from claude_bedrock.domain.simulated_latency import parse_latency
    from claude_bedrock.domain.simulator import LatencyProfile

    haiku = "anthropic.claude-haiku-4-5-20251001-v1:0"
    assert parse_latency(f"{haiku}=200:150, *=500:80", known_models={haiku}) == {
        haiku: LatencyProfile(0.2, 150.0), "*": LatencyProfile(0.5, 80.0)}


@pytest.mark.parametrize(("spec", "error"), [
    ("=500:80", r"entry '=500:80' is not MODEL_ID=FIRST_TOKEN_MS:TOKENS_PER_S"),
    ("other=500:80", r"other is not a base model ID of the catalog"),
])
def test_simulator_latency_entry_without_a_known_model_is_refused(spec, error):
    from claude_bedrock.domain.simulated_latency import parse_latency

    with pytest.raises(ValueError, match=error):
        parse_latency(spec, known_models={"anthropic.claude-haiku-4-5-20251001-v1:0"})


def test_a_config_file_fraction_for_an_integer_setting_is_refused(tmp_path):
    from claude_bedrock.settings import ConfigError, load_config_file

    config = tmp_path / "config.toml"
    config.write_text("[server]\nlog_retention_days = 7.5\n")
    with pytest.raises(ConfigError, match=r"log_retention_days must be an integer, got 7.5"):
        load_config_file(config)
    config.write_text("[server]\nlog_retention_days = 7.0\n")
    assert load_config_file(config)["log_retention_days"] == 7


@pytest.mark.parametrize(("line", "found"), [("host = 5", "5"), ("data_dir = true", "True"), ("seed_text = 1", None)])
def test_a_config_file_number_for_a_string_setting_is_refused(tmp_path, line, found):
    """`host = 5` was quietly the string "5", failing later as "cannot listen"."""
    from claude_bedrock.settings import ConfigError, load_config_file

    config = tmp_path / "config.toml"
    config.write_text(f"[server]\n{line}\n")
    name = line.split(" = ")[0]
    expected = rf"{name} must be a string, got {found}" if found else rf"unknown setting '{name}'"
    with pytest.raises(ConfigError, match=expected):
        load_config_file(config)


_KEYS_WITHOUT_ACCOUNT = """
[[credentials]]
access_key_id = "AKIANOACCOUNT0000001"
secret_access_key = "secret"

[[credentials]]
access_key_id = "AKIAWITHACCOUNT00002"
secret_access_key = "secret"
account_id = "999988887777"

[[api_keys]]
key = "key-without-account"
"""


@pytest.mark.parametrize(("server_table", "cli", "env", "expected"), [
    ("", {}, {}, "123456789012"),
    ('[server]\naccount_id = "111122223333"\n', {}, {}, "111122223333"),
    ('[server]\naccount_id = "111122223333"\n', {}, {"CLAUDE_BEDROCK_ACCOUNT_ID": "222233334444"}, "222233334444"),
    ('[server]\naccount_id = "111122223333"\n', {"account_id": "444455556666"},
     {"CLAUDE_BEDROCK_ACCOUNT_ID": "222233334444"}, "444455556666"),
])
def test_config_keys_without_an_account_are_in_the_servers_account(tmp_path, server_table, cli, env, expected):
    """They were in 123456789012 whatever --account-id said."""
    from claude_bedrock.settings import build_settings

    config = tmp_path / "config.toml"
    config.write_text(server_table + _KEYS_WITHOUT_ACCOUNT)
    settings = build_settings(cli, env, str(config))
    assert settings.account_id == expected
    assert [c.account_id for c in settings.credentials] == [expected, "999988887777"]
    assert [k.account_id for k in settings.api_keys] == [expected]


@pytest.mark.parametrize(("line", "found"), [
    ('strict_auth = "yes"', "'yes'"), ('strict_auth = "true"', "'true'"), ('strict_model_ids = "no"', "'no'"),
    ("strict_auth = 1", "1"), ('port = "8787"', "'8787'"),
])
def test_a_config_file_string_or_number_for_a_boolean_or_integer_setting_is_refused(tmp_path, line, found):
    """TOML has its own booleans and integers: `strict_auth = "yes"` was quietly true."""
    from claude_bedrock.settings import ConfigError, load_config_file

    config = tmp_path / "config.toml"
    config.write_text(f"[server]\n{line}\n")
    name = line.split(" = ")[0]
    kind = "an integer" if name == "port" else "a boolean (true/false)"
    with pytest.raises(ConfigError) as refused:
        load_config_file(config)
    assert str(refused.value) == f"{config} [server]: {name} must be {kind}, got {found}"


def test_the_environment_still_spells_booleans_in_words(tmp_path):
    from claude_bedrock.settings import ConfigError, build_settings

    assert build_settings({}, {"CLAUDE_BEDROCK_STRICT_AUTH": "yes"}, None).strict_auth is True
    assert build_settings({}, {"CLAUDE_BEDROCK_STRICT_MODEL_IDS": "off"}, None).strict_model_ids is False
    with pytest.raises(ConfigError) as refused:  # and its error names the words it takes
        build_settings({}, {"CLAUDE_BEDROCK_STRICT_AUTH": "maybe"}, None)
    assert str(refused.value) == ("environment CLAUDE_BEDROCK_STRICT_AUTH: strict_auth must be a boolean "
                                  "(true/false, yes/no, on/off, 1/0), got 'maybe'")


@pytest.mark.parametrize(("tables", "message"), [
    ('[[credentials]]\naccess_key_id = "AKIADUP"\nsecret_access_key = "one"\n'
     '[[credentials]]\naccess_key_id = "AKIAOTHER"\nsecret_access_key = "x"\n'
     '[[credentials]]\naccess_key_id = "AKIADUP"\nsecret_access_key = "two"\naccount_id = "222222222222"\n',
     "credentials[2].access_key_id: already listed in credentials[0]"),
    ('[[api_keys]]\nkey = "secret-key"\n[[api_keys]]\nkey = "secret-key"\naccount_id = "222222222222"\n',
     "api_keys[1].key: already listed in api_keys[0]"),
], ids=["credentials", "api_keys"])
def test_a_key_listed_twice_in_the_config_is_refused(tmp_path, tables, message):
    """The last entry silently won: the first entry's account and secret were never used."""
    from claude_bedrock.settings import ConfigError, load_config_file

    config = tmp_path / "config.toml"
    config.write_text(tables)
    with pytest.raises(ConfigError) as refused:
        load_config_file(config)
    assert str(refused.value) == f"{config} {message}"
    assert "secret-key" not in str(refused.value)


def test_serve_help_says_what_no_strict_auth_opens():
    """An operator turning strict auth off on a public bind must learn from --help that the
    admin API (reset, scripted answers, the call history) opens with it, not only the runtime."""
    result = CliRunner().invoke(cli, ["serve", "--help"], terminal_width=200)
    help_text = " ".join(result.output.split())
    assert "Reject access keys and API keys not listed in the config" in help_text
    assert "the admin API (reset, scripted answers, every call's prompts) is open to anyone" in help_text


@pytest.mark.parametrize(("table", "message"), [
    ('[upstream]\naccess_key_id = "AKIAX"\n', "access_key_id and secret_access_key go together"),
    ('[upstream]\nsession_token = "t"\n', "session_token: needs access_key_id and secret_access_key"),
    ('[upstream]\napi_key = "k"\nprofile = "p"\n', "one kind of credentials"),
    ('[upstream]\nendpoint = "ftp://x"\n', "upstream must be 'aws' or an http(s) URL"),
    ('[upstream]\nregion = "Mars"\n', "must be an AWS region name"),
    ('[upstream]\nretries = 2\n', "unknown key(s): retries"),
    ('[server]\nupstream = "aws"\n[upstream]\nendpoint = "aws"\n', "also set in [server]"),
    ('[upstream]\ntimeout = 0\n', "upstream_timeout must be between 1 and 3600"),
    # never sent upstream (calls are signed) and written in the start-up log line
    ('[upstream]\nendpoint = "https://proxy:pw@bedrock.internal"\n', "must not hold a user name or password"),
])
def test_an_upstream_table_mistake_is_refused_in_one_line(tmp_path, table, message):
    from claude_bedrock.settings import ConfigError, load_config_file

    config = tmp_path / "c.toml"
    config.write_text(table)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config_file(config)


def test_the_upstream_table_gives_settings_and_credentials_that_never_show_their_secret(tmp_path):
    from claude_bedrock.settings import build_settings

    config = tmp_path / "c.toml"
    config.write_text('[upstream]\nendpoint = "https://bedrock.internal:8443"\nregion = "eu-west-1"\n'
                      'max_retries = 2\naccess_key_id = "AKIAGATEWAY"\nsecret_access_key = "s3cr3t-value"\n')
    settings = build_settings({"upstream_region": "eu-central-1"}, {}, str(config))
    assert settings.upstream == "https://bedrock.internal:8443"
    assert settings.upstream_region == "eu-central-1"  # the command line wins
    assert settings.upstream_max_retries == 2 and settings.upstream_timeout == 600
    assert settings.upstream_credentials.secret_access_key == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings)


@pytest.mark.parametrize(("upstream", "bind", "port", "is_self"), [
    ("http://127.0.0.1:8787", "127.0.0.1", 8787, True),
    ("http://localhost:8787/", "0.0.0.0", 8787, True),
    ("http://10.0.0.5:8787", "10.0.0.5", 8787, True),
    ("https://127.0.0.1", "127.0.0.1", 443, True),
    ("http://127.0.0.1:8788", "127.0.0.1", 8787, False),
    ("https://bedrock-runtime.us-east-1.amazonaws.com", "127.0.0.1", 443, False),
    ("http://127.0.0.1:99999", "127.0.0.1", 8787, False),
    ("http://[2001:db8::5]:8787", "[2001:db8::5]", 8787, True),  # a bracketed IPv6 bind
    ("http://127.0.0.1", "127.0.0.1", 80, True),  # http's default port
    ("https://127.0.0.1", "127.0.0.1", 80, False),
])
def test_an_upstream_naming_the_server_itself_is_recognised(upstream, bind, port, is_self):
    from claude_bedrock.service.server import upstream_is_self

    assert upstream_is_self(upstream, bind, port) is is_self


def test_a_refused_upstream_url_is_not_repeated_it_may_hold_a_password():
    from claude_bedrock.settings import ConfigError, build_settings

    with pytest.raises(ConfigError) as caught:
        build_settings({"upstream": "https://ops:hunter2-secret@bedrock.internal"}, {}, None)
    assert "user name or password" in str(caught.value) and "hunter2-secret" not in str(caught.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:notaport", "http://127.0.0.1:99999", "http://[::1",
                                 "http://:8787", "http://ho st:8787", "http://host\r\nX-Injected: 1"])
def test_an_upstream_url_no_call_could_use_is_refused_at_start_up(url):
    # it was taken, and then every call was a 500 with a traceback (httpx.InvalidURL...)
    from claude_bedrock.settings import ConfigError, build_settings

    with pytest.raises(ConfigError, match=re.escape("upstream must be 'aws' or an http(s) URL")):
        build_settings({"upstream": url}, {}, None)


@pytest.mark.parametrize("table", ['[upstream]\naccess_key_id = "AKIAX"\nsecret_access_key = "s"\n',
                                   '[upstream]\nregion = "eu-west-1"\n'])
def test_upstream_settings_without_an_upstream_are_refused(tmp_path, table):
    from claude_bedrock.settings import ConfigError, build_settings

    config = tmp_path / "c.toml"
    config.write_text(table)
    with pytest.raises(ConfigError, match=r"but no upstream: set endpoint in \[upstream\]"):
        build_settings({}, {}, str(config))
    assert build_settings({"upstream": "aws"}, {}, str(config)).upstream == "aws"  # given on the command line


@pytest.mark.parametrize(("text", "where", "hint"), [
    ("[server]\nstrict-auth = true\n", "[server]: unknown setting 'strict-auth'", "did you mean 'strict_auth'?"),
    ("[server]\nprot = 8787\n", "[server]: unknown setting 'prot'", "did you mean 'port'?"),
    ("[server]\nconfig = 'x.toml'\n", "[server]: unknown setting 'config'", "claude-bedrock serve --help"),
    ('[[credentials]]\naccess_key_id = "AKIAX"\nsecret_key = "s3cr3t"\n', "credentials[0]: unknown key(s): secret_key",
     "expected access_key_id, account_id, admin, secret_access_key, session_tokens, user_name"),
    ('[[api_keys]]\napi_key = "k3y-s3cr3t"\n', "api_keys[0]: unknown key(s): api_key",
     "expected account_id, admin, key, region, user_name"),
    ("[servers]\nport = 1\n", "unknown table(s): servers", "expected api_keys, credentials, server, testing, upstream"),
])
def test_an_unknown_config_key_is_refused_with_what_to_write_instead(tmp_path, text, where, hint):
    """Audit: `strict-auth = true` (the option's spelling) or `prot = 8787` was refused as
    "unknown setting" without a word on the right name, and a misnamed key of a [[credentials]] or
    [[api_keys]] entry without the keys it takes (the [testing] table lists its own)."""
    from claude_bedrock.settings import ConfigError, load_config_file

    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_config_file(config)
    assert where in str(refused.value) and hint in str(refused.value)
    assert "s3cr3t" not in str(refused.value)


def test_serve_help_names_every_table_of_the_config_file():
    """Audit: --config's help named credentials, API keys and settings only: the [testing]
    scenario and the [upstream] table of gateway mode, which the README documents in the same
    file, were nowhere in --help."""
    result = CliRunner().invoke(cli, ["serve", "--help"], terminal_width=200)
    help_text = " ".join(result.output.split())
    for table in ("[[credentials]]", "[[api_keys]]", "[server]", "[testing]", "[upstream]"):
        assert table in help_text


def test_serve_help_gives_the_retention_window_bounds_and_warning():
    """Audit (docs drift): the README's --log-retention-days is 'at most 36500 (0 keeps them forever);
    under the guide's 30 days the start-up log says so'; --help named neither the bound a longer
    window is refused past nor the warning."""
    result = CliRunner().invoke(cli, ["serve", "--help"], terminal_width=200)
    help_text = " ".join(result.output.split())
    assert ("Invocation logs are kept for this many days (rolling window, at most 36500; 0 keeps them "
            "forever). Under the guide's 30 days the server warns at start.") in help_text


def test_an_empty_environment_variable_counts_as_unset(tmp_path):
    """Helper finding: CLAUDE_BEDROCK_HOST="" bound every interface and CLAUDE_BEDROCK_DATA_DIR=""
    used the working directory as the data folder (click already reads empty variables as unset)."""
    from claude_bedrock.settings import build_settings

    settings = build_settings({}, {"CLAUDE_BEDROCK_HOST": "", "CLAUDE_BEDROCK_DATA_DIR": "", "CLAUDE_BEDROCK_PORT": ""},
                              None)
    assert (settings.host, settings.data_dir, settings.port) == ("127.0.0.1", "./data", 8787)


def test_a_home_folder_in_a_path_setting_is_expanded_wherever_it_is_written(tmp_path, monkeypatch):
    """Helper finding: data_dir = "~/x" in a config file made a folder named "~" in the working directory."""
    from claude_bedrock.settings import build_settings

    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "config.toml"
    config.write_text('[server]\ndata_dir = "~/from-config"\nrules_file = "~/rules.toml"\n')
    from_config = build_settings({}, {}, str(config))
    assert (from_config.data_dir, from_config.rules_file) == (f"{tmp_path}/from-config", f"{tmp_path}/rules.toml")
    assert build_settings({}, {"CLAUDE_BEDROCK_DATA_DIR": "~/env"}, None).data_dir == f"{tmp_path}/env"
    assert build_settings({"tls_cert": "~/c.pem"}, {}, None).tls_cert == f"{tmp_path}/c.pem"
    assert build_settings({"host": "~name"}, {}, None).host == "~name"  # not a path


@pytest.mark.parametrize(("written", "host"), [("[::1]", "::1"), ("::1", "::1"), ("[::]", "::"),
                                               ("[localhost]", "[localhost]")])
def test_an_ipv6_host_may_be_written_in_brackets(written, host):
    """Helper finding: --host [::1], as the address appears in a URL, failed to bind with
    "Name or service not known"."""
    from claude_bedrock.settings import build_settings

    assert build_settings({"host": written}, {}, None).host == host


def test_a_config_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    """Helper finding: a config file a Windows editor saved with a UTF-8 BOM was refused as
    invalid TOML at line 1."""
    from claude_bedrock.settings import build_settings

    config = tmp_path / "config.toml"
    config.write_bytes(b"\xef\xbb\xbf[server]\nport = 9123\n")
    assert build_settings({}, {}, str(config)).port == 9123


@pytest.mark.parametrize(("source", "expected"), [
    ("cli", "--simulator-latency: simulator_latency 'x' is not FIRST_TOKEN_MS:TOKENS_PER_S"),
    ("env", "environment CLAUDE_BEDROCK_SIMULATOR_LATENCY: simulator_latency 'x' is not FIRST_TOKEN_MS:TOKENS_PER_S"),
    ("config", "[server]: simulator_latency 'x' is not FIRST_TOKEN_MS:TOKENS_PER_S"),
])
def test_a_bad_simulator_latency_names_where_it_was_written(tmp_path, source, expected):
    """Helper finding: the refusal said "bad simulator latency 'x'" without the flag, variable
    or file it came from, unlike every other setting's."""
    from claude_bedrock.settings import ConfigError, build_settings

    config = tmp_path / "config.toml"
    config.write_text('[server]\nsimulator_latency = "x"\n')
    with pytest.raises(ConfigError) as refused:
        build_settings({"simulator_latency": "x"} if source == "cli" else {},
                       {"CLAUDE_BEDROCK_SIMULATOR_LATENCY": "x"} if source == "env" else {},
                       str(config) if source == "config" else None)
    assert expected in str(refused.value)
    with pytest.raises(ConfigError, match="foo is not a base model ID of the catalog"):
        build_settings({"simulator_latency": "foo=1:2"}, {}, None)


def test_the_config_file_path_expands_the_home_folder(tmp_path, monkeypatch):
    """Review: the README says ~ is the home folder wherever a path is written, but
    CLAUDE_BEDROCK_CONFIG='~/c.toml' (quoted: no shell expands it) was "config file not found"."""
    from claude_bedrock.settings import build_settings

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "c.toml").write_text("[server]\nport = 9124\n")
    assert build_settings({}, {}, "~/c.toml").port == 9124


def test_a_hangup_ignored_as_under_nohup_does_not_stop_the_server():
    import signal

    from claude_bedrock.service.server import _stop_signals

    if not hasattr(signal, "SIGHUP"):  # pragma: no cover - Windows
        pytest.skip("no SIGHUP")
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        assert _stop_signals() == (signal.SIGINT, signal.SIGTERM)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        assert _stop_signals() == (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    finally:
        signal.signal(signal.SIGHUP, previous)


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("", True), ("1", False)])
def test_the_server_log_is_coloured_on_a_terminal_unless_no_color_is_set(monkeypatch, no_color, coloured):
    import io

    from claude_bedrock.service.server import log_colours

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)  # no-color.org: set to anything but ""
    assert bool(log_colours(Terminal())) is coloured
    assert not log_colours(io.StringIO())


def test_a_retention_of_the_guides_days_is_not_warned_about(tmp_path, caplog):
    import logging

    from claude_bedrock.service.server import _warn_about_risky_settings
    from claude_bedrock.settings import GUIDE_RETENTION_DAYS, Settings

    with caplog.at_level(logging.WARNING, logger="claude_bedrock.server"):
        _warn_about_risky_settings(Settings(data_dir=str(tmp_path), log_retention_days=GUIDE_RETENTION_DAYS), tls=False)
        assert "--log-retention-days" not in caplog.text
        _warn_about_risky_settings(Settings(data_dir=str(tmp_path), log_retention_days=GUIDE_RETENTION_DAYS - 1),
                                   tls=False)
        assert "--log-retention-days" in caplog.text
