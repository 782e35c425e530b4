"""Amazon SageMaker training/processing emulator (localstack/extension/recoflow_localstack/sagemaker).

Jobs run images as local commands. Each test maps its image URIs to commands through
/_recoflow/faults ("sagemaker_images") and restores the fault configuration afterwards.
"""

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from emu_helpers import unique, wait_for

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ROLE = "arn:aws:iam::000000000000:role/sagemaker"
FAKE = "recoflow-test/fake:latest"
FAKE_CMD = [sys.executable, str(HERE / "fake_container.py")]
RECSYS = "000000000000.dkr.ecr.us-east-1.amazonaws.com/recoflow-recsys:latest"
LIMIT_MESSAGE = (
    "The account-level service limit 'ml.m5.large for training job usage' is 1 Instances, with current "
    "utilization of 1 Instances and a request delta of 1 Instances. Please use AWS Service Quotas to request "
    "an increase for this quota. If AWS Service Quotas is not available, contact AWS support to request an "
    "increase for this quota."
)


def recsys_binary() -> str | None:
    for candidate in (os.environ.get("RECOFLOW_RECSYS_BIN"), REPO / "target/local/recsys"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


@pytest.fixture
def images(faults):
    faults({"sagemaker_images": {FAKE: FAKE_CMD, "recoflow-test/fake-fail:*": FAKE_CMD + ["fail"]}})
    return faults


def training_request(name, bucket, image=FAKE, max_runtime=60, channels=("interactions",), instance="ml.m5.large", **extra):
    request = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "InputDataConfig": [
            {"ChannelName": c, "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train/{c}/"}}}
            for c in channels
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models"},
        "ResourceConfig": {"InstanceType": instance, "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "HyperParameters": {"k": "5"},
    }
    request.update(extra)
    return request


