"""3c. Step Functions states:startExecution.sync:2 (and .sync) child executions."""

import json
import time

from _common import ROLE_ARN, aws, report, sfn_run, unique, wait_for

sfn = aws("stepfunctions")


def machine(states, start):
    return sfn.create_state_machine(name=unique("probe-child"), roleArn=ROLE_ARN, definition=json.dumps(
        {"StartAt": start, "States": states}))["stateMachineArn"]


ok_child = machine({"P": {"Type": "Pass", "Result": {"written": 3}, "End": True}}, "P")
bad_child = machine({"F": {"Type": "Fail", "Error": "ChildBroke", "Cause": "on purpose"}}, "F")
slow_child = machine({"W": {"Type": "Wait", "Seconds": 60, "End": True}}, "W")


def parent(child, resource="arn:aws:states:::states:startExecution.sync:2"):
    return {"StartAt": "Child", "States": {
        "Child": {"Type": "Task", "Resource": resource,
                  "Parameters": {"StateMachineArn": child, "Name.$": "States.Format('{}-child', $$.Execution.Name)",
                                 "Input": {"x": 1, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}


for label, child, resource in [("sync:2, child succeeds", ok_child, "arn:aws:states:::states:startExecution.sync:2"),
                               (".sync, child succeeds", ok_child, "arn:aws:states:::states:startExecution.sync"),
                               ("sync:2, child fails (caught)", bad_child,
                                "arn:aws:states:::states:startExecution.sync:2")]:
    ex, d = sfn_run(parent(child, resource))
    out = json.loads(d.get("output") or "null") or {}
    shown = {k: out.get(k) for k in ("Output", "Status", "Name", "StateMachineArn")}
    if "error" in out:  # the Cause is the child's DescribeExecution
        cause = json.loads(out["error"]["Cause"])
        shown = {"Error": out["error"]["Error"], "Cause keys": sorted(cause),
                 "child Error/Cause": [cause.get("Error"), cause.get("Cause")]}
    report("3c", label, d["status"] == "SUCCEEDED", f"{d['status']} {json.dumps(shown)[:400]}")
children = sfn.list_executions(stateMachineArn=ok_child)["executions"]
report("3c", "child executions are real executions (ListExecutions)", len(children) == 2,
       [c["name"] for c in children])

sm = sfn.create_state_machine(name=unique("probe-parent"), roleArn=ROLE_ARN,
                              definition=json.dumps(parent(slow_child)))["stateMachineArn"]
ex = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
child = wait_for(lambda: sfn.list_executions(stateMachineArn=slow_child)["executions"], timeout=10)
sfn.stop_execution(executionArn=ex, error="Cancelled", cause="by probe")
time.sleep(2)
status = sfn.describe_execution(executionArn=child[0]["executionArn"])["status"] if child else None
report("3c", "StopExecution of the parent stops the .sync:2 child", status == "ABORTED", f"child {status}")
