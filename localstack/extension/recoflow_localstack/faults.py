"""Quotas, throttling, job durations and injected failures for the Personalize and SageMaker
emulators, throttling / unprocessed batch items for DynamoDB (``dynamodb/fault_injection.py``), and
crashes of Lambda function processes (``lambda_host/executor.py``).

One process-wide configuration, read from environment variables when first used and changeable at run
time through ``/_recoflow/faults`` on LocalStack's gateway:

    GET    /_recoflow/faults   -> the current configuration (JSON)
    POST   /_recoflow/faults   -> deep-merge the JSON body into it, returns the result
    PUT    /_recoflow/faults   -> same as POST
    DELETE /_recoflow/faults   -> back to the start-up configuration (environment variables)

Start-up configuration: ``RECOFLOW_FAULTS`` (a JSON document of the same shape, merged over the
defaults), plus the shortcuts ``RECOFLOW_JOB_DURATION_SECONDS`` (all job durations) and
``RECOFLOW_PERSONALIZE_JOB_SECONDS`` / ``RECOFLOW_SAGEMAKER_JOB_SECONDS``.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import logging
import math
import os
import random
import threading
from typing import Any, Callable

LOG = logging.getLogger(__name__)

FAULTS_PATH = "/_recoflow/faults"

# services with jobs (quotas, durations, injected job failures)
SERVICES = ("personalize", "sagemaker")
# services whose requests can be throttled
THROTTLED_SERVICES = SERVICES + ("dynamodb",)
# what a throttled DynamoDB request answers: on AWS provisioned tables answer the first,
# on-demand tables the second
DYNAMODB_THROTTLE_ERRORS = ("ProvisionedThroughputExceededException", "ThrottlingException")

# Real default quotas, as published in the service quota pages (account level, per region).
# SageMaker's per-instance-type quotas vary by account and instance type; the emulator uses one
# value for every instance type unless a type is listed explicitly.
DEFAULTS: dict[str, Any] = {
    "limits": {
        "personalize": {
            # "Maximum number of concurrent batch inference jobs"
            "batch_inference_jobs": 5,
            # "Maximum number of active solution versions in progress" (CREATE PENDING/IN_PROGRESS)
            "solution_versions": 20,
            # "Maximum number of concurrent dataset import jobs"
            "dataset_import_jobs": 5,
            # batch segment jobs running at once (a placeholder: the quota page gives no figure)
            "batch_segment_jobs": 5,
        },
        "sagemaker": {
            # instances per instance type, summed over running jobs; "*" applies to unlisted types
            "training": {"*": 2},
            "processing": {"*": 4},
        },
    },
    # ThrottlingException for a share of requests: {"<service>": {"rate": 0.0..1.0,
    #   "operations": ["CreateTrainingJob", ...] (absent or empty = every operation)}}
    # DynamoDB answers "error" instead (one of DYNAMODB_THROTTLE_ERRORS), before anything is written
    "throttle": {
        "personalize": {"rate": 0.0, "operations": []},
        "sagemaker": {"rate": 0.0, "operations": []},
        "dynamodb": {"rate": 0.0, "operations": [], "error": "ProvisionedThroughputExceededException"},
    },
    # DynamoDB BatchWriteItem / BatchGetItem: each put/delete request (or key) of a listed table is
    # left unprocessed with this probability and handed back in UnprocessedItems / UnprocessedKeys
    # ("tables" empty = every table)
    "dynamodb": {"unprocessed_rate": 0.0, "tables": []},
    # the next N jobs of a service end in failure: {"<service>": N}; for the scheduler, the next N
    # target invocations fail with a retryable error (scheduler/delivery.py)
    "fail_next": {"personalize": 0, "sagemaker": 0, "scheduler": 0},
    # artificial job duration in seconds (Personalize: whole job; SageMaker: added on top of the
    # real container run, spread over the Starting/Downloading/Uploading phases)
    "durations": {"personalize": 3.0, "sagemaker": 1.0},
    # Personalize solution versions of a solution with performHPO take this many times longer
    "hpo_duration_factor": 5.0,
    # SageMaker: seconds between SIGTERM and SIGKILL when a job is stopped or times out (AWS: 120)
    "stop_grace_seconds": 2.0,
    # how long a stopped job stays Stopping (SageMaker) / CREATE STOPPING (Personalize solution
    # version) before it is Stopped: on AWS a stop takes a while, and code that assumes an
    # immediate stop must be caught locally too
    "stopping_seconds": 3.0,
    # SageMaker: extra image -> command mappings {"<image uri or glob>": ["cmd", ...]}, consulted
    # before RECOFLOW_SAGEMAKER_IMAGES (see sagemaker/runner.py)
    "sagemaker_images": {},
    # EventBridge Scheduler (scheduler/): its clock runs time_scale times faster than real time;
    # auto_fire false leaves firing to POST /_recoflow/scheduler/fire; retries of a failed target
    # call wait retry_base_seconds (scheduler clock), doubling per attempt
    "scheduler": {"time_scale": 1.0, "auto_fire": True, "retry_base_seconds": 1.0},
    # Lambda (lambda_host/executor.py): each rule kills the process of a matching invocation
    # after_seconds into it, count times; count goes down as crashes are injected and a rule is
    # removed when used up, so a GET shows what remains. See LAMBDA_CRASH_RULE_FIELDS.
    "lambda": {"crash_next": []},
}

# the fields of a lambda.crash_next rule; "function" and "after_seconds" are required
LAMBDA_CRASH_RULE_FIELDS = ("function", "payload_contains", "after_seconds", "count")
# no invocation lasts longer (Lambda's largest Timeout): a later crash could never happen
MAX_CRASH_AFTER_SECONDS = 900.0

# the scheduler clock runs at most this many times faster (a day in under a second)
MAX_TIME_SCALE = 100_000.0

_lock = threading.RLock()
_config: dict[str, Any] | None = None
# called with (new configuration, reset?) after every accepted change
_listeners: list[Callable[[dict[str, Any], bool], None]] = []


def on_change(listener: Callable[[dict[str, Any], bool], None]) -> None:
    """Registers ``listener(config, reset)``, called after each accepted POST/PUT (reset False) and
    DELETE (reset True), outside the lock; the scheduler clock follows ``scheduler.time_scale``."""
    with _lock:
        _listeners.append(listener)


def _notify(config: dict[str, Any], reset: bool) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(copy.deepcopy(config), reset)
        except Exception:
            LOG.exception("fault configuration listener %r failed", listener)


def _deep_merge(base: dict, update: dict) -> dict:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def startup_config(env: dict[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if env is None else env
    config = copy.deepcopy(DEFAULTS)
    raw = env.get("RECOFLOW_FAULTS")
    if raw:
        try:
            update = json.loads(raw)
            if not isinstance(update, dict):
                raise ValueError("not a JSON object")
            candidate = _deep_merge(copy.deepcopy(config), update)
            # the same checks as a POST: a bad start-up document must not half-apply
            _validate(candidate)
            config = _fill_defaults(candidate)
        except (ValueError, TypeError) as e:
            LOG.error("RECOFLOW_FAULTS is not a valid fault document, ignored: %s", e)
    if env.get("RECOFLOW_JOB_DURATION_SECONDS"):
        for service in SERVICES:
            config["durations"][service] = float(env["RECOFLOW_JOB_DURATION_SECONDS"])
    for service in SERVICES:
        key = f"RECOFLOW_{service.upper()}_JOB_SECONDS"
        if env.get(key):
            config["durations"][service] = float(env[key])
    return config


def _current() -> dict[str, Any]:
    global _config
    with _lock:
        if _config is None:
            _config = startup_config()
        return _config


def get_config() -> dict[str, Any]:
    with _lock:
        return copy.deepcopy(_current())


def update_config(update: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(update, dict):
        raise ValueError("the body must be a JSON object")
    with _lock:
        candidate = _deep_merge(copy.deepcopy(_current()), update)
        _validate(candidate)
        global _config
        _config = _fill_defaults(candidate)
        result = copy.deepcopy(_config)
    _notify(result, reset=False)
    return result


def reset_config() -> dict[str, Any]:
    global _config
    with _lock:
        _config = startup_config()
        result = copy.deepcopy(_config)
    _notify(result, reset=True)
    return result


def _is_share(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0.0 <= value <= 1.0


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _operation_names(service: str) -> set[str]:
    from localstack.aws.spec import load_service

    return set(load_service(service).operation_names)


def _validate_throttle(throttle: Any) -> None:
    if not isinstance(throttle, dict):
        raise ValueError("throttle must be an object")
    for service, rule in throttle.items():
        if service not in THROTTLED_SERVICES:
            raise ValueError(f"throttle.{service}: unknown service (known: {', '.join(THROTTLED_SERVICES)})")
        allowed = {"rate", "operations", "error"} if service == "dynamodb" else {"rate", "operations"}
        if not isinstance(rule, dict) or not set(rule) <= allowed:
            raise ValueError(f"throttle.{service} must be an object with only {', '.join(sorted(allowed))}")
        if not _is_share(rule.get("rate", 0.0)):
            raise ValueError(f"throttle.{service}.rate must be a number between 0 and 1")
        operations = rule.get("operations") or []
        if not _is_string_list(operations):
            raise ValueError(f"throttle.{service}.operations must be a list of operation names")
        # a misspelt name would silently throttle nothing
        unknown = sorted(set(operations) - _operation_names(service))
        if unknown:
            raise ValueError(f"throttle.{service}.operations: {', '.join(unknown)} not an operation of {service}")
        if "error" in rule and rule["error"] not in DYNAMODB_THROTTLE_ERRORS:
            raise ValueError(f"throttle.dynamodb.error must be one of {', '.join(DYNAMODB_THROTTLE_ERRORS)}")


def _validate_dynamodb(section: Any) -> None:
    allowed = {"unprocessed_rate", "tables"}
    if not isinstance(section, dict) or not set(section) <= allowed:
        raise ValueError("dynamodb must be an object with only unprocessed_rate, tables")
    if not _is_share(section.get("unprocessed_rate", 0.0)):
        raise ValueError("dynamodb.unprocessed_rate must be a number between 0 and 1")
    if not _is_string_list(section.get("tables", [])):
        raise ValueError("dynamodb.tables must be a list of table names")


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


def _validate_scheduler(section: Any, fail_next: Any) -> None:
    allowed = {"time_scale", "auto_fire", "retry_base_seconds"}
    if not isinstance(section, dict) or not set(section) <= allowed:
        raise ValueError(f"scheduler must be an object with only {', '.join(sorted(allowed))}")
    scale = section.get("time_scale", 1.0)
    if not _is_number(scale) or not 0 < scale <= MAX_TIME_SCALE:
        raise ValueError(f"scheduler.time_scale must be a number above 0 and at most {MAX_TIME_SCALE:g}")
    if not isinstance(section.get("auto_fire", True), bool):
        raise ValueError("scheduler.auto_fire must be true or false")
    base = section.get("retry_base_seconds", 1.0)
    if not _is_number(base) or base < 0:
        raise ValueError("scheduler.retry_base_seconds must be a non-negative number")
    n = fail_next.get("scheduler", 0)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError("fail_next.scheduler must be a non-negative integer")


def _validate_lambda(section: Any) -> None:
    if not isinstance(section, dict) or not set(section) <= {"crash_next"}:
        raise ValueError("lambda must be an object with only crash_next")
    rules = section.get("crash_next", [])
    if not isinstance(rules, list):
        raise ValueError("lambda.crash_next must be a list of crash rules")
    for i, rule in enumerate(rules):
        _validate_crash_rule(f"lambda.crash_next[{i}]", rule)


def _validate_crash_rule(where: str, rule: Any) -> None:
    if not isinstance(rule, dict):
        raise ValueError(f"{where} must be an object with {', '.join(LAMBDA_CRASH_RULE_FIELDS)}")
    unknown = sorted(set(rule) - set(LAMBDA_CRASH_RULE_FIELDS))
    if unknown:
        raise ValueError(f"{where}: unknown field {', '.join(unknown)} (known: {', '.join(LAMBDA_CRASH_RULE_FIELDS)})")
    function = rule.get("function")
    if not isinstance(function, str) or not function:
        raise ValueError(f"{where}.function must be a function name or an fnmatch glob (e.g. \"*Deliver*\")")
    if "payload_contains" in rule and (not isinstance(rule["payload_contains"], str) or not rule["payload_contains"]):
        raise ValueError(f"{where}.payload_contains must be a non-empty string (leave it out to match every payload)")
    if "after_seconds" not in rule:
        raise ValueError(f"{where}.after_seconds is required: the seconds into the invocation at which it crashes")
    after = rule["after_seconds"]
    if not _is_number(after) or not math.isfinite(after) or not 0 <= after <= MAX_CRASH_AFTER_SECONDS:
        raise ValueError(
            f"{where}.after_seconds must be a number from 0 to {MAX_CRASH_AFTER_SECONDS:g}"
            " (no invocation runs longer)"
        )
    count = rule.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"{where}.count must be an integer of at least 1 (a used-up rule is removed)")


def _fill_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """Completes what a valid document may leave out, so a GET shows every rule whole."""
    for rule in config["lambda"].get("crash_next", []):
        rule.setdefault("count", 1)
    return config


def _validate(config: dict[str, Any]) -> None:
    try:
        _check(config)
    except (TypeError, KeyError, AttributeError) as e:
        # a section replaced by a value of the wrong kind (e.g. "limits": 5) is bad input, not a crash
        raise ValueError(f"malformed fault document: {type(e).__name__}: {e}") from e


def _check(config: dict[str, Any]) -> None:
    _validate_throttle(config.get("throttle"))
    _validate_dynamodb(config.get("dynamodb"))
    _validate_scheduler(config.get("scheduler"), config["fail_next"])
    _validate_lambda(config.get("lambda"))
    for service in SERVICES:
        n = config["fail_next"].get(service, 0)
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"fail_next.{service} must be a non-negative integer")
        d = config["durations"].get(service, 0)
        if not isinstance(d, (int, float)) or d < 0:
            raise ValueError(f"durations.{service} must be a non-negative number")
    for key in ("hpo_duration_factor", "stop_grace_seconds", "stopping_seconds"):
        value = config.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{key} must be a non-negative number")
    for pattern, command in (config.get("sagemaker_images") or {}).items():
        if not (isinstance(command, str) or (isinstance(command, list) and command and all(isinstance(c, str) for c in command))):
            raise ValueError(f"sagemaker_images.{pattern} must be a command string or a non-empty list of strings")
    for name, value in config["limits"]["personalize"].items():
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"limits.personalize.{name} must be a non-negative integer")
    for kind in ("training", "processing"):
        for name, value in config["limits"]["sagemaker"][kind].items():
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"limits.sagemaker.{kind}.{name} must be a non-negative integer")


# --- queries used by the providers ---------------------------------------------------------


def should_throttle(service: str, operation: str) -> bool:
    with _lock:
        rule = _current()["throttle"].get(service) or {}
        rate = float(rule.get("rate", 0.0))
        operations = rule.get("operations") or []
    if rate <= 0.0 or (operations and operation not in operations):
        return False
    return rate >= 1.0 or random.random() < rate


def dynamodb_throttle_error() -> str:
    with _lock:
        return _current()["throttle"]["dynamodb"].get("error", DYNAMODB_THROTTLE_ERRORS[0])


def dynamodb_unprocessed_rate(table_name: str) -> float:
    """Share of a batch's requests on ``table_name`` to leave unprocessed (0 when not targeted)."""
    with _lock:
        section = _current()["dynamodb"]
        rate = float(section.get("unprocessed_rate", 0.0))
        tables = section.get("tables") or []
    return rate if not tables or table_name in tables else 0.0


