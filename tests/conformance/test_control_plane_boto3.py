"""The bedrock control plane with boto3 against a real server: foundation models, inference
profiles (system and application, with pagination and tags), model access, the use-case form
and the logging configuration, including their errors; state persistence across a restart.

Expectations come from the seed guide's table (``support.seed_guide``), not from the catalog.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from support.seed_guide import seed_models
from support.servers import (
    ACCESS_KEY, ACCOUNT_ID, API_KEY, CONFIG_TOML, REGION, SECRET_KEY, RunningServer, start_server,
)

pytestmark = pytest.mark.conformance

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
HAIKU_3 = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
OPUS_41 = "anthropic.claude-opus-4-1-20250805-v1:0"
ACCESS_DENIED = "You don't have access to the model with the specified model ID."
HELLO = {"max_tokens": 64, "messages": [{"role": "user", "content": "Hello, world"}],
         "anthropic_version": "bedrock-2023-05-31"}
GEOGRAPHY_OF = {"us-west-2": ("us",), "eu-west-1": ("eu",), "ap-northeast-1": ("jp", "apac")}
US_REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2"]


def client(server: RunningServer, service: str = "bedrock", region: str = REGION, key: str = ACCESS_KEY,
           validate: bool = True):
    """A boto3 client for ``server``; ``validate=False`` lets botocore send what it would refuse."""
    import boto3

    session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=SECRET_KEY, region_name=region)
    config = NO_RETRY.merge(Config(parameter_validation=validate))
    return session.client(service, endpoint_url=server.url, config=config)


def reset(server: RunningServer) -> None:
    request = urllib.request.Request(server.url + "/_claude-bedrock/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def error_of(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = info.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(autouse=True)
def clean_state(server: RunningServer) -> Iterator[None]:
    """Every test starts and ends with an empty store on the shared server."""
    reset(server)
    yield
    reset(server)


@pytest.fixture(scope="module")
def bedrock(server: RunningServer):
    return client(server)


@pytest.fixture(scope="module")
def unchecked(server: RunningServer):
    """A bedrock client without botocore's own parameter checks, to reach the server's."""
    return client(server, validate=False)


@pytest.fixture(scope="module")
def runtime(server: RunningServer):
    return client(server, "bedrock-runtime")


@pytest.fixture(scope="module")
def seed(shared_dir):
    return seed_models(shared_dir)


def expected_system_profiles(seed, region: str) -> list[str]:
    ids = []
    for model in seed:
        for column in ("global", *GEOGRAPHY_OF[region]):
            if model.availability[column]:
                ids.append(f"{column}.{model.model_id}")
    return ids


# -- foundation models ---------------------------------------------------------------------------


def test_boto3_list_foundation_models_seed_sample(bedrock, seed):
    response = bedrock.list_foundation_models(byProvider="anthropic")
    assert [s["modelId"] for s in response["modelSummaries"]] == [m.model_id for m in seed]


def test_boto3_list_foundation_models_summary_fields(bedrock, seed):
    summaries = {s["modelId"]: s for s in bedrock.list_foundation_models()["modelSummaries"]}
    for model in seed:
        summary = summaries[model.model_id]
        assert summary["modelArn"] == f"arn:aws:bedrock:{REGION}::foundation-model/{model.model_id}"
        assert summary["modelName"] == model.name and summary["providerName"] == "Anthropic"
        assert summary["inputModalities"] == ["TEXT", "IMAGE"] and summary["outputModalities"] == ["TEXT"]
        assert summary["responseStreamingSupported"] is True
        assert summary["customizationsSupported"] == []
        assert summary["inferenceTypesSupported"]
        assert set(summary["inferenceTypesSupported"]) <= {"ON_DEMAND", "INFERENCE_PROFILE"}
        assert summary["modelLifecycle"]["status"] == ("LEGACY" if model.deprecated else "ACTIVE")
        if model.deprecated:
            assert summary["modelLifecycle"]["legacyTime"].year >= 2025  # parsed as a timestamp
    assert summaries[SONNET_45]["inferenceTypesSupported"] == ["INFERENCE_PROFILE"]


@pytest.mark.parametrize("provider", ["anthropic", "ANTHROPIC", "Anthropic", "aNtHrOpIc"])
def test_boto3_list_foundation_models_provider_is_case_insensitive(bedrock, provider):
    assert len(bedrock.list_foundation_models(byProvider=provider)["modelSummaries"]) == 10


def test_boto3_list_foundation_models_filters(bedrock):
    def ids(**filters):
        return [s["modelId"] for s in bedrock.list_foundation_models(**filters)["modelSummaries"]]

    assert ids(byProvider="amazon") == []
    assert len(ids(byOutputModality="TEXT")) == 10
    assert ids(byOutputModality="IMAGE") == ids(byOutputModality="EMBEDDING") == []
    assert ids(byCustomizationType="FINE_TUNING") == []
    on_demand = ids(byInferenceType="ON_DEMAND")
    all_models = bedrock.list_foundation_models()["modelSummaries"]
    assert on_demand == [s["modelId"] for s in all_models if "ON_DEMAND" in s["inferenceTypesSupported"]]
    assert 0 < len(on_demand) < 10 and SONNET_45 not in on_demand
    assert ids(byInferenceType="PROVISIONED") == []
    assert ids(byProvider="anthropic", byInferenceType="ON_DEMAND") == on_demand


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"byOutputModality": "AUDIO"},
         "1 validation error detected: Value 'AUDIO' at 'byOutputModality' failed to satisfy constraint: "
         "Member must satisfy enum value set: [TEXT, IMAGE, EMBEDDING]"),
        ({"byInferenceType": "on_demand"},
         "1 validation error detected: Value 'on_demand' at 'byInferenceType' failed to satisfy constraint: "
         "Member must satisfy enum value set: [ON_DEMAND, PROVISIONED]"),
        ({"byProvider": "anthropic!"},
         "1 validation error detected: Value 'anthropic!' at 'byProvider' failed to satisfy constraint: "
         "Member must satisfy regular expression pattern: [A-Za-z0-9- ]{1,63}"),
    ],
)
def test_boto3_list_foundation_models_bad_filter(bedrock, filters, message):
    with pytest.raises(bedrock.exceptions.ValidationException) as info:
        bedrock.list_foundation_models(**filters)
    assert error_of(info) == ("ValidationException", message, 400)


def test_boto3_list_foundation_models_two_bad_filters_reported_together(bedrock):
    with pytest.raises(bedrock.exceptions.ValidationException) as info:
        bedrock.list_foundation_models(byOutputModality="AUDIO", byCustomizationType="LORA")
    assert error_of(info)[1].startswith("2 validation errors detected: ")


def test_boto3_list_foundation_models_eu_region(server, seed):
    summaries = client(server, region="eu-west-1").list_foundation_models(byProvider="anthropic")["modelSummaries"]
    expected = [m.model_id for m in seed if m.availability["global"] or m.availability["eu"]]
    assert [s["modelId"] for s in summaries] == expected and OPUS_41 not in expected
    assert all(s["modelArn"].startswith("arn:aws:bedrock:eu-west-1::foundation-model/") for s in summaries)


@pytest.mark.parametrize("identifier", [HAIKU_3, f"arn:aws:bedrock:{REGION}::foundation-model/{HAIKU_3}"])
def test_boto3_get_foundation_model(bedrock, identifier):
    details = bedrock.get_foundation_model(modelIdentifier=identifier)["modelDetails"]
    assert details["modelId"] == HAIKU_3
    assert details["modelArn"] == f"arn:aws:bedrock:{REGION}::foundation-model/{HAIKU_3}"
    assert details["modelName"] == "Claude Haiku 3" and details["modelLifecycle"]["status"] == "ACTIVE"


def test_boto3_get_foundation_model_legacy(bedrock):
    details = bedrock.get_foundation_model(modelIdentifier="anthropic.claude-3-opus-20240229-v1:0")["modelDetails"]
    assert details["modelLifecycle"]["status"] == "LEGACY"


@pytest.mark.parametrize("identifier", ["anthropic.claude-9-nonexistent-v1:0", "amazon.titan-text-express-v1",
                                        "global." + SONNET_45])
def test_boto3_get_foundation_model_unknown(bedrock, identifier):
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException) as info:
        bedrock.get_foundation_model(modelIdentifier=identifier)
    assert error_of(info) == (
        "ResourceNotFoundException", "Could not resolve the foundation model from the provided model identifier.", 404
    )


@pytest.mark.parametrize("arn", [
    f"arn:aws:bedrock:eu-west-3::foundation-model/{HAIKU_3}",   # another region: not this endpoint's resource
    f"arn:aws-cn:bedrock:{REGION}::foundation-model/{HAIKU_3}",  # another partition (the pattern allows it)
])
def test_boto3_get_foundation_model_arn_of_another_region_or_partition_is_not_found(bedrock, arn):
    """A foundation-model ARN names the model in one region, as every other ARN the server takes
    (GetInferenceProfile, CreateInferenceProfile's copyFrom, runtime model IDs): asked of us-west-2,
    an eu-west-3 ARN is not found, rather than answered with a us-west-2 ``modelArn``."""
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException) as info:
        bedrock.get_foundation_model(modelIdentifier=arn)
    assert error_of(info) == (
        "ResourceNotFoundException", "Could not resolve the foundation model from the provided model identifier.", 404
    )


def test_boto3_get_foundation_model_not_offered_in_region(server):
    eu = client(server, region="eu-west-1")
    with pytest.raises(eu.exceptions.ResourceNotFoundException):
        eu.get_foundation_model(modelIdentifier=OPUS_41)


def test_boto3_get_foundation_model_malformed(bedrock):
    with pytest.raises(bedrock.exceptions.ValidationException) as info:
        bedrock.get_foundation_model(modelIdentifier="Not A Model")
    assert "at 'modelIdentifier' failed to satisfy constraint" in error_of(info)[1]


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("list_foundation_models", {}),
        ("get_foundation_model", {"modelIdentifier": HAIKU_3}),
        ("list_inference_profiles", {}),
        ("get_inference_profile", {"inferenceProfileIdentifier": "us." + HAIKU_3}),
    ],
)
def test_boto3_project_identifier_is_checked_by_every_operation_that_has_it(unchecked, operation, params):
    """botocore ``ProjectIdentifier`` (query ``projectIdentifier``) is a member of these four operations;
    a valid one is accepted, a malformed one is a ValidationException naming it."""
    getattr(unchecked, operation)(projectIdentifier="default", **params)
    with pytest.raises(ClientError) as info:
        getattr(unchecked, operation)(projectIdentifier="not a project", **params)
    code, message, status = error_of(info)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: Value 'not a project' at 'projectIdentifier'")


# -- system inference profiles -------------------------------------------------------------------


@pytest.mark.parametrize("region", ["us-west-2", "eu-west-1", "ap-northeast-1"])
def test_boto3_list_inference_profiles_system_defined(server, seed, region):
    summaries = client(server, region=region).list_inference_profiles()["inferenceProfileSummaries"]
    assert [s["inferenceProfileId"] for s in summaries] == expected_system_profiles(seed, region)
    for summary in summaries:
        assert summary["inferenceProfileArn"] == (
            f"arn:aws:bedrock:{region}:{ACCOUNT_ID}:inference-profile/{summary['inferenceProfileId']}"
        )
        assert summary["type"] == "SYSTEM_DEFINED" and summary["status"] == "ACTIVE"
        assert summary["inferenceProfileName"] and summary["description"].startswith("Routes requests to ")
        assert summary["createdAt"] and summary["updatedAt"]


def test_boto3_system_profile_shape(bedrock):
    us = bedrock.get_inference_profile(inferenceProfileIdentifier="us." + HAIKU_3)
    assert us["inferenceProfileName"] == "US Anthropic Claude Haiku 3"
    assert us["description"] == "Routes requests to Claude Haiku 3 in us-east-1, us-east-2, us-west-1 and us-west-2."
    assert [m["modelArn"] for m in us["models"]] == [
        f"arn:aws:bedrock:{region}::foundation-model/{HAIKU_3}" for region in US_REGIONS
    ]
    world = bedrock.get_inference_profile(inferenceProfileIdentifier="global." + SONNET_45)
    assert world["inferenceProfileName"] == "Global Claude Sonnet 4.5"
    assert world["description"] == "Routes requests to Claude Sonnet 4.5 globally across all supported AWS Regions."
    regions = [m["modelArn"].split(":")[3] for m in world["models"]]
    assert set(US_REGIONS) < set(regions) and "eu-west-1" in regions and "ap-northeast-1" in regions


def test_boto3_system_profile_of_two_regions_names_both(server, seed):
    """The jp geography has two regions: the description names both, joined by 'and'."""
    model = next(m for m in seed if m.availability["jp"])
    tokyo = client(server, region="ap-northeast-1")
    jp = tokyo.get_inference_profile(inferenceProfileIdentifier="jp." + model.model_id)
    assert jp["description"].endswith(" in ap-northeast-1 and ap-northeast-3.")


def test_boto3_get_inference_profile_by_arn(bedrock):
    arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:inference-profile/global.{SONNET_45}"
    profile = bedrock.get_inference_profile(inferenceProfileIdentifier=arn)
    assert profile["inferenceProfileArn"] == arn and profile["inferenceProfileId"] == f"global.{SONNET_45}"


@pytest.mark.parametrize(
    "identifier",
    [
        "eu." + OPUS_41,  # "Non" in the table
        "eu." + HAIKU_3,  # allowed in the table but not from a US region
        "apac." + SONNET_45,
        "global." + HAIKU_3,
        f"arn:aws:bedrock:{REGION}:444455556666:inference-profile/us.{HAIKU_3}",  # another account
        f"arn:aws:bedrock:eu-west-1:{ACCOUNT_ID}:inference-profile/global.{SONNET_45}",  # another region
        "abcdefghij12",  # no such application profile
    ],
)
def test_boto3_get_inference_profile_not_found(bedrock, identifier):
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException) as info:
        bedrock.get_inference_profile(inferenceProfileIdentifier=identifier)
    assert error_of(info)[2] == 404


def test_boto3_list_inference_profiles_pagination(bedrock):
    everything = bedrock.list_inference_profiles()["inferenceProfileSummaries"]
    collected, token, pages = [], None, 0
    while True:
        kwargs = {"maxResults": 3, **({"nextToken": token} if token else {})}
        page = bedrock.list_inference_profiles(**kwargs)
        assert len(page["inferenceProfileSummaries"]) <= 3
        collected += page["inferenceProfileSummaries"]
        pages += 1
        token = page.get("nextToken")
        if token is None:
            break
    assert collected == everything and pages == -(-len(everything) // 3)


def test_boto3_list_inference_profiles_paginator(bedrock):
    paginator = bedrock.get_paginator("list_inference_profiles")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 5}))
    ids = [s["inferenceProfileId"] for page in pages for s in page["inferenceProfileSummaries"]]
    assert len(pages) > 1 and len(ids) == len(set(ids)) == 14
    limited = paginator.paginate(PaginationConfig={"MaxItems": 4, "PageSize": 3}).build_full_result()
    assert len(limited["inferenceProfileSummaries"]) == 4 and "NextToken" in limited


@pytest.mark.parametrize("token", [
    "not-a-token", "eyJ2IjoxLCJvZmZzZXQiOi0xfQ", "eyJ2IjoxLCJvZmZzZXQiOjEwMDB9",
    # 1500 nested JSON arrays: 2000 characters, within botocore's 2048, deeper than Python's recursion limit
    pytest.param(base64.urlsafe_b64encode(b"[" * 1500).decode(), id="deeply-nested-json"),
])
def test_boto3_list_inference_profiles_bad_token(bedrock, token):
    with pytest.raises(bedrock.exceptions.ValidationException) as info:
        bedrock.list_inference_profiles(nextToken=token)
    assert error_of(info) == ("ValidationException", "The pagination token is invalid.", 400)


def test_boto3_list_inference_profiles_max_results_range(bedrock):
    with pytest.raises(bedrock.exceptions.ValidationException) as info:
        bedrock.list_inference_profiles(maxResults=1001)
    assert error_of(info)[1] == (
        "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000"
    )


@pytest.mark.parametrize("raw", ["1_0", " 5", "5 ", "0x10", "1e1", "1.0", "", "ten"])
def test_boto3_list_inference_profiles_max_results_must_be_a_plain_integer(unchecked, raw):
    """The query value is a decimal integer (AWS parses it as a Java int); Python's ``int()``
    extras (underscores, surrounding spaces) are not numbers there."""
    with pytest.raises(ClientError) as info:
        unchecked.list_inference_profiles(maxResults=raw)
    assert error_of(info) == (
        "ValidationException",
        f"1 validation error detected: Value '{raw}' at 'maxResults' failed to satisfy constraint: "
        "Member must be an integer",
        400,
    )


def test_boto3_list_inference_profiles_type_filter(bedrock):
    system = bedrock.list_inference_profiles(typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"]
    assert len(system) == 14 and all(s["type"] == "SYSTEM_DEFINED" for s in system)
    assert bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"] == []
    with pytest.raises(bedrock.exceptions.ValidationException) as info:
        bedrock.list_inference_profiles(typeEquals="CUSTOM")
    assert "Member must satisfy enum value set: [SYSTEM_DEFINED, APPLICATION]" in error_of(info)[1]


# -- application inference profiles ------------------------------------------------------------


def create_profile(bedrock, name: str, source: str, **extra) -> str:
    response = bedrock.create_inference_profile(inferenceProfileName=name, modelSource={"copyFrom": source}, **extra)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201 and response["status"] == "ACTIVE"
    return response["inferenceProfileArn"]


FM_HAIKU_3 = f"arn:aws:bedrock:{REGION}::foundation-model/{HAIKU_3}"
GLOBAL_SONNET_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:inference-profile/global.{SONNET_45}"


def test_boto3_list_inference_profiles_without_type_lists_system_profiles_only(bedrock):
    """AWS lists only SYSTEM_DEFINED profiles when typeEquals is absent (aws/aws-cli#9728,
    hashicorp/terraform-provider-aws#42959); application profiles need typeEquals=APPLICATION."""
    arn = create_profile(bedrock, "not-listed-by-default", FM_HAIKU_3)
    default = bedrock.list_inference_profiles()["inferenceProfileSummaries"]
    assert default == bedrock.list_inference_profiles(typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"]
    assert arn not in [p["inferenceProfileArn"] for p in default]
    paged = [p for page in bedrock.get_paginator("list_inference_profiles").paginate(PaginationConfig={"PageSize": 3})
             for p in page["inferenceProfileSummaries"]]
    assert paged == default
    listed = bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"]
    assert [p["inferenceProfileArn"] for p in listed] == [arn]


def test_boto3_list_inference_profiles_token_of_the_other_listing_is_invalid(bedrock):
    """A nextToken continues the listing it came from: handed to the other typeEquals listing it
    is refused, not read as an offset there (the APPLICATION listing skipped its first profiles)."""
    arns = [create_profile(bedrock, f"paged-{n}", FM_HAIKU_3) for n in range(4)]
    system_token = bedrock.list_inference_profiles(maxResults=2)["nextToken"]
    application_page = bedrock.list_inference_profiles(typeEquals="APPLICATION", maxResults=2)
    for listing, token in (("APPLICATION", system_token), ("SYSTEM_DEFINED", application_page["nextToken"])):
        with pytest.raises(bedrock.exceptions.ValidationException) as info:
            bedrock.list_inference_profiles(typeEquals=listing, maxResults=2, nextToken=token)
        assert error_of(info) == ("ValidationException", "The pagination token is invalid.", 400)
    # its own listing still takes it, with or without an explicit SYSTEM_DEFINED
    rest = bedrock.list_inference_profiles(typeEquals="APPLICATION", nextToken=application_page["nextToken"])
    listed = application_page["inferenceProfileSummaries"] + rest["inferenceProfileSummaries"]
    assert [p["inferenceProfileArn"] for p in listed] == arns
    assert bedrock.list_inference_profiles(typeEquals="SYSTEM_DEFINED", nextToken=system_token)[
        "inferenceProfileSummaries"] == bedrock.list_inference_profiles()["inferenceProfileSummaries"][2:]


def test_boto3_application_profile_lifecycle(bedrock):
    arn = create_profile(bedrock, "team-a haiku", FM_HAIKU_3, description="Haiku for team A",
                         tags=[{"key": "team", "value": "a"}])
    profile_id = arn.rsplit("/", 1)[1]
    assert arn == f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:application-inference-profile/{profile_id}"
    assert len(profile_id) == 12 and profile_id.isalnum() and profile_id == profile_id.lower()
    for identifier in (arn, profile_id):
        profile = bedrock.get_inference_profile(inferenceProfileIdentifier=identifier)
        assert profile["inferenceProfileName"] == "team-a haiku" and profile["description"] == "Haiku for team A"
        assert profile["type"] == "APPLICATION" and profile["status"] == "ACTIVE"
        assert profile["models"] == [{"modelArn": FM_HAIKU_3}]
        assert profile["inferenceProfileArn"] == arn and profile["inferenceProfileId"] == profile_id
    listed = bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"]
    assert [p["inferenceProfileArn"] for p in listed] == [arn]
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "team", "value": "a"}]
    assert bedrock.delete_inference_profile(inferenceProfileIdentifier=arn)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_inference_profile(inferenceProfileIdentifier=arn)
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.delete_inference_profile(inferenceProfileIdentifier=arn)


def test_boto3_application_profile_wrapping_a_system_profile(bedrock):
    arn = create_profile(bedrock, "global-sonnet", GLOBAL_SONNET_ARN)
    models = bedrock.get_inference_profile(inferenceProfileIdentifier=arn)["models"]
    system = bedrock.get_inference_profile(inferenceProfileIdentifier="global." + SONNET_45)["models"]
    assert models == system and len(models) > 4


def test_boto3_application_profile_usable_in_every_runtime_operation(bedrock, runtime):
    for source, expected_model in ((FM_HAIKU_3, "claude-3-haiku-20240307"),
                                   (GLOBAL_SONNET_ARN, "claude-sonnet-4-5-20250929")):
        arn = create_profile(bedrock, f"runtime-{expected_model[:20]}", source)
        body = json.loads(runtime.invoke_model(modelId=arn, body=json.dumps(HELLO))["body"].read())
        assert body["model"] == expected_model and body["content"][0]["text"]
        stream = runtime.invoke_model_with_response_stream(modelId=arn, body=json.dumps(HELLO))
        types = [json.loads(e["chunk"]["bytes"])["type"] for e in stream["body"]]
        assert types[0] == "message_start" and types[-1] == "message_stop"
        messages = [{"role": "user", "content": [{"text": "Hello, world"}]}]
        assert runtime.converse(modelId=arn, messages=messages)["output"]["message"]["content"][0]["text"]
        events = list(runtime.converse_stream(modelId=arn, messages=messages)["stream"])
        assert "messageStart" in events[0] and "metadata" in events[-1]


def test_boto3_deleted_application_profile_is_an_invalid_model_id(bedrock, runtime):
    arn = create_profile(bedrock, "short-lived", FM_HAIKU_3)
    bedrock.delete_inference_profile(inferenceProfileIdentifier=arn)
    with pytest.raises(runtime.exceptions.ValidationException) as info:
        runtime.invoke_model(modelId=arn, body=json.dumps(HELLO))
    assert error_of(info)[1] == "The provided model identifier is invalid."


def test_boto3_application_profile_is_private_to_its_account(server, bedrock):
    arn = create_profile(bedrock, "private", FM_HAIKU_3)
    stranger = client(server, key="AKIDSOMEONEELSE00001")  # dev mode: the default account
    with pytest.raises(stranger.exceptions.ResourceNotFoundException):
        stranger.get_inference_profile(inferenceProfileIdentifier=arn)
    assert stranger.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"] == []
    stranger_runtime = client(server, "bedrock-runtime", key="AKIDSOMEONEELSE00001")
    with pytest.raises(stranger_runtime.exceptions.ValidationException):
        stranger_runtime.invoke_model(modelId=arn, body=json.dumps(HELLO))


def test_boto3_application_profile_duplicate_name_conflict(bedrock):
    create_profile(bedrock, "dup", FM_HAIKU_3)
    with pytest.raises(bedrock.exceptions.ConflictException) as info:
        create_profile(bedrock, "dup", GLOBAL_SONNET_ARN)
    assert error_of(info)[2] == 400 and "dup" in error_of(info)[1]


def test_boto3_application_profile_client_token_is_idempotent(bedrock):
    first = create_profile(bedrock, "idem", FM_HAIKU_3, clientRequestToken="token-0001")
    again = create_profile(bedrock, "idem", FM_HAIKU_3, clientRequestToken="token-0001")
    assert first == again
    assert len(bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"]) == 1


@pytest.mark.parametrize(
    "source",
    [
        f"arn:aws:bedrock:eu-west-1::foundation-model/{HAIKU_3}",  # another region
        f"arn:aws:bedrock:{REGION}::foundation-model/anthropic.claude-9-v1:0",  # unknown model
        f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:inference-profile/eu.{HAIKU_3}",  # not usable from us-west-2
        f"arn:aws:bedrock:{REGION}:444455556666:inference-profile/us.{HAIKU_3}",  # another account
        "not-an-arn",
    ],
)
def test_boto3_application_profile_bad_model_source(bedrock, source):
    with pytest.raises(bedrock.exceptions.ValidationException):
        create_profile(bedrock, "bad-source", source)
    assert bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"] == []


def test_boto3_application_profile_of_a_model_not_offered_in_the_region_is_refused(server):
    """A foundation-model ARN of the caller's own region still names a model offered there
    (Claude Opus 4.1 is not offered in eu-west-1)."""
    eu = client(server, region="eu-west-1")
    with pytest.raises(eu.exceptions.ValidationException):
        create_profile(eu, "opus-eu", f"arn:aws:bedrock:eu-west-1::foundation-model/{OPUS_41}")
    assert eu.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"] == []


def test_boto3_application_profile_bad_name(bedrock):
    with pytest.raises(bedrock.exceptions.ValidationException) as info:
        create_profile(bedrock, "bad name!!", FM_HAIKU_3)
    assert error_of(info)[1] == (
        "1 validation error detected: Value 'bad name!!' at 'inferenceProfileName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ([0-9a-zA-Z][ _-]?)+"
    )


def test_boto3_system_profile_cannot_be_deleted(bedrock):
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.delete_inference_profile(inferenceProfileIdentifier="us." + HAIKU_3)


def test_boto3_tags(bedrock):
    arn = create_profile(bedrock, "tagged", FM_HAIKU_3, tags=[{"key": "a", "value": "1"}])
    bedrock.tag_resource(resourceARN=arn, tags=[{"key": "b", "value": "2"}, {"key": "a", "value": "3"}])
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [
        {"key": "a", "value": "3"}, {"key": "b", "value": "2"}
    ]
    bedrock.untag_resource(resourceARN=arn, tagKeys=["a", "zzz"])
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "b", "value": "2"}]
    with pytest.raises(bedrock.exceptions.TooManyTagsException) as info:
        bedrock.tag_resource(resourceARN=arn, tags=[{"key": f"k{i}", "value": "v"} for i in range(200)])
    assert info.value.response["resourceName"] == arn
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "b", "value": "2"}]


