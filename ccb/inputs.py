"""What PostgreSQL can store, checked once where input arrives, so bad input is a 400 and never a 500.

Python accepts things PostgreSQL refuses: UTC offsets beyond ±15:59 (timestamptz), the NUL character
(text and jsonb), JSON nested past the interpreter's recursion limit, and digits that are not ASCII
(``"²".isdigit()`` is true and ``int("²")`` fails). Each is refused with a 400 by the checks here:
date-times by the fields and filters that parse them (``validate_utc_offset``); NUL in URLs, query strings,
cookies, headers and page forms by the ``RefuseUnstorableInput`` middleware, and in API bodies by the API's
parsers (``find_nul``, ``nul_fields``), which also bound JSON nesting (``json_depth``); ids by ``parse_id``.
"""

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.core.exceptions import BadRequest, ValidationError
from django.http import HttpRequest, HttpResponse

MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)
OFFSET_MESSAGE = "Give a UTC offset between -15:59 and +15:59, in whole seconds."
NUL = "\x00"
NUL_MESSAGE = "Text cannot contain the NUL character (\\u0000)."
MAX_JSON_DEPTH = 32
DEPTH_MESSAGE = f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep."
MAX_ID = 2**63 - 1  # PostgreSQL's bigint


def offset_storable(value: datetime) -> bool:
    """Whether PostgreSQL's timestamptz takes this date-time's UTC offset (naive ones have none)."""
    offset = value.utcoffset()
    return offset is None or (abs(offset) <= MAX_UTC_OFFSET and offset % timedelta(seconds=1) == timedelta(0))


def validate_utc_offset(value: Any) -> None:
    """A Django validator for date-time fields of forms and filter sets."""
    if isinstance(value, datetime) and not offset_storable(value):
        raise ValidationError(OFFSET_MESSAGE, code="offset")


class DateTimeField(forms.DateTimeField):
    """A form date-time that PostgreSQL can store."""

    default_validators = [validate_utc_offset]


def parse_id(value: object) -> int | None:
    """An id written in ASCII digits that fits a bigint, or None (``"²"``, ``"٣"``, ``"-1"`` and ``"1e3"`` are not)."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if number <= MAX_ID else None


class IdField(forms.IntegerField):
    """A form field for an id: ASCII digits only."""

    default_error_messages = {"invalid": "Give an id: a whole number in digits 0-9."}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        number = parse_id(str(value).strip())
        if number is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return number


# --- JSON ----------------------------------------------------------------------------------------------

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """How deeply JSON text nests, read without recursion (strings do not count)."""
    depth = deepest = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def find_nul(data: Any) -> str | None:
    """The dotted path of the first key or string holding NUL in parsed JSON ("" for the top), or None."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if NUL in key:
                    return child
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}" if path else str(i), item) for i, item in enumerate(value))
    return None


# --- the request as a whole ----------------------------------------------------------------------------

API_PREFIX = "/api/"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def holds_nul(key: str, values: list[str]) -> bool:
    return NUL in key or any(isinstance(v, str) and NUL in v for v in values)


def nul_fields(data: Any, files: Any = None) -> list[str]:
    """The names of the form fields (a QueryDict, and uploads) whose name, value or file name holds NUL."""
    names = [key.replace(NUL, "") for key, values in data.lists() if holds_nul(key, values)]
    if files is not None:
        names += [key for key, uploads in files.lists() if any(NUL in (f.name or "") for f in uploads)]
    return names


def _refused_fields(request: HttpRequest) -> list[str]:
    fields = ["path"] if NUL in request.path else []
    fields += nul_fields(request.GET)
    fields += [f"cookie.{k.replace(NUL, '')}" for k, v in request.COOKIES.items() if holds_nul(k, [v])]
    fields += [
        f"header.{k[5:].lower().replace('_', '-')}"
        for k, v in request.META.items()
        if k.startswith("HTTP_") and isinstance(v, str) and NUL in v
    ]
    # The API's parsers read its bodies (JSON too, and every method); pages post forms.
    if request.method == "POST" and request.content_type in FORM_TYPES and not request.path.startswith(API_PREFIX):
        fields += nul_fields(request.POST, request.FILES)
    return sorted(set(fields))


class UnstorableInput(BadRequest):
    """Input PostgreSQL cannot store, with a message per field. The project's 400 handler answers it."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


class RefuseUnstorableInput:
    """Refuses (400, naming each place) a request whose URL, query string, cookies or headers hold NUL,
    or a page's form that does. A page's form body too large or with too many parts is refused too (Django
    raises that as it reads it here).

    It sits before the session middleware, so a crafted session cookie never reaches the database.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        fields = _refused_fields(request)
        if fields:
            raise UnstorableInput({name: [NUL_MESSAGE] for name in fields})
        return self.get_response(request)
