"""Pieces shared by the Personalize and SageMaker emulators: the fault-endpoint hook, the
dispatch table that applies request throttling, S3 access through LocalStack's in-process clients,
and small helpers."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Callable, Iterator

from localstack.aws.api import CommonServiceException, RequestContext
from localstack.aws.skeleton import create_dispatch_table
from localstack.runtime import hooks

from recoflow_localstack import faults

LOG = logging.getLogger(__name__)


@hooks.on_infra_start()
def register_recoflow_faults_endpoint():
    """Entry point (localstack.hooks.on_infra_start): serve /_recoflow/faults from start-up, before
    any emulated service has been loaded (LocalStack loads providers lazily)."""
    faults.register_route()


class ThrottlingException(CommonServiceException):
    def __init__(self, message: str = "Rate exceeded"):
        super().__init__("ThrottlingException", message, status_code=400, sender_fault=True)


def throttling_dispatch_table(service: str) -> Callable[[object], dict]:
    """A ``dispatch_table_factory`` for ``Service.for_provider``: every operation first asks the
    fault configuration whether this request is throttled."""

    def factory(provider) -> dict:
        table = create_dispatch_table(provider)

        def wrap(operation: str, dispatcher):
            def dispatch(context: RequestContext, request):
                if faults.should_throttle(service, operation):
                    raise ThrottlingException()
                return dispatcher(context, request)

            return dispatch

        return {op: wrap(op, dispatcher) for op, dispatcher in table.items()}

    return factory


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
