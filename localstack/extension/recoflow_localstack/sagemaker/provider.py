"""Amazon SageMaker training and processing jobs, emulated with host processes.

Life cycle (DescribeTrainingJob): InProgress/Starting -> InProgress/Downloading (S3 channels into
/opt/ml/input/data/<channel>/) -> InProgress/Training (the image's command, ``train``) ->
InProgress/Uploading (/opt/ml/model as model.tar.gz) -> Completed/Completed; or Failed/Failed with
FailureReason from /opt/ml/output/failure; or Stopping -> Stopped/Stopped (StopTrainingJob) or
Stopped/MaxRuntimeExceeded (StoppingCondition.MaxRuntimeInSeconds).

Processing jobs: InProgress (inputs downloaded to their LocalPath, ContainerEntrypoint +
ContainerArguments run, outputs uploaded) -> Completed | Failed | Stopped.

Requests are checked against the service model before they get here (emulation.py); this module
checks what the model cannot say (e.g. a channel prefix with no object in S3, unique names).
Job names are unique without regard to case and found without regard to case (ARNs hold the
lower-case name). A stopped job stays Stopping for ``stopping_seconds`` (faults.py).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localstack.aws.api import RequestContext, handler
from localstack.services.plugins import ServiceLifecycleHook

from recoflow_localstack import faults, paging
from recoflow_localstack.emulation import (
    RegionalStores, ServiceError, build_arn, list_keys, parse_s3_uri, s3_client, start_thread, utcnow,
)
from recoflow_localstack.sagemaker import runner
from recoflow_localstack.tagging import TagStore

LOG = logging.getLogger(__name__)

SERVICE = "sagemaker"
ACTIVE_STATUSES = ("InProgress", "Stopping")
INJECTED_FAILURE = "InternalServerError: Injected failure (recoflow fault injection: fail_next)."
MAX_REASON = 1024


# SageMaker answers ValidationException (not in its model) for broken constraints, unknown jobs
# and bad tokens; the other codes are the model's error shapes
class ValidationException(ServiceError):
    pass


class ResourceInUse(ServiceError):
    pass


class ResourceLimitExceeded(ServiceError):
    pass


class ResourceNotFound(ServiceError):
    pass


DEFAULT_MAX_RESULTS = 10  # ListTrainingJobs / ListProcessingJobs without MaxResults
DEFAULT_MAX_TAGS_RESULTS = 50  # ListTags: MaxResults is at least 50


@dataclass
class Job:
    kind: str  # "training" | "processing"
    record: dict
    stop_requested: threading.Event = field(default_factory=threading.Event)
    process: runner.Process | None = None
    instance_type: str = ""
    instance_count: int = 1
    # monotonic time before which a stopped job is still Stopping (set by Stop*Job)
    stopping_until: float = 0.0

    def hold_stopping(self) -> None:
        """Called by the job thread before it records Stopped."""
        time.sleep(max(0.0, self.stopping_until - time.monotonic()))


@dataclass
class Store:
    # keyed by the lower-case job name: names are unique without regard to case
    training: dict[str, Job] = field(default_factory=dict)
    processing: dict[str, Job] = field(default_factory=dict)
    tags: TagStore = field(default_factory=lambda: TagStore(invalid=ValidationException, too_many=ValidationException))

    def table(self, kind: str) -> dict[str, Job]:
        return self.training if kind == "training" else self.processing


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
        self._stores = RegionalStores(Store)
        self._lock = threading.RLock()
        # job commands run in their own process groups (so a stop reaches their children); they
        # must not outlive LocalStack
        atexit.register(self._kill_running_jobs)

    def on_before_stop(self):
        self._kill_running_jobs()

    def _kill_running_jobs(self) -> None:
        for store in self._stores.all():
            for job in list(store.training.values()) + list(store.processing.values()):
                job.stop_requested.set()
                process = job.process
                if process is not None and process.popen.poll() is None:
                    process.stop(0.5)

    def _store(self, context: RequestContext) -> Store:
        return self._stores.of(context)

    @staticmethod
    def _arn(context: RequestContext, kind: str, name: str) -> str:
        # SageMaker lower-cases the name in job ARNs
        return build_arn(context, SERVICE, f"{kind}-job/{name.lower()}")

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

    def _list_jobs(self, context: RequestContext, request: dict, kind: str, summary_keys: tuple[str, ...]) -> dict:
        """ListTrainingJobs / ListProcessingJobs: a page of MaxResults jobs taken from all jobs in the
        requested order, and only then filtered (see paging.py): pages can be short or empty while
        NextToken is set. Default order: newest first (the operation's documentation; the SortOrder
        member's says Ascending, but the service lists the most recent first)."""
        prefix = kind.capitalize()
        name_key, status_key = f"{prefix}JobName", f"{prefix}JobStatus"
        records = [dict(j.record) for j in list(self._store(context).table(kind).values())]
        summaries = [{k: r[k] for k in summary_keys if r.get(k) is not None} for r in records]
        sort_by = request.get("SortBy") or "CreationTime"
        order = request.get("SortOrder") or "Descending"
        field_name = {"Name": name_key, "Status": status_key}.get(sort_by, "CreationTime")

        def key(summary: dict) -> tuple:
            # the name last: every job has its own place, so a cursor token is exact
            return (paging.sortable(summary[field_name]), paging.sortable(summary["CreationTime"]), summary[name_key].lower())

        name_contains = (request.get("NameContains") or "").lower()
        bounds = [
            (request.get(member), attribute, after)
            for member, attribute, after in (
                ("CreationTimeAfter", "CreationTime", True), ("CreationTimeBefore", "CreationTime", False),
                ("LastModifiedTimeAfter", "LastModifiedTime", True), ("LastModifiedTimeBefore", "LastModifiedTime", False),
            )
            if request.get(member) is not None
        ]
        # filters on things the emulator never has (warm pools, training plans) match no job
        unmatchable = any(request.get(m) for m in ("WarmPoolStatusEquals", "TrainingPlanArnEquals"))

        def keep(summary: dict) -> bool:
            if unmatchable or name_contains not in summary[name_key].lower():
                return False
            if request.get("StatusEquals") and summary[status_key] != request["StatusEquals"]:
                return False
            return all(
                (summary[attribute] > bound) if after else (summary[attribute] < bound)
                for bound, attribute, after in bounds
            )

        try:
            page, token = paging.page_then_filter(
                summaries, key=key, descending=order == "Descending", keep=keep,
                max_results=request.get("MaxResults") or DEFAULT_MAX_RESULTS,
                token=request.get("NextToken"), ordering=f"{kind}:{sort_by}:{order}",
            )
        except paging.InvalidToken:
            raise ValidationException(_invalid_token_message(request.get("NextToken")))
        result: dict[str, Any] = {f"{prefix}JobSummaries": page}
        if token:
            result["NextToken"] = token
        return result

    # === training jobs ======================================================================

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

        arn = self._arn(context, "training", name)
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
                raise ValidationException(_no_objects_message(uri, context.region, role_arn))

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
        if (status, secondary) == ("Stopped", "Stopped"):
            job.hold_stopping()  # not under the lock: requests keep seeing Stopping meanwhile
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
                                          f"ClientError: {_no_objects_message(uri, context.region, r['RoleArn'])}")
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

    def _job(self, context: RequestContext, kind: str, name: str) -> Job:
        job = self._store(context).table(kind).get(name.lower())
        if not job:
            # AWS answers ValidationException here, not the model's ResourceNotFound
            raise ValidationException(
                "Requested resource not found." if kind == "training" else f"Could not find requested job with name {name}"
            )
        return job

    def _stop(self, job: Job) -> None:
        """Stop*Job: InProgress -> Stopping; the job thread makes it Stopped, not before
        ``stopping_seconds`` have passed."""
        status_key = f"{job.kind.capitalize()}JobStatus"
        # check and change under the lock the job thread takes to finish: otherwise a job that
        # ended in between would be set back to Stopping and stay there (holding its instances)
        with self._lock:
            status = job.record[status_key]
            if status != "InProgress":
                raise ValidationException(f"The request was rejected because the {job.kind} job is in status {status}.")
            job.record[status_key] = "Stopping"
            if job.kind == "training":
                self._secondary(job, "Stopping", "Stopping the training job")
            else:
                job.record["LastModifiedTime"] = utcnow()
            job.stopping_until = time.monotonic() + faults.stopping_seconds()
            job.stop_requested.set()

    @handler("DescribeTrainingJob", expand=False)
    def describe_training_job(self, context: RequestContext, request: dict) -> dict:
        return _public(self._job(context, "training", request["TrainingJobName"]).record)

    @handler("StopTrainingJob", expand=False)
    def stop_training_job(self, context: RequestContext, request: dict) -> None:
        self._stop(self._job(context, "training", request["TrainingJobName"]))

    @handler("ListTrainingJobs", expand=False)
    def list_training_jobs(self, context: RequestContext, request: dict) -> dict:
        keys = ("TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingEndTime", "LastModifiedTime", "TrainingJobStatus", "SecondaryStatus")
        return self._list_jobs(context, request, "training", keys)

    # === processing jobs ====================================================================

    @handler("CreateProcessingJob", expand=False)
    def create_processing_job(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        name = request["ProcessingJobName"]
        app = request["AppSpecification"]
        cluster = request["ProcessingResources"]["ClusterConfig"]
        instance_type = cluster["InstanceType"]
        count = cluster["InstanceCount"]
        stopping = request.get("StoppingCondition") or {}
        max_runtime = stopping.get("MaxRuntimeInSeconds") or 86400
        inputs = request.get("ProcessingInputs") or []
        outputs = ((request.get("ProcessingOutputConfig") or {}).get("Outputs")) or []
        local_paths = []
        for item in inputs:
            s3in = item.get("S3Input")
            if not s3in:
                raise ValidationException(f"ProcessingInput {item.get('InputName')}: only S3Input is supported by the local emulator.")
            if not str(s3in.get("LocalPath", "")).startswith("/opt/ml/processing"):
                raise ValidationException(f"LocalPath {s3in.get('LocalPath')!r} of input {item.get('InputName')} must be under /opt/ml/processing.")
            local_paths.append(s3in["LocalPath"].rstrip("/"))
        for item in outputs:
            s3out = item.get("S3Output")
            if not s3out:
                raise ValidationException(f"ProcessingOutput {item.get('OutputName')}: only S3Output is supported by the local emulator.")
            if not str(s3out.get("LocalPath", "")).startswith("/opt/ml/processing"):
                raise ValidationException(f"LocalPath {s3out.get('LocalPath')!r} of output {item.get('OutputName')} must be under /opt/ml/processing.")
            local_paths.append(s3out["LocalPath"].rstrip("/"))
        if len(set(local_paths)) != len(local_paths):
            raise ValidationException("Each ProcessingInput and ProcessingOutput must have a unique LocalPath.")
        tags = store.tags.checked([(t["Key"], t["Value"]) for t in request.get("Tags") or []])
        # inputs are not looked at before the job runs (unlike training channels): an empty input
        # prefix fails the job with ClientError, as on AWS

        arn = self._arn(context, "processing", name)
        with self._lock:
            if name.lower() in store.processing:
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
            store.processing[name.lower()] = job
            store.tags.add(arn, tags)
        start_thread(f"sagemaker-processing-{name}", lambda: self._run_processing(context, job))
        return {"ProcessingJobArn": arn}

    def _finish_processing(self, job: Job, status: str, reason: str | None = None, exit_message: str | None = None) -> None:
        if status == "Stopped":
            job.hold_stopping()  # not under the lock: requests keep seeing Stopping meanwhile
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
        return _public(self._job(context, "processing", request["ProcessingJobName"]).record)

    @handler("StopProcessingJob", expand=False)
    def stop_processing_job(self, context: RequestContext, request: dict) -> None:
        self._stop(self._job(context, "processing", request["ProcessingJobName"]))

    @handler("ListProcessingJobs", expand=False)
    def list_processing_jobs(self, context: RequestContext, request: dict) -> dict:
        keys = ("ProcessingJobName", "ProcessingJobArn", "CreationTime", "ProcessingEndTime", "LastModifiedTime", "ProcessingJobStatus", "FailureReason", "ExitMessage")
        return self._list_jobs(context, request, "processing", keys)

    # === tags ===============================================================================

    def _tagged_job_arn(self, context: RequestContext, resource_arn: str) -> str:
        """The ARN of a training or processing job of the caller's; SageMaker answers
        ValidationException for an ARN it has no resource for."""
        store = self._store(context)
        for kind in ("training", "processing"):
            prefix = self._arn(context, kind, "")
            if resource_arn.startswith(prefix) and resource_arn[len(prefix):] in store.table(kind):
                return resource_arn
        raise ValidationException(f"Resource {resource_arn} does not exist or cannot be tagged by the local emulator.")

    @staticmethod
    def _tag_list(tags: dict[str, str]) -> list[dict]:
        return [{"Key": k, "Value": v} for k, v in tags.items()]

    @handler("AddTags", expand=False)
    def add_tags(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        resource = self._tagged_job_arn(context, request["ResourceArn"])
        tags = store.tags.checked([(t["Key"], t["Value"]) for t in request["Tags"]])
        return {"Tags": self._tag_list(store.tags.add(resource, tags))}

    @handler("DeleteTags", expand=False)
    def delete_tags(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        store.tags.remove(self._tagged_job_arn(context, request["ResourceArn"]), request["TagKeys"])
        return {}

    @handler("ListTags", expand=False)
    def list_tags(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        tags = self._tag_list(store.tags.get(self._tagged_job_arn(context, request["ResourceArn"])))
        try:
            # tags in key order: a cursor on the key stays exact when tags change between pages
            page, token = paging.page_then_filter(
                tags, key=lambda t: (t["Key"],), descending=False, ordering="tags",
                max_results=request.get("MaxResults") or DEFAULT_MAX_TAGS_RESULTS, token=request.get("NextToken"),
            )
        except paging.InvalidToken:
            raise ValidationException(_invalid_token_message(request.get("NextToken")))
        return {"Tags": page, **({"NextToken": token} if token else {})}


# --- helpers --------------------------------------------------------------------------------


def _no_objects_message(uri: str, region: str, role_arn: str) -> str:
    # the service's wording (CreateTrainingJob ValidationException)
    return (
        f'No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure that the bucket '
        f'exists in the selected region ({region}), that objects exist under that S3 prefix, and that the role '
        f'"{role_arn}" has "s3:ListBucket" permissions on bucket "{parse_s3_uri(uri)[0]}".'
    )


def _invalid_token_message(token: str | None) -> str:
    return f'Invalid pagination token because "{token}" is not a token this operation returned.'


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
