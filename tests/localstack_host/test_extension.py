"""The recoflow LocalStack extension (localstack/extension/recoflow_localstack/extension.py) and
the hook that runs LocalStack extensions on community LocalStack (extension_loader.py).

The first test needs the running stack; the loader is driven in this process with a stand-in
extension, since community LocalStack 4.9.2 itself never calls an extension.
"""

import os
import threading
import uuid
from pathlib import Path

from localstack.extensions.api import Extension

REPO = Path(__file__).resolve().parents[2]
SHARED_S3_STORAGE = Path("/tmp/localstack-s3-storage")  # LocalStack's default, shared by every instance


def test_s3_object_data_stays_in_this_instances_directory(aws):
    # on_platform_start points S3's object store into the instance's own tmp dir: another
    # LocalStack's shutdown cannot delete these objects
    host_dir = Path(os.environ.get("LOCALSTACK_HOST_DIR") or REPO / ".localstack-host").resolve()
    bucket = f"ext-{uuid.uuid4().hex[:12]}"
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"kept apart")
    try:
        assert (host_dir / "filesystem/tmp/localstack/s3-storage" / bucket).is_dir()
        assert not (SHARED_S3_STORAGE / bucket).exists()
    finally:
        s3.delete_object(Bucket=bucket, Key="k")
        s3.delete_bucket(Bucket=bucket)


class RecordingExtension(Extension):
    name = "recording"

    def __init__(self, calls: list):
        super().__init__()
        self.calls = calls
        self.ready = threading.Event()

    def on_extension_load(self):
        self.calls.append("on_extension_load")

    def on_platform_start(self):
        self.calls.append("on_platform_start")

    def update_gateway_routes(self, router):
        from localstack.services.edge import ROUTER

        self.calls.append(("update_gateway_routes", router is ROUTER))

    def update_request_handlers(self, handlers):
        self.calls.append("update_request_handlers")

    def update_response_handlers(self, handlers):
        self.calls.append("update_response_handlers")

    def on_platform_ready(self):
        self.calls.append("on_platform_ready")
        self.ready.set()

    def on_platform_shutdown(self):
        self.calls.append("on_platform_shutdown")


class FailingExtension(Extension):
    name = "failing"

    def on_platform_start(self):
        raise RuntimeError("broken on purpose")


def test_loader_runs_each_hook_once_in_the_documented_order():
    from localstack.runtime import events
    from localstack.runtime.shutdown import SHUTDOWN_HANDLERS

    from recoflow_localstack.extension_loader import run_extensions

    calls: list = []
    recording = RecordingExtension(calls)
    # an extension that fails a step is logged; the others still get every step
    run_extensions([FailingExtension(), recording])
    assert calls == [
        "on_extension_load", "on_platform_start", ("update_gateway_routes", True),
        "update_request_handlers", "update_response_handlers",
    ]
    events.infra_ready.set()  # what LocalStack does once it has printed "Ready."
    assert recording.ready.wait(5), "on_platform_ready was not called"
    SHUTDOWN_HANDLERS.run()
    assert calls[-2:] == ["on_platform_ready", "on_platform_shutdown"]
    assert calls.count("on_platform_start") == 1
