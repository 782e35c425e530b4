"""4. DynamoDB (recoflow_moto): transactions with a ConditionCheck, ALL_OLD on a failed
condition, ADD under concurrency."""

from concurrent.futures import ThreadPoolExecutor

from _common import aws, report, unique

ddb = aws("dynamodb")


def table():
    name = unique("probe-t")
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    return name


pointers, versions = table(), table()
ddb.put_item(TableName=pointers, Item={"pk": {"S": "rs#1"}, "version": {"N": "3"}})


def transact(expected_version):
    return ddb.transact_write_items(TransactItems=[
        {"ConditionCheck": {"TableName": pointers, "Key": {"pk": {"S": "rs#1"}},
                            "ConditionExpression": "version = :v",
                            "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"Put": {"TableName": versions, "Item": {"pk": {"S": f"v#{expected_version}"}, "state": {"S": "HELD"}}}},
        {"Update": {"TableName": pointers, "Key": {"pk": {"S": "rs#1-meta"}},
                    "UpdateExpression": "SET promoted_by = :u", "ExpressionAttributeValues": {":u": {"S": "probe"}}}},
    ])


try:
    transact(2)
    report(4, "TransactWriteItems with a failing ConditionCheck is cancelled", False, "accepted")
except ddb.exceptions.TransactionCanceledException as e:
    written = [ddb.get_item(TableName=t, Key={"pk": {"S": k}}).get("Item") for t, k in
               ((versions, "v#2"), (pointers, "rs#1-meta"))]
    report(4, "TransactWriteItems with a failing ConditionCheck is cancelled, nothing written",
           written == [None, None], f"{e.response['Error']['Message']!r}; CancellationReasons "
           f"{e.response.get('CancellationReasons')}; other writes {written}")
transact(3)
report(4, "TransactWriteItems whose ConditionCheck holds writes both tables", True,
       [ddb.get_item(TableName=versions, Key={"pk": {"S": "v#3"}}).get("Item"),
        ddb.get_item(TableName=pointers, Key={"pk": {"S": "rs#1-meta"}}).get("Item")])

try:
    ddb.update_item(TableName=pointers, Key={"pk": {"S": "rs#1"}}, UpdateExpression="SET version = :n",
                    ConditionExpression="version = :v", ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    ExpressionAttributeValues={":n": {"N": "5"}, ":v": {"N": "4"}})
    report(4, "UpdateItem ALL_OLD on a failed condition", False, "accepted")
except ddb.exceptions.ConditionalCheckFailedException as e:
    report(4, "UpdateItem ReturnValuesOnConditionCheckFailure=ALL_OLD returns the item", "Item" in e.response,
           f"{e.response['Error']}, Item {e.response.get('Item')}")


def add_one(_):
    ddb.update_item(TableName=pointers, Key={"pk": {"S": "counter"}}, UpdateExpression="ADD n :one",
                    ExpressionAttributeValues={":one": {"N": "1"}})


with ThreadPoolExecutor(16) as pool:
    list(pool.map(add_one, range(800)))
n = ddb.get_item(TableName=pointers, Key={"pk": {"S": "counter"}})["Item"]["n"]["N"]
report(4, "UpdateItem ADD n :one, 800 calls from 16 threads", n == "800", f"n = {n}")
