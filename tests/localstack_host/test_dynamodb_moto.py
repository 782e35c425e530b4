"""DynamoDB on the host-mode LocalStack (PROVIDER_OVERRIDE_DYNAMODB=recoflow_moto: moto backend).

Run against a running stack:
    localstack/host/start.sh && .localstack-host/venv/bin/pytest tests/localstack_host
"""

import json
import time

import pytest
from botocore.exceptions import ClientError

from hostfn import unique


@pytest.fixture
def table(aws):
    ddb = aws("dynamodb")
    name = unique("hostfn-table")
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    yield name
    ddb.delete_table(TableName=name)


def test_conditional_put_is_refused_with_conditional_check_failed(aws, table):
    ddb = aws("dynamodb")
    item = {"pk": {"S": "job#1"}, "sk": {"S": "slot"}, "owner": {"S": "a"}}
    ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    with pytest.raises(ClientError) as err:
        ddb.put_item(
            TableName=table,
            Item={**item, "owner": {"S": "b"}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    error = err.value.response
    assert error["Error"]["Code"] == "ConditionalCheckFailedException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert isinstance(err.value, ddb.exceptions.ConditionalCheckFailedException)
    assert error["Item"]["owner"] == {"S": "a"}  # ReturnValuesOnConditionCheckFailure
    stored = ddb.get_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})["Item"]
    assert stored["owner"] == {"S": "a"}


def test_conditional_update_counts_within_a_limit(aws, table):
    ddb = aws("dynamodb")
    key = {"pk": {"S": "quota"}, "sk": {"S": "sagemaker"}}

    def acquire():
        ddb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="ADD in_use :one",
            ConditionExpression="attribute_not_exists(in_use) OR in_use < :limit",
            ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": "2"}},
        )

    acquire()
    acquire()
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        acquire()
    item = ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item["in_use"] == {"N": "2"}


def test_transaction_cancelled_with_condition_reason(aws, table):
    ddb = aws("dynamodb")
    item = {"pk": {"S": "job#2"}, "sk": {"S": "record"}}
    ddb.put_item(TableName=table, Item=item)

    with pytest.raises(ddb.exceptions.TransactionCanceledException) as err:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
            ]
        )

    assert [r["Code"] for r in err.value.response["CancellationReasons"]] == ["ConditionalCheckFailed"]


def test_batch_write_query_and_ttl(aws, table):
    ddb = aws("dynamodb")
    ddb.batch_write_item(
        RequestItems={
            table: [
                {"PutRequest": {"Item": {"pk": {"S": "rs#1"}, "sk": {"S": f"user#{i:02d}"},
                                         "expires_at": {"N": str(int(time.time()) + 3600)}}}}
                for i in range(12)
            ]
        }
    )
    page = ddb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": "rs#1"}, ":prefix": {"S": "user#0"}},
    )
    assert [i["sk"]["S"] for i in page["Items"]] == [f"user#{i:02d}" for i in range(10)]

    ddb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING")
    assert ttl["AttributeName"] == "expires_at"


def test_table_created_by_cloudformation(aws):
    cfn, ddb = aws("cloudformation"), aws("dynamodb")
    stack = unique("hostfn-ddb")
    template = {
        "Resources": {
            "Jobs": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
                },
            }
        },
        "Outputs": {"TableName": {"Value": {"Ref": "Jobs"}}},
    }
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    try:
        cfn.get_waiter("stack_create_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 90}
        )
        outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
        name = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "TableName")
        ddb.put_item(TableName=name, Item={"pk": {"S": "x"}})
        assert ddb.get_item(TableName=name, Key={"pk": {"S": "x"}})["Item"] == {"pk": {"S": "x"}}
    finally:
        cfn.delete_stack(StackName=stack)
