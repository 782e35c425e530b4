"""Two costs of the bundled moto that grow with a table's size, taken out without changing answers.

Measured on a 400,000-item recommendations table (``localstack/probes/bench_dynamodb.py``):

- ``TransactWriteItems`` deep-copies every table it touches before it starts, so that it can put
  the copy back if the transaction is cancelled: 35 s per transaction, under the lock every
  DynamoDB request waits for (``fault_injection.MOTO_LOCK``), and a second copy of the table in
  memory. Here only the items the transaction names are copied, and put back on cancellation.
- ``Query`` lists and sorts every item of the table (``Table.all_items``) and keeps those whose
  key matches: 0.5 s per query on an index. Here it is handed only the candidates: the items
  under the hash key for the table itself, those whose index hash attribute equals the key for
  an index. moto's own loop still filters, sorts (a total order on the keys, so the order it
  is handed does not matter), pages and projects them.

Both rely on the moto pinned in ``localstack/requirements.lock`` (its ``Table.items`` layout,
``query`` calling ``self.all_items()``, the whole-table copy in ``transact_write_items``);
``tests/emulators/test_dynamodb_speedups.py`` proves the answers stay the same.
"""

from __future__ import annotations

import copy
import functools
import inspect
import threading
from typing import Any

_installed = False
_install_lock = threading.Lock()


def install(lock: threading.RLock) -> None:
    """Patches moto's DynamoDB backend once; ``lock`` is the one every DynamoDB request holds."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.table import Table

        DynamoDBBackend.transact_write_items = _item_rollback(DynamoDBBackend.transact_write_items, Table, lock)
        Table.query = _candidates_only(Table.query)
        _installed = True


# --- TransactWriteItems ------------------------------------------------------------------------


class _ItemsBefore:
    """The items a transaction names, as they were before it: put back if it is cancelled."""

    def __init__(self, backend, transact_items: list[dict[str, Any]]):
        from moto.dynamodb.models.dynamo_type import DynamoType

        self._before: dict[tuple[int, DynamoType, DynamoType | None], tuple[Any, Any]] = {}
        self._streams: dict[int, tuple[Any, list]] = {}
        for entry in transact_items:
            if not isinstance(entry, dict) or len(entry) != 1:
                continue
            op_type, op = next(iter(entry.items()))
            if not isinstance(op, dict):
                continue
            try:
                table = backend.get_table(op.get("TableName"))
                attrs = op["Item"] if op_type == "Put" else op["Key"]
                hash_key = DynamoType(attrs[table.hash_key_attr])
                range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
            except Exception:  # moto refuses this one itself, before it changes anything
                continue
            slot = (id(table), hash_key, range_key)
            if slot not in self._before:
                self._before[slot] = (table, copy.deepcopy(self._current(table, hash_key, range_key)))
            if table.stream_shard is not None and id(table) not in self._streams:
                self._streams[id(table)] = (table.stream_shard, list(table.stream_shard.items))

    @staticmethod
    def _current(table, hash_key, range_key):
        # .get, not table.get_item: that adds an empty entry to the defaultdict for a new hash key
        held = table.items.get(hash_key)
        if range_key is None:
            return held
        return held.get(range_key) if held else None

    def restore(self) -> None:
        for (_, hash_key, range_key), (table, item) in self._before.items():
            if range_key is None:
                if item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item
            elif item is None:
                table.items.get(hash_key, {}).pop(range_key, None)
            else:
                table.items[hash_key][range_key] = item
        for shard, records in self._streams.values():
            shard.items = records


def _item_rollback(original, table_class, lock: threading.RLock):
    @functools.wraps(original)
    def transact_write_items(self, transact_items):
        with lock:
            before = _ItemsBefore(self, transact_items)
            # moto's own backup becomes the table itself (its rollback then puts back the same
            # object); the items the transaction changed are put back from `before` instead.
            table_class.__deepcopy__ = _same_table
            try:
                return original(self, transact_items)
            except BaseException:
                before.restore()
                raise
            finally:
                del table_class.__deepcopy__

    return transact_write_items


def _same_table(table, memo):
    return table


# --- Query -------------------------------------------------------------------------------------


def _candidates_only(original):
    signature = inspect.signature(original)

    @functools.wraps(original)
    def query(self, *args, **kwargs):
        arguments = signature.bind(self, *args, **kwargs).arguments
        candidates = _candidates(self, arguments["hash_key"], arguments.get("index_name"))
        if candidates is None:
            return original(self, *args, **kwargs)
        # an instance attribute shadows the method for this one call (under the request lock)
        self.all_items = lambda: candidates
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.all_items

    return query


def _candidates(table, hash_key, index_name: str | None) -> list | None:
    """The items a Query of ``hash_key`` can return (a superset moto filters further), or None
    to let moto look at every item (an index it does not know: it answers the error)."""
    if not index_name:
        held = table.items.get(hash_key)
        if held is None:
            return []
        return list(held.values()) if table.range_key_attr else [held]
    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    hash_attr = next((k["AttributeName"] for k in (index.schema if index else []) if k["KeyType"] == "HASH"), None)
    if hash_attr is None:
        return None
    found = []
    for held in table.items.values():
        for item in held.values() if table.range_key_attr else (held,):
            value = item.attrs.get(hash_attr)
            if value is not None and value == hash_key:
                found.append(item)
    return found
