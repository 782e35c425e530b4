"""SageMaker request builders and waits shared by the SageMaker emulator tests.

Images are mapped to commands through /_recoflow/faults ("sagemaker_images"): TEST_IMAGES maps
the names below to tests/emulators/fake_container.py (or to nothing runnable).
"""

import sys
from pathlib import Path

from botocore.exceptions import ClientError

from emu_helpers import wait_for

HERE = Path(__file__).resolve().parent
ROLE = "arn:aws:iam::000000000000:role/sagemaker"
FAKE_CMD = [sys.executable, str(HERE / "fake_container.py")]
FAKE = "recoflow-test/fake:latest"            # trains / scores like the reference container
FAKE_FAIL = "recoflow-test/fake-fail:1"       # exits 2 with /opt/ml/output/failure
SLEEP = "recoflow-test/sleep:1"               # stays InProgress for 30 s (stop it)
UNRUNNABLE = "recoflow-test/unrunnable:1"     # no command here: the job fails at once, no process
TEST_IMAGES = {
    FAKE: FAKE_CMD,
    "recoflow-test/fake-fail:*": FAKE_CMD + ["fail"],
    "recoflow-test/sleep:*": FAKE_CMD + ["sleep", "30"],
    "recoflow-test/unrunnable:*": ["/nonexistent/recoflow-test-command"],
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
