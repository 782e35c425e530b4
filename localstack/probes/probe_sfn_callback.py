"""3a. Step Functions lambda:invoke.waitForTaskToken, SendTask*, HeartbeatSeconds/TimeoutSeconds."""

import json
import threading
import time

from _common import ROLE_ARN, aws, bucket, recording_function, report, sink_events, unique, wait_for

sfn = aws("stepfunctions")
sink = bucket()
fn_arn = recording_function(sink)
fn = fn_arn.split(":")[-1]


def callback_machine(**timeouts):
    """WaitForToken hands the token to the function; any error is caught into $.error."""
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": fn_arn, "Payload": {"token.$": "$$.Task.Token", "case.$": "$.case"}},
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
            "End": True, **timeouts}
    return sfn.create_state_machine(name=unique("probe-cb"), roleArn=ROLE_ARN, definition=json.dumps(
        {"StartAt": "WaitForToken", "States": {"WaitForToken": task, "Caught": {"Type": "Pass", "End": True}}}
    ))["stateMachineArn"]


def start(sm, case):
    ex = sfn.start_execution(stateMachineArn=sm, input=json.dumps({"case": case}))["executionArn"]
    events = wait_for(lambda: [e for e in sink_events(sink, fn) if e.get("case") == case], timeout=30)
    return ex, events[0]["token"] if events else None


def finish(ex, timeout=60):
    d = wait_for(lambda: (x := sfn.describe_execution(executionArn=ex))["status"] != "RUNNING" and x,
                 timeout=timeout)
    return d["status"], json.loads(d.get("output") or "null")


sm = callback_machine()
ex, token = start(sm, "success")
report("3a", "the function receives $$.Task.Token", bool(token), f"token length {len(token or '')}")
time.sleep(1)
report("3a", "execution waits for the token", sfn.describe_execution(executionArn=ex)["status"] == "RUNNING", "")
try:
    sfn.send_task_heartbeat(taskToken=token)
    report("3a", "SendTaskHeartbeat on a task without HeartbeatSeconds", True, "accepted")
except Exception as e:  # noqa: BLE001 - AWS accepts it
    report("3a", "SendTaskHeartbeat on a task without HeartbeatSeconds", False, e)
sfn.send_task_success(taskToken=token, output=json.dumps({"slot": "p1"}))
status, out = finish(ex)
report("3a", "SendTaskSuccess resumes with its output", status == "SUCCEEDED", f"{status} {out}")
for label, call in [("SendTaskSuccess again", lambda: sfn.send_task_success(taskToken=token, output="{}")),
                    ("SendTaskHeartbeat after the end", lambda: sfn.send_task_heartbeat(taskToken=token)),
                    ("SendTaskSuccess unknown token", lambda: sfn.send_task_success(taskToken="nope", output="{}"))]:
    try:
        call()
        report("3a", f"{label} refused", False, "accepted")
    except Exception as e:  # noqa: BLE001 - the refusal is the finding
        report("3a", f"{label} refused", True, e)

ex, token = start(sm, "failure")
sfn.send_task_failure(taskToken=token, error="QuotaUnavailable", cause="pool full")
status, out = finish(ex)
caught = (out or {}).get("error", {})
report("3a", "SendTaskFailure -> Catch sees the error name", caught.get("Error") == "QuotaUnavailable",
       f"{status} {caught}")

for label, timeouts, expect in [("HeartbeatSeconds 3, no heartbeat", {"HeartbeatSeconds": 3, "TimeoutSeconds": 30},
                                 "States.HeartbeatTimeout"),
                                ("TimeoutSeconds 3", {"TimeoutSeconds": 3}, "States.Timeout")]:
    ex, token = start(callback_machine(**timeouts), label)
    t0 = time.monotonic()
    status, out = finish(ex, timeout=40)
    err = (out or {}).get("error", {}).get("Error")
    report("3a", f"{label} -> {expect}", err == expect, f"{status} {err} after {time.monotonic() - t0:.1f} s")

ex, token = start(callback_machine(HeartbeatSeconds=3, TimeoutSeconds=30), "heartbeats")
stop = threading.Event()


def beat():
    while not stop.wait(1.5):
        sfn.send_task_heartbeat(taskToken=token)


threading.Thread(target=beat, daemon=True).start()
time.sleep(8)
alive = sfn.describe_execution(executionArn=ex)["status"]
stop.set()
sfn.send_task_success(taskToken=token, output="{}")
status, _ = finish(ex)
report("3a", "heartbeats every 1.5 s keep a HeartbeatSeconds 3 task alive 8 s",
       alive == "RUNNING" and status == "SUCCEEDED",
       f"at 8 s {alive}, then {status}")
