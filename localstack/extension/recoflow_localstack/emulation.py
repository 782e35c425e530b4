"""Pieces shared by the Personalize and SageMaker emulators: the fault-endpoint hook, the
dispatch table that throttles and validates every request, the per-account/region resource
stores, ARNs, error shapes, S3 access through LocalStack's in-process clients, and small helpers.
Paging lives in ``paging.py``, tags in ``tagging.py``, model validation in ``validation.py``."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Callable, Generic, Iterator, TypeVar

from localstack.aws.api import RequestContext, ServiceException
from localstack.aws.skeleton import create_dispatch_table
from localstack.runtime import hooks

from recoflow_localstack import faults
from recoflow_localstack.validation import validation_errors, validation_message

LOG = logging.getLogger(__name__)


@hooks.on_infra_start()
def register_recoflow_faults_endpoint():
    """Entry point (localstack.hooks.on_infra_start): serve /_recoflow/faults from start-up, before
    any emulated service has been loaded (LocalStack loads providers lazily)."""
    faults.register_route()


class ServiceError(ServiceException):
    """An error the service answers with HTTP 400; its code (``__type``) is the class name, so a
    subclass per error shape of the model (``ResourceInUse``, ``InvalidInputException``, ...)."""

    status_code = 400
    sender_fault = True

    def __init__(self, message: str):
        super().__init__(message)
        self.code = type(self).__name__


class ThrottlingException(ServiceError):
    def __init__(self, message: str = "Rate exceeded"):
        super().__init__(message)


def emulator_dispatch_table(service: str, invalid_request: Callable[[str], Exception]) -> Callable[[object], dict]:
    """A ``dispatch_table_factory`` for ``Service.for_provider``. Every operation first asks the
    fault configuration whether this request is throttled, then checks the request against the
    service model (``invalid_request(message)`` is the service's error for a broken constraint),
    and only then reaches the provider: the one place where requests are validated."""

    def factory(provider) -> dict:
        table = create_dispatch_table(provider)

        def wrap(operation: str, dispatcher):
            def dispatch(context: RequestContext, request):
                if faults.should_throttle(service, operation):
                    raise ThrottlingException()
                problems = validation_errors(context.operation, request)
                if problems:
                    raise invalid_request(validation_message(problems))
                return dispatcher(context, request)

            return dispatch

        return {op: wrap(op, dispatcher) for op, dispatcher in table.items()}

    return factory


Store = TypeVar("Store")


class RegionalStores(Generic[Store]):
    """One resource store per account and region, made on first use: AWS keeps them apart."""

    def __init__(self, make: Callable[[], Store]):
        self._make = make
        self._stores: dict[tuple[str, str], Store] = {}
        self._lock = threading.Lock()

    def of(self, context: RequestContext) -> Store:
        with self._lock:
            key = (context.account_id, context.region)
            if key not in self._stores:
                self._stores[key] = self._make()
            return self._stores[key]

    def all(self) -> list[Store]:
        with self._lock:
            return list(self._stores.values())


def build_arn(context: RequestContext, service: str, resource: str) -> str:
    """``arn:aws:<service>:<region>:<account>:<resource>`` of the caller's account and region."""
    return f"arn:aws:{service}:{context.region}:{context.account_id}:{resource}"


def utcnow() -> datetime:
    return datetime.now(tz=timezone.utc)


# --- S3 ---------------------------------------------------------------------------------


def s3_client(account_id: str, region: str):
    """LocalStack's internal S3 client for the caller's account (goes through the in-process
    gateway, no network port needed)."""
    from localstack.aws.connect import connect_to

    return connect_to(aws_access_key_id=account_id, region_name=region).s3


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri or not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, key


def list_keys(s3, bucket: str, prefix: str) -> Iterator[str]:
    token = None
    while True:
        kwargs = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        for obj in page.get("Contents", []):
            yield obj["Key"]
        if not page.get("IsTruncated"):
            return
        token = page.get("NextContinuationToken")


def start_thread(name: str, target: Callable[[], None]) -> threading.Thread:
    def run():
        try:
            target()
        except Exception:  # a job thread must never die silently
            LOG.exception("recoflow emulator thread %s crashed", name)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
