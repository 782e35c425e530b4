"""``/_recoflow/scheduler`` on LocalStack's gateway: what the firing engine is doing, and the two
things deterministic tests need (the clock's speed is ``scheduler.time_scale`` of the fault
endpoint, ``faults.py``):

    GET  /_recoflow/scheduler[?schedule_arn=ARN]   clock, and per schedule its next firing and past firings
    POST /_recoflow/scheduler/fire       {"schedule_arn": ARN}   make the next firing now, answer when delivered
    POST /_recoflow/scheduler/redeliver  {"schedule_arn": ARN[, "scheduled_time": "2026-12-01T03:00:00Z"]}
                                         deliver a past firing again, identical (at-least-once delivery)

A schedule may be named instead of ``schedule_arn``: ``{"name", "group" (default "default"),
"account" (default 000000000000), "region" (default us-east-1)}``.
"""

from __future__ import annotations

import json

from recoflow_localstack.faults import json_response
from recoflow_localstack.scheduler.engine import ControlError, engine

SCHEDULER_PATH = "/_recoflow/scheduler"
ACTIONS = ("fire", "redeliver")


def _schedule_arn(body: dict) -> str:
    if isinstance(body.get("schedule_arn"), str) and body["schedule_arn"]:
        return body["schedule_arn"]
    if not isinstance(body.get("name"), str) or not body["name"]:
        raise ControlError(400, "name the schedule: schedule_arn, or name (with group, account, region)")
    group, account, region = body.get("group") or "default", body.get("account") or "000000000000", body.get("region") or "us-east-1"
    return f"arn:aws:scheduler:{region}:{account}:schedule/{group}/{body['name']}"


def scheduler_state(request, **_kwargs):
    if request.method.upper() != "GET":
        return json_response({"error": f"method {request.method} not allowed; GET, or POST to {SCHEDULER_PATH}/fire|redeliver"}, 405)
    return json_response(engine().view(request.args.get("schedule_arn")))


def scheduler_action(request, action: str, **_kwargs):
    if action not in ACTIONS:
        return json_response({"error": f"unknown action {action!r}: {', '.join(ACTIONS)}"}, 404)
    if request.method.upper() != "POST":
        return json_response({"error": f"method {request.method} not allowed; POST"}, 405)
    try:
        body = json.loads(request.get_data() or b"{}")
        if not isinstance(body, dict):
            raise ControlError(400, "the body must be a JSON object")
        arn = _schedule_arn(body)
        if action == "fire":
            return json_response({"firing": engine().fire_next(arn)})
        scheduled_time = body.get("scheduled_time")
        if scheduled_time is not None and not isinstance(scheduled_time, str):
            raise ControlError(400, "scheduled_time must be a string like 2026-12-01T03:00:00Z")
        return json_response({"firing": engine().redeliver(arn, scheduled_time)})
    except ValueError as e:
        return json_response({"error": f"the body is not JSON: {e}"}, 400)
    except ControlError as e:
        return json_response({"error": str(e)}, e.status)
