"""Requests that each break one constraint of the botocore service model, made from a valid one.

For every member present in the valid request (and every top-level member, present or not) the
model's constraints give the cases: a required member left out, a value outside its enum, a
string or list too short or too long, a number out of range, a string its pattern refuses. The
emulator must answer each with the service's error code, naming the member as AWS does
(``inputDataConfig.1.member.channelName``) and the broken constraint.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from botocore.model import OperationModel, Shape

try:
    import regex as _regex  # the models' patterns use \p{L}-style classes
except ImportError:  # pragma: no cover
    import re as _regex

# strings one of which most patterns refuse (checked against the pattern before use)
PATTERN_BREAKERS = ["!", " ", "", "-", "a b", "a\nb", "é", "#x#", "/", "A" * 3]


@dataclass
class Broken:
    kind: str  # required | enum | length | range | pattern
    path: str  # AWS's name of the member
    constraint: str  # what the message must say about it
    request: dict


def member_path(keys: list) -> str:
    parts = []
    for key in keys:
        parts.append(f"{key + 1}.member" if isinstance(key, int) else key[:1].lower() + key[1:])
    return ".".join(parts)


def _set(request: dict, keys: list, value) -> dict:
    changed = copy.deepcopy(request)
    target = changed
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return changed


def _drop(request: dict, keys: list) -> dict:
    changed = copy.deepcopy(request)
    target = changed
    for key in keys[:-1]:
        target = target[key]
    del target[keys[-1]]
    return changed


def _fits_length(value: str, shape: Shape) -> bool:
    low, high = shape.metadata.get("min", 0), shape.metadata.get("max")
    return len(value) >= low and (high is None or len(value) <= high)


def _scalar_cases(shape: Shape) -> list[tuple[str, object, str]]:
    """(kind, bad value, constraint words) for one string or number shape."""
    meta, cases = shape.metadata, []
    if shape.type_name == "string":
        if meta.get("enum"):
            cases.append(("enum", "Bogus", f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]"))
        if meta.get("max") is not None:
            cases.append(("length", "a" * (meta["max"] + 1), f"Member must have length less than or equal to {meta['max']}"))
        if meta.get("min", 0) >= 1:
            cases.append(("length", "", f"Member must have length greater than or equal to {meta['min']}"))
        if meta.get("pattern"):
            try:
                pattern = _regex.compile(meta["pattern"])
            except Exception:
                pattern = None  # a Java-only pattern: not checked by the emulator either
            breaker = next((b for b in PATTERN_BREAKERS if pattern and _fits_length(b, shape) and not pattern.fullmatch(b)), None)
            if breaker is not None:
                cases.append(("pattern", breaker, f"Member must satisfy regular expression pattern: {meta['pattern']}"))
    elif shape.type_name in ("integer", "long"):
        if meta.get("min") is not None:
            cases.append(("range", meta["min"] - 1, f"Member must have value greater than or equal to {meta['min']}"))
        if meta.get("max") is not None:
            cases.append(("range", meta["max"] + 1, f"Member must have value less than or equal to {meta['max']}"))
    return cases


def broken_requests(operation: OperationModel, valid: dict) -> list[Broken]:
    cases: list[Broken] = []

    def walk(shape: Shape, value, keys: list) -> None:
        if shape.type_name == "structure" and isinstance(value, dict):
            for member in shape.required_members:
                if member in value:
                    cases.append(Broken("required", member_path(keys + [member]), "Member must not be null",
                                        _drop(valid, keys + [member])))
            for member, member_shape in shape.members.items():
                if member in value:
                    walk(member_shape, value[member], keys + [member])
                elif not keys:  # a top-level member the valid request leaves out: its constraints too
                    for kind, bad, words in _scalar_cases(member_shape):
                        cases.append(Broken(kind, member_path([member]), words, _set(valid, [member], bad)))
        elif shape.type_name == "list" and isinstance(value, list):
            meta = shape.metadata
            if value and meta.get("max") is not None:
                cases.append(Broken("length", member_path(keys), f"Member must have length less than or equal to {meta['max']}",
                                    _set(valid, keys, [value[0]] * (meta["max"] + 1))))
            if meta.get("min", 0) >= 1:
                cases.append(Broken("length", member_path(keys), f"Member must have length greater than or equal to {meta['min']}",
                                    _set(valid, keys, [])))
            if value:
                walk(shape.member, value[0], keys + [0])
        else:
            for kind, bad, words in _scalar_cases(shape):
                cases.append(Broken(kind, member_path(keys), words, _set(valid, keys, bad)))

    walk(operation.input_shape, valid, [])
    return cases