def processing_request(name, bucket, model_uri, image=FAKE, entrypoint=("fake", "score"), max_runtime=60, instance="ml.m5.large"):
    app = {"ImageUri": image}
    if entrypoint:
        app["ContainerEntrypoint"] = list(entrypoint)
    return {
        "ProcessingJobName": name,
        "AppSpecification": app,
        "RoleArn": ROLE,
        "ProcessingInputs": [
            {"InputName": "model", "S3Input": {"S3Uri": model_uri, "LocalPath": "/opt/ml/processing/input/model",
                                               "S3DataType": "S3Prefix", "S3InputMode": "File"}},
            {"InputName": "users", "S3Input": {"S3Uri": f"s3://{bucket}/score/users.jsonl",
                                               "LocalPath": "/opt/ml/processing/input/users",
                                               "S3DataType": "S3Prefix", "S3InputMode": "File"}},
        ],
        "ProcessingOutputConfig": {"Outputs": [
            {"OutputName": "scores", "S3Output": {"S3Uri": f"s3://{bucket}/scores/{name}",
                                                  "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}
        ]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": instance, "VolumeSizeInGB": 10}},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }


def put_training_data(s3, bucket, files: dict[str, bytes]):
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def finished_training(sm, name, timeout=30):
    return wait_for(lambda: sm.describe_training_job(TrainingJobName=name),
                    lambda r: r["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"), timeout)


def finished_processing(sm, name, timeout=30):
    return wait_for(lambda: sm.describe_processing_job(ProcessingJobName=name),
                    lambda r: r["ProcessingJobStatus"] in ("Completed", "Failed", "Stopped"), timeout)


def code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def test_training_then_processing_produce_model_and_scores(aws, bucket, images):
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {
        "train/interactions/part-1.csv": b"USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1\nu2,i1,2\n",
        "score/users.jsonl": b'{"userId":"u1"}\n{"userId":"u2"}\n',
    })
    name = unique("train")
    arn = sm.create_training_job(**training_request(name, bucket))["TrainingJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{name.lower()}"
    job = finished_training(sm, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    model_uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri == f"s3://{bucket}/models/{name}/output/model.tar.gz"
    archive = s3.get_object(Bucket=bucket, Key=f"models/{name}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        model = json.load(tar.extractfile("model.json"))
    assert model == {"rows": 2, "hyperparameters": {"k": "5"}}

    pname = unique("score")
    sm.create_processing_job(**processing_request(pname, bucket, model_uri))
    pjob = finished_processing(sm, pname)
    assert pjob["ProcessingJobStatus"] == "Completed", pjob.get("FailureReason")
    lines = s3.get_object(Bucket=bucket, Key=f"scores/{pname}/users.jsonl.out")["Body"].read().decode().splitlines()
    assert [json.loads(line)["input"]["userId"] for line in lines] == ["u1", "u2"]
    assert json.loads(lines[0])["model"] == ["model.tar.gz"]
    summaries = sm.list_training_jobs(NameContains=name)["TrainingJobSummaries"]
    assert [s["TrainingJobStatus"] for s in summaries] == ["Completed"]
    assert sm.list_processing_jobs(NameContains=pname, StatusEquals="Completed")["ProcessingJobSummaries"][0]["ProcessingJobArn"] \
        == f"arn:aws:sagemaker:us-east-1:000000000000:processing-job/{pname.lower()}"


def test_reference_container_trains_and_scores(aws, bucket, faults, tmp_path):
    binary = recsys_binary()
    # make test builds it (scripts/build-functions.sh); a missing binary is a failure, not a skip.
    assert binary, "reference container not built: run scripts/build-functions.sh (target/local/recsys)"
    faults({"sagemaker_images": {RECSYS: [binary]}})
    subprocess.run([binary, "gen", "--users", "60", "--items", "30", "--out", str(tmp_path)], check=True, capture_output=True)
    sm, s3 = aws("sagemaker"), aws("s3")
    files = {f"train/{n}/{n}.csv": (tmp_path / f"{n}.csv").read_bytes() for n in ("interactions", "users", "items")}
    files["score/users.jsonl"] = (tmp_path / "users-to-score.jsonl").read_bytes()
    put_training_data(s3, bucket, files)
    name = unique("recsys-train")
    sm.create_training_job(**training_request(name, bucket, image=RECSYS, channels=("interactions", "users", "items"),
                                              HyperParameters={"num_popular": "20"}))
    job = finished_training(sm, name, timeout=60)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    pname = unique("recsys-score")
    sm.create_processing_job(**processing_request(pname, bucket, job["ModelArtifacts"]["S3ModelArtifacts"],
                                                  image=RECSYS, entrypoint=("recsys", "score")))
    pjob = finished_processing(sm, pname, timeout=60)
    assert pjob["ProcessingJobStatus"] == "Completed", pjob.get("FailureReason")
    body = s3.get_object(Bucket=bucket, Key=f"scores/{pname}/users.jsonl.out")["Body"].read().decode()
    first = json.loads(body.splitlines()[0])
    assert first["error"] is None and first["output"]["recommendedItems"]


def test_failing_container_ends_failed_with_its_reason(aws, bucket, images):
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"train/interactions/a.csv": b"USER_ID\nu1\n"})
    name = unique("fails")
    sm.create_training_job(**training_request(name, bucket, image="recoflow-test/fake-fail:1"))
    job = finished_training(sm, name)
    assert job["TrainingJobStatus"] == "Failed" and job["SecondaryStatus"] == "Failed"
    assert job["FailureReason"] == "AlgorithmError: InvalidInput: interactions channel has no TIMESTAMP column, exit code: 2"
    logs = aws("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/")
    [stream] = [s["logStreamName"] for s in streams["logStreams"] if s["logStreamName"].startswith(f"{name}/algo-1-")]
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream)["events"]
    assert [e["message"] for e in events] == ["fake container: failing on purpose"]


def test_missing_input_data_fails_the_training_job(aws, bucket, images):
    sm = aws("sagemaker")
    name = unique("nodata")
    sm.create_training_job(**training_request(name, bucket))
    job = finished_training(sm, name)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: No S3 objects found under S3 URL")


def test_training_over_max_runtime_is_stopped(aws, bucket, images):
    images({"sagemaker_images": {"recoflow-test/sleep:*": FAKE_CMD + ["sleep", "30"]}})
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"train/interactions/a.csv": b"x\n"})
    name = unique("slow")
    sm.create_training_job(**training_request(name, bucket, image="recoflow-test/sleep:1", max_runtime=1))
    job = finished_training(sm, name, timeout=15)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")


def test_processing_over_max_runtime_fails(aws, bucket, images):
    images({"sagemaker_images": {"recoflow-test/sleep:*": FAKE_CMD + ["sleep", "30"]}})
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"m/model.tar.gz": b"x", "score/users.jsonl": b"{}\n"})
    name = unique("slowproc")
    sm.create_processing_job(**processing_request(name, bucket, f"s3://{bucket}/m/model.tar.gz",
                                                  image="recoflow-test/sleep:1", entrypoint=(), max_runtime=1))
    job = finished_processing(sm, name, timeout=15)
    assert job["ProcessingJobStatus"] == "Failed"
    assert "MaxRuntimeInSeconds" in job["FailureReason"]