def test_boto3_tag_resource_needs_tags_and_names_a_bad_tag_by_its_position(bedrock, unchecked):
    """TagResource's tags member is required (TagList, 0 to 200 tags); a bad tag is named by its
    position counted from 1, as AWS's validation messages count."""
    arn = create_profile(bedrock, "tagged", FM_HAIKU_3)
    with pytest.raises(unchecked.exceptions.ValidationException) as info:
        unchecked.tag_resource(resourceARN=arn)
    assert "Value null at 'tags' failed to satisfy constraint: Member must not be null" in error_of(info)[1]
    with pytest.raises(bedrock.exceptions.ValidationException) as info:
        bedrock.tag_resource(resourceARN=arn, tags=[{"key": "ok", "value": "1"}, {"key": "bad!", "value": "2"}])
    assert "at 'tags.2.member.key'" in error_of(info)[1]
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == []


def test_boto3_tags_of_unknown_resource(bedrock):
    missing = f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:application-inference-profile/abcdefghij12"
    for call in (lambda: bedrock.list_tags_for_resource(resourceARN=missing),
                 lambda: bedrock.tag_resource(resourceARN=missing, tags=[{"key": "a", "value": "b"}]),
                 lambda: bedrock.untag_resource(resourceARN=missing, tagKeys=["a"])):
        with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
            call()


