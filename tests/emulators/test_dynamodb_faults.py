"""DynamoDB trouble from the fault endpoint: throttled requests, and BatchWriteItem/BatchGetItem
that leave part of their work unprocessed (localstack/extension/EMULATORS.md, "DynamoDB").

What a batch writer must get right, proven against the running stack: held-back requests are not
applied, they come back in UnprocessedItems exactly as they were sent, and a client that resends
them (and retries throttling errors) ends with every item written exactly once.
"""

import json
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

PROVISIONED_MESSAGE = (
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API."
)
ON_DEMAND_MESSAGE = (
    "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
    "scaling your table or index so please try again shortly. If exceptions persist, check if you "
    "have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"
)
THROTTLING_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException"}


def dynamodb_client(endpoint: str, attempts: int):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}))


@pytest.fixture(scope="module")
def ddb(endpoint):
    """A client that does not retry, so every answer of the service is seen as it is."""
    return dynamodb_client(endpoint, attempts=1)


@pytest.fixture
def make_table(ddb):
    """make_table(billing="PAY_PER_REQUEST") -> name of a new table keyed on "pk"; deleted afterwards."""
    created = []

    def make(billing: str = "PAY_PER_REQUEST") -> str:
        name = f"ddb-faults-{uuid.uuid4().hex[:10]}"
        capacity = ({"BillingMode": "PAY_PER_REQUEST"} if billing == "PAY_PER_REQUEST"
                    else {"ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}})
        ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], **capacity)
        created.append(name)
        return name

    yield make
    for name in created:
        ddb.delete_table(TableName=name)


def key(i: int) -> dict:
    return {"pk": {"S": f"item#{i:03d}"}}


def put(i: int) -> dict:
    return {"PutRequest": {"Item": {**key(i), "n": {"N": str(i)}, "blob": {"B": bytes([i % 256, 0, 255])}}}}


def stored(ddb, table: str) -> dict[str, dict]:
    """Every item of the table by its pk (a Scan, all pages)."""
    items = {}
    for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            assert item["pk"]["S"] not in items
            items[item["pk"]["S"]] = item
    return items


def write_until_done(ddb, request_items: dict) -> int:
    """What DynamoDB's documentation asks of a batch writer: send, then send again what came back
    unprocessed until nothing is left, retrying throttling errors. Returns the number of calls."""
    calls = 0
    while request_items:
        calls += 1
        assert calls < 300, f"still unprocessed: {request_items}"
        try:
            request_items = ddb.batch_write_item(RequestItems=request_items)["UnprocessedItems"]
        except ClientError as e:
            if e.response["Error"]["Code"] not in THROTTLING_CODES:
                raise
        time.sleep(0.005)  # a token backoff: the faults are random, not load-driven
    return calls


def test_batch_write_holds_back_a_share_and_resending_writes_each_item_once(ddb, make_table, faults):
    table = make_table()
    faults({"dynamodb": {"unprocessed_rate": 0.5, "tables": [table]}})
    batches = [[put(i) for i in range(start, start + 25)] for start in range(0, 100, 25)]
    written, held_back_total = 0, 0

    for batch in batches:
        pending = batch
        while pending:
            try:
                answer = ddb.batch_write_item(RequestItems={table: pending}, ReturnConsumedCapacity="TOTAL")
            except ClientError as e:
                # a (small) remainder held back entirely: DynamoDB answers an error instead
                assert e.response["Error"]["Code"] == "ThrottlingException"
                assert len(stored(ddb, table)) == written
                continue
            unprocessed = answer["UnprocessedItems"]
            assert set(unprocessed) <= {table}  # keyed by table, like RequestItems
            held = unprocessed.get(table, [])
            assert all(request in pending for request in held)  # exactly as sent
            written += len(pending) - len(held)
            items = stored(ddb, table)
            assert len(items) == written  # what was processed is there, nothing held back is
            assert not {request["PutRequest"]["Item"]["pk"]["S"] for request in held} & set(items)
            held_back_total += len(held)
            pending = held

    assert held_back_total > 0
    items = stored(ddb, table)
    assert sorted(items) == [f"item#{i:03d}" for i in range(100)]
    assert all(items[f"item#{i:03d}"] == put(i)["PutRequest"]["Item"] for i in range(100))


