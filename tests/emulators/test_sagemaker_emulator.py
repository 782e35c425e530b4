"""Amazon SageMaker training/processing emulator (localstack/extension/recoflow_localstack/sagemaker).

Jobs run images as local commands. Each test maps its image URIs to commands through
/_recoflow/faults ("sagemaker_images") and restores the fault configuration afterwards.
"""

import io
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from emu_helpers import unique, wait_for
from sagemaker_requests import (
    FAKE, ROLE, SHARD, SLEEP, UNRUNNABLE, code, finished_processing, finished_training,
    job_status, processing_request, put_training_data, stop_job, training_request,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
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


def test_training_job_whose_channel_prefix_is_empty_is_refused_at_create(aws, bucket, images):
    # AWS refuses it in CreateTrainingJob (it used to become a job that failed later, holding quota)
    sm = aws("sagemaker")
    name = unique("nodata")
    with pytest.raises(ClientError) as refused:
        sm.create_training_job(**training_request(name, bucket))
    assert code(refused.value) == "ValidationException"
    assert refused.value.response["Error"]["Message"] == (
        f'No S3 objects found under S3 URL "s3://{bucket}/train/interactions/" given in input data source. Please '
        f'ensure that the bucket exists in the selected region (us-east-1), that objects exist under that S3 prefix, '
        f'and that the role "{ROLE}" has "s3:ListBucket" permissions on bucket "{bucket}".'
    )
    with pytest.raises(ClientError) as missing:
        sm.describe_training_job(TrainingJobName=name)
    assert code(missing.value) == "ValidationException"
    # a bucket that does not exist is worded the same way
    with pytest.raises(ClientError) as no_bucket:
        sm.create_training_job(**training_request(name, f"{bucket}-missing"))
    assert "No S3 objects found under S3 URL" in no_bucket.value.response["Error"]["Message"]


def test_processing_job_with_an_empty_input_prefix_fails_when_it_runs(aws, bucket, images):
    # unlike training channels, processing inputs are not looked at on create
    sm = aws("sagemaker")
    name = unique("noinput")
    sm.create_processing_job(**processing_request(name, bucket, f"s3://{bucket}/nothing/"))
    job = finished_processing(sm, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(f"ClientError: No objects exist under the S3 prefix s3://{bucket}/nothing/")


@pytest.mark.parametrize("kind", ["training", "processing"])
def test_job_names_are_unique_without_regard_to_case(aws, bucket, images, kind):
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"train/interactions/a.csv": b"USER_ID\nu1\n"})
    name = unique("CaseJob")
    create = sm.create_training_job if kind == "training" else sm.create_processing_job
    build = training_request if kind == "training" else processing_request
    create(**build(name, bucket, image=UNRUNNABLE))
    with pytest.raises(ClientError) as in_use:
        create(**build(name.lower(), bucket, image=UNRUNNABLE))
    assert code(in_use.value) == "ResourceInUse"
    assert f"-job/{name.lower()})" in in_use.value.response["Error"]["Message"]
    # the job is found under either spelling, and keeps the name it was created with
    if kind == "training":
        assert sm.describe_training_job(TrainingJobName=name.lower())["TrainingJobName"] == name
    else:
        assert sm.describe_processing_job(ProcessingJobName=name.upper())["ProcessingJobName"] == name


@pytest.mark.parametrize("kind", ["training", "processing"])
def test_stopped_job_stays_stopping_for_stopping_seconds(aws, bucket, images, kind):
    images({"stopping_seconds": 1.0})
    sm = aws("sagemaker")
    name = unique("stopme")
    if kind == "training":
        sm.create_training_job(**training_request(name, bucket, image=SLEEP, channels=()))
    else:
        sm.create_processing_job(**processing_request(name, bucket, image=SLEEP, entrypoint=()))
    stop_job(sm, kind, name)
    stopped_at = time.monotonic()
    assert job_status(sm, kind, name) == "Stopping"
    final = wait_for(lambda: job_status(sm, kind, name), lambda status: status != "Stopping", timeout=15, interval=0.05)
    assert final == "Stopped"
    assert time.monotonic() - stopped_at >= 0.9
    with pytest.raises(ClientError) as again:  # a stopped job cannot be stopped again
        stop_job(sm, kind, name)
    assert code(again.value) == "ValidationException"


def test_training_over_max_runtime_is_stopped(aws, bucket, images):
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"train/interactions/a.csv": b"x\n"})
    name = unique("slow")
    sm.create_training_job(**training_request(name, bucket, image=SLEEP, max_runtime=1))
    job = finished_training(sm, name, timeout=15)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")


def test_processing_over_max_runtime_fails(aws, bucket, images):
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"m/model.tar.gz": b"x", "score/users.jsonl": b"{}\n"})
    name = unique("slowproc")
    sm.create_processing_job(**processing_request(name, bucket, f"s3://{bucket}/m/model.tar.gz",
                                                  image=SLEEP, entrypoint=(), max_runtime=1))
    job = finished_processing(sm, name, timeout=15)
    assert job["ProcessingJobStatus"] == "Failed"
    assert "MaxRuntimeInSeconds" in job["FailureReason"]


