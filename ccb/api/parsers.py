"""The API's body parsers: DRF's, refusing what PostgreSQL cannot store before any field sees it.

JSON nested past ``inputs.MAX_JSON_DEPTH`` is refused before it is decoded (Python's decoder would
recurse until it fails), and a NUL character in any key or string of any body is a 400 naming where.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.utils import json

from ccb import inputs


def _refuse_nul(fields: list[str]) -> None:
    if fields:
        raise ValidationError({name or "body": [inputs.NUL_MESSAGE] for name in fields})


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if inputs.json_depth(text) > inputs.MAX_JSON_DEPTH:
            raise ParseError(inputs.DEPTH_MESSAGE)
        try:
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        path = inputs.find_nul(data)
        _refuse_nul([] if path is None else [path])
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _refuse_nul(inputs.nul_fields(data))
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        _refuse_nul(inputs.nul_fields(result.data, result.files))
        return result
