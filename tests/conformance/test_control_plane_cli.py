"""The bedrock control plane with the AWS CLI v1 (a subprocess: importing awscli hijacks botocore):
every operation of the issue once, pagination, and the errors as the CLI prints them."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from support.seed_guide import seed_models
from support.servers import ACCOUNT_ID, CONFIG_TOML, REGION, RunningServer, start_server

pytestmark = pytest.mark.conformance

HAIKU_3 = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
FM_HAIKU_3 = f"arn:aws:bedrock:{REGION}::foundation-model/{HAIKU_3}"


def aws(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "awscli", *args], env=env, capture_output=True, text=True,
                            timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed: {result.stderr}")
    return result


def aws_json(env: dict[str, str], *args: str) -> Any:
    out = aws(env, *args).stdout
    return json.loads(out) if out.strip() else {}


def aws_error(env: dict[str, str], *args: str) -> str:
    result = aws(env, *args, check=False)
    assert result.returncode != 0, result.stdout
    return result.stderr


def reset(server: RunningServer) -> None:
    request = urllib.request.Request(server.url + "/_claude-bedrock/reset", data=b"", method="POST")
    urllib.request.urlopen(request, timeout=30).close()


@pytest.fixture(autouse=True)
def clean_state(server: RunningServer) -> Iterator[None]:
    reset(server)
    yield
    reset(server)


# -- foundation models ---------------------------------------------------------------------------


def test_cli_list_foundation_models_seed_sample(aws_env, shared_dir):
    ids = aws_json(aws_env, "bedrock", "list-foundation-models", "--region=us-west-2", "--by-provider", "anthropic",
                   "--query", "modelSummaries[*].modelId")
    assert ids == [m.model_id for m in seed_models(shared_dir)]


def test_cli_list_foundation_models_filters(aws_env):
    upper = aws_json(aws_env, "bedrock", "list-foundation-models", "--by-provider", "ANTHROPIC",
                     "--by-output-modality", "TEXT")
    assert len(upper["modelSummaries"]) == 10
    assert aws_json(aws_env, "bedrock", "list-foundation-models", "--by-customization-type",
                    "FINE_TUNING") == {"modelSummaries": []}
    legacy = aws_json(aws_env, "bedrock", "list-foundation-models", "--query",
                      "modelSummaries[?modelLifecycle.status=='LEGACY'].modelId")
    assert sorted(legacy) == sorted(["anthropic.claude-3-7-sonnet-20250219-v1:0",
                                     "anthropic.claude-3-opus-20240229-v1:0",
                                     "anthropic.claude-3-5-haiku-20241022-v1:0"])


def test_cli_list_foundation_models_bad_filter(aws_env):
    stderr = aws_error(aws_env, "bedrock", "list-foundation-models", "--by-inference-type", "SERVERLESS")
    assert "(ValidationException)" in stderr
    assert ("Value 'SERVERLESS' at 'byInferenceType' failed to satisfy constraint: Member must satisfy enum value "
            "set: [ON_DEMAND, PROVISIONED]") in stderr


def test_cli_get_foundation_model(aws_env):
    details = aws_json(aws_env, "bedrock", "get-foundation-model", "--model-identifier", FM_HAIKU_3)["modelDetails"]
    assert details["modelId"] == HAIKU_3 and details["modelArn"] == FM_HAIKU_3
    assert details["responseStreamingSupported"] is True


def test_cli_get_foundation_model_unknown(aws_env):
    stderr = aws_error(aws_env, "bedrock", "get-foundation-model", "--model-identifier", "anthropic.claude-0-v1:0")
    assert "(ResourceNotFoundException)" in stderr
    assert "Could not resolve the foundation model from the provided model identifier." in stderr


# -- inference profiles ----------------------------------------------------------------------------


def test_cli_list_inference_profiles_auto_paginates(aws_env):
    whole = aws_json(aws_env, "bedrock", "list-inference-profiles")["inferenceProfileSummaries"]
    paged = aws_json(aws_env, "bedrock", "list-inference-profiles", "--page-size", "4")["inferenceProfileSummaries"]
    assert len(whole) == 14 and paged == whole
    first = aws_json(aws_env, "bedrock", "list-inference-profiles", "--max-items", "5", "--page-size", "2")
    assert len(first["inferenceProfileSummaries"]) == 5 and first["NextToken"]
    rest = aws_json(aws_env, "bedrock", "list-inference-profiles", "--starting-token", first["NextToken"],
                    "--page-size", "2")
    assert first["inferenceProfileSummaries"] + rest["inferenceProfileSummaries"] == whole


def test_cli_list_inference_profiles_raw_token(aws_env):
    page = aws_json(aws_env, "bedrock", "list-inference-profiles", "--no-paginate", "--cli-input-json",
                    json.dumps({"maxResults": 10}))
    assert len(page["inferenceProfileSummaries"]) == 10 and page["nextToken"]
    rest = aws_json(aws_env, "bedrock", "list-inference-profiles", "--no-paginate", "--cli-input-json",
                    json.dumps({"maxResults": 10, "nextToken": page["nextToken"]}))
    assert len(rest["inferenceProfileSummaries"]) == 4 and "nextToken" not in rest
    stderr = aws_error(aws_env, "bedrock", "list-inference-profiles", "--no-paginate", "--cli-input-json",
                       json.dumps({"nextToken": "garbage"}))
    assert "(ValidationException)" in stderr and "The pagination token is invalid." in stderr


def test_cli_list_inference_profiles_type_filter(aws_env):
    ids = aws_json(aws_env, "bedrock", "list-inference-profiles", "--type-equals", "SYSTEM_DEFINED", "--query",
                   "inferenceProfileSummaries[?starts_with(inferenceProfileId, 'global.')].inferenceProfileId")
    assert len(ids) == 4 and f"global.{SONNET_45}" in ids
    stderr = aws_error(aws_env, "bedrock", "list-inference-profiles", "--type-equals", "OTHER")
    assert "(ValidationException)" in stderr


def test_cli_get_inference_profile(aws_env):
    arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:inference-profile/us.{HAIKU_3}"
    profile = aws_json(aws_env, "bedrock", "get-inference-profile", "--inference-profile-identifier", arn)
    assert profile["inferenceProfileArn"] == arn and profile["type"] == "SYSTEM_DEFINED"
    assert len(profile["models"]) == 4
    stderr = aws_error(aws_env, "bedrock", "get-inference-profile", "--inference-profile-identifier",
                       f"jp.{HAIKU_3}")
    assert "(ResourceNotFoundException)" in stderr


def test_cli_application_profile_and_tags(aws_env):
    created = aws_json(aws_env, "bedrock", "create-inference-profile", "--inference-profile-name", "cli-profile",
                       "--description", "made by the CLI", "--model-source", f"copyFrom={FM_HAIKU_3}",
                       "--tags", "key=owner,value=cli", "key=env,value=test")
    arn = created["inferenceProfileArn"]
    assert created["status"] == "ACTIVE" and ":application-inference-profile/" in arn
    profile = aws_json(aws_env, "bedrock", "get-inference-profile", "--inference-profile-identifier", arn)
    assert profile["inferenceProfileName"] == "cli-profile" and profile["models"] == [{"modelArn": FM_HAIKU_3}]
    listed = aws_json(aws_env, "bedrock", "list-inference-profiles", "--type-equals", "APPLICATION", "--query",
                      "inferenceProfileSummaries[*].inferenceProfileArn")
    assert listed == [arn]
    aws(aws_env, "bedrock", "tag-resource", "--resource-arn", arn, "--tags", "key=owner,value=someone-else")
    aws(aws_env, "bedrock", "untag-resource", "--resource-arn", arn, "--tag-keys", "env")
    tags = aws_json(aws_env, "bedrock", "list-tags-for-resource", "--resource-arn", arn)["tags"]
    assert tags == [{"key": "owner", "value": "someone-else"}]
    stderr = aws_error(aws_env, "bedrock", "create-inference-profile", "--inference-profile-name", "cli-profile",
                       "--model-source", f"copyFrom={FM_HAIKU_3}")
    assert "(ConflictException)" in stderr
    aws(aws_env, "bedrock", "delete-inference-profile", "--inference-profile-identifier", arn)
    stderr = aws_error(aws_env, "bedrock", "list-tags-for-resource", "--resource-arn", arn)
    assert "(ResourceNotFoundException)" in stderr


def test_cli_application_profile_invoke(aws_env, tmp_path: Path):
    arn = aws_json(aws_env, "bedrock", "create-inference-profile", "--inference-profile-name", "cli-invoke",
                   "--model-source", f"copyFrom={FM_HAIKU_3}")["inferenceProfileArn"]
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"max_tokens": 32, "messages": [{"role": "user", "content": "Hello"}],
                                "anthropic_version": "bedrock-2023-05-31"}))
    out = tmp_path / "out.json"
    aws(aws_env, "bedrock-runtime", "invoke-model", "--model-id", arn, "--body", f"fileb://{body}", str(out))
    assert json.loads(out.read_text())["model"] == "claude-3-haiku-20240307"


def test_cli_application_profiles_page_past_a_deleted_one(aws_env):
    """A profile deleted between two pages makes the next page skip none of the others: the
    CLI's --starting-token resumes after the last profile it listed, not at an offset."""
    first, second = (aws_json(aws_env, "bedrock", "create-inference-profile", "--inference-profile-name", name,
                              "--model-source", f"copyFrom={FM_HAIKU_3}")["inferenceProfileArn"]
                     for name in ("cli-page-1", "cli-page-2"))
    listing = ("bedrock", "list-inference-profiles", "--type-equals", "APPLICATION", "--page-size", "1")
    page = aws_json(aws_env, *listing, "--max-items", "1")
    assert [p["inferenceProfileArn"] for p in page["inferenceProfileSummaries"]] == [first]
    aws(aws_env, "bedrock", "delete-inference-profile", "--inference-profile-identifier", first)
    rest = aws_json(aws_env, *listing, "--starting-token", page["NextToken"], "--query",
                    "inferenceProfileSummaries[*].inferenceProfileArn")
    assert rest == [second]