def test_second_training_job_over_instance_quota_is_refused_then_stop_frees_it(aws, bucket, images):
    images({"limits": {"sagemaker": {"training": {"ml.m5.large": 1}}}})
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"train/interactions/a.csv": b"x\n"})
    first = unique("q1")
    sm.create_training_job(**training_request(first, bucket, image=SLEEP))
    with pytest.raises(ClientError) as refused:
        sm.create_training_job(**training_request(unique("q2"), bucket, image=SLEEP))
    assert code(refused.value) == "ResourceLimitExceeded"
    assert refused.value.response["Error"]["Message"] == LIMIT_MESSAGE
    # another instance type has its own quota
    other = unique("q3")
    sm.create_training_job(**training_request(other, bucket, image=SLEEP, instance="ml.c5.xlarge"))
    for name in (first, other):
        sm.stop_training_job(TrainingJobName=name)
    for name in (first, other):
        job = finished_training(sm, name, timeout=15)
        assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    sm.create_training_job(**training_request(unique("q4"), bucket, image=FAKE))


def test_processing_over_instance_quota_is_refused(aws, bucket, images):
    images({"limits": {"sagemaker": {"processing": {"ml.m5.large": 1}}}})
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"m/model.tar.gz": b"x", "score/users.jsonl": b"{}\n"})
    first = unique("pq1")
    sm.create_processing_job(**processing_request(first, bucket, f"s3://{bucket}/m/model.tar.gz", image=SLEEP, entrypoint=()))
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


def sharded_request(name, bucket, instances: int) -> dict:
    """A processing job of ``instances`` instances on the model (FullyReplicated) and the users
    under shard/users/ (ShardedByS3Key)."""
    def s3_input(input_name, uri, local, distribution):
        return {"InputName": input_name, "S3Input": {"S3Uri": uri, "LocalPath": local, "S3DataType": "S3Prefix",
                                                     "S3InputMode": "File", "S3DataDistributionType": distribution}}

    request = processing_request(name, bucket, f"s3://{bucket}/m/model.tar.gz", image=SHARD)
    request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = instances
    request["ProcessingInputs"] = [
        s3_input("model", f"s3://{bucket}/m/model.tar.gz", "/opt/ml/processing/input/model", "FullyReplicated"),
        s3_input("users", f"s3://{bucket}/shard/users/", "/opt/ml/processing/input/users", "ShardedByS3Key"),
    ]
    return request


def test_sharded_by_s3_key_gives_each_instance_its_share_of_the_objects(aws, bucket, images):
    sm, s3 = aws("sagemaker"), aws("s3")
    parts = [f"g000{n // 3}/part-0000{n}.jsonl" for n in range(5)]
    put_training_data(s3, bucket, {"m/model.tar.gz": b"x",
                                   **{f"shard/users/{p}": f'{{"userId":"u{n}"}}\n'.encode() for n, p in enumerate(parts)}})
    name = unique("shard")
    sm.create_processing_job(**sharded_request(name, bucket, instances=2))
    job = finished_processing(sm, name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    host = lambda h: json.loads(s3.get_object(Bucket=bucket, Key=f"scores/{name}/{h}.json")["Body"].read())
    # every other object in key order, the model on both
    assert host("algo-1") == {"users": [parts[0], parts[2], parts[4]], "model": ["model.tar.gz"]}
    assert host("algo-2") == {"users": [parts[1], parts[3]], "model": ["model.tar.gz"]}
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"scores/{name}/")["Contents"]
    assert sorted(o["Key"] for o in listed if o["Key"].endswith(".jsonl.out")) == [f"scores/{name}/{p}.out" for p in parts]
    # each instance logs to a stream of its own
    streams = aws("logs").describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs",
                                               logStreamNamePrefix=f"{name}/")["logStreams"]
    assert sorted(s["logStreamName"].rsplit("-", 1)[0] for s in streams) == [f"{name}/algo-1", f"{name}/algo-2"]


def test_an_instance_beyond_the_objects_gets_none_and_the_job_completes(aws, bucket, images):
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"m/model.tar.gz": b"x", "shard/users/a.jsonl": b'{"userId":"u1"}\n',
                                   "shard/users/b.jsonl": b'{"userId":"u2"}\n'})
    name = unique("shard3")
    sm.create_processing_job(**sharded_request(name, bucket, instances=3))
    job = finished_processing(sm, name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    third = json.loads(s3.get_object(Bucket=bucket, Key=f"scores/{name}/algo-3.json")["Body"].read())
    assert third == {"users": [], "model": ["model.tar.gz"]}
    for key in ("a.jsonl.out", "b.jsonl.out"):
        s3.head_object(Bucket=bucket, Key=f"scores/{name}/{key}")