def take_injected_failure(service: str) -> bool:
    """True (and counts one down) when the next job of ``service`` must fail."""
    with _lock:
        remaining = _current()["fail_next"].get(service, 0)
        if remaining > 0:
            _current()["fail_next"][service] = remaining - 1
            return True
        return False


def _crash_rule_matches(rule: dict[str, Any], function_name: str, payload: str) -> bool:
    return fnmatch.fnmatchcase(function_name, rule["function"]) and rule.get("payload_contains", "") in payload


def lambda_crash_due(function_name: str, payload: str) -> float | None:
    """Seconds into an invocation of ``function_name`` with ``payload`` (its JSON text) at which the
    earliest matching crash rule falls due; None when no rule matches."""
    with _lock:
        due = [
            float(rule["after_seconds"])
            for rule in _current()["lambda"]["crash_next"]
            if _crash_rule_matches(rule, function_name, payload)
        ]
    return min(due) if due else None


def take_lambda_crash(function_name: str, payload: str, elapsed: float) -> dict[str, Any] | None:
    """Counts down the first rule matching the invocation that is due ``elapsed`` seconds into it and
    returns a copy of it, its count being the crashes it has left (0: used up and removed); None
    when no such rule is left (another invocation may have used it up). Matching and counting
    happen under one lock: concurrent invocations never inject more crashes than the counts."""
    with _lock:
        rules = _current()["lambda"]["crash_next"]
        for i, rule in enumerate(rules):
            if rule["after_seconds"] <= elapsed and _crash_rule_matches(rule, function_name, payload):
                rule["count"] -= 1
                taken = copy.deepcopy(rule)
                if rule["count"] <= 0:
                    del rules[i]
                return taken
    return None


