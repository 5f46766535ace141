"""The OpenAPI schema's error answers, documented once for every operation.

Every operation may answer 400 (a URL, query string or body that cannot be read or stored); those that
need a signed-in person 401 and 403 (``rule`` names the rule that refused); those with an id in the path,
and paginated lists, 404; writes 409 (the change's state forbids it) and 413 (a body over the limit);
throttled ones 429. An answer an operation documents itself is kept.
"""

from drf_spectacular import openapi
from rest_framework.permissions import AllowAny

ERROR_COMPONENTS = {
    "Error": {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "FieldErrors": {
        "type": "object",
        "description": 'Messages per field, e.g. {"title": ["Give the change a title."]}; a nested field is '
        "named by its dotted path (risk_answers.downtime, conditions.0.check). A body that cannot be read "
        'at all: {"detail": "…"}.',
        "additionalProperties": {
            "oneOf": [
                {"type": "array", "items": {}},
                {"type": "object", "additionalProperties": {}},
                {"type": "string"},
            ]
        },
    },
    "Forbidden": {
        "type": "object",
        "properties": {
            "detail": {"type": "string"},
            "rule": {"type": "string", "description": "The stable name of the rule that refused, when one did."},
        },
        "required": ["detail"],
    },
    "Conflict": {
        "type": "object",
        "properties": {
            "detail": {"type": "string"},
            "status": {"type": "string", "description": "The change's status, when a transition was refused."},
        },
        "required": ["detail"],
    },
}

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Query parameters sent empty (as a page's form does) mean no filter, the default order or page size.
EMPTY_MEANS_ABSENT = {"tz", "search", "ordering", "page_size"}


def _answer(description: str, component: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
    }


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None:
            for code, answer in self._error_answers(operation).items():
                operation["responses"].setdefault(code, answer)
            filterset = getattr(self.view, "filterset_class", None)
            blank_is_absent = EMPTY_MEANS_ABSENT | set(filterset.base_filters if filterset else ())
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter["name"] in blank_is_absent:
                    parameter["allowEmptyValue"] = True
        return operation

    def _error_answers(self, operation: dict) -> dict[str, dict]:
        answers = {"400": _answer("The request cannot be read or stored: a message per field.", "FieldErrors")}
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            answers["401"] = _answer("Not signed in: send a token or a session.", "Error")
            answers["403"] = _answer("Refused: `rule` names the rule.", "Forbidden")
        path_ids = any(p.get("in") == "path" for p in operation.get("parameters", []))
        paginated = any(p.get("name") == "page" and p.get("in") == "query" for p in operation.get("parameters", []))
        if path_ids or paginated or self.method in WRITES:  # a write names things that may be missing
            answers["404"] = _answer("Missing, or hidden from you (the two look alike).", "Error")
        if self.method in WRITES:
            answers["409"] = _answer("The current state forbids it: `status` names the change's state.", "Conflict")
        if "requestBody" in operation:
            answers["413"] = _answer("The body is larger than the limit.", "Error")
        if self.view.get_throttles():
            answers["429"] = _answer("Too many requests: try again later.", "Error")
        return dict(sorted(answers.items()))


# RFC 3339 date-times end in Z or an offset; PostgreSQL stores offsets up to ±15:59 (``ccb.inputs``).
STORABLE_OFFSET = "(?:[Zz]|[+-](?:0[0-9]|1[0-5]):[0-5][0-9])$"
# Text PostgreSQL stores holds no NUL (``ccb.inputs``): every string the API reads says so.
NO_NUL = "^[^\\x00]*$"


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def complete(result, generator, request, public):
    """Postprocessing hook: what the serializers cannot say themselves.

    The error bodies every operation refers to; request bodies refuse fields they do not name (the
    serializers do); the strings the API reads hold no NUL, and date-times carry the offsets PostgreSQL
    stores; ``?tz=`` takes the zones the ``time_zone`` field does (one list, kept once).
    """
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(ERROR_COMPONENTS)
    for name, component in schemas.items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    inputs = [c for name, c in schemas.items() if name.endswith("Request")]
    inputs += [
        p["schema"]
        for path in result.get("paths", {}).values()
        for op in path.values()
        for p in op.get("parameters", [])
        if "schema" in p
    ]
    for node in _walk(inputs):
        if node.get("type") == "string" and not {"pattern", "enum", "format"} & set(node):
            node["pattern"] = NO_NUL
    for node in _walk(result):
        if node.get("format") == "date-time":
            node["pattern"] = STORABLE_OFFSET
        if node.get("in") == "query" and node.get("name") == "tz" and "TimeZoneEnum" in schemas:
            node["schema"] = {"$ref": "#/components/schemas/TimeZoneEnum"}
    return result
