"""Fixtures shared by every pytest suite that talks to the local stack.

The stack is started by `make test` (localstack/host/start.sh) before pytest runs;
these fixtures only connect to it. Nothing here mocks an AWS service.
"""

import os

import boto3
import pytest
from botocore.config import Config

ENDPOINT = os.environ.get("LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def endpoint() -> str:
    return ENDPOINT


@pytest.fixture(scope="session")
def aws():
    """Factory for boto3 clients pointed at the local stack: aws("s3")."""
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    )
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, s3={"addressing_style": "path"})
    clients = {}

    def client(service: str):
        if service not in clients:
            clients[service] = session.client(service, endpoint_url=ENDPOINT, config=config)
        return clients[service]

    return client
