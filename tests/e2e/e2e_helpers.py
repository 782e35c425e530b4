"""Helpers for the end-to-end tests (a module of its own: several suites have a conftest)."""

import time

import pytest


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
