"""Runs the LocalStack extensions (entry-point group ``localstack.extensions``) on community
LocalStack. In 4.9.2 only LocalStack Pro loads that group (its ``ExtensionsPlugin``, started
from Pro's own platform hooks); community LocalStack defines ``Extension`` but never calls one.
This ``on_infra_start`` hook (entry point in pyproject.toml) drives each extension's life cycle
in the order ``localstack.extensions.api.Extension`` documents, each step for every extension
before the next step:

    on_extension_load, on_platform_start, update_gateway_routes, update_request_handlers,
    update_response_handlers, update_exception_handlers, update_finalizers  (now, before the
        gateway serves its first request)
    on_platform_ready      (once LocalStack has printed its Ready marker)
    on_platform_shutdown   (with LocalStack's shutdown handlers)

Where Pro is active it loads the extensions itself, and this hook does not load.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Iterable

from localstack.extensions.api import Extension
from localstack.runtime import hooks

LOG = logging.getLogger(__name__)


def _pro_loads_extensions() -> bool:
    try:
        from localstack.pro.core import config as pro_config
    except ImportError:
        return False
    return bool(getattr(pro_config, "ACTIVATE_PRO", False))


@hooks.on_infra_start(should_load=lambda: not _pro_loads_extensions())
def run_localstack_extensions() -> None:
    from plux import PluginManager

    run_extensions(PluginManager(Extension.namespace).load_all())


def run_extensions(extensions: Iterable[Extension]) -> None:
    from localstack.aws import handlers
    from localstack.runtime import events
    from localstack.runtime.shutdown import SHUTDOWN_HANDLERS
    from localstack.services.edge import ROUTER

    extensions = list(extensions)
    LOG.info("LocalStack extensions: %s", ", ".join(e.name for e in extensions) or "none")
    steps: list[tuple[str, Callable[[Extension], object]]] = [
        ("on_extension_load", lambda e: e.on_extension_load()),
        ("on_platform_start", lambda e: e.on_platform_start()),
        ("update_gateway_routes", lambda e: e.update_gateway_routes(ROUTER)),
        ("update_request_handlers", lambda e: e.update_request_handlers(handlers.serve_custom_service_request_handlers)),
        ("update_response_handlers", lambda e: e.update_response_handlers(handlers.run_custom_response_handlers)),
        ("update_exception_handlers", lambda e: e.update_exception_handlers(handlers.serve_custom_exception_handlers)),
        ("update_finalizers", lambda e: e.update_finalizers(handlers.run_custom_finalizers)),
    ]
    for step, call in steps:
        _each(extensions, step, call)

    def when_ready() -> None:
        events.infra_ready.wait()
        _each(extensions, "on_platform_ready", lambda e: e.on_platform_ready())

    threading.Thread(target=when_ready, name="extensions-on-platform-ready", daemon=True).start()
    SHUTDOWN_HANDLERS.register(lambda: _each(extensions, "on_platform_shutdown", lambda e: e.on_platform_shutdown()))


def _each(extensions: list[Extension], step: str, call: Callable[[Extension], object]) -> None:
    """One step for every extension; an extension that fails a step is logged, the others go on
    (as LocalStack Pro does)."""
    for extension in extensions:
        try:
            call(extension)
        except Exception:
            LOG.exception("LocalStack extension %s failed in %s", extension.name, step)
