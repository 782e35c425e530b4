"""End-to-end (issue 20b): data-driven triggers, skipping unchanged runs, reruns from the failed
phase, on the local stack (S3 events of the versioned data bucket, the trigger-check state
machine, the SageMaker and Personalize emulators with injected failures:
localstack/extension/EMULATORS.md).

- A form with `trigger: {on_new_data, quiet_seconds: 3}` answers 201 {trigger_id}; three data
  files uploaded within 5 s start exactly one job (derived from the trigger and the versions);
  the same bytes uploaded again start a job that ends SKIPPED naming the first, with nothing
  launched; an S3 event delivered again starts no check and no job.
- A container job whose scoring fails (its scoring image mapped to a failing command) is
  retried: the new job starts at scoring with the old job's training job marked `reused`, ends
  SUCCEEDED, and SageMaker holds one training job for the pair.
- A Personalize job whose batch inference fails (`fail_next` once its solution version trains)
  is retried: no new dataset import job or solution version, only a batch inference job.
"""

import json
import os
import time
from pathlib import Path

import requests
from boto3.dynamodb.types import TypeDeserializer

from e2e_helpers import RECSYS_IMAGE, assert_finished_ok, resources_of, statuses, unique, wait_for
from test_cli import run_cli

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "examples" / "data"
FILES = ("interactions.csv", "users.csv", "items.csv")


def post(api, path: str, body: dict | None = None) -> requests.Response:
    data = json.dumps(body) if body is not None else ""
    return api.http.post(f"{api.base}{path}", data=data, headers={"content-type": "application/json"}, timeout=30)


def trigger_record(aws, stack, trigger_id: str) -> dict:
    item = aws("dynamodb").get_item(TableName=stack["TriggersTable"], Key={"pk": {"S": trigger_id}}, ConsistentRead=True)
    return {k: TypeDeserializer().deserialize(v) for k, v in item["Item"].items()}


def wait_runs(aws, stack, trigger_id: str, count: int, timeout: float = 60) -> list:
    def probe():
        runs = trigger_record(aws, stack, trigger_id).get("runs", [])
        return runs if len(runs) >= count else None

    return wait_for(f"{count} run(s) of trigger {trigger_id}", probe, timeout)


def check_executions(aws, stack) -> list:
    pages = aws("stepfunctions").get_paginator("list_executions").paginate(stateMachineArn=stack["TriggerCheckStateMachine"])
    return [e for page in pages for e in page["executions"]]


def upload_all(aws, bucket: str, prefix: str, pause: float) -> dict:
    """Puts the three example files under prefix, `pause` seconds apart; their versions by key."""
    versions = {}
    for i, name in enumerate(FILES):
        if i:
            time.sleep(pause)
        put = aws("s3").put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=(DATA / name).read_bytes())
        versions[f"{prefix}/{name}"] = put["VersionId"]
    return versions


def data_event(bucket: str, key: str, version_id: str) -> dict:
    """The S3 notification of one put, as S3 sends it (to deliver it again)."""
    return {
        "Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-12-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:e2e"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0", "configurationId": "DataWritten",
                "bucket": {"name": bucket, "ownerIdentity": {"principalId": "e2e"}, "arn": f"arn:aws:s3:::{bucket}"},
                "object": {"key": key, "size": 1, "eTag": "e", "versionId": version_id, "sequencer": "0A"},
            },
        }]
    }