@pytest.mark.parametrize(
    "arn",
    [
        FM_HAIKU_3,  # a foundation model is not a taggable resource
        "arn:aws:s3:::my-bucket-name-here-1234",  # another service
        f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:application-inference-profile/abc def",
    ],
)
def test_boto3_tags_of_a_malformed_resource_arn(bedrock, arn):
    """botocore ``TaggableResourcesArn`` has a pattern that botocore does not check itself: the
    service refuses a non-taggable ARN with a ValidationException, not ResourceNotFound."""
    for call in (lambda: bedrock.list_tags_for_resource(resourceARN=arn),
                 lambda: bedrock.tag_resource(resourceARN=arn, tags=[{"key": "a", "value": "b"}]),
                 lambda: bedrock.untag_resource(resourceARN=arn, tagKeys=["a"])):
        with pytest.raises(bedrock.exceptions.ValidationException) as info:
            call()
        assert error_of(info)[1].startswith(
            f"1 validation error detected: Value '{arn}' at 'resourceARN' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: "
        )


# -- model access --------------------------------------------------------------------------------


def test_boto3_agreement_offers(bedrock):
    response = bedrock.list_foundation_model_agreement_offers(modelId=HAIKU_3)
    assert response["modelId"] == HAIKU_3 and len(response["offers"]) == 1
    offer = response["offers"][0]
    assert offer["offerToken"] and offer["offerId"]
    terms = offer["termDetails"]
    rates = {r["dimension"]: r["price"] for r in terms["usageBasedPricingTerm"]["rateCard"]}
    assert rates == {"InputTokens": "0.25", "OutputTokens": "1.25"}  # catalog-facts pricing table
    assert terms["legalTerm"]["url"].startswith("https://") and "supportTerm" in terms
    public = bedrock.list_foundation_model_agreement_offers(modelId=HAIKU_3, offerType="PUBLIC")
    assert public["offers"] == response["offers"]
    sonnet = bedrock.list_foundation_model_agreement_offers(modelId=SONNET_45)["offers"][0]
    assert sonnet["offerToken"] != offer["offerToken"]
    # whole dollars keep two decimals (catalog-facts: Sonnet 4.5 3.00 / 15.00)
    assert {r["dimension"]: r["price"] for r in sonnet["termDetails"]["usageBasedPricingTerm"]["rateCard"]} == {
        "InputTokens": "3.00", "OutputTokens": "15.00"}
    # each card says which endpoints its prices are for (Haiku 3: no global endpoint)
    assert all(r["description"].endswith("(regional endpoints)") for r in terms["usageBasedPricingTerm"]["rateCard"])
    assert all(r["description"].endswith("(global endpoint; regional endpoints cost 10% more)")
               for r in sonnet["termDetails"]["usageBasedPricingTerm"]["rateCard"])


