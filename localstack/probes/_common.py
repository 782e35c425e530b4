"""Shared helpers of the capability probes (see localstack/CAPABILITIES.md).

The probes talk to an already running local stack: AWS_ENDPOINT_URL (default
http://127.0.0.1:4566), credentials test/test, us-east-1. They create uniquely named resources
and leave them behind (LocalStack keeps no state across restarts).
"""

import io
import json
import os
import sys
import time
import uuid
import zipfile

import boto3
from botocore.config import Config

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
ROLE_ARN = "arn:aws:iam::000000000000:role/recoflow-probe"
REGION = "us-east-1"

# A function that records every event it gets in s3://$SINK_BUCKET/<function>/ (so a probe can
# see what a trigger delivered), then answers {"echo": event}; an event may ask it to sleep,
# print a log line ("emf") or fail with an error type.
BOOTSTRAP = """#!{python}
import json, os, time, urllib.request, uuid
import boto3
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
def post(path, body, headers={{}}):
    urllib.request.urlopen(urllib.request.Request(API + path, json.dumps(body).encode(), headers)).read()
while True:
    with urllib.request.urlopen(API + "/invocation/next") as resp:
        rid = resp.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(resp.read() or b"null")
    key = "%s/%.6f-%s.json" % (os.environ["AWS_LAMBDA_FUNCTION_NAME"], time.time(), uuid.uuid4().hex[:6])
    s3.put_object(Bucket=os.environ["SINK_BUCKET"], Key=key, Body=json.dumps(event).encode())
    if isinstance(event, dict) and event.get("sleep"):
        time.sleep(event["sleep"])
    if isinstance(event, dict) and event.get("emf"):
        print(json.dumps(event["emf"]), flush=True)
    if isinstance(event, dict) and event.get("fail"):
        post("/invocation/" + rid + "/error", {{"errorType": event["fail"], "errorMessage": "on purpose"}},
             {{"Lambda-Runtime-Function-Error-Type": event["fail"]}})
        continue
    print("handled", rid, flush=True)
    post("/invocation/" + rid + "/response", {{"echo": event}})
"""


def aws(service: str, config: Config | None = None):
    base = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=base.merge(config) if config else base,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def report(item: str, check: str, ok, detail="") -> None:
    """One finding per line: item, verdict, what was checked, and the evidence."""
    verdict = {True: "OK  ", False: "FAIL", None: "NOTE"}[ok]
    print(f"[{item}] {verdict} {check}: {detail}", flush=True)


def wait_for(predicate, timeout: float = 30, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = predicate()
    while not last and time.monotonic() < deadline:
        time.sleep(interval)
        last = predicate()
    return last


def bucket(prefix: str = "probe") -> str:
    name = unique(prefix)
    aws("s3").create_bucket(Bucket=name)
    return name


def sink_events(sink: str, function: str, with_time: bool = False) -> list:
    """The events `function` recorded in the sink bucket, oldest first (with_time: each with
    "_at", the epoch seconds at which the function got it)."""
    s3 = aws("s3")
    keys = sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket=sink, Prefix=function + "/").get("Contents", [])
    )
    events = [json.loads(s3.get_object(Bucket=sink, Key=k)["Body"].read()) for k in keys]
    if with_time:
        for key, event in zip(keys, events):
            event["_at"] = float(key.split("/")[-1].split("-")[0])
    return events


def recording_function(sink: str, name: str | None = None) -> str:
    """Deploys the recording function (host executor: `bootstrap` runs as a host process)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        zf.writestr(info, BOOTSTRAP.format(python=sys.executable))
    name = name or unique("probe-fn")
    lam = aws("lambda")
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Handler="bootstrap",
        Role=ROLE_ARN,
        Code={"ZipFile": buf.getvalue()},
        Timeout=30,
        Environment={"Variables": {"SINK_BUCKET": sink}},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    return lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def deploy_stack(template: dict, parameters: dict | None = None) -> tuple[str, str, list]:
    """Creates a stack; returns (status, stack name, failure reasons of its resources)."""
    cfn = aws("cloudformation")
    name = unique("probe-stack")
    cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )

    def settled():
        status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        return None if status.endswith("IN_PROGRESS") else status

    status = wait_for(settled, timeout=120, interval=1) or "TIMED_OUT"
    reasons = [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
        for e in cfn.describe_stack_events(StackName=name)["StackEvents"]
        if e["ResourceStatus"].endswith("FAILED")
    ]
    return status, name, reasons


def stack_resources(name: str) -> dict:
    res = aws("cloudformation").describe_stack_resources(StackName=name)["StackResources"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in res}


def sfn_run(definition: dict, input_doc: dict | None = None, timeout: float = 60, name=None):
    """Creates a STANDARD state machine, starts it, waits for the end; returns (arn, describe)."""
    sfn = aws("stepfunctions")
    sm = sfn.create_state_machine(
        name=name or unique("probe-sm"), definition=json.dumps(definition), roleArn=ROLE_ARN
    )["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=sm, input=json.dumps(input_doc or {}))["executionArn"]

    def ended():
        d = sfn.describe_execution(executionArn=ex)
        return d if d["status"] != "RUNNING" else None

    return ex, wait_for(ended, timeout=timeout) or sfn.describe_execution(executionArn=ex)
