"""AWS error envelopes: the one place a typed error becomes bytes.

Two protocols:

* rest-json (bedrock-runtime, bedrock control plane): status from the error class,
  ``x-amzn-ErrorType: <Code>:<namespace>``, ``x-amzn-RequestId``, JSON body ``{"message": ...}``
  (plus modelled fields). botocore picks the exception class from ``x-amzn-ErrorType``
  (wire-protocol reference 3.1, 11.8).
* query-XML (STS): ``<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>``
  (wire-protocol reference section 5).

Sans-I/O: functions take the request id and return (status, headers, body).
"""

from __future__ import annotations

import json
from typing import Any

from claude_bedrock.domain.errors import BedrockError

JSON_CONTENT_TYPE = "application/json"
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"


_XML_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape(text: str) -> str:
    """XML character data: ``&``, ``<`` and ``>`` escaped (what ``html.escape(quote=False)``
    does, without importing ``html`` and its entity tables at start-up, which is measured)."""
    return text.translate(_XML_TEXT)

Headers = list[tuple[str, str]]


def rest_json_error(error: BedrockError, request_id: str) -> tuple[int, Headers, bytes]:
    """Render ``error`` as Bedrock's rest-json error response."""
    body = json.dumps(error.body(), separators=(",", ":"), ensure_ascii=False).encode()
    headers = [
        ("content-type", JSON_CONTENT_TYPE),
        ("x-amzn-requestid", request_id),
        ("x-amzn-errortype", f"{error.code}:{error.namespace}"),
        ("content-length", str(len(body))),
    ]
    return error.status, headers, body


#: STS codes for the auth failures that Bedrock reports with its own codes.
_STS_CODES = {
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "IncompleteSignatureException": "IncompleteSignature",
    "AccessDeniedException": "MissingAuthenticationToken",
}
#: STS's own messages where its words differ from Bedrock's, by STS code.
_STS_MESSAGES = {"MissingAuthenticationToken": "Request is missing Authentication Token"}


def query_xml_error(error: BedrockError, request_id: str) -> tuple[int, Headers, bytes]:
    """Render ``error`` as an STS (query protocol) error document."""
    code = _STS_CODES.get(error.code, error.code)
    kind = "Receiver" if error.fault == "server" else "Sender"
    body = (
        f'<ErrorResponse xmlns="{STS_NAMESPACE}">'
        f"<Error><Type>{kind}</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(_STS_MESSAGES.get(code, error.message))}</Message></Error>"
        f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
    ).encode()
    headers = [
        ("content-type", "text/xml"),
        ("x-amzn-requestid", request_id),
        ("content-length", str(len(body))),
    ]
    return error.status, headers, body


def stream_exception_payload(error: BedrockError) -> bytes:
    """JSON payload of an event-stream exception frame for ``error``."""
    fields: dict[str, Any] = {"message": error.message, **error.fields}
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