def test_boto3_agreement_offers_errors(bedrock):
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.list_foundation_model_agreement_offers(modelId="anthropic.claude-9-v1:0")
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.list_foundation_model_agreement_offers(modelId=HAIKU_3, offerType="PRIVATE")


def test_boto3_delete_agreement_revokes_then_create_restores(bedrock, runtime):
    assert bedrock.get_foundation_model_availability(modelId=HAIKU_3)["agreementAvailability"]["status"] == "AVAILABLE"
    response = bedrock.delete_foundation_model_agreement(modelId=HAIKU_3)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    with pytest.raises(runtime.exceptions.AccessDeniedException) as info:
        runtime.invoke_model(modelId="us." + HAIKU_3, body=json.dumps(HELLO))
    assert error_of(info) == ("AccessDeniedException", ACCESS_DENIED, 403)
    with pytest.raises(runtime.exceptions.AccessDeniedException):
        runtime.converse(modelId=HAIKU_3, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    runtime.invoke_model(modelId="global." + SONNET_45, body=json.dumps(HELLO))  # other models unaffected
    availability = bedrock.get_foundation_model_availability(modelId=HAIKU_3)
    assert availability["agreementAvailability"]["status"] == "NOT_AVAILABLE"
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.delete_foundation_model_agreement(modelId=HAIKU_3)
    token = bedrock.list_foundation_model_agreement_offers(modelId=HAIKU_3)["offers"][0]["offerToken"]
    created = bedrock.create_foundation_model_agreement(modelId=HAIKU_3, offerToken=token)
    assert created["modelId"] == HAIKU_3 and created["ResponseMetadata"]["HTTPStatusCode"] == 202
    runtime.invoke_model(modelId="us." + HAIKU_3, body=json.dumps(HELLO))


def test_boto3_revoked_model_blocks_its_application_profile(bedrock, runtime):
    arn = create_profile(bedrock, "blocked", FM_HAIKU_3)
    bedrock.delete_foundation_model_agreement(modelId=HAIKU_3)
    with pytest.raises(runtime.exceptions.AccessDeniedException):
        runtime.invoke_model(modelId=arn, body=json.dumps(HELLO))


def test_boto3_agreements_are_per_region(server, bedrock):
    bedrock.delete_foundation_model_agreement(modelId=HAIKU_3)
    eu_runtime = client(server, "bedrock-runtime", region="eu-west-1")
    eu_runtime.invoke_model(modelId="eu." + HAIKU_3, body=json.dumps(HELLO))


def test_boto3_create_agreement_errors(bedrock):
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.create_foundation_model_agreement(modelId=HAIKU_3, offerToken="forged-token")
    sonnet_token = bedrock.list_foundation_model_agreement_offers(modelId=SONNET_45)["offers"][0]["offerToken"]
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.create_foundation_model_agreement(modelId=HAIKU_3, offerToken=sonnet_token)
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.create_foundation_model_agreement(modelId="anthropic.claude-9-v1:0", offerToken="x")


def test_boto3_model_availability(server, bedrock):
    availability = bedrock.get_foundation_model_availability(modelId=SONNET_45)
    assert availability["modelId"] == SONNET_45
    assert availability["agreementAvailability"] == {"status": "AVAILABLE"}
    assert availability["authorizationStatus"] == "AUTHORIZED"
    assert availability["entitlementAvailability"] == "AVAILABLE"
    assert availability["regionAvailability"] == "AVAILABLE"
    eu = client(server, region="eu-west-1").get_foundation_model_availability(modelId=OPUS_41)
    assert eu["regionAvailability"] == "NOT_AVAILABLE"
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_foundation_model_availability(modelId="anthropic.claude-9-v1:0")


def test_boto3_use_case_form(bedrock):
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_use_case_for_model_access()
    form = json.dumps({"companyName": "Example", "intendedUsers": "0", "useCases": "testing"}).encode()
    response = bedrock.put_use_case_for_model_access(formData=form)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert bedrock.get_use_case_for_model_access()["formData"] == form


def test_boto3_use_case_form_too_short(unchecked):
    with pytest.raises(unchecked.exceptions.ValidationException) as info:
        unchecked.put_use_case_for_model_access(formData=b"short")
    assert "Value at 'formData' failed to satisfy constraint: Member must have length greater than or equal to 10" in (
        error_of(info)[1]
    )


# -- logging configuration -----------------------------------------------------------------------


def test_boto3_logging_configuration_round_trip(bedrock):
    assert "loggingConfig" not in bedrock.get_model_invocation_logging_configuration()
    config = {
        "cloudWatchConfig": {
            "logGroupName": "/aws/bedrock/invocations",
            "roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/BedrockLogging",
            "largeDataDeliveryS3Config": {"bucketName": "large-data", "keyPrefix": "big/"},
        },
        "s3Config": {"bucketName": "my.bedrock-logs", "keyPrefix": "logs/"},
        "textDataDeliveryEnabled": True,
        "imageDataDeliveryEnabled": False,
        "embeddingDataDeliveryEnabled": False,
    }
    bedrock.put_model_invocation_logging_configuration(loggingConfig=config)
    assert bedrock.get_model_invocation_logging_configuration()["loggingConfig"] == config
    bedrock.delete_model_invocation_logging_configuration()
    assert "loggingConfig" not in bedrock.get_model_invocation_logging_configuration()
    bedrock.delete_model_invocation_logging_configuration()  # deleting nothing succeeds


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"s3Config": {"bucketName": "Bad_Bucket"}}, "at 'loggingConfig.s3Config.bucketName'"),
        ({"s3Config": {"bucketName": "ab"}}, "Member must have length greater than or equal to 3"),
        ({"s3Config": {"bucketName": "a" * 64}}, "Member must have length less than or equal to 63"),
        ({"s3Config": {"bucketName": "two..dots"}}, "Member must not contain two adjacent periods"),
        ({"s3Config": {"bucketName": "192.168.1.1"}}, "Member must not be formatted as an IP address"),
        ({"s3Config": {"bucketName": "xn--abc"}}, "Member must not start with the reserved prefix 'xn--'"),
        ({"s3Config": {"bucketName": "logs-s3alias"}}, "Member must not end with the reserved suffix '-s3alias'"),
        ({"cloudWatchConfig": {"logGroupName": "g", "roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/r",
                               "largeDataDeliveryS3Config": {"bucketName": "big--x-s3"}}},
         "Member must not end with the reserved suffix '--x-s3'"),
        ({"s3Config": {"bucketName": "-leading"}}, "at 'loggingConfig.s3Config.bucketName'"),
        ({"cloudWatchConfig": {"logGroupName": "has space", "roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/r"}},
         "at 'loggingConfig.cloudWatchConfig.logGroupName'"),
        ({"cloudWatchConfig": {"logGroupName": "ok", "roleArn": "not-a-role"}},
         "at 'loggingConfig.cloudWatchConfig.roleArn'"),
        ({"textDataDeliveryEnabled": True}, "At least one of s3Config or cloudWatchConfig"),
    ],
)
def test_boto3_logging_configuration_validation(bedrock, unchecked, config, fragment):
    with pytest.raises(unchecked.exceptions.ValidationException) as info:
        unchecked.put_model_invocation_logging_configuration(loggingConfig=config)
    assert fragment in error_of(info)[1]
    assert "loggingConfig" not in bedrock.get_model_invocation_logging_configuration()


