"""Keeps web pages out of a development server.

A development server (no ``--strict-auth``) accepts any key without checking it, and its admin
API is open. A web page the developer visits could reach it: a cross-site POST needs no
preflight when its content type is ``text/plain``, and DNS rebinding lets a page read the
answers under a name of its own. Two checks close both doors, on development servers only
(strict servers verify every signature, which no page can make):

* a request that carries an ``Origin`` header (browsers send one on every cross-site POST
  and CORS request; the AWS SDKs, the AWS CLI and the Anthropic SDKs outside a browser never
  do) is refused unless the origin is on a loopback host;
* on a loopback bind, a request whose ``Host`` is not a loopback name (``localhost``,
  ``*.localhost``, ``127.x.x.x``, ``[::1]``) or an AWS endpoint name (``*.amazonaws.com``,
  for clients pointed at the server through the hosts file) is refused.

Both answer 403 AccessDeniedException with the reason.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from claude_bedrock.domain.errors import AccessDeniedException
from claude_bedrock.service.http import Request
from claude_bedrock.settings import is_loopback

#: Decisions remembered per Host value (clients choose it: bounded, and only so many kept).
MAX_REMEMBERED_HOSTS = 256


def _host_name(value: str) -> str:
    """The name part of a ``Host`` header value: ``[::1]:8787`` -> ``::1``, ``a:80`` -> ``a``."""
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


def _host_allowed(value: str) -> bool:
    name = _host_name(value.strip())
    return is_loopback(name) or name.lower().rstrip(".").endswith(".amazonaws.com")


class OriginGuard:
    """The two checks of a development server (see the module's docstring)."""

    __slots__ = ("_check_host", "_hosts")

    def __init__(self, *, loopback_bind: bool) -> None:
        self._check_host = loopback_bind
        self._hosts: dict[str, bool] = {}

    def check(self, request: Request) -> None:
        """Raise AccessDeniedException for a request a web page may have sent."""
        headers = request.header_lists
        if "origin" in headers:
            _check_origins(headers["origin"])
        if self._check_host:
            hosts = headers.get("host")
            if hosts is not None and (len(hosts) != 1 or self._hosts.get(hosts[0]) is not True):
                self._check_hosts(hosts)

    def _check_hosts(self, hosts: list[str]) -> None:
        for host in hosts:
            allowed = self._hosts.get(host)
            if allowed is None:
                allowed = _host_allowed(host)
                if len(self._hosts) < MAX_REMEMBERED_HOSTS:
                    self._hosts[host] = allowed
            if not allowed:
                raise AccessDeniedException(
                    f"Host {host[:200]!r} is not a loopback name: a development server bound to "
                    "loopback answers only requests addressed to localhost or 127.0.0.1 (this "
                    "keeps web pages out through DNS rebinding)."
                )


def _origin_host(origin: str) -> str:
    try:
        return urlsplit(origin).hostname or ""
    except ValueError:  # "http://[x]": not a URL, so not a loopback one
        return ""


def _check_origins(origins: list[str]) -> None:
    for origin in origins:
        if origin == "null" or not is_loopback(_origin_host(origin)):
            raise AccessDeniedException(
                f"Requests from web pages (Origin: {origin[:200]}) are refused by a development "
                "server: it does not check signatures. Start it with --strict-auth to serve them."
            )
