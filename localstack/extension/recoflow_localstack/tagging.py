"""Resource tags shared by the emulated services.

Both services keep tags per resource ARN with the same rules (AWS tagging conventions): at most
50 tags per resource, keys unique per resource (setting a key again replaces its value), keys
starting with ``aws:`` reserved for AWS. The shapes of the tag lists differ (SageMaker
``Key``/``Value``, Personalize ``tagKey``/``tagValue``) and so do the errors; each provider
converts its shapes to a ``{key: value}`` dict and passes its error classes in.
Length and character constraints come from the service model (``recoflow_localstack.validation``).
"""

from __future__ import annotations

import threading
from typing import Callable

MAX_TAGS_PER_RESOURCE = 50
RESERVED_PREFIX = "aws:"


class TagStore:
    def __init__(self, invalid: Callable[[str], Exception], too_many: Callable[[str], Exception]):
        self._tags: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self._invalid = invalid
        self._too_many = too_many

    def checked(self, pairs: list[tuple[str, str]] | None) -> dict[str, str]:
        """The tags of one request as a dict, refused when a key repeats or is reserved."""
        tags: dict[str, str] = {}
        for key, value in pairs or []:
            if key in tags:
                raise self._invalid(f"Duplicate tag key in the request: {key}.")
            if key.lower().startswith(RESERVED_PREFIX):
                raise self._invalid(f"Tag keys starting with '{RESERVED_PREFIX}' are reserved for AWS use: {key}.")
            tags[key] = value
        if len(tags) > MAX_TAGS_PER_RESOURCE:
            raise self._too_many(self._limit_message(len(tags)))
        return tags

    def add(self, arn: str, tags: dict[str, str]) -> dict[str, str]:
        """Adds (or overwrites) ``tags``, already ``checked``; returns all tags of the resource."""
        with self._lock:
            merged = {**self._tags.get(arn, {}), **tags}
            if len(merged) > MAX_TAGS_PER_RESOURCE:
                raise self._too_many(self._limit_message(len(merged)))
            self._tags[arn] = merged
            return dict(merged)

    def remove(self, arn: str, keys: list[str]) -> None:
        """Keys the resource does not have are ignored, as the services do."""
        with self._lock:
            current = self._tags.get(arn, {})
            for key in keys:
                current.pop(key, None)

    def get(self, arn: str) -> dict[str, str]:
        with self._lock:
            return dict(self._tags.get(arn, {}))

    def forget(self, arn: str) -> None:
        with self._lock:
            self._tags.pop(arn, None)

    @staticmethod
    def _limit_message(count: int) -> str:
        return (
            f"A resource can have at most {MAX_TAGS_PER_RESOURCE} tags; the request would give it {count}."
        )