def test_boto3_logging_configuration_keeps_what_the_naming_rules_only_resemble(bedrock):
    """S3's naming rules refuse a whole IP address and the reserved suffixes at the end; a name
    that starts like an address or holds a suffix in its middle is a bucket name. An empty
    keyPrefix is a value (length 0 to 1024) and comes back as it was given."""
    config = {
        "cloudWatchConfig": {
            "logGroupName": "/aws/bedrock/invocations",
            "roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/BedrockLogging",
            "largeDataDeliveryS3Config": {"bucketName": "team-s3alias-archive"},
        },
        "s3Config": {"bucketName": "10.0.0.1-logs", "keyPrefix": ""},
    }
    bedrock.put_model_invocation_logging_configuration(loggingConfig=config)
    assert bedrock.get_model_invocation_logging_configuration()["loggingConfig"] == config


def test_boto3_logging_configuration_per_region(server, bedrock):
    bedrock.put_model_invocation_logging_configuration(loggingConfig={"s3Config": {"bucketName": "us-logs"}})
    eu = client(server, region="eu-west-1")
    assert "loggingConfig" not in eu.get_model_invocation_logging_configuration()


# -- servers of their own ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory) -> Iterator[RunningServer]:
    """A server whose accounts start without model access (``--model-access none``)."""
    running = start_server(tmp_path_factory.mktemp("locked"), "--model-access", "none", config=CONFIG_TOML)
    yield running
    running.stop()


