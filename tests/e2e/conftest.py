"""Fixtures for the end-to-end suite: the stack deployed by scripts/deploy-local.sh on the
running local stack. Nothing is mocked; every call goes to LocalStack."""

import json
import os
import uuid
from pathlib import Path

import pytest
import requests
from requests_aws4auth import AWS4Auth

REPO = Path(__file__).resolve().parents[2]
OUTPUTS = Path(os.environ.get("STACK_OUTPUTS", REPO / "build" / "stack-outputs.json"))


@pytest.fixture(scope="session")
def stack() -> dict:
    if not OUTPUTS.exists():
        pytest.fail(f"{OUTPUTS} is missing: deploy first (scripts/deploy-local.sh or make test)")
    return json.loads(OUTPUTS.read_text())


@pytest.fixture(scope="session")
def data_uris(aws, stack) -> dict:
    """The example data set uploaded once to the data bucket; S3 URIs by file name."""
    prefix = f"e2e/{uuid.uuid4().hex[:8]}"
    uris = {}
    for name in ("interactions.csv", "users.csv", "items.csv"):
        aws("s3").upload_file(str(REPO / "examples" / "data" / name), stack["DataBucket"], f"{prefix}/{name}")
        uris[name] = f"s3://{stack['DataBucket']}/{prefix}/{name}"
    return uris


@pytest.fixture
def make_form(data_uris):
    """A valid personalize form with a unique job name; overrides merged on top."""

    def build(**overrides) -> dict:
        form = {
            "schema_version": 1,
            "job_name": f"e2e-{uuid.uuid4().hex[:10]}",
            "submitted_by": "e2e@example.com",
            "result_set": "e2e",
            "backend": "personalize",
            "dataset": {
                "interactions": data_uris["interactions.csv"],
                "users": data_uris["users.csv"],
            },
            "segment": {"gender": ["F"], "age": {"min": 20, "max": 39}},
            "personalize": {},
        }
        form.update(overrides)
        return form

    return build


class Api:
    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.http = requests.Session()
        # The API requires IAM (SigV4) auth, as it does on AWS.
        self.http.auth = AWS4Auth("test", "test", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), "execute-api")

    def post_job(self, body, key=None) -> requests.Response:
        headers = {"content-type": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.http.post(f"{self.base}/jobs", data=data, headers=headers, timeout=30)

    def get_job(self, job_id: str) -> requests.Response:
        return self.http.get(f"{self.base}/jobs/{job_id}", timeout=30)


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack["ApiUrl"])
