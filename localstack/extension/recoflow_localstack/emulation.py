"""What the emulated services (Personalize, SageMaker, the Scheduler's request checks) share:
the dispatch table that throttles and validates every request, the error base, the provider
base (one resource store per account and region, the lock, ARNs, paging with the service's
token error), the view of a record that Describe*/List* answer, clients of other services (S3,
the scheduler's targets) through LocalStack's in-process gateway, and job threads.
Paging itself lives in ``paging.py``, tags in ``tagging.py``, model validation in ``validation.py``."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

from localstack.aws.api import RequestContext, ServiceException
from localstack.aws.skeleton import create_dispatch_table

from recoflow_localstack import faults, paging
from recoflow_localstack.validation import validation_errors, validation_message

LOG = logging.getLogger(__name__)


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


def emulator_dispatch_table(
    service: str,
    invalid_request: Callable[[str], Exception],
    base: Callable[[object], dict] = create_dispatch_table,
) -> Callable[[object], dict]:
    """A ``dispatch_table_factory`` for ``Service.for_provider``. Every operation first asks the
    fault configuration whether this request is throttled, then checks the request against the
    service model (``invalid_request(message)`` is the service's error for a broken constraint),
    and only then reaches the provider: the one place where requests are validated. ``base``
    makes the provider's own table (e.g. LocalStack's ``MotoFallbackDispatcher`` for a provider
    that leaves most operations to moto)."""

    def factory(provider) -> dict:
        table = base(provider)

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


def public_view(record: dict) -> dict:
    """What Describe*/List* answer of a resource record: its members that are set, without the
    internal ones (``_``-prefixed). A snapshot: ``dict(...)`` / ``list(...)`` are single C-level
    copies, and job threads change records (and their lists of dicts) while requests read them."""
    snapshot = {k: v for k, v in dict(record).items() if v is not None and not k.startswith("_")}
    for key, value in snapshot.items():
        if isinstance(value, list):
            snapshot[key] = [dict(item) if isinstance(item, dict) else item for item in list(value)]
    return snapshot


class EmulatorProvider(Generic[Store]):
    """Base of the emulated services' providers: a store per account and region, the lock under
    which requests and job threads change a resource's status, ARNs in the caller's account, and
    list paging that answers the service's own error for a token it did not issue."""

    service: str

    def __init__(self, make_store: Callable[[], Store]):
        self._stores = RegionalStores(make_store)
        self._lock = threading.RLock()

    def _store(self, context: RequestContext) -> Store:
        return self._stores.of(context)

    def _arn(self, context: RequestContext, resource: str) -> str:
        return build_arn(context, self.service, resource)

    def _invalid_token(self, token: str | None) -> Exception:
        """The service's error for a NextToken it did not issue."""
        raise NotImplementedError

    def _page(self, items: Iterable[Any], *, token: str | None, **kwargs) -> tuple[list, str | None]:
        """``paging.page_then_filter``, with a bad token answered as the service answers it."""
        try:
            return paging.page_then_filter(items, token=token, **kwargs)
        except paging.InvalidToken:
            raise self._invalid_token(token) from None


# --- AWS clients and S3 -------------------------------------------------------------------


def aws_client(service: str, account_id: str, region: str):
    """LocalStack's internal client of ``service`` (the attribute name of LocalStack's client
    factory: ``s3``, ``stepfunctions``, ``lambda_``, ``sqs``) in that account and region, through
    the in-process gateway: the requests are handled as the account's own."""
    from localstack.aws.connect import connect_to

    return getattr(connect_to(aws_access_key_id=account_id, region_name=region), service)


def s3_client(account_id: str, region: str):
    return aws_client("s3", account_id, region)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri or not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    rest = uri[len("s3://") :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, key


def error_code(e: Exception) -> str | None:
    """The AWS error code of a failed client call (None for other exceptions)."""
    return getattr(e, "response", {}).get("Error", {}).get("Code")


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