def test_held_back_deletes_are_not_applied(ddb, make_table, faults):
    table = make_table()
    write_until_done(ddb, {table: [put(i) for i in range(20)]})
    faults({"dynamodb": {"unprocessed_rate": 0.5}})

    deletes = [{"DeleteRequest": {"Key": key(i)}} for i in range(20)]
    answer = ddb.batch_write_item(RequestItems={table: deletes})
    held = answer["UnprocessedItems"].get(table, [])
    assert held and all(request in deletes for request in held)
    assert set(stored(ddb, table)) == {request["DeleteRequest"]["Key"]["pk"]["S"] for request in held}

    write_until_done(ddb, answer["UnprocessedItems"])
    assert stored(ddb, table) == {}


def test_only_the_listed_tables_lose_requests(ddb, make_table, faults):
    listed, other = make_table(), make_table()
    faults({"dynamodb": {"unprocessed_rate": 1.0, "tables": [listed]}})

    answer = ddb.batch_write_item(RequestItems={listed: [put(i) for i in range(5)],
                                                other: [put(i) for i in range(5, 10)]})

    assert answer["UnprocessedItems"] == {listed: [put(i) for i in range(5)]}
    assert stored(ddb, listed) == {}
    assert sorted(stored(ddb, other)) == [f"item#{i:03d}" for i in range(5, 10)]


@pytest.mark.parametrize("billing, code, message", [
    ("PAY_PER_REQUEST", "ThrottlingException", ON_DEMAND_MESSAGE),
    ("PROVISIONED", "ProvisionedThroughputExceededException", PROVISIONED_MESSAGE),
])
def test_a_batch_held_back_entirely_is_refused_as_throttled(ddb, make_table, faults, billing, code, message):
    table = make_table(billing)
    faults({"dynamodb": {"unprocessed_rate": 1.0}})

    for call in (lambda: ddb.batch_write_item(RequestItems={table: [put(1), put(2)]}),
                 lambda: ddb.batch_get_item(RequestItems={table: {"Keys": [key(1)]}})):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"] == {"Code": code, "Message": message}
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert stored(ddb, table) == {}


def test_batch_get_holds_back_keys_with_the_request_members(ddb, make_table, faults):
    table = make_table()
    write_until_done(ddb, {table: [put(i) for i in range(40)]})
    faults({"dynamodb": {"unprocessed_rate": 0.5}})
    wanted = {"Keys": [key(i) for i in range(40)], "ProjectionExpression": "#k, n",
              "ExpressionAttributeNames": {"#k": "pk"}, "ConsistentRead": True}

    answer = ddb.batch_get_item(RequestItems={table: wanted})
    rest = answer["UnprocessedKeys"][table]
    assert rest["Keys"] and all(k in wanted["Keys"] for k in rest["Keys"])
    assert {name: value for name, value in rest.items() if name != "Keys"} == \
        {name: value for name, value in wanted.items() if name != "Keys"}
    assert len(answer["Responses"][table]) + len(rest["Keys"]) == 40

    read = list(answer["Responses"][table])
    request_items = answer["UnprocessedKeys"]
    while request_items:
        try:
            answer = ddb.batch_get_item(RequestItems=request_items)
        except ClientError as e:
            assert e.response["Error"]["Code"] in THROTTLING_CODES
            continue
        read += answer["Responses"].get(table, [])
        request_items = answer["UnprocessedKeys"]
    assert sorted(item["pk"]["S"] for item in read) == [f"item#{i:03d}" for i in range(40)]
    assert all(set(item) == {"pk", "n"} for item in read)


