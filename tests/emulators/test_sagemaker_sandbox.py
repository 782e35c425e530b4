"""What a SageMaker job's container sees locally (localstack/extension/recoflow_localstack/sagemaker/sandbox.py):
its directory at /opt/ml, never a host path, and no network when the job asks for network isolation.

On AWS no host path exists; a cause that carries one differs from job to job and so can never be
folded with the same failure of another job (issue 16).
"""

import json
from urllib.parse import urlparse

import pytest

from emu_helpers import unique
from sagemaker_requests import (
    BAD_LINE, BAD_ROW, CONNECT, WHERE, finished_processing, finished_training, log_messages, model_file,
    processing_request, put_training_data, training_request,
)

CSV = "/opt/ml/input/data/interactions/interactions.csv"
USERS = "/opt/ml/processing/input/users/users.jsonl"


def test_training_failure_reason_and_logs_name_the_container_path(aws, bucket, images):
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"train/interactions/interactions.csv": b"USER_ID,ITEM_ID,TIMESTAMP,EVENT\nu1,i1\n"})
    name = unique("badrow")
    sm.create_training_job(**training_request(name, bucket, image=BAD_ROW))
    job = finished_training(sm, name)
    assert job["TrainingJobStatus"] == "Failed"
    # equal to the letter: no per-job host directory anywhere in it
    assert job["FailureReason"] == f"AlgorithmError: {CSV}:2: expected 4 fields, got 2, exit code: 2"
    assert log_messages(aws("logs"), "training", name) == [f"reading {CSV}", f"{CSV}:2: expected 4 fields, got 2"]


def test_processing_failure_reason_from_the_log_tail_names_the_container_path(aws, bucket, images):
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"m/model.tar.gz": b"x", "score/users.jsonl": b"[1]\n"})
    name = unique("badline")
    sm.create_processing_job(**processing_request(name, bucket, f"s3://{bucket}/m/model.tar.gz", image=BAD_LINE, entrypoint=()))
    job = finished_processing(sm, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == f"AlgorithmError: {USERS}:1: not a JSON object, exit code: 1"
    assert log_messages(aws("logs"), "processing", name) == [f"{USERS}:1: not a JSON object"]


def test_the_container_finds_its_directory_at_opt_ml(aws, bucket, images):
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"train/interactions/part-1.csv": b"USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1\n"})
    name = unique("where")
    sm.create_training_job(**training_request(name, bucket, image=WHERE))
    job = finished_training(sm, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    where = json.loads(model_file(s3, job, "where.json"))
    assert where["at_opt_ml"] == ["part-1.csv"], "no /opt/ml mount on this machine: LocalStack's log says why (sagemaker.sandbox)"
    assert where["cwd"] == "/opt/ml"
    assert where["env"] == {
        "SM_CHANNEL_INTERACTIONS": "/opt/ml/input/data/interactions", "SM_CHANNELS": '["interactions"]',
        "SM_HPS": '{"k": "5"}', "SM_MODEL_DIR": "/opt/ml/model", "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
        "SM_OUTPUT_DIR": "/opt/ml/output",
    }


def localstack_address(endpoint: str) -> str:
    url = urlparse(endpoint)
    return f"{url.hostname}:{url.port}"


@pytest.mark.parametrize("isolation", [True, False, None], ids=["isolated", "not-isolated", "not-set"])
def test_training_network_isolation_is_recorded_and_enforced(aws, bucket, images, endpoint, isolation):
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"train/interactions/a.csv": b"USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1\nu2,i1,2\n"})
    name = unique("net")
    extra = {} if isolation is None else {"EnableNetworkIsolation": isolation}
    sm.create_training_job(**training_request(name, bucket, image=CONNECT,
                                              Environment={"CONNECT_TO": localstack_address(endpoint)}, **extra))
    # recorded as AWS answers it: false when the request did not set it
    assert sm.describe_training_job(TrainingJobName=name)["EnableNetworkIsolation"] is bool(isolation)
    job = finished_training(sm, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    outcome = json.loads(model_file(s3, job, "connect.json"))
    assert outcome["inputs"] == ["interactions/a.csv"]  # read from local files either way
    if isolation:
        assert outcome["connection"].startswith(("ConnectionRefusedError", "OSError")), outcome
        assert outcome["aws_credentials"] is False  # SageMaker gives an isolated container none
    else:
        assert outcome["connection"] == "connected"


@pytest.mark.parametrize("isolation", [True, False], ids=["isolated", "not-isolated"])
def test_processing_network_isolation_is_recorded_and_enforced(aws, bucket, images, endpoint, isolation):
    sm, s3 = aws("sagemaker"), aws("s3")
    put_training_data(s3, bucket, {"m/model.tar.gz": b"x", "score/users.jsonl": b'{"userId":"u1"}\n'})
    name = unique("pnet")
    sm.create_processing_job(**processing_request(
        name, bucket, f"s3://{bucket}/m/model.tar.gz", image=CONNECT, entrypoint=(),
        Environment={"CONNECT_TO": localstack_address(endpoint)}, NetworkConfig={"EnableNetworkIsolation": isolation},
    ))
    job = finished_processing(sm, name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["NetworkConfig"] == {"EnableNetworkIsolation": isolation}
    outcome = json.loads(s3.get_object(Bucket=bucket, Key=f"scores/{name}/connect.json")["Body"].read())
    assert outcome["inputs"] == ["model/model.tar.gz", "users/users.jsonl"]  # and its output reached S3
    if isolation:
        assert outcome["connection"].startswith(("ConnectionRefusedError", "OSError")), outcome
        assert outcome["aws_credentials"] is False
    else:
        assert outcome["connection"] == "connected"


def test_where_the_machine_allows_no_namespaces_the_host_path_is_given_and_shown_as_opt_ml(tmp_path):
    # in this process: the stand-in for a machine without unshare (or without user namespaces)
    from recoflow_localstack.sagemaker import runner, sandbox
    from recoflow_localstack.sagemaker.jobs import base_env

    box = sandbox.JobSandbox(tmp_path, isolate_network=True, machine=sandbox.Support(False, False, "no unshare"))
    paths = runner.LocalPaths(tmp_path, mounted=box.mounts_opt_ml)
    assert box.command(["recsys", "train"]) == ["recsys", "train"]
    assert box.log_notes() == [
        "recoflow emulator: network isolation was requested, but this machine cannot give the job a network of its "
        "own (no unshare): the job runs with network access."
    ]
    env = base_env(paths, {"AWS_ACCESS_KEY_ID": "from-the-job"}, network_isolation=True)
    assert env["RECSYS_OPT_ML"] == str(tmp_path / "opt_ml")
    assert env["AWS_ACCESS_KEY_ID"] == "from-the-job"  # the job's own Environment is passed as given
    host = paths.given(CSV)
    assert host == str(tmp_path / "opt_ml/input/data/interactions/interactions.csv")
    assert paths.as_container_text(f"AlgorithmError: {host}:3: bad row") == f"AlgorithmError: {CSV}:3: bad row"


def test_an_isolated_job_gets_no_aws_credentials_from_localstacks_environment(tmp_path, monkeypatch):
    from recoflow_localstack.sagemaker import runner
    from recoflow_localstack.sagemaker.jobs import base_env

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    paths = runner.LocalPaths(tmp_path, mounted=True)
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(base_env(paths, None, network_isolation=True)) == set()
    assert "AWS_ACCESS_KEY_ID" in base_env(paths, None, network_isolation=False)
    assert "RECSYS_OPT_ML" not in base_env(paths, None, network_isolation=False)
