"""Helpers for the emulator tests."""

import random
import time
import uuid


def wait_for(describe, done, timeout=20.0, interval=0.1):
    """Polls describe() until done(result) is true; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = describe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last: {result}")
        time.sleep(interval)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def fresh_account() -> str:
    """A 12-digit account id no other test uses (LocalStack takes the access key as the account)."""
    return str(random.randint(10**11, 10**12 - 1))