def test_throttled_batch_write_writes_nothing(endpoint, ddb, make_table, faults):
    table = make_table()
    faults({"throttle": {"dynamodb": {"rate": 1.0, "operations": ["BatchWriteItem"]}}})

    with pytest.raises(ClientError) as refused:
        ddb.batch_write_item(RequestItems={table: [put(i) for i in range(25)]})
    assert refused.value.response["Error"] == {"Code": "ProvisionedThroughputExceededException",
                                               "Message": PROVISIONED_MESSAGE}
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert isinstance(refused.value, ddb.exceptions.ProvisionedThroughputExceededException)
    assert stored(ddb, table) == {}

    # boto3 counts it as throttling and retries it
    retrying = dynamodb_client(endpoint, attempts=3)
    with pytest.raises(ClientError) as refused:
        retrying.batch_write_item(RequestItems={table: [put(1)]})
    assert refused.value.response["ResponseMetadata"]["RetryAttempts"] == 2

    # the body is DynamoDB's: __type names the shape id
    body = json.dumps({"RequestItems": {table: [{"PutRequest": {"Item": key(1)}}]}}).encode()
    request = urllib.request.Request(endpoint, data=body, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.BatchWriteItem",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(request, timeout=10)
    assert raw.value.code == 400
    assert json.load(raw.value) == {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": PROVISIONED_MESSAGE}

    # operations that are not listed go through
    ddb.put_item(TableName=table, Item=key(7))
    assert list(stored(ddb, table)) == ["item#007"]


def test_throttle_can_answer_throttling_exception(ddb, make_table, faults):
    table = make_table()
    faults({"throttle": {"dynamodb": {"rate": 1.0, "operations": ["PutItem"], "error": "ThrottlingException"}}})
    with pytest.raises(ClientError) as refused:
        ddb.put_item(TableName=table, Item=key(1))
    assert refused.value.response["Error"] == {"Code": "ThrottlingException", "Message": ON_DEMAND_MESSAGE}
    assert stored(ddb, table) == {}


def test_requests_the_service_refuses_are_refused_before_any_fault(ddb, make_table, faults):
    table = make_table()
    faults({"dynamodb": {"unprocessed_rate": 1.0}})
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.batch_write_item(RequestItems={f"missing-{uuid.uuid4().hex[:8]}": [put(1)]})
    with pytest.raises(ClientError) as refused:
        ddb.batch_write_item(RequestItems={table: [put(1), put(1)]})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert stored(ddb, table) == {}


def test_with_faults_off_batches_are_answered_whole(ddb, make_table, faults_api):
    assert faults_api("GET")["dynamodb"] == {"unprocessed_rate": 0.0, "tables": []}
    assert faults_api("GET")["throttle"]["dynamodb"]["rate"] == 0.0
    table = make_table()

    assert ddb.batch_write_item(RequestItems={table: [put(i) for i in range(25)]})["UnprocessedItems"] == {}
    answer = ddb.batch_get_item(RequestItems={table: {"Keys": [key(i) for i in range(25)]}})
    assert answer["UnprocessedKeys"] == {}
    assert len(answer["Responses"][table]) == 25


def test_concurrent_writers_lose_and_duplicate_nothing(ddb, make_table, faults):
    """Several batches in flight, as recoflow's delivery sends them, under both kinds of trouble."""
    table = make_table()
    faults({"dynamodb": {"unprocessed_rate": 0.3, "tables": [table]},
            "throttle": {"dynamodb": {"rate": 0.2, "operations": ["BatchWriteItem"]}}})
    batches = [{table: [put(i) for i in range(start, start + 25)]} for start in range(0, 250, 25)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        calls = list(pool.map(lambda batch: write_until_done(ddb, batch), batches))

    assert sum(calls) > len(batches)  # the trouble did happen
    items = stored(ddb, table)
    assert sorted(items) == [f"item#{i:03d}" for i in range(250)]
    assert all(items[f"item#{i:03d}"] == put(i)["PutRequest"]["Item"] for i in range(250))


def test_startup_document_is_checked_like_a_post():
    from recoflow_localstack import faults as fault_config

    document = {"dynamodb": {"unprocessed_rate": 0.25, "tables": ["scores"]},
                "throttle": {"dynamodb": {"rate": 0.1, "operations": ["BatchWriteItem"]}}}
    config = fault_config.startup_config({"RECOFLOW_FAULTS": json.dumps(document)})
    assert config["dynamodb"] == {"unprocessed_rate": 0.25, "tables": ["scores"]}
    assert config["throttle"]["dynamodb"] == {"rate": 0.1, "operations": ["BatchWriteItem"],
                                              "error": "ProvisionedThroughputExceededException"}

    ignored = fault_config.startup_config({"RECOFLOW_FAULTS": json.dumps({"dynamodb": {"unprocessed_rate": 2}})})
    assert ignored == fault_config.startup_config({})