def job_duration(service: str) -> float:
    with _lock:
        return float(_current()["durations"].get(service, 0.0))


def hpo_duration_factor() -> float:
    with _lock:
        return float(_current().get("hpo_duration_factor", 1.0))


def stop_grace_seconds() -> float:
    with _lock:
        return float(_current().get("stop_grace_seconds", 2.0))


def stopping_seconds() -> float:
    with _lock:
        return float(_current().get("stopping_seconds", 3.0))


def scheduler_settings() -> dict[str, Any]:
    with _lock:
        return dict(_current()["scheduler"])


def sagemaker_images() -> dict[str, Any]:
    with _lock:
        return dict(_current().get("sagemaker_images") or {})


def personalize_limit(name: str) -> int:
    with _lock:
        return int(_current()["limits"]["personalize"][name])


def sagemaker_instance_limit(kind: str, instance_type: str) -> int:
    with _lock:
        limits = _current()["limits"]["sagemaker"][kind]
        return int(limits.get(instance_type, limits.get("*", 0)))


# --- HTTP endpoint ------------------------------------------------------------------------


def json_response(body: Any, status: int = 200):
    from localstack.http import Response

    return Response(json.dumps(body, indent=2), status=status, mimetype="application/json")


def faults_endpoint(request, **_kwargs):
    method = request.method.upper()
    if method == "GET":
        return json_response(get_config())
    if method == "DELETE":
        return json_response(reset_config())
    if method in ("POST", "PUT"):
        try:
            body = json.loads(request.get_data() or b"{}")
            return json_response(update_config(body))
        except ValueError as e:
            return json_response({"error": str(e)}, status=400)
    return json_response({"error": f"method {method} not allowed"}, status=405)
