"""DynamoDB trouble on demand, for proving that batch writers lose and duplicate nothing.

A ``dispatch_table_factory`` that wraps the moto fallback table of the ``recoflow_moto`` provider.
It reads two sections of the fault configuration (``faults.py``, ``/_recoflow/faults``):

- ``throttle.dynamodb``: a share of requests to the listed operations is refused with
  ``ProvisionedThroughputExceededException`` (or ``ThrottlingException``) before moto sees them.
- ``dynamodb``: BatchWriteItem / BatchGetItem leave a random share of their put/delete requests
  (keys) unprocessed. Only the rest is handed to moto; the held-back part comes back in
  ``UnprocessedItems`` / ``UnprocessedKeys`` in the request's own shape, as DynamoDB does.

With both at their defaults (rate 0) every request reaches moto exactly as without this module.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any, Callable

from localstack.aws.api import RequestContext, ServiceException
from localstack.aws.skeleton import DispatchTable
from localstack.services.moto import MotoFallbackDispatcher, call_moto_with_request

from recoflow_localstack import faults
from recoflow_localstack.dynamodb import moto_speedups

LOG = logging.getLogger(__name__)

# DynamoDB speaks JSON 1.0, whose errors carry the full shape id in __type; the SDKs keep the part
# after '#', so the code they report is the plain name.
SHAPE_ID_PREFIX = "com.amazonaws.dynamodb.v20120810#"

# The service's wording: the first for tables with provisioned capacity, the second for on-demand ones.
PROVISIONED_MESSAGE = (
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API."
)
ON_DEMAND_MESSAGE = (
    "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
    "scaling your table or index so please try again shortly. If exceptions persist, check if you "
    "have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"
)

# Batch size limits of the service; moto does not refuse a BatchWriteItem over 25, so a request over
# them is passed on whole and answered as without faults.
MAX_BATCH_WRITES = 25
MAX_BATCH_KEYS = 100

MotoHandler = Callable[[RequestContext, dict], Any]


class DynamoDBThrottled(ServiceException):
    status_code = 400
    sender_fault = False

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = SHAPE_ID_PREFIX + code


def throttled(code: str) -> DynamoDBThrottled:
    message = PROVISIONED_MESSAGE if code == "ProvisionedThroughputExceededException" else ON_DEMAND_MESSAGE
    return DynamoDBThrottled(code, message)


# moto does not serialise requests: two conditional updates of one item can both pass their
# condition, and an `used = used + :one` can be lost (a quota counter then drifts, even below
# zero). DynamoDB applies every write to an item atomically; one lock around moto does too.
MOTO_LOCK = threading.RLock()


def fault_injecting_moto_dispatch(provider: object) -> DispatchTable:
    """``MotoFallbackDispatcher`` with the DynamoDB faults in front of every operation, one
    request at a time, on a moto whose transactions and queries do not copy or sort whole tables
    (``moto_speedups.py``)."""
    moto_speedups.install(MOTO_LOCK)
    moto_table = MotoFallbackDispatcher(provider)
    partial_batches = {"BatchWriteItem": _batch_write_item, "BatchGetItem": _batch_get_item}

    def wrap(operation: str, moto_handler: MotoHandler) -> MotoHandler:
        partial_batch = partial_batches.get(operation)

        def dispatch(context: RequestContext, request: dict):
            if faults.should_throttle("dynamodb", operation):
                raise throttled(faults.dynamodb_throttle_error())
            with MOTO_LOCK:
                if partial_batch is not None:
                    return partial_batch(context, request, moto_handler)
                return moto_handler(context, request)

        return dispatch

    return {operation: wrap(operation, handler) for operation, handler in moto_table.items()}


# --- partial batches ---------------------------------------------------------------------------


def _plain_table_name(name: str) -> str:
    """RequestItems may name a table by ARN (``arn:aws:dynamodb:<region>:<account>:table/<name>``)."""
    return name.split(":table/", 1)[1] if ":table/" in name else name


def _unprocessed_rates(request_items: dict) -> dict[str, float]:
    return {name: faults.dynamodb_unprocessed_rate(_plain_table_name(name)) for name in request_items}


def _moto_tables(context: RequestContext, names) -> dict[str, Any] | None:
    """moto's table objects for the names in a request, or None if one does not exist."""
    from moto.dynamodb.exceptions import ResourceNotFoundException
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[context.account_id][context.region]
    try:
        return {name: backend.get_table(name) for name in names}
    except ResourceNotFoundException:
        return None


