"""The ``itemAttributes`` expressions of aws-item-attribute-affinity batch segment input lines,
as the service documents them: ``ITEMS.<column> = "<value>"`` conditions joined by ``AND``
(``\\"`` and ``\\\\`` escape inside the value). Equality only: no ``OR``, ranges or other operators
(the service's answer to those is an error line, and so is ours).

A condition holds for an item whose column has that value; for a categorical column with
several values (``coat|outer``, Personalize's separator) when one of them is it. Column names
match without regard to case (the datasets' are stored upper-case); values exactly.
"""

from __future__ import annotations

import re

_CONDITION = re.compile(r'\s*ITEMS\.([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*')
_AND = re.compile(r"AND(?=\s)")
_UNESCAPE = re.compile(r"\\(.)")


class ExpressionError(ValueError):
    pass


def parse(expression: str) -> list[tuple[str, str]]:
    """[(COLUMN, value), ...] of an expression, or ExpressionError saying what is wrong."""
    conditions: list[tuple[str, str]] = []
    position = 0
    while True:
        match = _CONDITION.match(expression, position)
        if not match:
            raise ExpressionError(
                f"Invalid itemAttributes expression {expression!r} at character {position}: expected "
                f'ITEMS.<column> = "<value>" (conditions joined by AND; only = is supported).'
            )
        conditions.append((match.group(1).upper(), _UNESCAPE.sub(r"\1", match.group(2))))
        position = match.end()
        if position == len(expression):
            return conditions
        joiner = _AND.match(expression, position)
        if not joiner:
            raise ExpressionError(
                f"Invalid itemAttributes expression {expression!r} at character {position}: conditions are "
                f"joined by AND (OR is not supported: use one input line per alternative)."
            )
        position = joiner.end()


def matching_items(conditions: list[tuple[str, str]], attributes: dict[str, dict[str, str]]) -> set[str]:
    """The items for which every condition holds."""
    return {
        item for item, values in attributes.items()
        if all(value in values.get(column, "").split("|") for column, value in conditions)
    }
