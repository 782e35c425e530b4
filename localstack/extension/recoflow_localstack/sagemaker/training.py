"""SageMaker training jobs: S3 channels into /opt/ml/input/data, the image's command, the model
directory back to S3 as model.tar.gz, with the status transitions SageMaker reports."""

from __future__ import annotations

import json
import logging
import tarfile
import time

from localstack.aws.api import RequestContext, handler

from recoflow_localstack import faults
from recoflow_localstack.emulation import list_keys, parse_s3_uri, public_view, s3_client, start_thread, utcnow
from recoflow_localstack.sagemaker import runner
from recoflow_localstack.sagemaker.jobs import (
    INJECTED_FAILURE, SERVICE, Job, JobFailure, ResourceInUse, SageMakerJobs, ValidationException, base_env, download,
    error_text, no_objects_message, read_failure,
)

LOG = logging.getLogger(__name__)


class TrainingJobs(SageMakerJobs):
    @handler("CreateTrainingJob", expand=False)
    def create_training_job(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        name = request["TrainingJobName"]
        algo = request.get("AlgorithmSpecification") or {}
        image = algo.get("TrainingImage")
        if not image and not algo.get("AlgorithmName"):
            raise ValidationException("Either TrainingImage or AlgorithmName must be specified in AlgorithmSpecification.")
        output = request["OutputDataConfig"]
        resources = request["ResourceConfig"]
        instance_type = resources.get("InstanceType")
        count = resources.get("InstanceCount") or 1
        if not instance_type:  # AWS also takes InstanceGroups (heterogeneous clusters), not emulated
            raise ValidationException("1 validation error detected: Value null at 'resourceConfig.instanceType' failed to satisfy constraint: Member must not be null")
        stopping = request.get("StoppingCondition") or {}
        max_runtime = stopping.get("MaxRuntimeInSeconds") or 86400
        channels = request.get("InputDataConfig") or []
        names = [c["ChannelName"] for c in channels]
        if len(set(names)) != len(names):
            raise ValidationException(f"Channel names must be unique within InputDataConfig: {names}.")
        for channel in channels:
            if not (channel.get("DataSource") or {}).get("S3DataSource"):
                raise ValidationException(f"Channel {channel['ChannelName']}: only S3DataSource is supported by the local emulator.")
        tags = store.tags.checked([(t["Key"], t["Value"]) for t in request.get("Tags") or []])
        # AWS looks at every channel's prefix when the job is created, not when it starts
        self._require_channel_objects(context, channels, request["RoleArn"])

        arn = self._job_arn(context, "training", name)
        model_uri = f"{output['S3OutputPath'].rstrip('/')}/{name}/output/model.tar.gz"
        with self._lock:
            if name.lower() in store.training:
                raise ResourceInUse(
                    f"Training job names must be unique within an AWS account and region, and a training job "
                    f"with this name already exists ({arn})"
                )
            self._check_capacity(store.training, "training", instance_type, count)
            now = utcnow()
            record = {
                "TrainingJobName": name, "TrainingJobArn": arn, "ModelArtifacts": {"S3ModelArtifacts": model_uri},
                "TrainingJobStatus": "InProgress", "SecondaryStatus": "Starting", "HyperParameters": request.get("HyperParameters"),
                "AlgorithmSpecification": algo, "RoleArn": request["RoleArn"], "InputDataConfig": channels or None,
                "OutputDataConfig": output, "ResourceConfig": resources, "StoppingCondition": {**stopping, "MaxRuntimeInSeconds": max_runtime},
                "Environment": request.get("Environment"), "CreationTime": now, "LastModifiedTime": now,
                # Describe answers it whether or not the request set it (false by default), as AWS does
                "EnableNetworkIsolation": bool(request.get("EnableNetworkIsolation")),
                "SecondaryStatusTransitions": [
                    {"Status": "Starting", "StartTime": now, "StatusMessage": "Starting the training job"}
                ],
            }
            job = Job("training", record, instance_type=instance_type, instance_count=count)
            store.training[name.lower()] = job
            store.tags.add(arn, tags)
        start_thread(f"sagemaker-training-{name}", lambda: self._run_training(context, job))
        return {"TrainingJobArn": arn}

    @staticmethod
    def _require_channel_objects(context: RequestContext, channels: list[dict], role_arn: str) -> None:
        s3 = s3_client(context.account_id, context.region)
        for channel in channels:
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            bucket, prefix = parse_s3_uri(uri)
            try:
                found = any(not key.endswith("/") for key in list_keys(s3, bucket, prefix))
            except Exception:  # no such bucket, or no access: AWS words it the same way
                found = False
            if not found:
                raise ValidationException(no_objects_message(uri, context.region, role_arn))

    def _finish_training(self, job: Job, status: str, secondary: str, message: str, reason: str | None = None) -> None:
        if (status, secondary) == ("Stopped", "Stopped"):
            job.hold_stopping()  # not under the lock: requests keep seeing Stopping meanwhile
        # under the lock StopTrainingJob takes (see there)
        with self._lock:
            r = job.record
            self._secondary(job, secondary, message)
            r["SecondaryStatusTransitions"][-1]["EndTime"] = r["LastModifiedTime"]
            r["TrainingJobStatus"] = status
            if reason:
                r["FailureReason"] = job.reported(reason)
            r["TrainingEndTime"] = r["LastModifiedTime"]
            if r.get("TrainingStartTime"):
                seconds = int((r["TrainingEndTime"] - r["TrainingStartTime"]).total_seconds())
                r["TrainingTimeInSeconds"] = r["BillableTimeInSeconds"] = max(1, seconds)

    def _run_training(self, context: RequestContext, job: Job) -> None:
        try:
            self._train(context, job)
        except JobFailure as failure:
            self._finish_training(job, "Failed", "Failed", "Training job failed", failure.reason)
        except Exception as e:
            LOG.exception("training job %s crashed", job.name)
            self._finish_training(job, "Failed", "Failed", "Training job failed", f"InternalServerError: {e}")

    def _train(self, context: RequestContext, job: Job) -> None:
        """Starting -> Downloading -> Training -> Uploading -> Completed, or Stopped; a failure
        raises JobFailure."""
        r = job.record
        duration = faults.job_duration(SERVICE)
        if job.stop_requested.wait(duration * 0.4):
            self._finish_training(job, "Stopped", "Stopped", "Training job stopped")
            return
        if faults.take_injected_failure(SERVICE):
            raise JobFailure(INJECTED_FAILURE)
        argv = self._image_command(r["AlgorithmSpecification"].get("TrainingImage"))
        paths = self._workspace(job, isolate_network=r["EnableNetworkIsolation"])
        for sub in ("input/config", "input/data", "model", "output/data", "code"):
            paths.local(f"/opt/ml/{sub}").mkdir(parents=True, exist_ok=True)
        r["TrainingStartTime"] = utcnow()
        deadline = time.monotonic() + r["StoppingCondition"]["MaxRuntimeInSeconds"]

        self._secondary(job, "Downloading", "Downloading input data")
        s3 = s3_client(context.account_id, context.region)
        channels = self._download_channels(context, s3, job)
        if job.stop_requested.wait(duration * 0.2):
            self._finish_training(job, "Stopped", "Stopped", "Training job stopped")
            return

        self._secondary(job, "Training", "Training image download completed. Training in progress.")
        outcome, rc = self._run_process(context, job, _training_argv(argv, paths, r), _training_env(paths, r, channels), deadline)
        if outcome == "stopped":
            self._upload_model(s3, paths, r)
            self._finish_training(job, "Stopped", "Stopped", "Training job stopped")
            return
        if outcome == "timeout":
            self._upload_model(s3, paths, r)
            self._finish_training(
                job, "Stopped", "MaxRuntimeExceeded",
                f"Training job exceeded MaxRuntimeInSeconds provided ({r['StoppingCondition']['MaxRuntimeInSeconds']} s)",
            )
            return
        if rc != 0:
            raise JobFailure(f"AlgorithmError: {self._failure_detail(job, read_failure(paths))}, exit code: {rc}")

        self._secondary(job, "Uploading", "Uploading generated training model")
        try:
            self._upload_model(s3, paths, r)
        except Exception as e:
            raise JobFailure(f"ClientError: Failed to upload model artifacts to {r['ModelArtifacts']['S3ModelArtifacts']}: {error_text(e)}")
        if job.stop_requested.wait(duration * 0.4):
            self._finish_training(job, "Stopped", "Stopped", "Training job stopped")
            return
        self._finish_training(job, "Completed", "Completed", "Training job completed")

    @staticmethod
    def _download_channels(context: RequestContext, s3, job: Job) -> list[str]:
        """Every channel's objects into /opt/ml/input/data/<channel>/, and the config files
        SageMaker writes beside them; returns the channel names."""
        r, paths = job.record, job.paths
        paths.local("/opt/ml/input/config/hyperparameters.json").write_text(json.dumps(r.get("HyperParameters") or {}))
        paths.local("/opt/ml/input/config/resourceconfig.json").write_text(
            json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
        )
        channel_config = {}
        for channel in r.get("InputDataConfig") or []:
            cname = channel["ChannelName"]
            target = paths.local(f"/opt/ml/input/data/{cname}")
            target.mkdir(parents=True, exist_ok=True)
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            try:
                n = download(s3, uri, target)
            except Exception as e:
                raise JobFailure(f"ClientError: Data download failed: could not download {uri}: {error_text(e)}")
            if n == 0:
                raise JobFailure(f"ClientError: {no_objects_message(uri, context.region, r['RoleArn'])}")
            channel_config[cname] = {"TrainingInputMode": channel.get("InputMode") or "File"}
        paths.local("/opt/ml/input/config/inputdataconfig.json").write_text(json.dumps(channel_config))
        return list(channel_config)

    @staticmethod
    def _upload_model(s3, paths: runner.LocalPaths, r: dict) -> None:
        bucket, key = parse_s3_uri(r["ModelArtifacts"]["S3ModelArtifacts"])
        for local_dir, name in ((paths.local("/opt/ml/model"), "model.tar.gz"), (paths.local("/opt/ml/output/data"), "output.tar.gz")):
            if name == "output.tar.gz" and not any(local_dir.iterdir()):
                continue
            archive = paths.root / name
            with tarfile.open(archive, "w:gz") as tar:
                for child in sorted(local_dir.iterdir()):
                    tar.add(child, arcname=child.name)
            s3.put_object(Bucket=bucket, Key=key.rsplit("/", 1)[0] + "/" + name, Body=archive.read_bytes())

    @handler("DescribeTrainingJob", expand=False)
    def describe_training_job(self, context: RequestContext, request: dict) -> dict:
        return public_view(self._job(context, "training", request["TrainingJobName"]).record)

    @handler("StopTrainingJob", expand=False)
    def stop_training_job(self, context: RequestContext, request: dict) -> None:
        self._stop(self._job(context, "training", request["TrainingJobName"]))

    @handler("ListTrainingJobs", expand=False)
    def list_training_jobs(self, context: RequestContext, request: dict) -> dict:
        keys = ("TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingEndTime", "LastModifiedTime", "TrainingJobStatus", "SecondaryStatus")
        return self._list_jobs(context, request, "training", keys)


def _training_argv(argv: list[str], paths: runner.LocalPaths, r: dict) -> list[str]:
    """``<command> train``, or with a ContainerEntrypoint ``<command> <entrypoint[1:]> <ContainerArguments>``."""
    algo = r["AlgorithmSpecification"]
    if not algo.get("ContainerEntrypoint"):
        return argv + ["train"]
    return argv + [paths.rewrite_arg(a) for a in algo["ContainerEntrypoint"][1:] + (algo.get("ContainerArguments") or [])]


def _training_env(paths: runner.LocalPaths, r: dict, channels: list[str]) -> dict[str, str]:
    env = base_env(paths, r.get("Environment"), r["EnableNetworkIsolation"])
    env.update({
        "TRAINING_JOB_NAME": r["TrainingJobName"], "TRAINING_JOB_ARN": r["TrainingJobArn"],
        "SM_MODEL_DIR": paths.given("/opt/ml/model"),
        "SM_OUTPUT_DATA_DIR": paths.given("/opt/ml/output/data"),
        "SM_HPS": json.dumps(r.get("HyperParameters") or {}),
        "SM_CHANNELS": json.dumps(sorted(channels)),
    })
    for cname in channels:
        env[f"SM_CHANNEL_{cname.upper()}"] = paths.given(f"/opt/ml/input/data/{cname}")
    return env
