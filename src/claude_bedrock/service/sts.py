"""STS over the query protocol: ``POST /`` with a form body, or ``GET /`` with the parameters
in the query string (a presigned URL), answered in XML.

Only GetCallerIdentity exists (the guide's first step, ``aws sts get-caller-identity``).
Source: botocore sts 2011-06-15 model; wire-protocol reference section 5; AWS Query API
("Query requests are HTTP or HTTPS requests that use the HTTP verb GET or POST").
"""

from __future__ import annotations

from urllib.parse import parse_qs

from claude_bedrock.domain.errors import BedrockError
from claude_bedrock.service.auth import Identity
from claude_bedrock.service.http import Request, Send, send_response
from claude_bedrock.service.state import ServiceState
from claude_bedrock.service.errors import STS_NAMESPACE, escape


class InvalidAction(BedrockError):
    status = 400


class MissingAction(BedrockError):
    status = 400


class MissingParameter(BedrockError):
    status = 400


API_VERSION = "2011-06-15"


def caller_identity_xml(identity: Identity, request_id: str) -> bytes:
    return (
        f'<GetCallerIdentityResponse xmlns="{STS_NAMESPACE}">'
        "<GetCallerIdentityResult>"
        f"<Arn>{escape(identity.arn)}</Arn>"
        f"<UserId>{escape(identity.user_id)}</UserId>"
        f"<Account>{escape(identity.account_id)}</Account>"
        "</GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    ).encode()


async def handle(state: ServiceState, request: Request, identity: Identity, send: Send, request_id: str) -> None:
    form = parse_qs(request.body.decode("utf-8", "replace") + "&" + request.raw_query, keep_blank_values=True)
    action = (form.get("Action") or [""])[0]
    if not action:
        raise MissingAction("The request must contain the parameter Action.")
    version = (form.get("Version") or [""])[0]
    if not version:
        raise MissingParameter("The request must contain the parameter Version.")
    if action != "GetCallerIdentity" or version != API_VERSION:
        raise InvalidAction(f"Could not find operation {action} for version {version}")
    body = caller_identity_xml(identity, request_id)
    headers = [("content-type", "text/xml"), ("x-amzn-requestid", request_id), ("content-length", str(len(body)))]
    await send_response(send, 200, headers, body)
