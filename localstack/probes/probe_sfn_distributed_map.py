"""3b. Step Functions Distributed Map over an S3 prefix: Retry/Catch, concurrency, tolerated
failures, ItemSelector, ResultWriter, ItemBatcher, map runs and child executions."""

import json
from collections import Counter

from _common import aws, bucket, recording_function, report, sfn_run, sink_events

sfn, s3 = aws("stepfunctions"), aws("s3")
sink, data = bucket(), bucket("probe-data")
fn_arn = recording_function(sink)
fn = fn_arn.split(":")[-1]
for i in range(6):
    s3.put_object(Bucket=data, Key=f"scores/part-{i}.json", Body=b"{}")
s3.put_object(Bucket=data, Key="scores/fail-0.json", Body=b"{}")
s3.put_object(Bucket=data, Key="other/not-me.json", Body=b"{}")

WORKER = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
          "Parameters": {"FunctionName": fn_arn, "Payload": {"key.$": "$.key", "sleep": 1}},
          "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 2, "IntervalSeconds": 1, "BackoffRate": 1}],
          "End": True}
# the fail-* item's worker fails with Flaky (retried, then a failure unless caught)
FAILING = dict(WORKER, Parameters={"FunctionName": fn_arn, "Payload": {"key.$": "$.key", "fail": "Flaky"}})


def dmap(extra=None, catch=False, tolerated=None):
    states = {"Pick": {"Type": "Choice", "Default": "Work", "Choices": [
                  {"Variable": "$.key", "StringMatches": "*fail*", "Next": "WorkFailing"}]},
              "Work": dict(WORKER), "WorkFailing": dict(FAILING)}
    if catch:
        for name in ("Work", "WorkFailing"):
            states[name]["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]
        states["Caught"] = {"Type": "Pass", "End": True}
    m = {"Type": "Map", "MaxConcurrency": 2,
         "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                        "Parameters": {"Bucket": data, "Prefix": "scores/"}},
         "ItemSelector": {"key.$": "$$.Map.Item.Value.Key", "index.$": "$$.Map.Item.Index"},
         "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                           "StartAt": "Pick", "States": states},
         "End": True}
    if tolerated is not None:
        m["ToleratedFailurePercentage"] = tolerated
    m.update(extra or {})
    return {"StartAt": "Fan", "States": {"Fan": m}}


def run(label, definition, timeout=120):
    before = len(sink_events(sink, fn))
    try:
        ex, d = sfn_run(definition, timeout=timeout)
    except Exception as e:  # noqa: BLE001 - a refused definition is the finding
        report("3b", label, False, e)
        return None, None
    calls = sink_events(sink, fn)[before:]
    runs = sfn.list_map_runs(executionArn=ex)["mapRuns"]
    detail = {"status": d["status"], "error": d.get("error"), "cause": (d.get("cause") or "")[:160],
              "lambda calls": len(calls), "calls per key": dict(Counter(c["key"].split("/")[1] for c in calls)),
              "map runs": len(runs)}
    report("3b", label, None, detail)
    return ex, runs


ex, runs = run("Catch on the worker (7 items, 1 failing)", dmap(catch=True))
if runs:
    mr = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    try:
        children = sfn.list_executions(mapRunArn=runs[0]["mapRunArn"])["executions"]
        report("3b", "ListExecutions(mapRunArn) lists the child executions", len(children) == 7, len(children))
    except Exception as e:  # noqa: BLE001 - unsupported here
        report("3b", "ListExecutions(mapRunArn) lists the child executions", False, e)
    calls = sorted(c["_at"] for c in sink_events(sink, fn, with_time=True) if "part-" in c["key"])
    overlap = max(sum(1 for u in calls if t <= u < t + 1) for t in calls)  # each call sleeps 1 s
    report("3b", "MaxConcurrency 2 holds", overlap <= 2,
           f"at most {overlap} of {len(calls)} 1-second calls started within one second")
    out = json.loads(sfn.describe_execution(executionArn=ex).get("output") or "null")
    report("3b", "output of the map (no ResultWriter)", None, json.dumps(out)[:300])
    hist = sfn.get_execution_history(executionArn=ex, maxResults=1000)["events"]
    report("3b", "parent history size", None, f"{len(hist)} events: {dict(Counter(e['type'] for e in hist))}")

# on AWS a failed item over the threshold (default 0) fails the map: States.ExceedToleratedFailureThreshold
ex, runs = run("no Catch, default tolerance (0): does the map fail?", dmap())
if runs:
    d, mr = sfn.describe_execution(executionArn=ex), sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    out = json.loads(d.get("output") or "null")
    report("3b", "failed item without Catch fails the map", d["status"] == "FAILED",
           f"execution {d['status']}, map run {mr['status']}, itemCounts.failed {mr['itemCounts']['failed']}, "
           f"the failed item's result {out and out[0]}")
run("ToleratedFailurePercentage 20 (an integer)", dmap(tolerated=20))
run("ToleratedFailurePercentage 20.0", dmap(tolerated=20.0))
run("ResultWriter s3:putObject", dmap(catch=True, extra={"ResultWriter": {
    "Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": data, "Prefix": "results"}}}))
results = [o["Key"] for o in s3.list_objects_v2(Bucket=data, Prefix="results").get("Contents", [])]
report("3b", "ResultWriter objects", bool(results), results)
run("ItemBatcher MaxItemsPerBatch 2", dmap(catch=True, extra={"ItemBatcher": {"MaxItemsPerBatch": 2}}))


def count_items(prefix):
    """How many items the listObjectsV2 reader hands a Pass-only distributed map."""
    ex, d = sfn_run({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "End": True,
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                       "Parameters": {"Bucket": data, "Prefix": prefix}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}, timeout=300)
    runs = sfn.list_map_runs(executionArn=ex)["mapRuns"]
    total = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])["itemCounts"]["total"] if runs else None
    return d["status"], total, d.get("error"), (d.get("cause") or "")[:200]


report("3b", "ItemReader over an empty prefix", None, count_items("nothing-here/"))
for i in range(1005):
    s3.put_object(Bucket=data, Key=f"many/{i:05d}", Body=b"")
status, total, error, cause = count_items("many/")
report("3b", "ItemReader pages past 1000 objects", total == 1005, f"{status}: {total} of 1005 items {error or ''}")
