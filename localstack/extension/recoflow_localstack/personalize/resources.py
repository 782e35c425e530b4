"""What every Amazon Personalize resource family shares: statuses, error shapes, the resource
store, and the base of the provider (lookups, List paging, the life cycles of resources and jobs,
quotas). The operations are in ``datasets.py``, ``solutions.py``, ``batch_inference.py``,
``batch_segments.py`` (both on ``batch_jobs.py``) and ``provider.py`` (tags), one class each,
combined into ``PersonalizeProvider``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from recoflow_localstack import faults, paging
from recoflow_localstack.emulation import (
    EmulatorProvider, ServiceError, error_code, list_keys, parse_s3_uri, public_view, start_thread, utcnow,
)
from recoflow_localstack.personalize import model as recmodel
from recoflow_localstack.tagging import TagStore

LOG = logging.getLogger(__name__)

SERVICE = "personalize"

PENDING = "CREATE PENDING"
IN_PROGRESS = "CREATE IN_PROGRESS"
ACTIVE = "ACTIVE"
FAILED = "CREATE FAILED"
STOPPING = "CREATE STOPPING"
STOPPED = "CREATE STOPPED"
RUNNING = (PENDING, IN_PROGRESS, STOPPING)

DEFAULT_MAX_RESULTS = 100  # List* without maxResults
INJECTED_FAILURE = "Injected failure (recoflow fault injection: fail_next)."


# --- errors (shapes from the botocore model: code == shape name, HTTP 400) ------------------


class InvalidInputException(ServiceError):
    pass


class ResourceNotFoundException(ServiceError):
    pass


class ResourceAlreadyExistsException(ServiceError):
    pass


class ResourceInUseException(ServiceError):
    pass


class LimitExceededException(ServiceError):
    pass


class InvalidNextTokenException(ServiceError):
    pass


class TooManyTagsException(ServiceError):
    pass


class TooManyTagKeysException(ServiceError):
    pass


class JobFailed(Exception):
    pass


# --- store ------------------------------------------------------------------------------


@dataclass
class Store:
    schemas: dict[str, dict] = field(default_factory=dict)
    dataset_groups: dict[str, dict] = field(default_factory=dict)
    datasets: dict[str, dict] = field(default_factory=dict)
    import_jobs: dict[str, dict] = field(default_factory=dict)
    solutions: dict[str, dict] = field(default_factory=dict)
    versions: dict[str, dict] = field(default_factory=dict)
    batch_jobs: dict[str, dict] = field(default_factory=dict)
    segment_jobs: dict[str, dict] = field(default_factory=dict)
    # not part of any API response
    dataset_rows: dict[str, list[dict]] = field(default_factory=dict)
    models: dict[str, recmodel.Model] = field(default_factory=dict)
    tags: TagStore = field(default_factory=lambda: TagStore(invalid=InvalidInputException, too_many=TooManyTagsException))

    def taggable(self) -> dict[str, dict]:
        """Resources that take tags, by ARN (schemas do not: CreateSchema has no tags)."""
        tables = (self.dataset_groups, self.datasets, self.import_jobs, self.solutions, self.versions, self.batch_jobs,
                  self.segment_jobs)
        return {arn: record for table in tables for arn, record in list(table.items())}


class PersonalizeResources(EmulatorProvider[Store]):
    """Base of the provider's resource families."""

    service = SERVICE

    def __init__(self):
        super().__init__(Store)

    def _invalid_token(self, token: str | None) -> Exception:
        return InvalidNextTokenException(f"The next token {token!r} is not valid.")

    @staticmethod
    def _get(table: dict, resource_arn: str) -> dict:
        if resource_arn not in table:
            raise ResourceNotFoundException(f"Resource Arn {resource_arn} does not exist.")
        return table[resource_arn]

    @staticmethod
    def _checked_tags(store: Store, request: dict) -> dict[str, str]:
        return store.tags.checked([(t["tagKey"], t["tagValue"]) for t in request.get("tags") or []])

    @staticmethod
    def _not_exists(table: dict, arn: str) -> None:
        if arn in table:
            raise ResourceAlreadyExistsException(f"Another resource with Arn {arn} already exists.")

    @staticmethod
    def _touch(record: dict, **changes) -> None:
        record.update(changes)
        record["lastUpdatedDateTime"] = utcnow()

    @staticmethod
    def _delete(store: Store, table: dict, arn: str) -> None:
        """Deletes a resource already found, with its tags."""
        del table[arn]
        store.tags.forget(arn)

    def _list(self, table: dict[str, dict], request: dict, result_key: str, parent_key: str | None = None) -> dict:
        """List*: a page of maxResults resources, newest first, then only those of the parent named
        by ``parent_key`` in the request (when given): the page may be short or empty while
        nextToken is set (paging.py)."""
        parent = request.get(parent_key) if parent_key else None
        page, token = self._page(
            list(table.items()),  # (ARN, record): the ARN makes each sort key distinct
            key=lambda item: (paging.sortable(item[1]["creationDateTime"]), item[0]),
            descending=True, keep=lambda item: parent is None or item[1].get(parent_key) == parent,
            max_results=request.get("maxResults") or DEFAULT_MAX_RESULTS,
            token=request.get("nextToken"), ordering=result_key,
        )
        result: dict[str, Any] = {result_key: [public_view(record) for _arn, record in page]}
        if token:
            result["nextToken"] = token
        return result

    def _activate_later(self, record: dict) -> None:
        """Short life cycle of a non-job resource: CREATE PENDING -> ACTIVE."""
        delay = min(1.0, faults.job_duration(SERVICE) / 3)

        def run():
            time.sleep(delay / 2)
            self._touch(record, status=IN_PROGRESS)
            time.sleep(delay / 2)
            self._touch(record, status=ACTIVE)

        start_thread(f"personalize-activate-{record.get('name')}", run)

    def _run_job(self, record: dict, work, name: str, factor: float = 1.0) -> None:
        """CREATE PENDING -> CREATE IN_PROGRESS -> work() -> ACTIVE | CREATE FAILED."""
        duration = faults.job_duration(SERVICE) * factor

        def run():
            time.sleep(duration * 0.2)
            with self._lock:
                if record["status"] != PENDING:  # stopped while pending
                    return
                self._touch(record, status=IN_PROGRESS)
            started = time.monotonic()
            try:
                if faults.take_injected_failure(SERVICE):
                    raise JobFailed(INJECTED_FAILURE)
                work()
            except JobFailed as e:
                time.sleep(max(0.0, duration * 0.4 - (time.monotonic() - started)))
                self._finish(record, FAILED, str(e))
                return
            except Exception as e:
                LOG.exception("personalize job %s crashed", name)
                self._finish(record, FAILED, f"Internal error: {e}")
                return
            time.sleep(max(0.0, duration * 0.8 - (time.monotonic() - started)))
            self._finish(record, ACTIVE)

        start_thread(f"personalize-job-{name}", run)

    def _finish(self, record: dict, status: str, reason: str | None = None) -> None:
        with self._lock:
            # a version being stopped (CREATE STOPPING) is ended by StopSolutionVersionCreation's timer
            if record["status"] == IN_PROGRESS:
                self._touch(record, status=status, **({"failureReason": reason} if reason else {}))

    def _check_limit(self, table: dict, limit_name: str, what: str) -> None:
        limit = faults.personalize_limit(limit_name)
        running = sum(1 for r in list(table.values()) if r["status"] in RUNNING)
        if running >= limit:
            raise LimitExceededException(
                f"You have reached the maximum number of {limit} concurrent {what} for this account "
                f"({running} in progress). Wait until one finishes, or request a quota increase."
            )


def read_job_input(s3, location: str, *, what: str, suffix: str = "", encoding: str = "utf-8") -> list[tuple[str, str]]:
    """(key, text) of the object ``location`` names, or of every object under it when it is a
    prefix (empty or ending in ``/``; only keys ending in ``suffix``, without regard to case).
    JobFailed when there is none (``No <what> found at ...``) or S3 refuses."""
    bucket, key = parse_s3_uri(location)
    try:
        if not key or key.endswith("/"):
            keys = [k for k in list_keys(s3, bucket, key) if k.lower().endswith(suffix)]
        else:
            keys = [key]
        if not keys:
            raise JobFailed(f"No {what} found at {location}.")
        return [(k, s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode(encoding)) for k in keys]
    except JobFailed:
        raise
    except Exception as e:
        code = error_code(e) or type(e).__name__
        raise JobFailed(f"Could not read input file(s) at {location}: {code}. Check the path and bucket policy.")
