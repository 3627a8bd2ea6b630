"""Python source as Python reads it, and what part a file plays.

Sources are decoded from their bytes the way the interpreter does
(``tokenize.detect_encoding``: a UTF-8 BOM, a coding cookie such as latin-1 or
utf-7), never as UTF-8 with replacement: a cookie can make the same bytes mean
other code than a UTF-8 reader sees.
"""

from __future__ import annotations

import ast
import io
import tokenize
import warnings
from pathlib import PurePosixPath

from overnight.gates.changes import is_test_path

CONFTEST, TEST, CODE = "conftest", "test", "code"


class Undecodable(Exception):
    """The bytes are not Python source this interpreter can read."""


def decode(data: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeError) as exc:
        raise Undecodable(f"cannot be decoded ({_reason(exc)})") from exc


def parse(data: bytes) -> tuple[ast.Module, str]:
    """The module's tree and its text."""
    text = decode(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes in the code under test
            return ast.parse(text), text
    except (SyntaxError, ValueError) as exc:
        raise Undecodable(f"does not parse ({_reason(exc)})") from exc
    except (RecursionError, MemoryError) as exc:
        raise Undecodable("is nested too deeply to parse") from exc


def role(path: str) -> str:
    """conftest.py (the harness), another test file, or the code under test."""
    if PurePosixPath(path).name == "conftest.py":
        return CONFTEST
    return TEST if is_test_path(path) else CODE


def _reason(exc: Exception) -> str:
    if isinstance(exc, SyntaxError) and exc.msg:
        return f"{exc.msg}, line {exc.lineno}" if exc.lineno else exc.msg
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
