"""The AWS CLI v1 against a real server: invoke-model, converse and count-tokens (CLI v1 has no
streaming Bedrock commands). Run as a subprocess: importing awscli hijacks botocore."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.conformance

MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
BODY = {"max_tokens": 256, "messages": [{"role": "user", "content": "Hello, world"}],
        "anthropic_version": "bedrock-2023-05-31"}


def aws(env, *args, check=True):
    result = subprocess.run([sys.executable, "-m", "awscli", *args], env=env, capture_output=True, text=True,
                            timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed: {result.stderr}")
    return result


def test_cli_invoke_model(aws_env, tmp_path):
    body = tmp_path / "body.json"
    body.write_text(json.dumps(BODY))
    out = tmp_path / "out.json"
    aws(aws_env, "bedrock-runtime", "invoke-model", "--model-id", MODEL, "--body", f"fileb://{body}",
        "--content-type", "application/json", "--accept", "application/json", str(out))
    answer = json.loads(out.read_text())
    assert answer["content"][0]["text"] and answer["model"] == "claude-sonnet-4-5-20250929"


def test_cli_converse(aws_env):
    result = aws(aws_env, "bedrock-runtime", "converse", "--model-id", MODEL, "--messages",
                 json.dumps([{"role": "user", "content": [{"text": "Hello, world"}]}]))
    answer = json.loads(result.stdout)
    assert answer["output"]["message"]["content"][0]["text"]


def test_cli_count_tokens(aws_env):
    result = aws(aws_env, "bedrock-runtime", "count-tokens", "--model-id", "anthropic.claude-sonnet-4-5-20250929-v1:0",
                 "--input", json.dumps({"converse": {"messages": [{"role": "user", "content": [{"text": "Hello"}]}]}}))
    assert json.loads(result.stdout)["inputTokens"] > 0


def test_cli_invalid_model_error(aws_env, tmp_path):
    body = tmp_path / "body.json"
    body.write_text(json.dumps(BODY))
    result = aws(aws_env, "bedrock-runtime", "invoke-model", "--model-id", "apac." + MODEL[len("global."):],
                 "--body", f"fileb://{body}", str(tmp_path / "out.json"), check=False)
    assert result.returncode != 0
    assert "ValidationException" in result.stderr and "The provided model identifier is invalid." in result.stderr
