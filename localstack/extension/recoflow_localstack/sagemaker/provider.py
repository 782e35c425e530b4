"""Amazon SageMaker training and processing jobs, emulated with host processes.

Life cycle (DescribeTrainingJob): InProgress/Starting -> InProgress/Downloading (S3 channels into
/opt/ml/input/data/<channel>/) -> InProgress/Training (the image's command, ``train``) ->
InProgress/Uploading (/opt/ml/model as model.tar.gz) -> Completed/Completed; or Failed/Failed with
FailureReason from /opt/ml/output/failure; or Stopping -> Stopped/Stopped (StopTrainingJob) or
Stopped/MaxRuntimeExceeded (StoppingCondition.MaxRuntimeInSeconds).

Processing jobs: InProgress (inputs downloaded to their LocalPath, ContainerEntrypoint +
ContainerArguments run, outputs uploaded) -> Completed | Failed | Stopped.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localstack.aws.api import CommonServiceException, RequestContext, ServiceException, handler
from localstack.services.plugins import ServiceLifecycleHook

from recoflow_localstack import faults
from recoflow_localstack.emulation import list_keys, parse_s3_uri, s3_client, start_thread, utcnow
from recoflow_localstack.sagemaker import runner

LOG = logging.getLogger(__name__)

SERVICE = "sagemaker"
NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
ACTIVE_STATUSES = ("InProgress", "Stopping")
INJECTED_FAILURE = "InternalServerError: Injected failure (recoflow fault injection: fail_next)."
MAX_REASON = 1024


class ValidationException(CommonServiceException):
    def __init__(self, message: str):
        super().__init__("ValidationException", message, status_code=400, sender_fault=True)


class _SageMakerError(ServiceException):
    status_code = 400
    sender_fault = False

    def __init__(self, message: str):
        super().__init__(message)
        self.code = type(self).__name__


class ResourceInUse(_SageMakerError):
    pass


class ResourceLimitExceeded(_SageMakerError):
    pass


class ResourceNotFound(_SageMakerError):
    pass


@dataclass
class Job:
    kind: str  # "training" | "processing"
    record: dict
    stop_requested: threading.Event = field(default_factory=threading.Event)
    process: runner.Process | None = None
    instance_type: str = ""
    instance_count: int = 1


@dataclass
class Store:
    training: dict[str, Job] = field(default_factory=dict)
    processing: dict[str, Job] = field(default_factory=dict)


def _public(record: dict) -> dict:
    # dict(record) / list(...) are single C-level copies: the job thread may change the record
    # while a request reads it
    snapshot = {k: v for k, v in dict(record).items() if v is not None and not k.startswith("_")}
    if "SecondaryStatusTransitions" in snapshot:
        snapshot["SecondaryStatusTransitions"] = [dict(t) for t in list(snapshot["SecondaryStatusTransitions"])]
    return snapshot


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


class SageMakerProvider(ServiceLifecycleHook):
    service = SERVICE

    def __init__(self):
        self._stores: dict[tuple[str, str], Store] = {}
        self._lock = threading.RLock()
        # job commands run in their own process groups (so a stop reaches their children); they
        # must not outlive LocalStack
        atexit.register(self._kill_running_jobs)

    def on_before_stop(self):
        self._kill_running_jobs()

    def _kill_running_jobs(self) -> None:
        for store in list(self._stores.values()):
            for job in list(store.training.values()) + list(store.processing.values()):
                job.stop_requested.set()
                process = job.process
                if process is not None and process.popen.poll() is None:
                    process.stop(0.5)

    def _store(self, context: RequestContext) -> Store:
        key = (context.account_id, context.region)
        with self._lock:
            return self._stores.setdefault(key, Store())

    @staticmethod
    def _arn(context: RequestContext, kind: str, name: str) -> str:
        # SageMaker lower-cases the name in job ARNs
        return f"arn:aws:sagemaker:{context.region}:{context.account_id}:{kind}-job/{name.lower()}"

    @staticmethod
    def _check_name(name: Any, member: str) -> str:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ValidationException(
                f"1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,62}}"
            )
        return name

    @staticmethod
    def _check_s3(uri: Any, member: str) -> None:
        if not isinstance(uri, str) or not re.match(r"^(https|s3)://([^/]+)/?(.*)$", uri):
            raise ValidationException(
                f"1 validation error detected: Value '{uri}' at '{member}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: ^(https|s3)://([^/]+)/?(.*)$"
            )

    def _check_capacity(self, table: dict[str, Job], kind: str, instance_type: str, delta: int) -> None:
        limit = faults.sagemaker_instance_limit(kind, instance_type)
        used = sum(
            j.instance_count for j in table.values()
            if j.instance_type == instance_type and j.record.get(f"{kind.capitalize()}JobStatus") in ACTIVE_STATUSES
        )
        if used + delta > limit:
            raise ResourceLimitExceeded(
                f"The account-level service limit '{instance_type} for {kind} job usage' is {limit} Instances, "
                f"with current utilization of {used} Instances and a request delta of {delta} Instances. "
                f"Please use AWS Service Quotas to request an increase for this quota. If AWS Service Quotas "
                f"is not available, contact AWS support to request an increase for this quota."
            )

    @staticmethod
    def _page(items: list[dict], request: dict, key: str, name_key: str, status_key: str) -> dict:
        name_contains = request.get("NameContains")
        status = request.get("StatusEquals")
        if name_contains:
            items = [i for i in items if name_contains.lower() in i[name_key].lower()]
        if status:
            items = [i for i in items if i[status_key] == status]
        for bound, cmp in (("CreationTimeAfter", lambda a, b: a > b), ("CreationTimeBefore", lambda a, b: a < b)):
            if request.get(bound):
                items = [i for i in items if cmp(i["CreationTime"], request[bound])]
        sort_by = {"Name": name_key, "Status": status_key}.get(request.get("SortBy"), "CreationTime")
        items = sorted(items, key=lambda i: i[sort_by], reverse=request.get("SortOrder", "Descending") == "Descending")
        start = int(request.get("NextToken") or 0)
        size = int(request.get("MaxResults") or 10)
        result: dict[str, Any] = {key: items[start : start + size]}
        if start + size < len(items):
            result["NextToken"] = str(start + size)
        return result

    # === training jobs ======================================================================

    @handler("CreateTrainingJob", expand=False)
    def create_training_job(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        name = self._check_name(request.get("TrainingJobName"), "trainingJobName")
        algo = request.get("AlgorithmSpecification") or {}
        image = algo.get("TrainingImage")
        if not image and not algo.get("AlgorithmName"):
            raise ValidationException("Either TrainingImage or AlgorithmName must be specified in AlgorithmSpecification.")
        if not request.get("RoleArn"):
            raise ValidationException("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
        output = request.get("OutputDataConfig") or {}
        self._check_s3(output.get("S3OutputPath"), "outputDataConfig.s3OutputPath")
        resources = request.get("ResourceConfig") or {}
        instance_type = resources.get("InstanceType")
        count = resources.get("InstanceCount") or 1
        if not instance_type:
            raise ValidationException("1 validation error detected: Value null at 'resourceConfig.instanceType' failed to satisfy constraint: Member must not be null")
        stopping = request.get("StoppingCondition") or {}
        max_runtime = stopping.get("MaxRuntimeInSeconds") or 86400
        if not isinstance(max_runtime, int) or max_runtime < 1:
            raise ValidationException(f"Invalid MaxRuntimeInSeconds {max_runtime}: must be at least 1.")
        channels = request.get("InputDataConfig") or []
        seen = set()
        for i, channel in enumerate(channels):
            cname = channel.get("ChannelName")
            if not cname or not re.match(r"^[A-Za-z0-9\.\-_]+$", cname) or cname in seen:
                raise ValidationException(f"Invalid or duplicate channel name {cname!r} in InputDataConfig.")
            seen.add(cname)
            s3src = (channel.get("DataSource") or {}).get("S3DataSource")
            if not s3src:
                raise ValidationException(f"Channel {cname}: only S3DataSource is supported by the local emulator.")
            self._check_s3(s3src.get("S3Uri"), f"inputDataConfig.{i + 1}.member.dataSource.s3DataSource.s3Uri")
        hyper = request.get("HyperParameters") or {}
        for k, v in hyper.items():
            if not isinstance(v, str):
                raise ValidationException(f"Hyperparameter {k} must be a string.")

        arn = self._arn(context, "training", name)
        model_uri = f"{output['S3OutputPath'].rstrip('/')}/{name}/output/model.tar.gz"
        with self._lock:
            if name in store.training:
                raise ResourceInUse(
                    f"Training job names must be unique within an AWS account and region, and a training job "
                    f"with this name already exists ({arn})"
                )
            self._check_capacity(store.training, "training", instance_type, count)
            now = utcnow()
            record = {
                "TrainingJobName": name, "TrainingJobArn": arn, "ModelArtifacts": {"S3ModelArtifacts": model_uri},
                "TrainingJobStatus": "InProgress", "SecondaryStatus": "Starting", "HyperParameters": hyper or None,
                "AlgorithmSpecification": algo, "RoleArn": request["RoleArn"], "InputDataConfig": channels or None,
                "OutputDataConfig": output, "ResourceConfig": resources, "StoppingCondition": {**stopping, "MaxRuntimeInSeconds": max_runtime},
                "Environment": request.get("Environment"), "CreationTime": now, "LastModifiedTime": now,
                "SecondaryStatusTransitions": [
                    {"Status": "Starting", "StartTime": now, "StatusMessage": "Starting the training job"}
                ],
            }
            job = Job("training", record, instance_type=instance_type, instance_count=count)
            store.training[name] = job
        start_thread(f"sagemaker-training-{name}", lambda: self._run_training(context, job))
        return {"TrainingJobArn": arn}

    @staticmethod
    def _secondary(job: Job, status: str, message: str) -> None:
        now = utcnow()
        transitions = job.record["SecondaryStatusTransitions"]
        if transitions and "EndTime" not in transitions[-1]:
            transitions[-1]["EndTime"] = now
        transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
        job.record["SecondaryStatus"] = status
        job.record["LastModifiedTime"] = now

    def _finish_training(self, job: Job, status: str, secondary: str, message: str, reason: str | None = None) -> None:
        # under the lock StopTrainingJob takes (see there)
        with self._lock:
            r = job.record
            self._secondary(job, secondary, message)
            r["SecondaryStatusTransitions"][-1]["EndTime"] = r["LastModifiedTime"]
            r["TrainingJobStatus"] = status
            if reason:
                r["FailureReason"] = _truncate(reason)
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
                    n = _download(s3, uri, target)
                except Exception as e:
                    self._finish_training(job, "Failed", "Failed", "Training job failed",
                                          f"ClientError: Data download failed: could not download {uri}: {_err(e)}")
                    return
                if n == 0:
                    self._finish_training(job, "Failed", "Failed", "Training job failed",
                                          f"ClientError: No S3 objects found under S3 URL \"{uri}\" given in input data source. Please ensure that the bucket exists in the selected region (us-east-1), that objects exist under that S3 prefix, and that the role \"{r['RoleArn']}\" has \"s3:ListBucket\" permissions on bucket \"{parse_s3_uri(uri)[0]}\".")
                    return
                channel_config[cname] = {"TrainingInputMode": channel.get("InputMode") or "File"}
            paths.local("/opt/ml/input/config/inputdataconfig.json").write_text(json.dumps(channel_config))
            if job.stop_requested.wait(duration * 0.2):
                self._finish_training(job, "Stopped", "Stopped", "Training job stopped")
                return

            # Training
            self._secondary(job, "Training", "Training image download completed. Training in progress.")
            env = _base_env(paths, r.get("Environment"))
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
            failure = _read_failure(paths)

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
                                      f"ClientError: Failed to upload model artifacts to {r['ModelArtifacts']['S3ModelArtifacts']}: {_err(e)}")
                return
            if job.stop_requested.wait(duration * 0.4):
                self._finish_training(job, "Stopped", "Stopped", "Training job stopped")
                return
            self._finish_training(job, "Completed", "Completed", "Training job completed")
        except Exception as e:
            LOG.exception("training job %s crashed (%s)", name, stop_reason)
            self._finish_training(job, "Failed", "Failed", "Training job failed", f"InternalServerError: {e}")

    def _run_process(self, context, job: Job, argv, env, root: Path, deadline: float) -> tuple[str, int | None]:
        """Runs the command; returns ("exited", rc) | ("stopped", rc) | ("timeout", rc). The
        output goes to <job dir>/job.log and, when the process ends, to CloudWatch Logs."""
        if job.stop_requested.is_set():
            return "stopped", None
        LOG.info("sagemaker %s job %s: running %s (log %s)", job.kind, root.name, argv, root / "job.log")
        started = time.time()
        job.process = runner.Process(argv, env, root, root / "job.log")
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return "timeout", job.process.stop(faults.stop_grace_seconds())
                rc = job.process.wait(min(remaining, 0.2))
                if rc is not None:
                    return "exited", rc
                if job.stop_requested.is_set():
                    return "stopped", job.process.stop(faults.stop_grace_seconds())
        finally:
            job.process.close()
            _publish_log(context, job, root / "job.log", started)

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
        job = self._store(context).training.get(request.get("TrainingJobName"))
        if not job:
            raise ValidationException("Requested resource not found.")
        return _public(job.record)

    @handler("StopTrainingJob", expand=False)
    def stop_training_job(self, context: RequestContext, request: dict) -> None:
        job = self._store(context).training.get(request.get("TrainingJobName"))
        if not job:
            raise ValidationException("Requested resource not found.")
        # check and change under the lock the job thread takes to finish: otherwise a job that
        # ended in between would be set back to Stopping and stay there (holding its instances)
        with self._lock:
            status = job.record["TrainingJobStatus"]
            if status != "InProgress":
                raise ValidationException(
                    f"The request was rejected because the training job is in status {status}."
                )
            job.record["TrainingJobStatus"] = "Stopping"
            self._secondary(job, "Stopping", "Stopping the training job")
            job.stop_requested.set()

    @handler("ListTrainingJobs", expand=False)
    def list_training_jobs(self, context: RequestContext, request: dict) -> dict:
        keys = ("TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingEndTime", "LastModifiedTime", "TrainingJobStatus", "SecondaryStatus")
        items = [{k: r[k] for k in keys if r.get(k) is not None} for r in (dict(j.record) for j in list(self._store(context).training.values()))]
        if request.get("TrainingJobStatus"):
            request = {**request, "StatusEquals": request["TrainingJobStatus"]}
        return self._page(items, request, "TrainingJobSummaries", "TrainingJobName", "TrainingJobStatus")

    # === processing jobs ====================================================================

    @handler("CreateProcessingJob", expand=False)
    def create_processing_job(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        name = self._check_name(request.get("ProcessingJobName"), "processingJobName")
        app = request.get("AppSpecification") or {}
        if not app.get("ImageUri"):
            raise ValidationException("1 validation error detected: Value null at 'appSpecification.imageUri' failed to satisfy constraint: Member must not be null")
        if not request.get("RoleArn"):
            raise ValidationException("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
        cluster = ((request.get("ProcessingResources") or {}).get("ClusterConfig")) or {}
        instance_type = cluster.get("InstanceType")
        count = cluster.get("InstanceCount") or 1
        if not instance_type:
            raise ValidationException("1 validation error detected: Value null at 'processingResources.clusterConfig.instanceType' failed to satisfy constraint: Member must not be null")
        stopping = request.get("StoppingCondition") or {}
        max_runtime = stopping.get("MaxRuntimeInSeconds") or 86400
        inputs = request.get("ProcessingInputs") or []
        outputs = ((request.get("ProcessingOutputConfig") or {}).get("Outputs")) or []
        local_paths = []
        for i, item in enumerate(inputs):
            s3in = item.get("S3Input")
            if not s3in:
                raise ValidationException(f"ProcessingInput {item.get('InputName')}: only S3Input is supported by the local emulator.")
            self._check_s3(s3in.get("S3Uri"), f"processingInputs.{i + 1}.member.s3Input.s3Uri")
            if not str(s3in.get("LocalPath", "")).startswith("/opt/ml/processing"):
                raise ValidationException(f"LocalPath {s3in.get('LocalPath')!r} of input {item.get('InputName')} must be under /opt/ml/processing.")
            local_paths.append(s3in["LocalPath"].rstrip("/"))
        for i, item in enumerate(outputs):
            s3out = item.get("S3Output")
            if not s3out:
                raise ValidationException(f"ProcessingOutput {item.get('OutputName')}: only S3Output is supported by the local emulator.")
            self._check_s3(s3out.get("S3Uri"), f"processingOutputConfig.outputs.{i + 1}.member.s3Output.s3Uri")
            if not str(s3out.get("LocalPath", "")).startswith("/opt/ml/processing"):
                raise ValidationException(f"LocalPath {s3out.get('LocalPath')!r} of output {item.get('OutputName')} must be under /opt/ml/processing.")
            local_paths.append(s3out["LocalPath"].rstrip("/"))
        if len(set(local_paths)) != len(local_paths):
            raise ValidationException("Each ProcessingInput and ProcessingOutput must have a unique LocalPath.")

        arn = self._arn(context, "processing", name)
        with self._lock:
            if name in store.processing:
                raise ResourceInUse(
                    f"Processing job names must be unique within an AWS account and region, and a processing job "
                    f"with this name already exists ({arn})"
                )
            self._check_capacity(store.processing, "processing", instance_type, count)
            now = utcnow()
            record = {
                "ProcessingJobName": name, "ProcessingJobArn": arn, "ProcessingInputs": inputs or None,
                "ProcessingOutputConfig": request.get("ProcessingOutputConfig"),
                "ProcessingResources": request["ProcessingResources"],
                "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime}, "AppSpecification": app,
                "Environment": request.get("Environment"), "NetworkConfig": request.get("NetworkConfig"),
                "RoleArn": request["RoleArn"], "ProcessingJobStatus": "InProgress",
                "CreationTime": now, "LastModifiedTime": now,
            }
            job = Job("processing", record, instance_type=instance_type, instance_count=count)
            store.processing[name] = job
        start_thread(f"sagemaker-processing-{name}", lambda: self._run_processing(context, job))
        return {"ProcessingJobArn": arn}

    def _finish_processing(self, job: Job, status: str, reason: str | None = None, exit_message: str | None = None) -> None:
        # under the lock StopProcessingJob takes (see there)
        with self._lock:
            r = job.record
            now = utcnow()
            r["ProcessingJobStatus"] = status
            if reason:
                r["FailureReason"] = _truncate(reason)
            if exit_message:
                r["ExitMessage"] = _truncate(exit_message)
            r["ProcessingEndTime"] = now
            r["LastModifiedTime"] = now

    def _run_processing(self, context: RequestContext, job: Job) -> None:
        r = job.record
        name = r["ProcessingJobName"]
        duration = faults.job_duration(SERVICE)
        try:
            if job.stop_requested.wait(duration * 0.4):
                self._finish_processing(job, "Stopped")
                return
            if faults.take_injected_failure(SERVICE):
                self._finish_processing(job, "Failed", INJECTED_FAILURE)
                return
            app = r["AppSpecification"]
            try:
                argv = runner.image_command(app["ImageUri"])
                runner.check_runnable(argv)
            except runner.ImageNotRunnable as e:
                self._finish_processing(job, "Failed", f"ClientError: image {app['ImageUri']} cannot be run locally: {e}")
                return
            root = runner.job_dir("processing", name)
            r["_WorkDir"] = str(root)
            paths = runner.LocalPaths(root)
            paths.local("/opt/ml/output").mkdir(parents=True, exist_ok=True)
            paths.local("/opt/ml/config").mkdir(parents=True, exist_ok=True)
            paths.local("/opt/ml/config/processingjobconfig.json").write_text(
                json.dumps({k: v for k, v in _public(r).items() if k in ("ProcessingJobName", "ProcessingJobArn", "ProcessingInputs", "ProcessingOutputConfig", "AppSpecification", "Environment")}, default=str)
            )
            r["ProcessingStartTime"] = utcnow()
            deadline = time.monotonic() + r["StoppingCondition"]["MaxRuntimeInSeconds"]
            s3 = s3_client(context.account_id, context.region)
            for item in r.get("ProcessingInputs") or []:
                s3in = item["S3Input"]
                target = paths.local(s3in["LocalPath"])
                target.mkdir(parents=True, exist_ok=True)
                try:
                    n = _download(s3, s3in["S3Uri"], target)
                except Exception as e:
                    self._finish_processing(job, "Failed", f"ClientError: Failed to download data. {s3in['S3Uri']}: {_err(e)}")
                    return
                if n == 0:
                    self._finish_processing(job, "Failed", f"ClientError: No objects exist under the S3 prefix {s3in['S3Uri']} of input {item.get('InputName')}.")
                    return
            for item in (r.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
                paths.local(item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)

            entry = app.get("ContainerEntrypoint") or []
            argv = argv + [paths.rewrite_arg(a) for a in entry[1:]] + [paths.rewrite_arg(a) for a in app.get("ContainerArguments") or []]
            env = _base_env(paths, r.get("Environment"))
            env["PROCESSING_JOB_NAME"] = name
            outcome, rc = self._run_process(context, job, argv, env, root, deadline)
            failure = _read_failure(paths, "failure") or _read_failure(paths, "message")
            if outcome == "stopped":
                self._finish_processing(job, "Stopped")
                return
            if outcome == "timeout":
                self._finish_processing(
                    job, "Failed",
                    f"ProcessingJob exceeded MaxRuntimeInSeconds ({r['StoppingCondition']['MaxRuntimeInSeconds']} s) and was stopped.",
                )
                return
            if rc != 0:
                detail = failure or (job.process.tail() if job.process else "")
                self._finish_processing(job, "Failed", f"AlgorithmError: {detail or 'See job logs for more information'}, exit code: {rc}", failure)
                return
            for item in (r.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
                s3out = item["S3Output"]
                try:
                    _upload_dir(s3, paths.local(s3out["LocalPath"]), s3out["S3Uri"])
                except Exception as e:
                    self._finish_processing(job, "Failed", f"ClientError: Failed to upload output {item.get('OutputName')} to {s3out['S3Uri']}: {_err(e)}")
                    return
            if job.stop_requested.wait(duration * 0.6):
                self._finish_processing(job, "Stopped")
                return
            self._finish_processing(job, "Completed", exit_message=failure)
        except Exception as e:
            LOG.exception("processing job %s crashed", name)
            self._finish_processing(job, "Failed", f"InternalServerError: {e}")

    @handler("DescribeProcessingJob", expand=False)
    def describe_processing_job(self, context: RequestContext, request: dict) -> dict:
        name = request.get("ProcessingJobName")
        job = self._store(context).processing.get(name)
        if not job:
            raise ValidationException(f"Could not find requested job with name {name}")
        return _public(job.record)

    @handler("StopProcessingJob", expand=False)
    def stop_processing_job(self, context: RequestContext, request: dict) -> None:
        name = request.get("ProcessingJobName")
        job = self._store(context).processing.get(name)
        if not job:
            raise ValidationException(f"Could not find requested job with name {name}")
        # same lock as _finish_processing: a job that ended in between must not go back to Stopping
        with self._lock:
            status = job.record["ProcessingJobStatus"]
            if status != "InProgress":
                raise ValidationException(f"The request was rejected because the processing job is in status {status}.")
            job.record["ProcessingJobStatus"] = "Stopping"
            job.record["LastModifiedTime"] = utcnow()
            job.stop_requested.set()

    @handler("ListProcessingJobs", expand=False)
    def list_processing_jobs(self, context: RequestContext, request: dict) -> dict:
        keys = ("ProcessingJobName", "ProcessingJobArn", "CreationTime", "ProcessingEndTime", "LastModifiedTime", "ProcessingJobStatus", "FailureReason", "ExitMessage")
        items = [{k: r[k] for k in keys if r.get(k) is not None} for r in (dict(j.record) for j in list(self._store(context).processing.values()))]
        return self._page(items, request, "ProcessingJobSummaries", "ProcessingJobName", "ProcessingJobStatus")


# --- helpers --------------------------------------------------------------------------------


def _err(e: Exception) -> str:
    return getattr(e, "response", {}).get("Error", {}).get("Code") or str(e)


def _publish_log(context, job: Job, log_path: Path, started: float) -> None:
    """Copies the container output to CloudWatch Logs where SageMaker puts it:
    /aws/sagemaker/TrainingJobs or /aws/sagemaker/ProcessingJobs, stream <job name>/algo-1-<epoch>."""
    name = job.record.get("TrainingJobName") or job.record.get("ProcessingJobName")
    group = "/aws/sagemaker/TrainingJobs" if job.kind == "training" else "/aws/sagemaker/ProcessingJobs"
    stream = f"{name}/algo-1-{int(started)}"
    try:
        from localstack.aws.connect import connect_to

        logs = connect_to(aws_access_key_id=context.account_id, region_name=context.region).logs
        try:
            logs.create_log_group(logGroupName=group)
        except Exception:
            pass  # already exists
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        lines = log_path.read_text(errors="replace").splitlines()[-5000:] or ["(no output)"]
        now_ms = int(time.time() * 1000)
        events = [{"timestamp": now_ms, "message": line[:250000] or " "} for line in lines]
        for i in range(0, len(events), 1000):
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[i : i + 1000])
        job.record["_LogStream"] = f"{group}:{stream}"
    except Exception as e:
        LOG.warning("could not copy %s job %s output to CloudWatch Logs: %s", job.kind, name, e)


def _base_env(paths: runner.LocalPaths, job_env: dict | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_SECRET", "AWS_SESSION"))}
    env.update(job_env or {})
    env["RECSYS_OPT_ML"] = str(paths.opt_ml)
    env["SM_OUTPUT_DIR"] = str(paths.local("/opt/ml/output"))
    return env


def _read_failure(paths: runner.LocalPaths, name: str = "failure") -> str:
    """/opt/ml/output/failure (training) or /opt/ml/output/message (processing)."""
    try:
        return paths.local(f"/opt/ml/output/{name}").read_text(errors="replace").strip()
    except OSError:
        return ""


def _download(s3, uri: str, target: Path) -> int:
    """Downloads one object (when the URI names one) or every object under the prefix; returns
    how many were downloaded. Keys keep their path relative to the prefix, like SageMaker."""
    bucket, key = parse_s3_uri(uri)
    count = 0
    keys = [k for k in list_keys(s3, bucket, key) if not k.endswith("/")]
    if key in keys:  # the URI names one object: just that one, under its own name
        keys = [key]
    for k in keys:
        rel = k[len(key) :].lstrip("/") or k.rsplit("/", 1)[-1]
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
        count += 1
    return count


def _upload_dir(s3, local: Path, uri: str) -> None:
    bucket, prefix = parse_s3_uri(uri)
    prefix = prefix.rstrip("/")
    for path in sorted(local.rglob("*")):
        if path.is_file():
            rel = path.relative_to(local).as_posix()
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{rel}" if prefix else rel, Body=path.read_bytes())