def test_three_files_uploaded_within_5_s_start_one_job_and_the_same_data_again_is_skipped(
    api, aws, stack, recoflow, container_form
):
    bucket, prefix = stack["DataBucket"], f"e2e-trigger/{unique('t')}"
    uris = {name: f"s3://{bucket}/{prefix}/{name}" for name in FILES}
    form = container_form(
        dataset={"interactions": uris["interactions.csv"], "users": uris["users.csv"], "items": uris["items.csv"]},
        trigger={"on_new_data": True, "quiet_seconds": 3},
    )
    created = api.post_job(form, key=unique("trigger-key"))
    assert created.status_code == 201, created.text
    trigger_id = created.json()["trigger_id"]
    assert created.json() == {"trigger_id": trigger_id, "replayed": False}
    assert trigger_record(aws, stack, trigger_id)["state"] == "ENABLED"

    first_upload = upload_all(aws, bucket, prefix, pause=1.5)
    (run,) = wait_runs(aws, stack, trigger_id, 1)
    first = run["job_id"]
    job, execution = recoflow.wait_ended(first, timeout=120)
    assert_finished_ok(job, execution)
    assert job["source"] == {"kind": "trigger", "trigger_id": trigger_id}, job["source"]
    assert {v["uri"]: v["version_id"] for v in job["data_versions"]} == {
        f"s3://{bucket}/{key}": version for key, version in first_upload.items()
    }, job["data_versions"]
    # Every file's check ran (waiting again while files were still coming); one job started.
    assert len(trigger_record(aws, stack, trigger_id)["runs"]) == 1
    stem = form["job_name"]
    assert [e["name"] for e in recoflow.executions_named(first)] == [first]
    assert sum(e["name"].startswith(stem) for e in recoflow.aws("stepfunctions").list_executions(
        stateMachineArn=stack["StateMachineArn"], maxResults=1000)["executions"]) == 1

    # The same bytes again: new versions, so a new job, which finds nothing changed.
    second_upload = upload_all(aws, bucket, prefix, pause=0.5)
    runs = wait_runs(aws, stack, trigger_id, 2)
    second = runs[-1]["job_id"]
    assert second != first
    skipped, execution = recoflow.wait_ended(second, timeout=60)
    assert (skipped["status"], execution) == ("SKIPPED", "SUCCEEDED"), skipped
    assert skipped["skipped"]["cause"] == "unchanged" and skipped["skipped"]["job_id"] == first, skipped["skipped"]
    assert first in skipped["skipped"]["reason"]
    assert skipped["resources"] == [] and "TRAINING" not in statuses(skipped), skipped
    assert not recoflow.training_jobs(NameContains=second)

    # An event delivered again (either upload's) starts no check and no job.
    checks_before = len(check_executions(aws, stack))
    for key, version in [*first_upload.items(), *second_upload.items()][:4]:
        answer, error = recoflow.invoke(stack["SchedulesFunctionName"], data_event(bucket, key, version))
        assert error is None and answer == {"handled": "data_written", "checks": [trigger_id]}, answer
    time.sleep(5)  # longer than the quiet period: a new check would have started a job by now
    assert len(check_executions(aws, stack)) == checks_before
    assert len(trigger_record(aws, stack, trigger_id)["runs"]) == 2

    # GET /triggers/{id}: its runs newest first with their jobs' statuses; deleted, new data
    # starts nothing.
    shown = api.http.get(f"{api.base}/triggers/{trigger_id}", timeout=30).json()
    assert [(r["job_id"], r["status"]) for r in shown["last_runs"]] == [(second, "SKIPPED"), (first, "SUCCEEDED")], shown
    assert sorted(shown["watches"]) == sorted(uris.values()) and shown["quiet_seconds"] == 3, shown
    # GET /triggers and `recoflow triggers`: the trigger listed with its runs.
    listed = {t["trigger_id"]: t for t in api.http.get(f"{api.base}/triggers?limit=100", timeout=30).json()["triggers"]}
    mine = listed[trigger_id]
    assert (mine["state"], mine["result_set"], mine["runs"]) == ("ENABLED", form["result_set"], 2), mine
    assert mine["last_run"]["job_id"] == second and sorted(mine["watches"]) == sorted(uris.values()), mine
    table = run_cli("--local", "triggers", "--limit", "100")
    assert table.returncode == 0, table.stderr
    (row,) = [line for line in table.stdout.splitlines() if line.startswith(trigger_id)]
    assert "ENABLED" in row and second in row, row
    deleted = api.http.delete(f"{api.base}/triggers/{trigger_id}", timeout=30)
    assert deleted.status_code == 200 and deleted.json()["state"] == "DELETED", deleted.text
    upload_all(aws, bucket, prefix, pause=0)
    time.sleep(5)
    assert len(check_executions(aws, stack)) == checks_before, "a deleted trigger was checked"
    assert len(trigger_record(aws, stack, trigger_id)["runs"]) == 2
    assert api.http.get(f"{api.base}/triggers/nope-0", timeout=30).json()["error"]["code"] == "TriggerNotFound"
    listed = api.http.get(f"{api.base}/triggers?limit=100", timeout=30).json()["triggers"]
    assert trigger_id not in [t["trigger_id"] for t in listed], "a deleted trigger is listed"


