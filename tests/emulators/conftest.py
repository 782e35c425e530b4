"""Fixtures for the Personalize/SageMaker emulator tests (localstack/extension/EMULATORS.md)."""

import json
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config

from emu_helpers import fresh_account
from sagemaker_requests import TEST_IMAGES


def _faults_call(endpoint: str, method: str, body=None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{endpoint}/_recoflow/faults", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


@pytest.fixture(scope="session")
def faults_api(endpoint):
    """faults_api("GET") / ("POST", {...}) / ("DELETE") against /_recoflow/faults."""
    return lambda method, body=None: _faults_call(endpoint, method, body)


@pytest.fixture(scope="module", autouse=True)
def fast_jobs(faults_api):
    """Short artificial job durations for the whole module; start-up configuration afterwards."""
    faults_api("DELETE")
    faults_api("POST", {"durations": {"personalize": 0.6, "sagemaker": 0.3}, "stop_grace_seconds": 0.5,
                        "stopping_seconds": 0.2})
    yield
    faults_api("DELETE")


@pytest.fixture
def faults(faults_api):
    """Change the fault configuration for one test; restored to what it was afterwards."""
    before = faults_api("GET")
    yield lambda update: faults_api("POST", update)
    faults_api("DELETE")
    faults_api("POST", before)


@pytest.fixture
def images(faults):
    """The SageMaker test images (sagemaker_requests.TEST_IMAGES) mapped to their commands for one test;
    returns ``faults``, for more changes."""
    faults({"sagemaker_images": TEST_IMAGES})
    return faults


@pytest.fixture
def bucket(aws):
    name = f"emu-{uuid.uuid4().hex[:12]}"
    aws("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def client_for(endpoint):
    """client_for(service, account="000000000000", checked=True) -> a boto3 client of that account
    (LocalStack takes a 12-digit access key as the account id). ``checked=False`` turns off boto3's
    own parameter checks, to send requests that the service itself must refuse."""
    clients = {}

    def client(service: str, account: str = "000000000000", checked: bool = True):
        key = (service, account, checked)
        if key not in clients:
            config = Config(retries={"max_attempts": 2, "mode": "standard"}, s3={"addressing_style": "path"},
                            parameter_validation=checked)
            clients[key] = boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", config=config,
                                        aws_access_key_id=account, aws_secret_access_key="test")
        return clients[key]

    return client


@pytest.fixture
def own_account(client_for):
    """own_account(service, checked=True) -> a client of an account no other test uses, so lists
    and quotas hold exactly what this test made."""
    account = fresh_account()
    return lambda service, checked=True: client_for(service, account, checked)
