"""`make demo`: uploads the example data set, drops every examples/forms/*.json into the forms
bucket of the deployed local stack, prints each job's status as it changes, and ends by showing
each job through the REST API (GET /jobs/{id}).

Run by `make demo` after the stack is started and deployed; reads build/stack-outputs.json.
"""

import json
import os
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_SECONDS = 120
TERMINAL = {"SUCCEEDED", "FAILED", "REJECTED"}


def main() -> int:
    outputs = json.loads((REPO / "build" / "stack-outputs.json").read_text())
    endpoint = os.environ.get("LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566")
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    config = Config(s3={"addressing_style": "path"})
    s3 = session.client("s3", endpoint_url=endpoint, config=config)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    sfn = session.client("stepfunctions", endpoint_url=endpoint)

    for path in sorted((REPO / "examples" / "data").glob("*.csv")):
        s3.upload_file(str(path), outputs["DataBucket"], f"examples/{path.name}")
    print(f"uploaded examples/data/*.csv to s3://{outputs['DataBucket']}/examples/")

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    keys = []
    for path in sorted((REPO / "examples" / "forms").glob("*.json")):
        key = f"submissions/{path.stem}-{stamp}.json"
        s3.put_object(Bucket=outputs["FormsBucket"], Key=key, Body=path.read_bytes())
        keys.append(key)
        print(f"submitted {path.relative_to(REPO)} as s3://{outputs['FormsBucket']}/{key}")

    deserialize = TypeDeserializer().deserialize
    seen = {}  # key -> (job_id, number of history entries printed)
    settled = set()
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while len(settled) < len(keys) and time.monotonic() < deadline:
        items = dynamodb.scan(TableName=outputs["JobsTable"], ConsistentRead=True)["Items"]
        records = {}
        for item in items:
            record = {k: deserialize(v) for k, v in item.items()}
            records[record["source"].get("key")] = record
        for key in keys:
            record = records.get(key)
            if record is None:
                continue
            job_id = record["job_id"]
            printed = seen.get(key, (job_id, 0))[1]
            for change in record["history"][printed:]:
                detail = f"  ({change['detail']})" if change.get("detail") else ""
                print(f"  {change['at']}  {job_id:<45} {change['status']}{detail}")
            seen[key] = (job_id, len(record["history"]))
            if record["status"] in TERMINAL:
                settled.add(key)
            elif record.get("execution_arn"):
                execution = sfn.describe_execution(executionArn=record["execution_arn"])
                if execution["status"] != "RUNNING":
                    settled.add(key)
        time.sleep(0.5)

    if len(settled) < len(keys):
        print(f"some jobs did not settle within {TIMEOUT_SECONDS}s", file=sys.stderr)
        return 1

    print("\nThe jobs through the API:")
    for key in keys:
        job_id = seen[key][0]
        url = f"{outputs['ApiUrl']}/jobs/{job_id}"
        with urllib.request.urlopen(url, timeout=10) as response:
            job = json.load(response)
        print(f"\nGET {url}\n  status {job['status']}, history "
              + " -> ".join(change["status"] for change in job["history"]))
    print("\nAt this stage a valid job stops at PREPARING once its data files are checked; "
          "launching the ML jobs comes next.\nStop the local stack with: make stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
