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

    def recommendations(self, result_set: str, user_id: str, **query) -> requests.Response:
        """GET /recommendations/{result_set}/{user_id}; the path parts are sent as given
        (percent-encode them yourself to test odd ones)."""
        return self.http.get(f"{self.base}/recommendations/{result_set}/{user_id}", params=query, timeout=30)


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack["ApiUrl"])


# ---------- running jobs (issue 6): faults, quota limits, forms for both backends ----------

from e2e_helpers import (  # noqa: E402
    Faults,
    QuotaLimits,
    Recoflow,
    SlackStandin,
    container_form_for,
    personalize_form_for,
)

# Emulated job durations for the whole suite: short, yet long enough for jobs to overlap.
SUITE_FAULTS = {"durations": {"personalize": 1.0, "sagemaker": 1.0}}


@pytest.fixture(scope="session")
def recoflow(aws, stack, api) -> Recoflow:
    return Recoflow(aws, stack, api)


@pytest.fixture(scope="session")
def suite_faults(endpoint):
    faults = Faults(endpoint, SUITE_FAULTS)
    faults.restore()
    yield faults
    faults.baseline = {}
    faults.restore()


@pytest.fixture
def faults(suite_faults):
    """The fault endpoint; whatever a test changes is undone after it."""
    yield suite_faults
    suite_faults.restore()


@pytest.fixture
def quota_limits(aws, stack):
    """recoflow's quota limits (SSM parameter); put back as they were after the test."""
    limits = QuotaLimits(aws("ssm"), stack["QuotaLimitsParameter"])
    yield limits
    limits.restore()


@pytest.fixture
def container_form(data_uris, suite_faults):
    """A valid container form (reference recsys image) with a unique job name and result set."""
    return lambda instance_type="ml.m5.large", **overrides: container_form_for(data_uris, instance_type, **overrides)


@pytest.fixture
def personalize_form(data_uris, suite_faults):
    """A valid personalize form with a unique job name and result set (so nothing is shared
    with another test unless it asks for the same result_set)."""
    return lambda **overrides: personalize_form_for(data_uris, **overrides)


@pytest.fixture(scope="session")
def slack(stack) -> SlackStandin:
    """The suite's Slack stand-in (scripts/slack_standin.py), which the stack's webhook points at."""
    url = os.environ.get("SLACK_STANDIN")
    if not url:
        pytest.fail("SLACK_STANDIN is not set: run the suite with make e2e (it starts the stand-in)")
    return SlackStandin(url)