def test_boto3_model_access_none_until_agreement(locked_server):
    bedrock = client(locked_server)
    runtime = client(locked_server, "bedrock-runtime")
    with pytest.raises(runtime.exceptions.AccessDeniedException) as info:
        runtime.invoke_model(modelId="global." + SONNET_45, body=json.dumps(HELLO))
    assert error_of(info) == ("AccessDeniedException", ACCESS_DENIED, 403)
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"].startswith(
        "AccessDeniedException:"
    )
    with pytest.raises(runtime.exceptions.AccessDeniedException):
        stream = runtime.invoke_model_with_response_stream(modelId="global." + SONNET_45, body=json.dumps(HELLO))
        list(stream["body"])
    assert bedrock.get_foundation_model_availability(modelId=SONNET_45)["agreementAvailability"]["status"] == (
        "NOT_AVAILABLE"
    )
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.delete_foundation_model_agreement(modelId=SONNET_45)
    offer = bedrock.list_foundation_model_agreement_offers(modelId=SONNET_45)["offers"][0]
    bedrock.create_foundation_model_agreement(modelId=SONNET_45, offerToken=offer["offerToken"])
    body = json.loads(runtime.invoke_model(modelId="global." + SONNET_45, body=json.dumps(HELLO))["body"].read())
    assert body["content"][0]["text"]
    with pytest.raises(runtime.exceptions.AccessDeniedException):  # only the agreed model
        runtime.invoke_model(modelId="us." + HAIKU_3, body=json.dumps(HELLO))
    bedrock.delete_foundation_model_agreement(modelId=SONNET_45)
    with pytest.raises(runtime.exceptions.AccessDeniedException):
        runtime.invoke_model(modelId="global." + SONNET_45, body=json.dumps(HELLO))


