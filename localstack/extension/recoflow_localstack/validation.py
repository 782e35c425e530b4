"""Requests checked against the botocore service model, as the services' front end checks them.

AWS refuses a request that breaks a constraint of the service model (required member, enum,
min/max length or value, pattern) before the service looks at it, with HTTP 400 and a message
such as

    1 validation error detected: Value 'Bogus' at 'statusEquals' failed to satisfy constraint:
    Member must satisfy enum value set: [InProgress, Completed, Failed, Stopping, Stopped]

LocalStack's ``ParamValidator`` (botocore's client-side validator) already walks the input shape
and reports missing required members, wrong types and values under ``min``; botocore leaves the
rest to the service, so it is added here. Patterns are the model's (Java) regular expressions,
matched against the whole value as Java's ``matches()`` does; ``\\p{L}``-style classes need the
``regex`` package (pinned in localstack/requirements.lock), without it such patterns are skipped.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from botocore.model import OperationModel, Shape
from localstack.aws.protocol.validate import ParamValidator

try:
    import regex as _regex
except ImportError:  # pragma: no cover - the lock pins it
    import re as _regex

LOG = logging.getLogger(__name__)

# markers appended to a map's name for its keys and values (botocore would append the key itself,
# which cannot be told apart from a member path)
_MAP_KEY = "\x00key"
_MAP_VALUE = "\x00value"


@functools.lru_cache(maxsize=None)
def _compiled(pattern: str):
    try:
        return _regex.compile(pattern)
    except Exception as e:  # a few Java-only patterns (e.g. surrogate ranges) do not compile here
        LOG.debug("model pattern %r not checked: %s", pattern, e)
        return None


class _ModelValidator(ParamValidator):
    """Adds the constraints botocore does not check on the client: max, pattern, enum."""

    def _validate_string(self, param, shape, errors, name):
        super()._validate_string(param, shape, errors, name)
        if not isinstance(param, str):
            return  # reported as a type error
        limit = shape.metadata.get("max")
        if limit is not None and len(param) > limit:
            errors.report(name, "too long", param=param, max_allowed=limit, shape=shape)
        enum = shape.metadata.get("enum")
        if enum and param not in enum:
            errors.report(name, "not in enum", param=param, enum=enum, shape=shape)
        pattern = shape.metadata.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(param):
            errors.report(name, "pattern", param=param, pattern=pattern, shape=shape)

    def _check_max_value(self, param, shape, errors, name):
        limit = shape.metadata.get("max")
        if isinstance(param, (int, float)) and not isinstance(param, bool) and limit is not None and param > limit:
            errors.report(name, "too large", param=param, max_allowed=limit, shape=shape)

    def _validate_integer(self, param, shape, errors, name):
        super()._validate_integer(param, shape, errors, name)
        self._check_max_value(param, shape, errors, name)

    def _validate_long(self, param, shape, errors, name):
        super()._validate_long(param, shape, errors, name)
        self._check_max_value(param, shape, errors, name)

    def _validate_double(self, param, shape, errors, name):
        super()._validate_double(param, shape, errors, name)
        self._check_max_value(param, shape, errors, name)

    _validate_float = _validate_double

    def _validate_list(self, param, shape, errors, name):
        super()._validate_list(param, shape, errors, name)
        limit = shape.metadata.get("max")
        if isinstance(param, (list, tuple)) and limit is not None and len(param) > limit:
            errors.report(name, "too long", param=param, max_allowed=limit, shape=shape)

    def _validate_map(self, param, shape, errors, name):
        if not isinstance(param, dict):
            super()._validate_map(param, shape, errors, name)  # reports the type error
            return
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and len(param) < low:
            errors.report(name, "invalid length", param=param, min_allowed=low, shape=shape)
        if high is not None and len(param) > high:
            errors.report(name, "too long", param=param, max_allowed=high, shape=shape)
        for key, value in param.items():
            self._validate(key, shape.key, errors, name + _MAP_KEY)
            self._validate(value, shape.value, errors, name + _MAP_VALUE)


def member_path(botocore_name: str) -> str:
    """botocore's ``.InputDataConfig[0].DataSource.S3Uri`` -> AWS's
    ``inputDataConfig.1.member.dataSource.s3Uri`` (member names with a lower-case first letter,
    list positions counted from 1)."""
    parts = []
    for segment in botocore_name.replace(_MAP_KEY, "").replace(_MAP_VALUE, "").lstrip(".").split("."):
        if not segment:
            continue
        head, *indices = segment.split("[")
        parts.append(head[:1].lower() + head[1:])
        for index in indices:
            parts.extend((str(int(index.rstrip("]")) + 1), "member"))
    return ".".join(parts)


def _shown(value: Any, shape: Shape | None) -> str:
    if value is None:
        return "null"
    if shape is not None and shape.metadata.get("sensitive"):
        return "'***'"  # the service does not echo sensitive values (e.g. Personalize tag keys)
    if isinstance(value, bool):
        return f"'{str(value).lower()}'"
    return f"'{value}'"


def _constraint(reason: str, attrs: dict) -> str:
    if reason == "missing required field":
        return "Member must not be null"
    if reason == "not in enum":
        return f"Member must satisfy enum value set: [{', '.join(attrs['enum'])}]"
    if reason == "pattern":
        return f"Member must satisfy regular expression pattern: {attrs['pattern']}"
    if reason == "too long":
        return f"Member must have length less than or equal to {attrs['max_allowed']}"
    if reason == "invalid length":
        return f"Member must have length greater than or equal to {attrs['min_allowed']}"
    if reason == "too large":
        return f"Member must have value less than or equal to {attrs['max_allowed']}"
    if reason == "invalid range":
        return f"Member must have value greater than or equal to {attrs['min_allowed']}"
    if reason == "invalid type":
        return f"Member must be of type {', '.join(map(str, attrs.get('valid_types', [])))}"
    if reason in ("more than one input", "empty input"):
        return f"Exactly one of these members must be set: [{', '.join(attrs.get('members', []))}]"
    return reason


def _message(reason: str, name: str, attrs: dict) -> str:
    if reason == "missing required field":
        path = member_path(f"{name}.{attrs['required_name']}")
        value = None
    else:
        path = member_path(name)
        value = attrs.get("param")
    text = f"Value {_shown(value, attrs.get('shape'))} at '{path}' failed to satisfy constraint: {_constraint(reason, attrs)}"
    # the service names the constraint a map's key or value broke on the map itself
    if name.endswith(_MAP_KEY):
        text = text.replace("constraint: ", "constraint: Map keys must satisfy constraint: [", 1) + "]"
    elif name.endswith(_MAP_VALUE):
        text = text.replace("constraint: ", "constraint: Map value must satisfy constraint: [", 1) + "]"
    return text


def validation_errors(operation: OperationModel, request: dict) -> list[str]:
    """Every constraint of ``operation``'s input shape that ``request`` breaks, as AWS words it."""
    if operation.input_shape is None:
        return []
    report = _ModelValidator().validate(request, operation.input_shape)
    messages = []
    for error in (e.error for e in report.exceptions):
        reason, name, attrs = error.reason, error.name, error.attributes
        if reason == "unknown field":
            continue  # the services ignore members they do not know (LocalStack's parser drops them anyway)
        messages.append(_message(reason, name, attrs))
    return messages


def validation_message(messages: list[str]) -> str:
    count = len(messages)
    return f"{count} validation error{'s' if count != 1 else ''} detected: " + "; ".join(messages)