def _key_of(table, attributes: dict) -> tuple | None:
    """The primary key of ``attributes`` as a hashable value, None if a key attribute is missing."""
    key = []
    for name in (table.hash_key_attr, table.range_key_attr):
        if name is None:
            continue
        value = attributes.get(name)
        if not isinstance(value, dict) or len(value) != 1:
            return None
        key.append(next(iter(value.items())))
    return tuple(key)


def _keys_distinct(keys: list[tuple | None]) -> bool:
    return None not in keys and len(set(keys)) == len(keys)


def _write_key(table, write: dict) -> tuple | None:
    if set(write) == {"PutRequest"}:
        return _key_of(table, write["PutRequest"].get("Item") or {})
    if set(write) == {"DeleteRequest"}:
        return _key_of(table, write["DeleteRequest"].get("Key") or {})
    return None


def _nothing_processed(tables) -> DynamoDBThrottled:
    """DynamoDB answers an error rather than hold back a whole batch: tables with provisioned
    capacity ProvisionedThroughputExceededException, others ThrottlingException (BatchWriteItem's
    documentation)."""
    if all(table.billing_mode != "PAY_PER_REQUEST" for table in tables):
        return throttled("ProvisionedThroughputExceededException")
    return throttled("ThrottlingException")


def _hold_back(entries: list, rate: float) -> tuple[list, list]:
    processed, held = [], []
    for entry in entries:
        (held if random.random() < rate else processed).append(entry)
    return processed, held


def _batch_write_item(context: RequestContext, request: dict, moto_handler: MotoHandler):
    request_items = request.get("RequestItems") or {}
    rates = _unprocessed_rates(request_items)
    if not any(rates.values()):
        return moto_handler(context, request)
    tables = _moto_tables(context, request_items)
    # Only a request DynamoDB would accept as a whole is split; anything else goes to moto whole and
    # gets the answer it gets without faults (unknown table, duplicate keys, missing key, too many).
    if (
        tables is None
        or sum(len(writes) for writes in request_items.values()) > MAX_BATCH_WRITES
        or not all(
            _keys_distinct([_write_key(tables[name], write) for write in writes])
            for name, writes in request_items.items()
        )
    ):
        return moto_handler(context, request)

    processed: dict[str, list] = {}
    unprocessed: dict[str, list] = {}
    for name, writes in request_items.items():
        applied, held = _hold_back(writes, rates[name])
        if applied:
            processed[name] = applied
        if held:
            unprocessed[name] = held
    if not unprocessed:
        return moto_handler(context, request)
    if not processed:
        raise _nothing_processed(tables.values())

    response = call_moto_with_request(context, {**request, "RequestItems": processed})
    for name, held in unprocessed.items():
        response.setdefault("UnprocessedItems", {}).setdefault(name, []).extend(held)
    LOG.debug("BatchWriteItem: %d request(s) left unprocessed (injected)",
              sum(len(held) for held in unprocessed.values()))
    return response


def _batch_get_item(context: RequestContext, request: dict, moto_handler: MotoHandler):
    request_items = request.get("RequestItems") or {}
    rates = _unprocessed_rates(request_items)
    if not any(rates.values()):
        return moto_handler(context, request)
    tables = _moto_tables(context, request_items)
    if (
        tables is None
        or sum(len(wanted.get("Keys") or []) for wanted in request_items.values()) > MAX_BATCH_KEYS
        or not all(
            _keys_distinct([_key_of(tables[name], key) for key in wanted.get("Keys") or []])
            for name, wanted in request_items.items()
        )
    ):
        return moto_handler(context, request)

    processed: dict[str, dict] = {}
    unprocessed: dict[str, dict] = {}
    for name, wanted in request_items.items():
        read, held = _hold_back(wanted.get("Keys") or [], rates[name])
        # the other members (ProjectionExpression, ConsistentRead, ...) go with both halves, so
        # UnprocessedKeys can be sent again as RequestItems
        if read:
            processed[name] = {**wanted, "Keys": read}
        if held:
            unprocessed[name] = {**wanted, "Keys": held}
    if not unprocessed:
        return moto_handler(context, request)
    if not processed:
        raise _nothing_processed(tables.values())

    response = call_moto_with_request(context, {**request, "RequestItems": processed})
    responses = response.setdefault("Responses", {})
    all_unprocessed = response.setdefault("UnprocessedKeys", {})
    for name, held in unprocessed.items():
        responses.setdefault(name, [])
        if name in all_unprocessed:  # moto's own cut at 16 MB
            all_unprocessed[name]["Keys"].extend(held["Keys"])
        else:
            all_unprocessed[name] = held
    return response
