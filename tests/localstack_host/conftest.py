"""Fixtures for the host-mode LocalStack tests. The stack must already run
(localstack/host/start.sh); nothing here starts it."""

import pytest

from hostfn import ROLE_ARN, bootstrap_zip, unique


@pytest.fixture
def make_function(aws):
    """make_function(timeout=3, env=None) -> function name; deleted after the test."""
    lam = aws("lambda")
    created = []

    def make(timeout: int = 10, env: dict | None = None, prefix: str = "hostfn") -> str:
        name = unique(prefix)
        lam.create_function(
            FunctionName=name,
            Runtime="provided.al2023",
            Handler="bootstrap",
            Role=ROLE_ARN,
            Code={"ZipFile": bootstrap_zip()},
            Timeout=timeout,
            MemorySize=256,
            Environment={"Variables": env or {}},
        )
        created.append(name)
        lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        return name

    yield make
    for name in created:
        try:
            lam.delete_function(FunctionName=name)
        except Exception:
            pass

