"""The client's typed errors: what went wrong, before, during or after a request.

Purpose: one exception tree for every client method, shaped like the Anthropic SDK's (same
class names for HTTP statuses, ``status_code``, ``request_id``, ``body``) and extended with
what Bedrock adds: the AWS error code (``code``, from ``x-amzn-ErrorType`` or the stream's
``:exception-type``) and one class per event-stream exception member, so a throttled stream
is a ``ThrottlingError`` (also a ``RateLimitError``), not a generic failure.

Invariants:
  * Rule 1 - local and remote failures never mix: ``ClientError`` subclasses are raised before
    any byte is sent (bad configuration, a model the catalog forbids); ``APIError`` subclasses
    report what the network or the service did.
  * Rule 2 - a stream exception frame is an ``APIStatusError`` whose ``status_code`` is the
    status AWS models for that member (429 for ``throttlingException``); the HTTP status of the
    stream itself (200) is ``http_status``.
  * Rule 3 - the class is chosen from tables (``STATUS_ERRORS``, ``STREAM_ERRORS``), never
    from if/elif chains.

Tree::

    ClaudeBedrockError
    ├── ClientError                        raised before any request
    │   ├── ConfigurationError (ValueError)  credentials, region or base URL unusable
    │   └── ModelNotAvailableError (ValueError)  the catalog forbids model/endpoint/region
    └── APIError                           the request was (at least partly) sent
        ├── APIConnectionError             no HTTP response (refused, reset, DNS...)
        │   └── APITimeoutError
        ├── APIResponseValidationError     a response we cannot decode (JSON, XML, frames)
        └── APIStatusError                 an error status: .status_code, .code, .request_id
            ├── BadRequestError            400  ValidationException, ...
            ├── AuthenticationError        401
            ├── PermissionDeniedError      403  AccessDenied, InvalidSignature, ...
            ├── NotFoundError              404  ResourceNotFound
            ├── RequestTimeoutError        408  ModelTimeout
            ├── ConflictError              409
            ├── UnprocessableEntityError   422
            ├── ModelError                 424  ModelError / ModelStreamError
            ├── RateLimitError             429  Throttling, ModelNotReady
            ├── InternalServerError        >= 500
            │   └── ServiceUnavailableError  503
            └── StreamError                an exception / error frame inside a 200 stream
                ├── ThrottlingError            throttlingException          (+ RateLimitError)
                ├── ModelStreamError           modelStreamErrorException    (+ ModelError)
                ├── ModelTimeoutError          modelTimeoutException        (+ RequestTimeoutError)
                ├── StreamValidationError      validationException          (+ BadRequestError)
                ├── StreamInternalServerError  internalServerException      (+ InternalServerError)
                └── StreamServiceUnavailableError serviceUnavailableException
                                                                  (+ ServiceUnavailableError)

Source: wire-protocol reference 2.3, 2.4, 2.7, 3.1-3.4; anthropic 2.14 ``_exceptions.py``
(class names, ``status_code``), botocore ``parsers.py`` (code extraction).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = [
    "STATUS_ERRORS", "STREAM_ERRORS",
    "ClaudeBedrockError", "ClientError", "ConfigurationError", "ModelNotAvailableError",
    "APIError", "APIConnectionError", "APITimeoutError", "APIResponseValidationError",
    "APIStatusError", "BadRequestError", "AuthenticationError", "PermissionDeniedError",
    "NotFoundError", "RequestTimeoutError", "ConflictError", "UnprocessableEntityError",
    "ModelError", "RateLimitError", "InternalServerError", "ServiceUnavailableError",
    "StreamError", "ThrottlingError", "ModelStreamError", "ModelTimeoutError",
    "StreamValidationError", "StreamInternalServerError", "StreamServiceUnavailableError",
    "status_error_class",
]  # fmt: skip


class ClaudeBedrockError(Exception):
    """Base class of every exception the client raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its class, ``args`` and attributes, rebuilt without ``__init__`` (whose
        keyword-only arguments ``args`` does not hold): multiprocessing and
        ``concurrent.futures`` send a worker's exception to the parent pickled."""
        return _rebuild, (type(self), self.args), self.__dict__


def _rebuild(cls: type[ClaudeBedrockError], args: tuple[Any, ...]) -> ClaudeBedrockError:
    return cls.__new__(cls, *args)


class ClientError(ClaudeBedrockError):
    """A problem found locally, before any request was sent."""


class ConfigurationError(ClientError, ValueError):
    """Credentials, region, profile or base URL are missing, contradictory or unusable."""


class ModelNotAvailableError(ClientError, ValueError):
    """The catalog forbids this model on this endpoint type from this region (or does not know
    the model name). Raised before any request; ``model`` is what the caller asked for."""

    def __init__(self, message: str, *, model: str, endpoint: str | None, region: str) -> None:
        super().__init__(message)
        self.message = message
        self.model = model
        self.endpoint = endpoint
        self.region = region


