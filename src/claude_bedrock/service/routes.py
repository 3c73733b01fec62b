"""The route table: which operation a raw request path names.

Routing works on the raw path split on ``/`` with each captured segment percent-decoded
afterwards, so ``%2F`` inside an ARN model ID never splits the path (wire-protocol reference
1.1, "Server routing rule"). Literal segments are compared as sent.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Literal
from urllib.parse import unquote

RouteKind = Literal["runtime", "json", "sts", "admin"]


class LazyHandler:
    """A handler named ``"package.module:function"``, imported on its first call.

    Start-up time is a product feature (test fixtures start servers): the modules behind the
    control plane, STS and the Converse translator are only loaded when a request needs them.
    """

    __slots__ = ("target", "_function")

    def __init__(self, target: str) -> None:
        module, sep, name = target.partition(":")
        if not sep or not module or not name:
            raise ValueError(f"a lazy handler is named 'module:function', not {target!r}")
        self.target = target
        self._function: Callable[..., Any] | None = None

    def resolve(self) -> Callable[..., Any]:
        function = self._function
        if function is None:
            module, _, name = self.target.partition(":")
            function = self._function = getattr(importlib.import_module(module), name)
        return function

    def __call__(self, *args: Any) -> Any:
        return self.resolve()(*args)

    def __repr__(self) -> str:
        return f"LazyHandler({self.target!r})"


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    operation: str
    kind: RouteKind
    handler: Callable[..., Any]
    #: SigV4 signing name expected in the credential scope.
    service: str = "bedrock"
    #: Success status for ``json`` routes.
    status: int = 200

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.template.strip("/").split("/")) if self.template != "/" else ()


@dataclass(frozen=True)
class Match:
    """A route and the decoded path parameters. Shared by every request with the same method
    and path (``Router.match`` remembers them): read-only."""

    route: Route
    params: dict[str, str]


#: How many (method, path) answers ``Router.match`` remembers (paths are chosen by clients).
MATCH_MEMO_SIZE = 1024
#: The longest path whose answer is remembered: an AWS path, an ARN model ID's included, is a
#: few hundred characters; a client's 60 KB paths would have the memo hold 120 MB (the path and
#: its captured segment, for each of MATCH_MEMO_SIZE answers).
MATCH_MEMO_PATH_CHARS = 1024


class Router:
    def __init__(self, routes: list[Route] | None = None) -> None:
        self._table: dict[tuple[str, int], list[tuple[tuple[str, ...], Route]]] = {}
        self._memo: dict[tuple[str, str], Match | None] = {}
        for route in routes or []:
            self.add(route)

    def add(self, route: Route) -> None:
        segments = route.segments
        self._table.setdefault((route.method, len(segments)), []).append((segments, route))
        self._memo.clear()

    def match(self, method: str, raw_path: str) -> Match | None:
        """The route ``method raw_path`` names, or None. Clients repeat their paths (one per
        model and operation), so answers are remembered, the oldest forgotten first."""
        key = (method, raw_path)
        memo = self._memo
        if key in memo:
            return memo[key]
        found = self._match(method, raw_path)
        if len(raw_path) > MATCH_MEMO_PATH_CHARS:
            return found
        if len(memo) >= MATCH_MEMO_SIZE:
            del memo[next(iter(memo))]
        memo[key] = found
        return found

    def _match(self, method: str, raw_path: str) -> Match | None:
        stripped = raw_path.strip("/")
        parts = tuple(stripped.split("/")) if stripped else ()
        candidates = self._table.get((method, len(parts)))
        if not candidates:
            return None
        for segments, route in candidates:
            params: dict[str, str] = {}
            for template_part, part in zip(segments, parts):
                if template_part.startswith("{"):
                    if not part:
                        break
                    params[template_part[1:-1]] = unquote(part)
                elif template_part != part:
                    break
            else:
                return Match(route, params)
        return None
