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
    INJECTED_FAILURE, SERVICE, Job, ResourceInUse, SageMakerJobs, ValidationException, base_env, download, error_text,
    no_objects_message, read_failure, truncate,
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
                r["FailureReason"] = truncate(reason)
            r["TrainingEndTime"] = r["LastModifiedTime"]
            if r.get("TrainingStartTime"):
                seconds = int((r["TrainingEndTime"] - r["TrainingStartTime"]).total_seconds())
                r["TrainingTimeInSeconds"] = r["BillableTimeInSeconds"] = max(1, seconds)

    def _run_training(self, context: RequestContext, job: Job) -> None:
        r = job.record
        name = r["TrainingJobName"]
        duration = faults.job_duration(SERVICE)
        stop_reason = None
        try:
            if job.stop_requested.wait(duration * 0.4):
                self._finish_training(job, "Stopped", "Stopped", "Training job stopped")
                return
            if faults.take_injected_failure(SERVICE):
                self._finish_training(job, "Failed", "Failed", "Training job failed", INJECTED_FAILURE)
                return
            try:
                argv = runner.image_command(r["AlgorithmSpecification"].get("TrainingImage") or "")
                runner.check_runnable(argv)
            except runner.ImageNotRunnable as e:
                self._finish_training(
                    job, "Failed", "Failed", "Training job failed",
                    f"ClientError: image {r['AlgorithmSpecification'].get('TrainingImage')} cannot be run locally: {e}",
                )
                return
            root = runner.job_dir("training", name)
            r["_WorkDir"] = str(root)
            paths = runner.LocalPaths(root)
            for sub in ("input/config", "input/data", "model", "output/data", "code"):
                paths.local(f"/opt/ml/{sub}").mkdir(parents=True, exist_ok=True)
            r["TrainingStartTime"] = utcnow()
            deadline = time.monotonic() + r["StoppingCondition"]["MaxRuntimeInSeconds"]

            # Downloading
            self._secondary(job, "Downloading", "Downloading input data")
            s3 = s3_client(context.account_id, context.region)
            (paths.local("/opt/ml/input/config/hyperparameters.json")).write_text(json.dumps(r.get("HyperParameters") or {}))
            (paths.local("/opt/ml/input/config/resourceconfig.json")).write_text(
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
                    self._finish_training(job, "Failed", "Failed", "Training job failed",
                                          f"ClientError: Data download failed: could not download {uri}: {error_text(e)}")
                    return
                if n == 0:
                    self._finish_training(job, "Failed", "Failed", "Training job failed",
                                          f"ClientError: {no_objects_message(uri, context.region, r['RoleArn'])}")
                    return
                channel_config[cname] = {"TrainingInputMode": channel.get("InputMode") or "File"}
            paths.local("/opt/ml/input/config/inputdataconfig.json").write_text(json.dumps(channel_config))
            if job.stop_requested.wait(duration * 0.2):
                self._finish_training(job, "Stopped", "Stopped", "Training job stopped")
                return

            # Training
            self._secondary(job, "Training", "Training image download completed. Training in progress.")
            env = base_env(paths, r.get("Environment"))
            env.update({
                "TRAINING_JOB_NAME": name, "TRAINING_JOB_ARN": r["TrainingJobArn"],
                "SM_MODEL_DIR": str(paths.local("/opt/ml/model")),
                "SM_OUTPUT_DATA_DIR": str(paths.local("/opt/ml/output/data")),
                "SM_HPS": json.dumps(r.get("HyperParameters") or {}),
                "SM_CHANNELS": json.dumps(sorted(channel_config)),
            })
            for cname in channel_config:
                env[f"SM_CHANNEL_{cname.upper()}"] = str(paths.local(f"/opt/ml/input/data/{cname}"))
            algo = r["AlgorithmSpecification"]
            if algo.get("ContainerEntrypoint"):
                argv = argv + [paths.rewrite_arg(a) for a in algo["ContainerEntrypoint"][1:]]
                argv += [paths.rewrite_arg(a) for a in algo.get("ContainerArguments") or []]
            else:
                argv = argv + ["train"]
            outcome, rc = self._run_process(context, job, argv, env, root, deadline)
            failure = read_failure(paths)

            if outcome == "stopped":
                self._upload_model(s3, paths, r)
                self._finish_training(job, "Stopped", "Stopped", "Training job stopped")
                return
            if outcome == "timeout":
                stop_reason = "MaxRuntimeExceeded"
                self._upload_model(s3, paths, r)
                self._finish_training(
                    job, "Stopped", "MaxRuntimeExceeded",
                    f"Training job exceeded MaxRuntimeInSeconds provided ({r['StoppingCondition']['MaxRuntimeInSeconds']} s)",
                )
                return
            if rc != 0:
                detail = failure or job.process.tail() if job.process else failure
                self._finish_training(job, "Failed", "Failed", "Training job failed",
                                      f"AlgorithmError: {detail or 'See job logs for more information'}, exit code: {rc}")
                return

            # Uploading
            self._secondary(job, "Uploading", "Uploading generated training model")
            try:
                self._upload_model(s3, paths, r)
            except Exception as e:
                self._finish_training(job, "Failed", "Failed", "Training job failed",
                                      f"ClientError: Failed to upload model artifacts to {r['ModelArtifacts']['S3ModelArtifacts']}: {error_text(e)}")
                return
            if job.stop_requested.wait(duration * 0.4):
                self._finish_training(job, "Stopped", "Stopped", "Training job stopped")
                return
            self._finish_training(job, "Completed", "Completed", "Training job completed")
        except Exception as e:
            LOG.exception("training job %s crashed (%s)", name, stop_reason)
            self._finish_training(job, "Failed", "Failed", "Training job failed", f"InternalServerError: {e}")

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