def test_boto3_model_access_none_anthropic_sdk_is_permission_denied(locked_server):
    from anthropic import AnthropicBedrock, PermissionDeniedError

    sdk = AnthropicBedrock(aws_access_key=ACCESS_KEY, aws_secret_key=SECRET_KEY, aws_region=REGION,
                           base_url=locked_server.url, max_retries=0)
    with pytest.raises(PermissionDeniedError) as info:
        sdk.messages.create(model="global." + SONNET_45, max_tokens=32, messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 403 and ACCESS_DENIED in str(info.value)


def test_boto3_state_survives_a_restart(tmp_path):
    first = start_server(tmp_path / "srv", config=CONFIG_TOML)
    try:
        bedrock = client(first)
        arn = create_profile(bedrock, "durable", FM_HAIKU_3, tags=[{"key": "k", "value": "v"}])
        bedrock.delete_foundation_model_agreement(modelId=SONNET_45)
        bedrock.put_use_case_for_model_access(formData=b"use case form data")
        bedrock.put_model_invocation_logging_configuration(loggingConfig={"s3Config": {"bucketName": "durable"}})
    finally:
        assert first.stop() == 0  # SIGINT is a clean stop
    second = start_server(tmp_path / "srv", config=CONFIG_TOML)
    try:
        assert second.data_dir == first.data_dir
        bedrock = client(second)
        runtime = client(second, "bedrock-runtime")
        assert bedrock.get_inference_profile(inferenceProfileIdentifier=arn)["inferenceProfileName"] == "durable"
        assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "k", "value": "v"}]
        assert json.loads(runtime.invoke_model(modelId=arn, body=json.dumps(HELLO))["body"].read())["content"]
        with pytest.raises(runtime.exceptions.AccessDeniedException):
            runtime.invoke_model(modelId="global." + SONNET_45, body=json.dumps(HELLO))
        assert bedrock.get_use_case_for_model_access()["formData"] == b"use case form data"
        assert bedrock.get_model_invocation_logging_configuration()["loggingConfig"] == {
            "s3Config": {"bucketName": "durable"}
        }
    finally:
        second.stop()


