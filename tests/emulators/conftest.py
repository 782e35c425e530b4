"""Fixtures for the Personalize/SageMaker emulator tests (localstack/extension/EMULATORS.md)."""

import json
import time
import urllib.request
import uuid

import pytest


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
    faults_api("POST", {"durations": {"personalize": 0.6, "sagemaker": 0.3}, "stop_grace_seconds": 0.5})
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
def bucket(aws):
    name = f"emu-{uuid.uuid4().hex[:12]}"
    aws("s3").create_bucket(Bucket=name)
    return name