def test_a_container_job_failing_in_scoring_is_retried_to_success_with_one_training_job(
    api, recoflow, faults, container_form
):
    broken = RECSYS_IMAGE.rsplit(":", 1)[0] + ":" + unique("score-broken")
    faults.set({"sagemaker_images": {broken: ["/bin/false"]}})
    form = container_form(container={**container_form()["container"], "scoring_image": broken})
    old_id = recoflow.submit(form)
    old, execution = recoflow.wait_ended(old_id, timeout=120)
    assert (old["status"], execution) == ("FAILED", "FAILED"), old
    assert old["failure"]["status"] == "SCORING", old["failure"]
    (trained,) = resources_of(old, "training-job")
    assert trained["state"] == "SUCCEEDED"

    # The scoring image works again; the retry starts at scoring on the trained model.
    recsys = os.environ.get("RECOFLOW_RECSYS_BIN", str(REPO / "target" / "local" / "recsys"))
    faults.set({"sagemaker_images": {broken: [recsys]}})
    answer = post(api, f"/jobs/{old_id}/retry")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["retry_of"], body["from_phase"], body["reused"]) == (old_id, "score", [trained["name"]]), body
    new_id = body["job_id"]
    again = post(api, f"/jobs/{old_id}/retry")
    assert again.status_code == 200 and again.json()["job_id"] == new_id and again.json()["replayed"] is True

    new, execution = recoflow.wait_ended(new_id, timeout=120)
    assert_finished_ok(new, execution)
    assert new["retry_of"] == old_id and recoflow.job(old_id)["retried_by"] == new_id
    assert "TRAINING" not in statuses(new), new["history"]
    (reused,) = resources_of(new, "training-job")
    assert reused["name"] == trained["name"] and reused["reused"] == {"job_id": old_id}, reused
    assert len(recoflow.training_jobs(NameContains=old_id)) == 1
    assert recoflow.training_jobs(NameContains=new_id) == []
    scoring = recoflow.aws("sagemaker").describe_processing_job(
        ProcessingJobName=resources_of(new, "processing-job")[0]["name"])
    model = next(i for i in scoring["ProcessingInputs"] if i["InputName"] == "model")
    assert f"/jobs/{old_id}/model/{trained['name']}/" in model["S3Input"]["S3Uri"], model
    assert recoflow.score_lines(new_id), "the retry delivered scores"

    # An unknown job is 404.
    assert post(api, "/jobs/nope-0000/retry").status_code == 404


def test_a_personalize_job_failing_in_batch_inference_is_retried_without_new_imports_or_solution_versions(
    api, recoflow, faults, personalize_form
):
    # Solution versions long enough to inject the failure while one trains: the next
    # Personalize job to start after it is the batch inference job.
    faults.set({"durations": {"personalize": 4.0}})
    old_id = recoflow.submit(personalize_form())
    running = recoflow.wait_job(
        old_id, "its solution version created",
        lambda job: any(r.get("arn") for r in resources_of(job, "solution-version")), timeout=120)
    (version,) = resources_of(running, "solution-version")
    personalize = recoflow.aws("personalize")
    # The emulator decides a job's injected failure as it turns IN_PROGRESS: past that, the
    # next one to start is the batch inference job.
    wait_for("the solution version in progress", lambda: personalize.describe_solution_version(
        solutionVersionArn=version["arn"])["solutionVersion"]["status"] == "CREATE IN_PROGRESS", timeout=30, interval=0.2)
    time.sleep(0.5)
    assert resources_of(recoflow.job(old_id), "batch-inference-job") == []
    faults.set({"fail_next": {"personalize": 1}, "durations": {"personalize": 1.0}})
    old, execution = recoflow.wait_ended(old_id, timeout=120)
    assert (old["status"], old["failure"]["status"]) == ("FAILED", "SCORING"), old["failure"]

    def arns(operation: str, field: str, arn: str) -> set:
        return {r[arn] for r in getattr(personalize, operation)(maxResults=100)[field]}

    imports_before = arns("list_dataset_import_jobs", "datasetImportJobs", "datasetImportJobArn")
    versions_before = arns("list_solution_versions", "solutionVersions", "solutionVersionArn")
    answer = post(api, f"/jobs/{old_id}/retry", {"from_phase": "score"})
    assert answer.status_code == 202, answer.text
    new_id = answer.json()["job_id"]
    new, execution = recoflow.wait_ended(new_id, timeout=120)
    assert_finished_ok(new, execution)
    assert not {"IMPORTING", "TRAINING"} & set(statuses(new)), new["history"]
    for kind in ("dataset-import-job", "solution-version"):
        reused = resources_of(new, kind)
        assert reused and all(r["reused"]["job_id"] == old_id for r in reused), (kind, reused)
    launched = [r for r in new["resources"] if not r.get("reused")]
    assert [r["kind"] for r in launched] == ["batch-inference-job"], launched
    assert arns("list_dataset_import_jobs", "datasetImportJobs", "datasetImportJobArn") == imports_before
    assert arns("list_solution_versions", "solutionVersions", "solutionVersionArn") == versions_before
    assert recoflow.score_lines(new_id), "the retry delivered scores"
