"""End-to-end: forms reach jobs through S3 and through the REST API on the deployed local
stack (scripts/deploy-local.sh), with the real intake/api/prepare/record-failure functions,
DynamoDB, Step Functions, S3 notifications and API Gateway.

Run: `make test` (starts LocalStack, deploys, runs this), or against a running, deployed stack:
`.localstack-host/venv/bin/pytest tests/e2e`.
"""

import json
import uuid
from pathlib import Path

import pytest
from boto3.dynamodb.types import TypeDeserializer

from e2e_helpers import wait_for

INVALID_FORMS = sorted((Path(__file__).resolve().parents[2] / "examples" / "forms" / "invalid").glob("*.json"))
_deserialize = TypeDeserializer().deserialize


def job_for_key(aws, stack, key):
    """The job record created for a form at `key` in the forms bucket, if any."""
    pages = aws("dynamodb").get_paginator("scan").paginate(
        TableName=stack["JobsTable"],
        ConsistentRead=True,
        FilterExpression="#src.#key = :key",
        ExpressionAttributeNames={"#src": "source", "#key": "key"},
        ExpressionAttributeValues={":key": {"S": key}},
    )
    items = [item for page in pages for item in page["Items"]]
    assert len(items) <= 1, f"one form made {len(items)} jobs"
    return {k: _deserialize(v) for k, v in items[0].items()} if items else None


def executions_named(aws, stack, name):
    pages = aws("stepfunctions").get_paginator("list_executions").paginate(stateMachineArn=stack["StateMachineArn"])
    return [e for page in pages for e in page["executions"] if e["name"] == name]


def submit_to_s3(aws, stack, body, name=None) -> str:
    key = f"submissions/{name or uuid.uuid4().hex[:12]}.json"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    aws("s3").put_object(Bucket=stack["FormsBucket"], Key=key, Body=data)
    return key


def wait_for_status(api, job_id, statuses, timeout=60):
    def probe():
        response = api.get_job(job_id)
        return response.json() if response.status_code == 200 and response.json()["status"] in statuses else None

    return wait_for(f"job {job_id} to reach {statuses}", probe, timeout)


def test_valid_form_in_s3_makes_one_job_and_one_execution(aws, stack, api, make_form):
    key = submit_to_s3(aws, stack, make_form())
    record = wait_for("the job record", lambda: job_for_key(aws, stack, key))
    job_id = record["job_id"]

    # The job runs on past PREPARING within a second: wait until it has been there.
    job = wait_for(
        "the job to have been PREPARING",
        lambda: (j := api.get_job(job_id).json()) and "PREPARING" in [h["status"] for h in j["history"]] and j,
    )
    assert [h["status"] for h in job["history"]][:3] == ["RECEIVED", "QUEUED", "PREPARING"]
    assert job["form"]["num_results"] == 25, "defaults are filled in"
    execution = wait_for(
        "the execution to succeed",
        lambda: [e for e in executions_named(aws, stack, job_id) if e["status"] == "SUCCEEDED"],
    )
    assert len(execution) == 1
    assert job["execution_arn"] == execution[0]["executionArn"]


def test_the_same_s3_event_delivered_twice_gives_one_execution(aws, stack, make_form):
    key = submit_to_s3(aws, stack, make_form())
    record = wait_for("the job record", lambda: job_for_key(aws, stack, key))
    head = aws("s3").head_object(Bucket=stack["FormsBucket"], Key=key)
    event = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-23T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:e2e"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "FormSubmitted",
                    "bucket": {"name": stack["FormsBucket"], "ownerIdentity": {"principalId": "e2e"}, "arn": f"arn:aws:s3:::{stack['FormsBucket']}"},
                    "object": {
                        "key": key,
                        "size": head["ContentLength"],
                        "eTag": head["ETag"].strip('"'),
                        "versionId": head.get("VersionId"),
                        "sequencer": "0A",
                    },
                },
            }
        ]
    }
    # The notification S3 sent, then two more deliveries of the same event.
    for _ in range(2):
        response = aws("lambda").invoke(FunctionName=stack["IntakeFunctionName"], Payload=json.dumps(event))
        assert "FunctionError" not in response, response["Payload"].read()
        outcome = json.loads(response["Payload"].read())
        assert outcome == [{"outcome": "duplicate", "job_id": record["job_id"]}]
    assert len(executions_named(aws, stack, record["job_id"])) == 1


