"""Keeps each host-mode LocalStack's files to itself, so several can run on one machine (a demo
stack and `make test`'s, or one per engineer) without one's shutdown deleting the other's data.

LocalStack puts its temporary and state directories under FILESYSTEM_ROOT when it knows it runs
on the host (start.sh sets OVERRIDE_IN_DOCKER=0 for that: these machines may carry a /.dockerenv
that makes LocalStack believe it runs in its own image). S3 object data, though, goes to a fixed
``/tmp/localstack-s3-storage`` shared by every instance, and is removed bucket by bucket on
shutdown; this hook points it into the instance's own temporary directory instead."""

import logging
import os

from localstack import config
from localstack.runtime import hooks

LOG = logging.getLogger(__name__)


@hooks.on_infra_start()
def keep_s3_objects_per_instance():
    """Entry point (localstack.hooks.on_infra_start); runs before the S3 provider is created."""
    from localstack.services.s3 import provider

    storage = os.path.join(config.dirs.tmp, "s3-storage")
    os.makedirs(storage, exist_ok=True)
    provider.DEFAULT_S3_TMP_DIR = storage
    LOG.debug("S3 object data in %s", storage)
