"""recoflow's LocalStack extension: what it adds to the platform itself (the fault endpoint, the
scheduler's firing engine and controls, S3 data and Lambda code per instance). The emulated
services are providers (``providers.py``) and the Lambda executor is a runtime-executor plugin
(``lambda_host/executor.py``): plugin types of their own, which LocalStack loads when a service
or a function first needs them.

Entry point ``localstack.extensions`` -> ``recoflow``. Community LocalStack 4.9.2 loads that
group through ``extension_loader.py``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from localstack import config
from localstack.extensions.api import Extension, http

from recoflow_localstack import faults

LOG = logging.getLogger(__name__)


class RecoflowExtension(Extension):
    name = "recoflow"

    def on_platform_start(self):
        """Keeps each host-mode LocalStack's S3 object data to itself, so several can run on one
        machine (a demo stack and `make test`'s, or one per engineer) without one's shutdown
        deleting the other's objects. LocalStack puts its temporary and state directories under
        FILESYSTEM_ROOT when it knows it runs on the host (start.sh sets OVERRIDE_IN_DOCKER=0:
        these machines may carry a /.dockerenv), but S3 object data goes to a fixed
        ``/tmp/localstack-s3-storage`` shared by every instance and removed bucket by bucket on
        shutdown. This runs before any request, so before the S3 provider is created.

        Likewise each function version's unpacked code: LocalStack puts it under the machine's
        temp dir (``/tmp/lambda/<bucket>/<version>/code``, ~50 MB a function unoptimised) and
        leaves a running version's copy there when it stops, so every deploy of every instance
        piled up (37 GB seen after a day of test runs). Under the instance's own tmp dir it is
        cleared when the instance next starts, and ``stop.sh`` removes it."""
        from localstack.services.lambda_.invocation import lambda_models
        from localstack.services.s3 import provider

        storage = os.path.join(config.dirs.tmp, "s3-storage")
        os.makedirs(storage, exist_ok=True)
        provider.DEFAULT_S3_TMP_DIR = storage
        LOG.debug("S3 object data in %s", storage)

        code_root = Path(config.dirs.tmp) / "lambda"

        def unzipped_code_location(code: lambda_models.S3Code) -> Path:
            return code_root / code.s3_bucket / code.id / "code"

        lambda_models.S3Code.get_unzipped_code_location = unzipped_code_location

    def update_gateway_routes(self, router: http.Router[http.RouteHandler]):
        """The emulators' fault/quota endpoint and the scheduler's controls, served from
        start-up: the emulated services are loaded only by their first request, and tests
        configure faults before that."""
        from recoflow_localstack.scheduler import control

        router.add(faults.FAULTS_PATH, faults.faults_endpoint, methods=["GET", "POST", "PUT", "DELETE"])
        router.add(control.SCHEDULER_PATH, control.scheduler_state, methods=["GET", "POST", "PUT", "DELETE"])
        router.add(f"{control.SCHEDULER_PATH}/<action>", control.scheduler_action, methods=["GET", "POST", "PUT", "DELETE"])
        LOG.info("recoflow fault endpoint at %s, scheduler controls at %s", faults.FAULTS_PATH, control.SCHEDULER_PATH)

    def on_platform_ready(self):
        """Starts firing EventBridge Scheduler schedules (``scheduler/engine.py``: LocalStack
        stores them but never fires them), and says in LocalStack's log what SageMaker jobs get
        on this machine (their directory at /opt/ml, network isolation: ``sagemaker/sandbox.py``).
        Probing once now, after start-up, also keeps the probe out of the first job's time."""
        from recoflow_localstack.sagemaker import sandbox
        from recoflow_localstack.scheduler.engine import engine

        engine().start()
        LOG.info("recoflow scheduler firing started")
        sandbox.support()

    def on_platform_shutdown(self):
        from recoflow_localstack.scheduler.engine import engine

        engine().stop()
