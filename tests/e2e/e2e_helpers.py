"""Helpers for the end-to-end tests (a module of its own: several suites have a conftest)."""

import csv
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from boto3.dynamodb.types import TypeDeserializer

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DATA = REPO / "examples" / "data"
# The emulator runs the reference container (target/local/recsys) for this image.
RECSYS_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/recsys:latest"

# How a job that ran to its end is shown (its execution SUCCEEDED too). Before the Deliver step
# landed such a job stayed at SCORING; this is the one place that expectation lives.
FINISHED_OK_STATUSES = {"SUCCEEDED"}
# Statuses after which a job never moves again.
FINAL_STATUSES = {"SUCCEEDED", "HELD", "FAILED", "CANCELLED", "REJECTED", "SKIPPED"}
RUNNING_STATUSES = {"RECEIVED", "QUEUED", "WAITING_FOR_QUOTA", "PREPARING", "IMPORTING", "TRAINING", "SCORING", "DELIVERING"}

_deserialize = TypeDeserializer().deserialize


def wait_for(what: str, probe, timeout: float = 60.0, interval: float = 0.5):
    """Polls probe() until it returns something truthy; fails with `what` after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def finished_ok(job: dict, execution_status: str) -> bool:
    """The one definition of "the job ran to its end": see FINISHED_OK_STATUSES."""
    return execution_status == "SUCCEEDED" and job["status"] in FINISHED_OK_STATUSES


def assert_finished_ok(job: dict, execution_status: str):
    assert finished_ok(job, execution_status), (
        f"job {job['job_id']} did not finish: status {job['status']}, execution {execution_status}, "
        f"failure {job.get('failure')}, history {statuses(job)}"
    )
    assert not job.get("failure"), job["failure"]


def statuses(job: dict) -> list:
    return [h["status"] for h in job["history"]]


def is_subsequence(wanted, seen) -> bool:
    it = iter(seen)
    return all(any(s == w for s in it) for w in wanted)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def segment_users(segment: dict | None, users_csv: Path = EXAMPLE_DATA / "users.csv") -> set:
    """The user ids of users.csv that a form's segment selects (the form's rules, in Python)."""
    chosen = set()
    with users_csv.open(newline="") as f:
        for row in csv.DictReader(f):
            if segment:
                if "gender" in segment and row["GENDER"] not in segment["gender"]:
                    continue
                if "region" in segment and row["REGION"] not in segment["region"]:
                    continue
                age = segment.get("age")
                if age and not (age.get("min", 0) <= int(row["AGE"]) <= age.get("max", 200)):
                    continue
            chosen.add(row["USER_ID"])
    return chosen


def run_concurrently(*calls):
    """Runs the given zero-argument callables at once; returns their results in order and
    re-raises the first failure (an assertion inside a thread fails the test)."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [f.result() for f in futures]


