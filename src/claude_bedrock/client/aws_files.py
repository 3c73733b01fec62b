"""Read the AWS shared files (``~/.aws/credentials``, ``~/.aws/config``) into ``AwsFiles``.

Purpose: the client's only file reading, kept apart from the pure rules of ``config``.
Paths follow the AWS CLI: ``AWS_SHARED_CREDENTIALS_FILE`` / ``AWS_CONFIG_FILE``, else the
files under ``$HOME/.aws``. A missing or unreadable file is an empty file; a file that is
not INI raises ``ConfigurationError`` naming it. In the config file ``[profile x]`` names
profile ``x`` and ``[default]`` the default profile; ``[sso-session ...]`` and other
sections are ignored.

Source: AWS CLI "Configuration and credential file settings" (file locations, section names).
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path

from claude_bedrock.client.config import AwsFiles
from claude_bedrock.client.errors import ConfigurationError

__all__ = ["load_aws_files", "shared_file_paths"]


def shared_file_paths(env: Mapping[str, str]) -> tuple[Path, Path]:
    """(credentials path, config path) for this environment."""
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    credentials = env.get("AWS_SHARED_CREDENTIALS_FILE") or str(home / ".aws" / "credentials")
    config = env.get("AWS_CONFIG_FILE") or str(home / ".aws" / "config")
    return Path(credentials).expanduser(), Path(config).expanduser()


def load_aws_files(env: Mapping[str, str] | None = None) -> AwsFiles:
    """Parse both shared files (``env`` defaults to ``os.environ``).

    Raises:
        ConfigurationError: a file exists but is not valid INI.
    """
    env = os.environ if env is None else env
    credentials_path, config_path = shared_file_paths(env)
    credentials = _read_sections(credentials_path)
    config: dict[str, dict[str, str]] = {}
    for section, values in _read_sections(config_path).items():
        if section == "default":
            config["default"] = values
        elif section.startswith("profile "):
            config[section[len("profile "):].strip()] = values
    return AwsFiles(credentials, config, str(credentials_path), str(config_path))


def _read_sections(path: Path) -> dict[str, dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError):
        return {}
    parser = configparser.ConfigParser(interpolation=None, default_section="\x00no-defaults")
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise ConfigurationError(f"cannot parse {path}: {exc}") from None
    return {name: {k.strip(): v.strip() for k, v in parser.items(name)} for name in parser.sections()}