def test_cli_application_profile_bad_source(aws_env):
    stderr = aws_error(aws_env, "bedrock", "create-inference-profile", "--inference-profile-name", "bad",
                       "--model-source", f"copyFrom=arn:aws:bedrock:eu-west-1::foundation-model/{HAIKU_3}")
    assert "(ValidationException)" in stderr


# -- model access ----------------------------------------------------------------------------------


def test_cli_model_access_flow(aws_env, tmp_path: Path):
    offers = aws_json(aws_env, "bedrock", "list-foundation-model-agreement-offers", "--model-id", HAIKU_3)
    token = offers["offers"][0]["offerToken"]
    aws(aws_env, "bedrock", "delete-foundation-model-agreement", "--model-id", HAIKU_3)
    availability = aws_json(aws_env, "bedrock", "get-foundation-model-availability", "--model-id", HAIKU_3)
    assert availability["agreementAvailability"]["status"] == "NOT_AVAILABLE"
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"max_tokens": 32, "messages": [{"role": "user", "content": "Hello"}],
                                "anthropic_version": "bedrock-2023-05-31"}))
    stderr = aws_error(aws_env, "bedrock-runtime", "invoke-model", "--model-id", "us." + HAIKU_3, "--body",
                       f"fileb://{body}", str(tmp_path / "out.json"))
    assert "(AccessDeniedException)" in stderr
    assert "You don't have access to the model with the specified model ID." in stderr
    stderr = aws_error(aws_env, "bedrock", "create-foundation-model-agreement", "--model-id", HAIKU_3,
                       "--offer-token", "wrong")
    assert "(ValidationException)" in stderr
    created = aws_json(aws_env, "bedrock", "create-foundation-model-agreement", "--model-id", HAIKU_3,
                       "--offer-token", token)
    assert created == {"modelId": HAIKU_3}
    availability = aws_json(aws_env, "bedrock", "get-foundation-model-availability", "--model-id", HAIKU_3)
    assert availability["agreementAvailability"]["status"] == "AVAILABLE"
    aws(aws_env, "bedrock-runtime", "invoke-model", "--model-id", "us." + HAIKU_3, "--body", f"fileb://{body}",
        str(tmp_path / "out.json"))