class Faults:
    """The emulators' fault endpoint (/_recoflow/faults): limits, throttling, durations,
    injected failures. `restore()` puts back what the suite started with."""

    def __init__(self, endpoint: str, baseline: dict):
        self.url = endpoint.rstrip("/") + "/_recoflow/faults"
        self.baseline = baseline

    def get(self) -> dict:
        return requests.get(self.url, timeout=10).json()

    def set(self, change: dict) -> dict:
        response = requests.post(self.url, data=json.dumps(change), timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def restore(self):
        requests.delete(self.url, timeout=10).raise_for_status()
        if self.baseline:
            self.set(self.baseline)

    def inject_lambda_crash(
        self, function: str, payload_contains: str | None, after_seconds: float, count: int = 1
    ) -> list[dict]:
        """Arms one Lambda crash rule (lambda.crash_next, localstack/extension/EMULATORS.md),
        replacing any armed before: the next `count` invocations of `function` (a name or fnmatch
        glob, e.g. "*DeliverFunction*") whose event text contains `payload_contains` (None: any
        event) have their process killed `after_seconds` into the work and end in
        Runtime.ExitError. Returns the armed rules."""
        rule = {"function": function, "after_seconds": after_seconds, "count": count}
        if payload_contains is not None:
            rule["payload_contains"] = payload_contains
        return self.set({"lambda": {"crash_next": [rule]}})["lambda"]["crash_next"]

    def lambda_crashes_left(self) -> list[dict]:
        """The crash rules still armed, each with the crashes it has left (empty once all injected)."""
        return self.get()["lambda"]["crash_next"]

    def clear_lambda_crashes(self) -> None:
        """Disarms every crash rule (restore() does too)."""
        self.set({"lambda": {"crash_next": []}})


class QuotaLimits:
    """recoflow's own quota limits: the SSM parameter of output QuotaLimitsParameter."""

    # The runner caches the parameter this long on the local stack (QuotaLimitsCacheSeconds=1).
    CACHE_SECONDS = 1.0

    def __init__(self, ssm, name: str):
        self.ssm = ssm
        self.name = name
        self.original = self.get()

    def get(self) -> dict:
        return json.loads(self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"])

    def set(self, change: dict):
        limits = {**self.get(), **change}
        self.ssm.put_parameter(Name=self.name, Value=json.dumps(limits), Type="String", Overwrite=True)
        time.sleep(self.CACHE_SECONDS + 0.5)

    def restore(self):
        if self.get() != self.original:
            self.ssm.put_parameter(Name=self.name, Value=json.dumps(self.original), Type="String", Overwrite=True)
            time.sleep(self.CACHE_SECONDS + 0.5)


class Recoflow:
    """The deployed stack seen from outside: submitting forms, reading job records, the
    quota table, the executions and what SageMaker and Personalize hold."""

    def __init__(self, aws, stack: dict, api):
        self.aws = aws
        self.stack = stack
        self.api = api
        self._lock = threading.Lock()

    # ---- submitting ----
    def submit(self, form: dict, key: str | None = None) -> str:
        """POST /jobs; the new job's id."""
        response = self.api.post_job(form, key=key)
        assert response.status_code == 202, response.text
        return response.json()["job_id"]

    def drop_form(self, form: dict, name: str | None = None) -> str:
        """Puts a form under submissions/ in the forms bucket; its key."""
        key = f"submissions/{name or unique('e2e')}.json"
        self.aws("s3").put_object(Bucket=self.stack["FormsBucket"], Key=key, Body=json.dumps(form).encode())
        return key

    def job_id_for_key(self, key: str, timeout: float = 60) -> str:
        def probe():
            pages = self.aws("dynamodb").get_paginator("scan").paginate(
                TableName=self.stack["JobsTable"],
                ConsistentRead=True,
                FilterExpression="#src.#key = :key",
                ExpressionAttributeNames={"#src": "source", "#key": "key", "#id": "job_id"},
                ExpressionAttributeValues={":key": {"S": key}},
                ProjectionExpression="#id",
            )
            ids = [item["job_id"]["S"] for page in pages for item in page["Items"]]
            assert len(ids) <= 1, f"one form made {len(ids)} jobs: {ids}"
            return ids[0] if ids else None

        return wait_for(f"the job of {key}", probe, timeout)

    def s3_event(self, key: str) -> dict:
        """The S3 notification of the form at `key`, as S3 sends it (to deliver it again)."""
        head = self.aws("s3").head_object(Bucket=self.stack["FormsBucket"], Key=key)
        bucket = self.stack["FormsBucket"]
        return {
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
                        "bucket": {"name": bucket, "ownerIdentity": {"principalId": "e2e"}, "arn": f"arn:aws:s3:::{bucket}"},
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

    def invoke(self, function_name: str, payload: dict):
        """Invokes a function directly; (payload, error type or None)."""
        response = self.aws("lambda").invoke(FunctionName=function_name, Payload=json.dumps(payload))
        body = json.loads(response["Payload"].read() or b"null")
        return body, (body.get("errorType") if response.get("FunctionError") else None)

    # ---- job records and executions ----
    def job(self, job_id: str) -> dict:
        """GET /jobs/{id}. A GET is safe to repeat: a connection the busy gateway dropped is
        tried again rather than failing a poll."""
        for attempt in range(3):
            try:
                response = self.api.get_job(job_id)
                break
            except requests.ConnectionError:
                if attempt == 2:
                    raise
                time.sleep(0.5)
        assert response.status_code == 200, response.text
        return response.json()

    def execution_arn(self, job_id: str) -> str:
        return self.stack["StateMachineArn"].replace(":stateMachine:", ":execution:") + ":" + job_id

    def execution(self, job_id: str) -> dict:
        return self.aws("stepfunctions").describe_execution(executionArn=self.execution_arn(job_id))

    def execution_status(self, job_id: str) -> str | None:
        try:
            return self.execution(job_id)["status"]
        except self.aws("stepfunctions").exceptions.ExecutionDoesNotExist:
            return None

    def executions_named(self, name: str) -> list:
        pages = self.aws("stepfunctions").get_paginator("list_executions").paginate(stateMachineArn=self.stack["StateMachineArn"])
        return [e for page in pages for e in page["executions"] if e["name"] == name]

    def history(self, job_id: str) -> list:
        pages = self.aws("stepfunctions").get_paginator("get_execution_history").paginate(executionArn=self.execution_arn(job_id))
        return [e for page in pages for e in page["events"]]

    def states_entered(self, job_id: str) -> list:
        """Names of the states the execution entered, in order (repeats kept)."""
        return [e["stateEnteredEventDetails"]["name"] for e in self.history(job_id) if "stateEnteredEventDetails" in e]

    def task_errors(self, job_id: str) -> list:
        """Error names of the execution's failed Lambda calls (retried or not)."""
        return [e["lambdaFunctionFailedEventDetails"].get("error") for e in self.history(job_id) if e["type"] == "LambdaFunctionFailed"]

    def wait_ended(self, job_id: str, timeout: float = 120) -> tuple[dict, str]:
        """Waits until the job's execution has ended; (job record, execution status)."""

        def probe():
            status = self.execution_status(job_id)
            return status if status and status != "RUNNING" else None

        status = wait_for(f"the execution of {job_id} to end", probe, timeout, interval=1.0)
        # The record is written before the execution's last step ends; read it after.
        return self.job(job_id), status

    def wait_job(self, job_id: str, what: str, predicate, timeout: float = 60) -> dict:
        """Polls GET /jobs/{id} until predicate(job); fails at once if the job ends otherwise."""

        def probe():
            job = self.job(job_id)
            if predicate(job):
                return job
            if job["status"] in FINAL_STATUSES:
                pytest.fail(f"job {job_id} ended {job['status']} before {what}: {job.get('failure')}, history {job['history']}")
            return None

        return wait_for(f"job {job_id}: {what}", probe, timeout, interval=0.3)

    def wait_notified(self, job_id: str, timeout: float = 60) -> dict:
        """The job record once notify has settled what Slack was told (after the job ended)."""
        def probe():
            job = self.job(job_id)
            return job if job.get("notification") else None

        return wait_for(f"job {job_id}: its notification", probe, timeout, interval=0.5)

    # ---- quota ----
    def quota_pools(self) -> dict:
        """Every pool of the quota table: pool key -> {"used", "holders"}."""
        pages = self.aws("dynamodb").get_paginator("scan").paginate(TableName=self.stack["QuotaTable"], ConsistentRead=True)
        pools = {}
        for page in pages:
            for item in page["Items"]:
                pool = {k: _deserialize(v) for k, v in item.items()}
                pools[pool["pool"]] = pool
        return pools

    def holders_of(self, job_id: str) -> dict:
        """Slots the job holds: "<pool>/<holder id>" -> holder."""
        return {
            f"{name}/{holder_id}": holder
            for name, pool in self.quota_pools().items()
            for holder_id, holder in pool.get("holders", {}).items()
            if holder.get("job_id") == job_id
        }

    # ---- what the services hold ----
    def training_jobs(self, **filters) -> list:
        """ListTrainingJobs following NextToken to the end (pages may be short or empty)."""
        return self._sagemaker_list("list_training_jobs", "TrainingJobSummaries", filters)

    def processing_jobs(self, **filters) -> list:
        return self._sagemaker_list("list_processing_jobs", "ProcessingJobSummaries", filters)

    def _sagemaker_list(self, operation: str, field: str, filters: dict) -> list:
        client = self.aws("sagemaker")
        items, token = [], None
        while True:
            page = getattr(client, operation)(MaxResults=100, **filters, **({"NextToken": token} if token else {}))
            items += page[field]
            token = page.get("NextToken")
            if not token:
                return items

    def personalize_list(self, operation: str, field: str, **filters) -> list:
        client = self.aws("personalize")
        items, token = [], None
        while True:
            page = getattr(client, operation)(**filters, **({"nextToken": token} if token else {}))
            items += page[field]
            token = page.get("nextToken")
            if not token:
                return items

    def sagemaker_tags(self, arn: str) -> dict:
        client = self.aws("sagemaker")
        tags, token = {}, None
        while True:
            page = client.list_tags(ResourceArn=arn, **({"NextToken": token} if token else {}))
            tags.update({t["Key"]: t["Value"] for t in page["Tags"]})
            token = page.get("NextToken")
            if not token:
                return tags

    def personalize_tags(self, arn: str) -> dict:
        tags = self.aws("personalize").list_tags_for_resource(resourceArn=arn)["tags"]
        return {t["tagKey"]: t["tagValue"] for t in tags}

    # ---- results ----
    def score_lines(self, job_id: str) -> list:
        s3 = self.aws("s3")
        bucket = self.stack["ResultsBucket"]
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"jobs/{job_id}/scores/")
        lines = []
        for obj in listing.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            lines += [json.loads(line) for line in body.splitlines() if line.strip()]
        return lines


def resources_of(job: dict, kind: str | None = None, phase: str | None = None) -> list:
    return [r for r in job["resources"] if (kind is None or r["kind"] == kind) and (phase is None or r["phase"] == phase)]


def expected_tags(job: dict) -> dict:
    form = job["form"]
    return {
        "recoflow:job-id": job["job_id"],
        "recoflow:result-set": form["result_set"],
        "recoflow:submitted-by": form["submitted_by"],
    }


def container_form_for(data_uris: dict, instance_type: str = "ml.m5.large", **overrides) -> dict:
    """A valid container form (reference recsys image) with a unique job name and result set."""
    form = {
        "schema_version": 1,
        "job_name": unique("e2e-container"),
        "submitted_by": "e2e-container@example.com",
        "result_set": unique("e2e-c"),
        "backend": "container",
        "dataset": {
            "interactions": data_uris["interactions.csv"],
            "users": data_uris["users.csv"],
            "items": data_uris["items.csv"],
        },
        "segment": {"gender": ["F"], "age": {"min": 20, "max": 39}},
        "num_results": 10,
        "container": {
            "training_image": RECSYS_IMAGE,
            "scoring_image": RECSYS_IMAGE,
            "instance_type": instance_type,
            "instance_count": 1,
            "hyperparameters": {"max_neighbours": "50", "min_count": "2"},
            "max_runtime_seconds": 600,
        },
    }
    form.update(overrides)
    return form


def personalize_form_for(data_uris: dict, **overrides) -> dict:
    """A valid personalize form with a unique job name and result set."""
    form = {
        "schema_version": 1,
        "job_name": unique("e2e-personalize"),
        "submitted_by": "e2e-personalize@example.com",
        "result_set": unique("e2e-p"),
        "backend": "personalize",
        "dataset": {
            "interactions": data_uris["interactions.csv"],
            "users": data_uris["users.csv"],
            "items": data_uris["items.csv"],
        },
        "segment": {"gender": ["F"], "region": ["tokyo", "osaka"]},
        "num_results": 15,
        "personalize": {"recipe": "aws-user-personalization", "perform_hpo": False, "training_mode": "FULL"},
    }
    form.update(overrides)
    return form


class SlackStandin:
    """The Slack stand-in's control API (scripts/slack_standin.py)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def messages(self) -> list:
        """Every post received, oldest first: {"path", "at", "status", "body"}."""
        return requests.get(f"{self.url}/_messages", timeout=10).json()

    def about(self, *needles: str) -> list:
        """Posts whose body mentions every one of `needles` (job ids, say)."""
        return [m for m in self.messages() if all(n in json.dumps(m.get("body")) for n in needles)]

    def answer(self, answers: list):
        """Answers for the next posts, in order; then 200 ok again."""
        requests.post(f"{self.url}/_answers", data=json.dumps(answers), timeout=10).raise_for_status()

    def reset_answers(self):
        requests.delete(f"{self.url}/_answers", timeout=10).raise_for_status()
