"""STS GetCallerIdentity (query protocol, XML) with boto3, the AWS CLI v1 and a raw signed POST:
the identity of the calling credentials, and the query-XML errors InvalidClientTokenId and
SignatureDoesNotMatch."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from typing import Iterator

import pytest
from botocore.awsrequest import AWSRequest
from botocore.auth import SigV4Auth
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from support.servers import (
    API_KEY,
    ACCESS_KEY,
    ACCOUNT_ID,
    CONFIG_TOML,
    REGION,
    SECRET_KEY,
    SESSION_TOKEN,
    USER_NAME,
    RunningServer,
    start_server,
)

pytestmark = pytest.mark.conformance

STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
DEV_ACCOUNT = "123456789012"


def aws(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "awscli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def sts_client(url: str, key: str = ACCESS_KEY, secret: str = SECRET_KEY, token: str | None = None):
    import boto3

    session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
                            region_name=REGION)
    return session.client("sts", endpoint_url=url, config=NO_RETRY)


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("strict"), "--strict-auth", config=CONFIG_TOML)
    yield running
    running.stop()


def test_sts_boto3_identity_of_listed_key(server):
    identity = sts_client(server.url).get_caller_identity()
    assert identity["Account"] == ACCOUNT_ID
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{USER_NAME}"
    assert identity["UserId"].startswith("AIDA") and len(identity["UserId"]) == 21
    assert identity["ResponseMetadata"]["RequestId"]
    assert identity["ResponseMetadata"]["HTTPHeaders"]["content-type"].startswith("text/xml")


def test_sts_boto3_user_id_is_stable_and_per_identity(server):
    first = sts_client(server.url).get_caller_identity()["UserId"]
    assert sts_client(server.url).get_caller_identity()["UserId"] == first
    temp = sts_client(server.url, "ASIATEMPORARYKEY01", SECRET_KEY, SESSION_TOKEN).get_caller_identity()
    assert temp["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/temp-user" and temp["UserId"] != first


def test_sts_cli_with_endpoint_url(aws_env, server):
    env = {k: v for k, v in aws_env.items() if k != "AWS_ENDPOINT_URL_STS"}
    result = aws(env, "sts", "get-caller-identity", "--endpoint-url", server.url)
    assert result.returncode == 0, result.stderr
    identity = json.loads(result.stdout)
    assert identity["Account"] == ACCOUNT_ID
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{USER_NAME}"


def test_sts_cli_with_service_endpoint_env(aws_env):
    result = aws(aws_env, "sts", "get-caller-identity", "--query", "Account", "--output", "text")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ACCOUNT_ID


def test_sts_dev_mode_unknown_key_is_the_default_account(server):
    identity = sts_client(server.url, "AKIDUNKNOWNKEY000001", "whatever").get_caller_identity()
    assert identity["Account"] == DEV_ACCOUNT
    assert identity["Arn"] == f"arn:aws:iam::{DEV_ACCOUNT}:user/developer"


def test_sts_boto3_wrong_secret_is_signature_does_not_match(server):
    with pytest.raises(ClientError) as info:
        sts_client(server.url, ACCESS_KEY, "not-the-secret").get_caller_identity()
    error = info.value.response["Error"]
    assert error["Code"] == "SignatureDoesNotMatch" and error["Type"] == "Sender"
    assert "signature" in error["Message"].lower()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert info.value.response["ResponseMetadata"]["RequestId"]


def test_sts_cli_wrong_secret_is_signature_does_not_match(aws_env):
    result = aws({**aws_env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}, "sts", "get-caller-identity")
    assert result.returncode != 0
    assert "(SignatureDoesNotMatch)" in result.stderr and "GetCallerIdentity" in result.stderr


def test_sts_boto3_wrong_session_token_is_invalid_client_token_id(server):
    with pytest.raises(ClientError) as info:
        sts_client(server.url, "ASIATEMPORARYKEY01", SECRET_KEY, "wrong-token").get_caller_identity()
    assert info.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert info.value.response["Error"]["Message"] == "The security token included in the request is invalid."
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_sts_strict_unknown_key_is_invalid_client_token_id(strict_server):
    with pytest.raises(ClientError) as info:
        sts_client(strict_server.url, "AKIDUNKNOWNKEY000001", "whatever").get_caller_identity()
    assert info.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert info.value.response["Error"]["Type"] == "Sender"


def test_sts_cli_strict_unknown_key_is_invalid_client_token_id(aws_env, strict_server):
    env = {**aws_env, "AWS_ACCESS_KEY_ID": "AKIDUNKNOWNKEY000001", "AWS_ENDPOINT_URL_STS": strict_server.url}
    result = aws(env, "sts", "get-caller-identity")
    assert result.returncode != 0
    assert "(InvalidClientTokenId)" in result.stderr
    assert "The security token included in the request is invalid." in result.stderr


def test_sts_strict_listed_key_still_works(strict_server):
    assert sts_client(strict_server.url).get_caller_identity()["Account"] == ACCOUNT_ID


def _signed_post(url: str, body: str, service: str = "sts") -> tuple[int, str, bytes]:
    request = AWSRequest(method="POST", url=url + "/", data=body.encode(),
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), service, REGION).add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=30) as response:
            return response.status, response.headers["content-type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], error.read()


def test_sts_raw_response_document(server):
    status, content_type, body = _signed_post(server.url, "Action=GetCallerIdentity&Version=2011-06-15")
    assert status == 200 and content_type == "text/xml"
    root = ET.fromstring(body)
    assert root.tag == f"{STS_NS}GetCallerIdentityResponse"
    result = root.find(f"{STS_NS}GetCallerIdentityResult")
    assert result.findtext(f"{STS_NS}Account") == ACCOUNT_ID
    assert result.findtext(f"{STS_NS}Arn") == f"arn:aws:iam::{ACCOUNT_ID}:user/{USER_NAME}"
    assert root.find(f"{STS_NS}ResponseMetadata").findtext(f"{STS_NS}RequestId")


@pytest.mark.parametrize(
    ("body", "code"),
    [("Action=AssumeRole&Version=2011-06-15", "InvalidAction"), ("Version=2011-06-15", "MissingAction"),
     ("Action=GetCallerIdentity&Version=1999-01-01", "InvalidAction"),
     ("Action=GetCallerIdentity", "MissingParameter"),
     ("Action=getcalleridentity&Version=2011-06-15", "InvalidAction")],  # action names are case-sensitive
)
def test_sts_raw_unknown_or_missing_action_is_query_xml_error(server, body, code):
    status, content_type, payload = _signed_post(server.url, body)
    assert status == 400 and content_type == "text/xml"
    root = ET.fromstring(payload)
    assert root.tag == f"{STS_NS}ErrorResponse"
    assert root.find(f"{STS_NS}Error").findtext(f"{STS_NS}Code") == code
    assert root.find(f"{STS_NS}Error").findtext(f"{STS_NS}Type") == "Sender"
    assert root.findtext(f"{STS_NS}RequestId")


def test_sts_raw_request_signed_for_bedrock_is_refused(server):
    status, content_type, payload = _signed_post(server.url, "Action=GetCallerIdentity&Version=2011-06-15",
                                                 service="bedrock")
    assert status == 403 and content_type == "text/xml"
    assert ET.fromstring(payload).find(f"{STS_NS}Error").findtext(f"{STS_NS}Code") == "SignatureDoesNotMatch"


def test_sts_unsigned_request_is_missing_authentication_token(server):
    """STS's own words for a request with no credentials (AWS common errors: 403
    MissingAuthenticationToken), not Bedrock's "Authorization header is missing"."""
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(server.url + "/?Action=GetCallerIdentity&Version=2011-06-15", timeout=30)
    assert caught.value.code == 403
    error = ET.fromstring(caught.value.read()).find(f"{STS_NS}Error")
    assert error.findtext(f"{STS_NS}Code") == "MissingAuthenticationToken"
    assert error.findtext(f"{STS_NS}Message") == "Request is missing Authentication Token"