def test_cli_model_access_errors(aws_env):
    stderr = aws_error(aws_env, "bedrock", "list-foundation-model-agreement-offers", "--model-id",
                       "anthropic.claude-0-v1:0")
    assert "(ResourceNotFoundException)" in stderr
    stderr = aws_error(aws_env, "bedrock", "get-foundation-model-availability", "--model-id", "Bad Model")
    assert "(ValidationException)" in stderr and "at 'modelId'" in stderr


def test_cli_use_case_form(aws_env, tmp_path: Path):
    stderr = aws_error(aws_env, "bedrock", "get-use-case-for-model-access")
    assert "(ResourceNotFoundException)" in stderr
    form = tmp_path / "form.json"
    form.write_bytes(json.dumps({"companyName": "Example", "useCases": "tests"}).encode())
    aws(aws_env, "bedrock", "put-use-case-for-model-access", "--form-data", f"fileb://{form}")
    stored = aws_json(aws_env, "bedrock", "get-use-case-for-model-access")["formData"]
    import base64

    assert base64.b64decode(stored) == form.read_bytes()  # the CLI prints blobs base64-encoded


# -- logging configuration -------------------------------------------------------------------------


def test_cli_logging_configuration(aws_env):
    assert aws_json(aws_env, "bedrock", "get-model-invocation-logging-configuration") == {}
    config = {"s3Config": {"bucketName": "cli-logs", "keyPrefix": "bedrock/"}, "textDataDeliveryEnabled": True}
    aws(aws_env, "bedrock", "put-model-invocation-logging-configuration", "--logging-config", json.dumps(config))
    assert aws_json(aws_env, "bedrock", "get-model-invocation-logging-configuration")["loggingConfig"] == config
    aws(aws_env, "bedrock", "delete-model-invocation-logging-configuration")
    assert aws_json(aws_env, "bedrock", "get-model-invocation-logging-configuration") == {}


