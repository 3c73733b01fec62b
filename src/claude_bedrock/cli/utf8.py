"""Text the CLI passes on must be UTF-8: bytes the locale could not decode (a Latin-1 terminal,
a pasted binary) arrive as lone surrogates (PEP 383), which no JSON body, HTTP header, query
string or SQLite query can carry. They are a usage error naming the option, not a traceback.
UTF-8 bytes an ASCII locale could not decode (LC_ALL=C with Python's UTF-8 mode off) are read
as the UTF-8 they are."""

from __future__ import annotations

import os
from typing import Any

import click

__all__ = ["UTF8_TEXT", "utf8_text"]


def utf8_text(value: str | bytes, what: str) -> str:
    """``value`` as text: bytes (a file, stdin) decoded as UTF-8; a string (an argument)
    checked. Anything else is a usage error naming ``what``."""
    try:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
                return value
            except UnicodeEncodeError:  # lone surrogates: the argument's bytes, read below
                value = os.fsencode(value)
        return value.decode("utf-8")
    except UnicodeError:
        raise click.UsageError(f"{what} is not UTF-8 text") from None


class Utf8Text(click.ParamType):
    """A text option or argument checked with ``utf8_text`` (shown as ``TEXT`` in --help)."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        what = param.opts[0] if isinstance(param, click.Option) else (param.human_readable_name if param else "text")
        try:
            return utf8_text(value, what)
        except click.UsageError as exc:
            exc.ctx = ctx  # the command's usage line, as for click's own errors
            raise


UTF8_TEXT = Utf8Text()
