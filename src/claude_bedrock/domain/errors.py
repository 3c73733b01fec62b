"""Typed AWS errors, raised anywhere below the service layer and rendered in one place.

Each class carries the AWS error code (its class name unless ``code`` says otherwise), the
HTTP status Bedrock uses for it, and the coral namespace that goes into ``x-amzn-ErrorType``.
Rendering to bytes lives in ``claude_bedrock.service.errors``; nothing here knows HTTP.

Source: botocore service models bedrock-runtime 2023-09-30 and bedrock 2023-04-20 (error
shapes and their ``httpStatusCode``), wire-protocol reference sections 3 and 6.3.

    BedrockError
    ├── ValidationException            400
    ├── ConflictException              400
    ├── ServiceQuotaExceededException  400
    ├── ResourceInUseException         400
    ├── TooManyTagsException           400
    ├── AccessDeniedException          403
    ├── ResourceNotFoundException      404
    ├── ModelTimeoutException          408
    ├── ModelErrorException            424
    ├── ModelStreamErrorException      424
    ├── ThrottlingException            429
    ├── ModelNotReadyException         429
    ├── InternalServerException        500
    ├── ServiceUnavailableException    503
    └── AuthError  (front-door errors, namespace coral.service)
        ├── InvalidSignatureException      403
        ├── UnrecognizedClientException    403
        ├── MissingAuthenticationException 403 (code AccessDeniedException, capital "Message")
        └── IncompleteSignatureException   400
"""

from __future__ import annotations

from typing import Any, ClassVar

BEDROCK_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
#: AWS's AccessDeniedException message for a model the account has no access to.
MODEL_ACCESS_DENIED = "You don't have access to the model with the specified model ID."
CORAL_SERVICE_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.coral.service/"


class BedrockError(Exception):
    """An error that becomes an AWS error response.

    Args:
        message: the human-readable text AWS puts in ``message``.
        **fields: modelled extra members (``originalStatusCode``, ``resourceName``...).
    """

    status: ClassVar[int] = 400
    namespace: ClassVar[str] = BEDROCK_NAMESPACE
    #: True for server faults (5xx); used by logs and retry hints.
    fault: ClassVar[str] = "client"
    #: Key used for the message in the JSON body; the AWS front door uses "Message".
    message_key: ClassVar[str] = "message"
    #: The lowerCamel member name used inside event streams, when the error may appear there.
    stream_member: ClassVar[str | None] = None

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    @property
    def code(self) -> str:
        return type(self).__dict__.get("code_override") or type(self).__name__

    def body(self) -> dict[str, Any]:
        return {self.message_key: self.message, **self.fields}


class ValidationException(BedrockError):
    status = 400
    stream_member = "validationException"


class ConflictException(BedrockError):
    status = 400


class ServiceQuotaExceededException(BedrockError):
    status = 400


class ResourceInUseException(BedrockError):
    status = 400


class TooManyTagsException(BedrockError):
    status = 400


class AccessDeniedException(BedrockError):
    status = 403


class ResourceNotFoundException(BedrockError):
    status = 404


class ModelTimeoutException(BedrockError):
    status = 408
    stream_member = "modelTimeoutException"


class ModelErrorException(BedrockError):
    status = 424


class ModelStreamErrorException(BedrockError):
    status = 424
    stream_member = "modelStreamErrorException"


class ThrottlingException(BedrockError):
    status = 429
    stream_member = "throttlingException"


class ModelNotReadyException(BedrockError):
    status = 429


class InternalServerException(BedrockError):
    status = 500
    fault = "server"
    stream_member = "internalServerException"


class ServiceUnavailableException(BedrockError):
    status = 503
    fault = "server"
    stream_member = "serviceUnavailableException"


class AuthError(BedrockError):
    """Errors of the AWS front door (authentication), before any operation runs."""

    status = 403
    namespace = CORAL_SERVICE_NAMESPACE


class InvalidSignatureException(AuthError):
    pass


class UnrecognizedClientException(AuthError):
    pass


class IncompleteSignatureException(AuthError):
    status = 400


class MissingAuthenticationException(AuthError):
    """No credentials at all: AWS answers AccessDeniedException with a capital-M body."""

    code_override = "AccessDeniedException"
    message_key = "Message"


class DropConnection(Exception):
    """Not an AWS error: asks the server to cut the connection without a response frame
    (fault injection of a dropped connection). The service re-raises it to the ASGI server."""


class ErrorAsFirstFrame(Exception):
    """Not an AWS error: asks the service to start a stream (200) whose first frame is
    ``error``'s exception frame, before any event (fault injection: a stream error after 0
    events). Any other error raised before a stream's first event is a JSON error response."""

    def __init__(self, error: BedrockError) -> None:
        super().__init__(error.message)
        self.error = error


#: Error classes by AWS code, for fault injection and scripted errors.
ERRORS_BY_CODE: dict[str, type[BedrockError]] = {
    cls.__name__: cls
    for cls in (
        ValidationException,
        ConflictException,
        ServiceQuotaExceededException,
        ResourceInUseException,
        TooManyTagsException,
        AccessDeniedException,
        ResourceNotFoundException,
        ModelTimeoutException,
        ModelErrorException,
        ModelStreamErrorException,
        ThrottlingException,
        ModelNotReadyException,
        InternalServerException,
        ServiceUnavailableException,
        InvalidSignatureException,
        UnrecognizedClientException,
    )
}