def test_boto3_reset_endpoint_clears_state(server, bedrock):
    create_profile(bedrock, "to-be-reset", FM_HAIKU_3)
    bedrock.delete_foundation_model_agreement(modelId=HAIKU_3)
    reset(server)
    assert bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"] == []
    assert bedrock.get_foundation_model_availability(modelId=HAIKU_3)["agreementAvailability"]["status"] == "AVAILABLE"


def test_boto3_bearer_token_reaches_the_control_plane(server):
    """API keys work on the control plane too (anthropic-style bearer over plain HTTP, raw)."""


    request = urllib.request.Request(server.url + "/foundation-models?byProvider=anthropic",
                                     headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert len(json.loads(response.read())["modelSummaries"]) == 10


def test_boto3_reset_on_a_strict_server_needs_credentials(tmp_path):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    strict = start_server(tmp_path / "strict", "--strict-auth", config=CONFIG_TOML)
    try:
        bedrock = client(strict)
        create_profile(bedrock, "survivor", FM_HAIKU_3)
        anonymous = urllib.request.Request(strict.url + "/_claude-bedrock/reset", data=b"", method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(anonymous, timeout=30)
        assert info.value.code == 403
        assert len(bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"]) == 1
        not_admin = urllib.request.Request(strict.url + "/_claude-bedrock/reset", data=b"", method="POST",
                                           headers={"Authorization": f"Bearer {API_KEY}"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(not_admin, timeout=30)
        assert info.value.code == 403 and b"admin = true" in info.value.read()
        assert len(bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"]) == 1
        signed = AWSRequest(method="POST", url=strict.url + "/_claude-bedrock/reset", data=b"")
        SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "bedrock", REGION).add_auth(signed)
        prepared = signed.prepare()
        request = urllib.request.Request(prepared.url, data=b"", headers=dict(prepared.headers), method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        assert bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"] == []
    finally:
        strict.stop()