def test_cli_logging_configuration_invalid_bucket(aws_env):
    stderr = aws_error(aws_env, "bedrock", "put-model-invocation-logging-configuration", "--logging-config",
                       json.dumps({"s3Config": {"bucketName": "UPPER_case"}}))
    assert "(ValidationException)" in stderr and "loggingConfig.s3Config.bucketName" in stderr


# -- the none-access server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def locked_env(aws_env, tmp_path_factory) -> Iterator[dict[str, str]]:
    running = start_server(tmp_path_factory.mktemp("locked-cli"), "--model-access", "none", config=CONFIG_TOML)
    env = {**aws_env}
    for name in ("AWS_ENDPOINT_URL_BEDROCK", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL_STS"):
        env[name] = running.url
    yield env
    running.stop()


def test_cli_model_access_none_server(locked_env, tmp_path: Path):
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"max_tokens": 32, "messages": [{"role": "user", "content": "Hello"}],
                                "anthropic_version": "bedrock-2023-05-31"}))
    invoke = ("bedrock-runtime", "invoke-model", "--model-id", "global." + SONNET_45, "--body", f"fileb://{body}",
              str(tmp_path / "out.json"))
    assert "(AccessDeniedException)" in aws_error(locked_env, *invoke)
    token = aws_json(locked_env, "bedrock", "list-foundation-model-agreement-offers", "--model-id", SONNET_45,
                     "--query", "offers[0].offerToken")
    aws(locked_env, "bedrock", "create-foundation-model-agreement", "--model-id", SONNET_45, "--offer-token", token)
    aws(locked_env, *invoke)
    assert json.loads((tmp_path / "out.json").read_text())["content"]
