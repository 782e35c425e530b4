"""SageMaker request builders and waits shared by the SageMaker emulator tests.

Images are mapped to commands through /_recoflow/faults ("sagemaker_images"): TEST_IMAGES maps
the names below to tests/emulators/fake_container.py (or to nothing runnable).
"""

import io
import sys
import tarfile
from pathlib import Path

from botocore.exceptions import ClientError

from emu_helpers import wait_for

HERE = Path(__file__).resolve().parent
ROLE = "arn:aws:iam::000000000000:role/sagemaker"
FAKE_CMD = [sys.executable, str(HERE / "fake_container.py")]
FAKE = "recoflow-test/fake:latest"            # trains / scores like the reference container
SHARD = "recoflow-test/shard:1"              # processing: what each instance got (<host>.json), a .out per users file
FAKE_FAIL = "recoflow-test/fake-fail:1"       # exits 2 with /opt/ml/output/failure
SLEEP = "recoflow-test/sleep:1"               # stays InProgress for 30 s (stop it)
UNRUNNABLE = "recoflow-test/unrunnable:1"     # no command here: the job fails at once, no process
BAD_ROW = "recoflow-test/bad-row:1"           # training fails on its channel file, naming it
BAD_LINE = "recoflow-test/bad-line:1"         # processing fails on its input file, naming it on stderr
WHERE = "recoflow-test/where:1"               # training writes model/where.json: the paths it was given
CONNECT = "recoflow-test/connect:1"           # tries a TCP connection to $CONNECT_TO, writes connect.json
TEST_IMAGES = {
    FAKE: FAKE_CMD,
    SHARD: FAKE_CMD + ["shard"],
    "recoflow-test/fake-fail:*": FAKE_CMD + ["fail"],
    "recoflow-test/sleep:*": FAKE_CMD + ["sleep", "30"],
    "recoflow-test/unrunnable:*": ["/nonexistent/recoflow-test-command"],
    BAD_ROW: FAKE_CMD + ["bad-row"],
    BAD_LINE: FAKE_CMD + ["bad-line"],
    WHERE: FAKE_CMD + ["where"],
    CONNECT: FAKE_CMD + ["connect"],
}


def training_request(name, bucket, image=FAKE, max_runtime=60, channels=("interactions",), instance="ml.m5.large", **extra):
    request = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models"},
        "ResourceConfig": {"InstanceType": instance, "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "HyperParameters": {"k": "5"},
    }
    if channels:  # InputDataConfig holds at least one channel when given
        request["InputDataConfig"] = [
            {"ChannelName": c, "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train/{c}/"}}}
            for c in channels
        ]
    request.update(extra)
    return request


def processing_request(name, bucket, model_uri=None, image=FAKE, entrypoint=("fake", "score"), max_runtime=60,
                       instance="ml.m5.large", **extra):
    """With ``model_uri`` the scoring job of the tests (inputs model + users, output scores);
    without, a job with no inputs or outputs."""
    app = {"ImageUri": image}
    if entrypoint:
        app["ContainerEntrypoint"] = list(entrypoint)
    request = {
        "ProcessingJobName": name,
        "AppSpecification": app,
        "RoleArn": ROLE,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": instance, "VolumeSizeInGB": 10}},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }
    if model_uri:
        request["ProcessingInputs"] = [
            {"InputName": "model", "S3Input": {"S3Uri": model_uri, "LocalPath": "/opt/ml/processing/input/model",
                                               "S3DataType": "S3Prefix", "S3InputMode": "File"}},
            {"InputName": "users", "S3Input": {"S3Uri": f"s3://{bucket}/score/users.jsonl",
                                               "LocalPath": "/opt/ml/processing/input/users",
                                               "S3DataType": "S3Prefix", "S3InputMode": "File"}},
        ]
        request["ProcessingOutputConfig"] = {"Outputs": [
            {"OutputName": "scores", "S3Output": {"S3Uri": f"s3://{bucket}/scores/{name}",
                                                  "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}
        ]}
    request.update(extra)
    return request


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


def job_status(sm, kind: str, name: str) -> str:
    if kind == "training":
        return sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
    return sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"]


def stop_job(sm, kind: str, name: str) -> None:
    if kind == "training":
        sm.stop_training_job(TrainingJobName=name)
    else:
        sm.stop_processing_job(ProcessingJobName=name)


def log_messages(logs, kind: str, name: str) -> list[str]:
    """The CloudWatch Logs lines of a job's one stream (/aws/sagemaker/TrainingJobs or ProcessingJobs)."""
    group = "/aws/sagemaker/TrainingJobs" if kind == "training" else "/aws/sagemaker/ProcessingJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/")["logStreams"]
    [stream] = [s["logStreamName"] for s in streams if s["logStreamName"].startswith(f"{name}/algo-1-")]
    return [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]]


def model_file(s3, job: dict, member: str) -> bytes:
    """One file of a finished training job's model.tar.gz."""
    bucket, key = job["ModelArtifacts"]["S3ModelArtifacts"][len("s3://"):].split("/", 1)
    archive = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return tar.extractfile(member).read()