def test_second_training_job_over_instance_quota_is_refused_then_stop_frees_it(aws, bucket, images):
    images({"limits": {"sagemaker": {"training": {"ml.m5.large": 1}}},
            "sagemaker_images": {"recoflow-test/sleep:*": FAKE_CMD + ["sleep", "30"]}})
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"train/interactions/a.csv": b"x\n"})
    first = unique("q1")
    sm.create_training_job(**training_request(first, bucket, image="recoflow-test/sleep:1"))
    with pytest.raises(ClientError) as refused:
        sm.create_training_job(**training_request(unique("q2"), bucket, image="recoflow-test/sleep:1"))
    assert code(refused.value) == "ResourceLimitExceeded"
    assert refused.value.response["Error"]["Message"] == LIMIT_MESSAGE
    # another instance type has its own quota
    other = unique("q3")
    sm.create_training_job(**training_request(other, bucket, image="recoflow-test/sleep:1", instance="ml.c5.xlarge"))
    for name in (first, other):
        sm.stop_training_job(TrainingJobName=name)
    for name in (first, other):
        job = finished_training(sm, name, timeout=15)
        assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    sm.create_training_job(**training_request(unique("q4"), bucket, image=FAKE))


def test_processing_over_instance_quota_is_refused(aws, bucket, images):
    images({"limits": {"sagemaker": {"processing": {"ml.m5.large": 1}}},
            "sagemaker_images": {"recoflow-test/sleep:*": FAKE_CMD + ["sleep", "30"]}})
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"m/model.tar.gz": b"x", "score/users.jsonl": b"{}\n"})
    first = unique("pq1")
    sm.create_processing_job(**processing_request(first, bucket, f"s3://{bucket}/m/model.tar.gz", image="recoflow-test/sleep:1", entrypoint=()))
    with pytest.raises(ClientError) as refused:
        sm.create_processing_job(**processing_request(unique("pq2"), bucket, f"s3://{bucket}/m/model.tar.gz"))
    assert code(refused.value) == "ResourceLimitExceeded"
    assert "'ml.m5.large for processing job usage' is 1 Instances" in refused.value.response["Error"]["Message"]
    sm.stop_processing_job(ProcessingJobName=first)
    assert finished_processing(sm, first, timeout=15)["ProcessingJobStatus"] == "Stopped"


def test_throttling_answers_throttling_exception(aws, faults):
    faults({"throttle": {"sagemaker": {"rate": 1.0}}})
    with pytest.raises(ClientError) as throttled:
        aws("sagemaker").list_training_jobs()
    assert code(throttled.value) == "ThrottlingException"


def test_fail_next_job(aws, bucket, images):
    images({"fail_next": {"sagemaker": 1}})
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"train/interactions/a.csv": b"USER_ID\nu1\n"})
    failed, ok = unique("inj1"), unique("inj2")
    sm.create_training_job(**training_request(failed, bucket))
    assert "Injected failure" in finished_training(sm, failed)["FailureReason"]
    sm.create_training_job(**training_request(ok, bucket))
    assert finished_training(sm, ok)["TrainingJobStatus"] == "Completed"


def test_error_shapes(aws, bucket, images):
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"train/interactions/a.csv": b"USER_ID\nu1\n"})
    name = unique("dup")
    sm.create_training_job(**training_request(name, bucket))
    with pytest.raises(ClientError) as in_use:
        sm.create_training_job(**training_request(name, bucket))
    assert code(in_use.value) == "ResourceInUse"
    with pytest.raises(ClientError) as missing:
        sm.describe_training_job(TrainingJobName="no-such-job")
    assert code(missing.value) == "ValidationException"
    with pytest.raises(ClientError) as bad_name:
        sm.create_training_job(**training_request("bad_name", bucket))
    assert code(bad_name.value) == "ValidationException"
    finished_training(sm, name)
    with pytest.raises(ClientError) as not_running:
        sm.stop_training_job(TrainingJobName=name)
    assert code(not_running.value) == "ValidationException"