def test_invalid_form_is_rejected_with_every_error_and_no_execution(aws, stack, api, make_form):
    form = make_form(num_results=0, colour="red")
    form["segment"]["age"] = {"min": 50, "max": 30}
    form["dataset"]["items"] = "s3://somebody-elses-bucket/items.csv"
    key = submit_to_s3(aws, stack, form, name=f"bad-{uuid.uuid4().hex[:8]}")

    record = wait_for("the rejected record", lambda: job_for_key(aws, stack, key))
    assert record["status"] == "REJECTED"
    codes = {(p["path"], p["code"]) for p in record["problems"]}
    assert codes == {
        ("$.num_results", "out_of_range"),
        ("$.colour", "unknown_field"),
        ("$.segment.age", "age_range_inverted"),
        ("$.dataset.items", "bucket_not_allowed"),
    }
    rejected_key = key.replace("submissions/", "rejected/", 1)
    s3 = aws("s3")
    wait_for("the original to move", lambda: "Contents" not in s3.list_objects_v2(Bucket=stack["FormsBucket"], Prefix=key))
    moved = json.loads(s3.get_object(Bucket=stack["FormsBucket"], Key=rejected_key)["Body"].read())
    assert moved == form, "the rejected form is kept as submitted"
    report = json.loads(s3.get_object(Bucket=stack["FormsBucket"], Key=rejected_key + ".errors.json")["Body"].read())
    assert report["problems"] == record["problems"]
    assert executions_named(aws, stack, record["job_id"]) == []

    # The API gives the same errors for the same form.
    response = api.post_job(form)
    assert response.status_code == 400
    assert response.json()["error"]["problems"] == record["problems"]


@pytest.mark.parametrize("path", INVALID_FORMS, ids=lambda p: p.stem)
def test_api_returns_400_with_the_promised_error(api, path):
    expected = path.stem.split("--")[0]
    response = api.post_job(path.read_bytes())
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "InvalidForm"
    assert expected in {p["code"] for p in error["problems"]}, error


def test_a_300_kib_form_is_refused_without_being_parsed(aws, stack, api):
    # Not JSON either: had it been parsed, the problem would be not_json.
    body = b"{" + b"x" * (300 * 1024)
    response = api.post_job(body)
    assert response.status_code == 413
    assert [p["code"] for p in response.json()["error"]["problems"]] == ["too_large"]

    key = submit_to_s3(aws, stack, body)
    record = wait_for("the rejected record", lambda: job_for_key(aws, stack, key))
    assert record["status"] == "REJECTED"
    assert [p["code"] for p in record["problems"]] == ["too_large"]


def test_api_submission_runs_and_replays_by_idempotency_key(aws, stack, api, make_form):
    form = make_form()
    key = uuid.uuid4().hex
    first = api.post_job(form, key=key)
    assert first.status_code == 202, first.text
    job_id = first.json()["job_id"]
    assert first.json()["status_path"] == f"/jobs/{job_id}"

    again = api.post_job(form, key=key)
    assert again.status_code == 200 and again.json()["job_id"] == job_id
    conflict = api.post_job(make_form(), key=key)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "IdempotencyKeyReused"

    # The job may run past PREPARING between two looks: wait until it has been there.
    job = wait_for(
        f"job {job_id} to have been PREPARING",
        lambda: (j := api.get_job(job_id).json()) and "PREPARING" in [h["status"] for h in j.get("history", [])] and j,
    )
    assert job["source"] == {"kind": "api", "idempotency_key": key}
    assert len(executions_named(aws, stack, job_id)) == 1


def test_unknown_job_is_404(api):
    response = api.get_job("no-such-job-123")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "JobNotFound"


def test_missing_data_file_fails_the_job_with_the_file_named(aws, api, stack, make_form):
    missing = f"s3://{stack['DataBucket']}/e2e/nowhere/interactions.csv"
    form = make_form()
    form["dataset"]["interactions"] = missing
    response = api.post_job(form)
    assert response.status_code == 202, response.text
    job = wait_for_status(api, response.json()["job_id"], {"FAILED"})
    assert job["failure"]["error"] == "DatasetMissing"
    assert job["failure"]["cause"] == f"dataset.interactions: {missing} does not exist or cannot be read"
    assert (job["failure"]["status"], job["failure"]["state"]) == ("PREPARING", "Prepare"), job["failure"]
    assert [h["status"] for h in job["history"]] == ["RECEIVED", "QUEUED", "PREPARING", "FAILED"]

    # A finished job never moves again: the jobs table refuses the write (conditional update).
    response = aws("lambda").invoke(FunctionName=stack["PrepareFunctionName"], Payload=json.dumps({"job_id": job["job_id"]}))
    error = json.loads(response["Payload"].read())
    assert response.get("FunctionError") and error["errorType"] == "IllegalTransition", error
    assert "cannot move from FAILED to PREPARING" in error["errorMessage"]
    assert api.get_job(job["job_id"]).json()["history"] == job["history"]
