"""3d. Step Functions history: events per Task(Lambda) -> Choice -> Wait loop iteration."""

from collections import Counter

from _common import aws, bucket, recording_function, report, sfn_run

sfn = aws("stepfunctions")
fn_arn = recording_function(bucket())


def loop(resource, n, in_map=False):
    """Advance counts $.i up through the function (no Pass state), Done after n rounds."""
    if resource == "plain":
        task = {"Type": "Task", "Resource": fn_arn, "Parameters": {"i.$": "States.MathAdd($.i, 1)"},
                "ResultSelector": {"i.$": "$.echo.i"}, "Next": "Check"}
    else:
        task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": fn_arn, "Payload": {"i.$": "States.MathAdd($.i, 1)"}},
                "ResultSelector": {"i.$": "$.Payload.echo.i"}, "Next": "Check"}
    states = {"Advance": task,
              "Check": {"Type": "Choice",
                        "Choices": [{"Variable": "$.i", "NumericGreaterThanEquals": n, "Next": "Done"}],
                        "Default": "Pause"},
              "Pause": {"Type": "Wait", "Seconds": 0, "Next": "Advance"},
              "Done": {"Type": "Succeed"}}
    body = {"StartAt": "Advance", "States": states}
    if in_map:  # as the job's RunPhases: an inline Map, one item
        body = {"StartAt": "Phases", "States": {"Phases": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ItemSelector": {"i": 0},
            "ItemProcessor": body, "End": True}}}
    ex, d = sfn_run(body, {"i": 0, "items": [1]}, timeout=180)
    events = []
    kwargs = {"executionArn": ex, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return d["status"], events
        kwargs["nextToken"] = page["nextToken"]


for resource in ("plain", "lambda:invoke"):
    for in_map in (False, True):
        (s3_, few), (s10, many) = loop(resource, 3, in_map), loop(resource, 10, in_map)
        per = (len(many) - len(few)) / 7
        extra = Counter(e["type"] for e in many) - Counter(e["type"] for e in few)
        where = "inside an inline Map" if in_map else "top level"
        report("3d", f"{resource} Task->Choice->Wait, {where}", s3_ == s10 == "SUCCEEDED",
               f"{per:g} events per iteration {dict((k, v // 7) for k, v in extra.items())}; "
               f"3 rounds = {len(few)} events, 10 rounds = {len(many)}")

# what a retried failure costs: one Task that fails 3 times (Retry MaxAttempts 2), then is caught
for resource in (fn_arn, "arn:aws:states:::lambda:invoke"):
    params = {"fail": "Flaky"} if resource == fn_arn else {"FunctionName": fn_arn, "Payload": {"fail": "Flaky"}}
    ex, d = sfn_run({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": resource, "Parameters": params,
              "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 2, "IntervalSeconds": 1, "BackoffRate": 1}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}], "End": True},
        "C": {"Type": "Pass", "End": True}}})
    types = [e["type"] for e in sfn.get_execution_history(executionArn=ex, maxResults=1000)["events"]]
    report("3d", f"{'plain' if resource == fn_arn else 'lambda:invoke'} Task failing 3 times then caught",
           d["status"] == "SUCCEEDED", f"{len(types)} events: {dict(Counter(types))}")
