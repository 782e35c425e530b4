"""Step Functions calling host-run Lambda functions: Retry on a custom errorType, Catch.

Run against a running stack:
    localstack/host/start.sh && .localstack-host/venv/bin/pytest tests/localstack_host
"""

import json
import time

import pytest

from hostfn import unique

SFN_ROLE = "arn:aws:iam::000000000000:role/recoflow-test-states"


def definition(resource: str, parameters: dict | None) -> dict:
    task = {
        "Type": "Task",
        "Resource": resource,
        "Retry": [
            {
                "ErrorEquals": ["QuotaExhausted"],
                "IntervalSeconds": 1,
                "MaxAttempts": 3,
                "BackoffRate": 1.0,
            }
        ],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
        "Next": "Done",
    }
    if parameters is not None:
        task["Parameters"] = parameters
        task["OutputPath"] = "$.Payload"
    return {
        "StartAt": "Call",
        "States": {
            "Call": task,
            "Done": {"Type": "Succeed"},
            "Caught": {"Type": "Pass", "Result": "caught", "ResultPath": "$.handled", "Next": "Failed"},
            "Failed": {"Type": "Fail", "Error": "JobFailed", "Cause": "caught by the state machine"},
        },
    }


def run(aws, sm_arn: str, event: dict, timeout: float = 60) -> dict:
    sfn = aws("stepfunctions")
    exec_arn = sfn.start_execution(stateMachineArn=sm_arn, input=json.dumps(event))["executionArn"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        desc = sfn.describe_execution(executionArn=exec_arn)
        if desc["status"] != "RUNNING":
            desc["history"] = sfn.get_execution_history(executionArn=exec_arn)["events"]
            return desc
        time.sleep(0.5)
    raise AssertionError(f"execution {exec_arn} still running after {timeout}s")


@pytest.fixture(params=["lambda:invoke", "plain-arn"])
def state_machine(request, aws, make_function):
    lam, sfn = aws("lambda"), aws("stepfunctions")
    name = make_function()
    fn_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    if request.param == "lambda:invoke":
        body = definition(
            "arn:aws:states:::lambda:invoke", {"FunctionName": fn_arn, "Payload.$": "$"}
        )
    else:
        body = definition(fn_arn, None)
    sm_arn = sfn.create_state_machine(
        name=unique("hostfn-sm"), definition=json.dumps(body), roleArn=SFN_ROLE
    )["stateMachineArn"]
    yield sm_arn
    sfn.delete_state_machine(stateMachineArn=sm_arn)


def test_retry_on_custom_error_type_then_success(aws, state_machine):
    event = {"action": "flaky", "key": unique("retry"), "fail_times": 2, "errorType": "QuotaExhausted"}

    result = run(aws, state_machine, event)

    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["echo"]["key"] == event["key"]
    failures = [e for e in result["history"] if e["type"] in ("LambdaFunctionFailed", "TaskFailed")]
    assert len(failures) == 2
    details = failures[0].get("lambdaFunctionFailedEventDetails") or failures[0].get(
        "taskFailedEventDetails"
    )
    assert details["error"] == "QuotaExhausted"


def test_catch_keeps_input_beside_the_error(aws, state_machine):
    event = {"action": "fail", "errorType": "InvalidForm", "job": "j-1"}

    result = run(aws, state_machine, event)

    assert result["status"] == "FAILED"
    assert result["error"] == "JobFailed"
    caught = next(
        e for e in result["history"] if e["type"] == "PassStateExited"
    )["stateExitedEventDetails"]
    state = json.loads(caught["output"])
    assert state["job"] == "j-1"
    assert state["error"]["Error"] == "InvalidForm"
    assert json.loads(state["error"]["Cause"])["errorType"] == "InvalidForm"
    assert state["handled"] == "caught"


def test_timeout_reaches_the_state_machine_as_an_error(aws, make_function):
    lam, sfn = aws("lambda"), aws("stepfunctions")
    name = make_function(timeout=1)
    fn_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    body = definition("arn:aws:states:::lambda:invoke", {"FunctionName": fn_arn, "Payload.$": "$"})
    sm_arn = sfn.create_state_machine(
        name=unique("hostfn-sm"), definition=json.dumps(body), roleArn=SFN_ROLE
    )["stateMachineArn"]
    try:
        result = run(aws, sm_arn, {"action": "sleep", "seconds": 5})
        assert result["status"] == "FAILED"
        caught = next(
            e for e in result["history"] if e["type"] == "PassStateExited"
        )["stateExitedEventDetails"]
        assert json.loads(caught["output"])["error"]["Error"] == "Sandbox.Timedout"
    finally:
        sfn.delete_state_machine(stateMachineArn=sm_arn)