def test_sts_refuses_a_bedrock_api_key(strict_server):
    """Bedrock API keys are for the signing name bedrock only (wire 6.4): STS wants SigV4,
    even for a key the config lists."""
    raw = urllib.request.Request(strict_server.url + "/", data=b"Action=GetCallerIdentity&Version=2011-06-15",
                                 headers={"Authorization": f"Bearer {API_KEY}",
                                          "Content-Type": "application/x-www-form-urlencoded"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(raw, timeout=30)
    assert caught.value.code == 400
    error = ET.fromstring(caught.value.read()).find(f"{STS_NS}Error")
    assert error.findtext(f"{STS_NS}Code") == "IncompleteSignature"
    assert "not accepted by STS" in error.findtext(f"{STS_NS}Message")


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers["content-type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], error.read()


def test_sts_boto3_presigned_get_caller_identity(strict_server):
    """The query protocol takes GET as well as POST: a GET URL from boto3's
    ``generate_presigned_url("get_caller_identity", HttpMethod="GET")`` (what ``aws eks get-token``
    and IAM-auth servers use to prove an identity) answers with the identity document; a tampered
    one is SignatureDoesNotMatch, in XML."""
    url = sts_client(strict_server.url).generate_presigned_url("get_caller_identity", ExpiresIn=60,
                                                                HttpMethod="GET")
    status, content_type, body = _get(url)
    assert (status, content_type) == (200, "text/xml")
    result = ET.fromstring(body).find(f"{STS_NS}GetCallerIdentityResult")
    assert result.findtext(f"{STS_NS}Account") == ACCOUNT_ID
    assert result.findtext(f"{STS_NS}Arn") == f"arn:aws:iam::{ACCOUNT_ID}:user/{USER_NAME}"
    status, content_type, body = _get(url.replace("Version=2011-06-15", "Version=2011-06-16"))
    assert (status, content_type) == (403, "text/xml")
    assert ET.fromstring(body).find(f"{STS_NS}Error").findtext(f"{STS_NS}Code") == "SignatureDoesNotMatch"