class APIError(ClaudeBedrockError):
    """Something went wrong talking to the service. ``request_id`` when the service sent one."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id


class APIConnectionError(APIError):
    """No usable HTTP response: connection refused or reset, DNS failure, protocol error."""

    def __init__(self, message: str = "Connection error.", *, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class APITimeoutError(APIConnectionError):
    """The request timed out."""

    def __init__(self, message: str = "Request timed out.", *, cause: BaseException | None = None) -> None:
        super().__init__(message, cause=cause)


class APIResponseValidationError(APIError):
    """The response (JSON, XML or event-stream bytes) is not what the operation returns."""

    def __init__(self, message: str, *, status_code: int | None = None, request_id: str | None = None) -> None:
        super().__init__(message, request_id=request_id)
        self.status_code = status_code


class APIStatusError(APIError):
    """The service answered with an error.

    Attributes:
        status_code: the HTTP status (for stream errors, the status AWS models for the member).
        code: the AWS error code (``ValidationException``, ``throttlingException``...), or None.
        body: the parsed JSON body (dict), the text, or None.
        headers: the response headers (lower-case names).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.status_code = status_code
        self.code = code
        self.body = body
        self.headers: Mapping[str, str] = headers or {}

    @property
    def status_and_code(self) -> str:
        """``400 ValidationException``; the status alone when there is no code, or when the code
        is the status itself (botocore's code for a 5xx without one): not said twice."""
        code = f" {self.code}" if self.code and self.code != str(self.status_code) else ""
        return f"{self.status_code}{code}"

    def __str__(self) -> str:
        return f"Error code: {self.status_and_code} - {self.message}"


class BadRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class RequestTimeoutError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class UnprocessableEntityError(APIStatusError):
    pass


class ModelError(APIStatusError):
    """424: the model itself failed (ModelErrorException, ModelStreamErrorException)."""


class RateLimitError(APIStatusError):
    pass


class InternalServerError(APIStatusError):
    pass


class ServiceUnavailableError(InternalServerError):
    pass


class StreamError(APIStatusError):
    """An exception (or generic error) frame inside a stream that started with HTTP 200.

    ``code`` is the frame's ``:exception-type`` (lowerCamel, e.g. ``throttlingException``) or
    ``:error-code``; ``http_status`` is the stream's own status (200); ``events_received`` is
    how many events were decoded before the error.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        http_status: int = 200,
        events_received: int = 0,
    ) -> None:
        super().__init__(
            message, status_code=status_code, code=code, request_id=request_id, body=body, headers=headers
        )
        self.http_status = http_status
        self.events_received = events_received


class ThrottlingError(StreamError, RateLimitError):
    pass


class ModelStreamError(StreamError, ModelError):
    """``original_status_code`` / ``original_message`` are the modelled extra members."""

    @property
    def original_status_code(self) -> int | None:
        value = self.body.get("originalStatusCode") if isinstance(self.body, dict) else None
        return value if isinstance(value, int) else None

    @property
    def original_message(self) -> str | None:
        value = self.body.get("originalMessage") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else None


class ModelTimeoutError(StreamError, RequestTimeoutError):
    pass


class StreamValidationError(StreamError, BadRequestError):
    pass


class StreamInternalServerError(StreamError, InternalServerError):
    pass


class StreamServiceUnavailableError(StreamError, ServiceUnavailableError):
    pass


#: HTTP status -> class (statuses not listed: InternalServerError when >= 500, else APIStatusError).
STATUS_ERRORS: Mapping[int, type[APIStatusError]] = MappingProxyType(
    {
        400: BadRequestError,
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        408: RequestTimeoutError,
        409: ConflictError,
        422: UnprocessableEntityError,
        424: ModelError,
        429: RateLimitError,
        503: ServiceUnavailableError,
    }
)

#: Event-stream exception member (``:exception-type``) -> (class, modelled status).
#: Source: botocore bedrock-runtime ``ResponseStream`` / ``ConverseStreamOutput`` (reference 2.4).
STREAM_ERRORS: Mapping[str, tuple[type[StreamError], int]] = MappingProxyType(
    {
        "throttlingException": (ThrottlingError, 429),
        "modelStreamErrorException": (ModelStreamError, 424),
        "modelTimeoutException": (ModelTimeoutError, 408),
        "validationException": (StreamValidationError, 400),
        "internalServerException": (StreamInternalServerError, 500),
        "serviceUnavailableException": (StreamServiceUnavailableError, 503),
    }
)


def status_error_class(status: int) -> type[APIStatusError]:
    """The ``APIStatusError`` subclass for an HTTP status."""
    found = STATUS_ERRORS.get(status)
    if found is not None:
        return found
    return InternalServerError if status >= 500 else APIStatusError
