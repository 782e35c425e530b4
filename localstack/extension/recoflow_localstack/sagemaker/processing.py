"""SageMaker processing jobs: inputs into their LocalPath under /opt/ml/processing, the
image's command, every output LocalPath back to S3; with InstanceCount n, n instances one after
the other, each a process in its own /opt/ml with its share of the ShardedByS3Key inputs."""

from __future__ import annotations

import json
import logging
import time

from localstack.aws.api import RequestContext, handler

from recoflow_localstack import faults
from recoflow_localstack.emulation import public_view, s3_client, start_thread, utcnow
from recoflow_localstack.sagemaker.jobs import (
    INJECTED_FAILURE, SERVICE, Job, JobFailure, ResourceInUse, SageMakerJobs, ValidationException, base_env,
    download_keys, error_text, input_keys, read_failure, upload_dir,
)

LOG = logging.getLogger(__name__)

# the members of the job written to /opt/ml/config/processingjobconfig.json
PROCESSING_JOB_CONFIG = (
    "ProcessingJobName", "ProcessingJobArn", "ProcessingInputs", "ProcessingOutputConfig", "AppSpecification", "Environment",
)


class ProcessingJobs(SageMakerJobs):
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
        _check_local_paths(inputs, outputs)
        tags = store.tags.checked([(t["Key"], t["Value"]) for t in request.get("Tags") or []])
        # inputs are not looked at before the job runs (unlike training channels): an empty input
        # prefix fails the job with ClientError, as on AWS

        arn = self._job_arn(context, "processing", name)
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
                r["FailureReason"] = job.reported(reason)
            if exit_message:
                r["ExitMessage"] = job.reported(exit_message)
            r["ProcessingEndTime"] = now
            r["LastModifiedTime"] = now

    def _run_processing(self, context: RequestContext, job: Job) -> None:
        try:
            self._process(context, job)
        except JobFailure as failure:
            self._finish_processing(job, "Failed", failure.reason, failure.exit_message)
        except Exception as e:
            LOG.exception("processing job %s crashed", job.name)
            self._finish_processing(job, "Failed", f"InternalServerError: {e}")

    def _process(self, context: RequestContext, job: Job) -> None:
        """Every instance in turn: its inputs downloaded, the command run, its outputs uploaded
        -> Completed, or Stopped; a failure raises JobFailure."""
        r = job.record
        duration = faults.job_duration(SERVICE)
        if job.stop_requested.wait(duration * 0.4):
            self._finish_processing(job, "Stopped")
            return
        if faults.take_injected_failure(SERVICE):
            raise JobFailure(INJECTED_FAILURE)
        argv = self._image_command(r["AppSpecification"]["ImageUri"])
        r["ProcessingStartTime"] = utcnow()
        deadline = time.monotonic() + r["StoppingCondition"]["MaxRuntimeInSeconds"]
        s3 = s3_client(context.account_id, context.region)
        inputs = self._input_objects(s3, job)
        hosts = [f"algo-{n}" for n in range(1, job.instance_count + 1)]
        message = ""
        for index, host in enumerate(hosts):
            outcome, message = self._run_instance(context, s3, job, argv, inputs, hosts, index, deadline)
            if outcome == "stopped":
                self._finish_processing(job, "Stopped")
                return
        if job.stop_requested.wait(duration * 0.6):
            self._finish_processing(job, "Stopped")
            return
        self._finish_processing(job, "Completed", exit_message=message)

    def _run_instance(
        self, context: RequestContext, s3, job: Job, argv: list[str], inputs: list[tuple[dict, str, str, list[str]]],
        hosts: list[str], index: int, deadline: float,
    ) -> tuple[str, str]:
        """Instance ``hosts[index]`` (a process of its own, in a fresh /opt/ml): its share of each
        input, the command, its outputs uploaded. Returns ("exited" | "stopped", what it wrote to
        /opt/ml/output/message); a failure or timeout raises JobFailure."""
        r = job.record
        app = r["AppSpecification"]
        isolated = bool((r.get("NetworkConfig") or {}).get("EnableNetworkIsolation"))
        paths = self._workspace(job, isolate_network=isolated)
        paths.local("/opt/ml/output").mkdir(parents=True, exist_ok=True)
        paths.local("/opt/ml/config").mkdir(parents=True, exist_ok=True)
        paths.local("/opt/ml/config/processingjobconfig.json").write_text(
            json.dumps({k: v for k, v in public_view(r).items() if k in PROCESSING_JOB_CONFIG}, default=str)
        )
        paths.local("/opt/ml/config/resourceconfig.json").write_text(
            json.dumps({"current_host": hosts[index], "hosts": hosts})
        )
        self._download_share(s3, job, inputs, index, len(hosts))
        entry = app.get("ContainerEntrypoint") or []
        argv = argv + [paths.rewrite_arg(a) for a in entry[1:] + (app.get("ContainerArguments") or [])]
        env = base_env(paths, r.get("Environment"), isolated)
        env["PROCESSING_JOB_NAME"] = job.name
        outcome, rc = self._run_process(context, job, argv, env, deadline, hosts[index])
        failure = read_failure(paths, "failure") or read_failure(paths, "message")
        if outcome == "stopped":
            return outcome, failure
        if outcome == "timeout":
            raise JobFailure(
                f"ProcessingJob exceeded MaxRuntimeInSeconds ({r['StoppingCondition']['MaxRuntimeInSeconds']} s) and was stopped."
            )
        if rc != 0:
            raise JobFailure(f"AlgorithmError: {self._failure_detail(job, failure)}, exit code: {rc}", failure)
        for item in (r.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            s3out = item["S3Output"]
            try:
                upload_dir(s3, paths.local(s3out["LocalPath"]), s3out["S3Uri"])
            except Exception as e:
                raise JobFailure(f"ClientError: Failed to upload output {item.get('OutputName')} to {s3out['S3Uri']}: {error_text(e)}")
        return outcome, failure

    @staticmethod
    def _input_objects(s3, job: Job) -> list[tuple[dict, str, str, list[str]]]:
        """Each input with (bucket, prefix, keys) of its objects; an input with none fails the job."""
        inputs = []
        for item in job.record.get("ProcessingInputs") or []:
            s3in = item["S3Input"]
            try:
                bucket, prefix, keys = input_keys(s3, s3in["S3Uri"])
            except Exception as e:
                raise JobFailure(f"ClientError: Failed to download data. {s3in['S3Uri']}: {error_text(e)}")
            if not keys:
                raise JobFailure(f"ClientError: No objects exist under the S3 prefix {s3in['S3Uri']} of input {item.get('InputName')}.")
            inputs.append((s3in, bucket, prefix, keys))
        return inputs

    @staticmethod
    def _download_share(s3, job: Job, inputs: list[tuple[dict, str, str, list[str]]], index: int, count: int) -> None:
        """Instance ``index`` of ``count``'s objects of every input into its LocalPath: all of a
        FullyReplicated input's, every ``count``-th of a ShardedByS3Key input's in key order (AWS:
        each instance gets about 1/n of the objects; one may get none). And an empty directory for
        every output's LocalPath."""
        paths = job.paths
        for s3in, bucket, prefix, keys in inputs:
            target = paths.local(s3in["LocalPath"])
            target.mkdir(parents=True, exist_ok=True)
            if s3in.get("S3DataDistributionType") == "ShardedByS3Key":
                keys = keys[index::count]
            try:
                download_keys(s3, bucket, prefix, keys, target)
            except Exception as e:
                raise JobFailure(f"ClientError: Failed to download data. {s3in['S3Uri']}: {error_text(e)}")
        for item in (job.record.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            paths.local(item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)

    @handler("DescribeProcessingJob", expand=False)
    def describe_processing_job(self, context: RequestContext, request: dict) -> dict:
        return public_view(self._job(context, "processing", request["ProcessingJobName"]).record)

    @handler("StopProcessingJob", expand=False)
    def stop_processing_job(self, context: RequestContext, request: dict) -> None:
        self._stop(self._job(context, "processing", request["ProcessingJobName"]))

    @handler("ListProcessingJobs", expand=False)
    def list_processing_jobs(self, context: RequestContext, request: dict) -> dict:
        keys = ("ProcessingJobName", "ProcessingJobArn", "CreationTime", "ProcessingEndTime", "LastModifiedTime", "ProcessingJobStatus", "FailureReason", "ExitMessage")
        return self._list_jobs(context, request, "processing", keys)


def _check_local_paths(inputs: list[dict], outputs: list[dict]) -> None:
    """Every input and output is an S3 one, with a LocalPath of its own under /opt/ml/processing."""
    local_paths = []
    for items, shape, member, name_member, what in (
        (inputs, "ProcessingInput", "S3Input", "InputName", "input"),
        (outputs, "ProcessingOutput", "S3Output", "OutputName", "output"),
    ):
        for item in items:
            location = item.get(member)
            if not location:
                raise ValidationException(f"{shape} {item.get(name_member)}: only {member} is supported by the local emulator.")
            if not str(location.get("LocalPath", "")).startswith("/opt/ml/processing"):
                raise ValidationException(
                    f"LocalPath {location.get('LocalPath')!r} of {what} {item.get(name_member)} must be under /opt/ml/processing."
                )
            local_paths.append(location["LocalPath"].rstrip("/"))
    if len(set(local_paths)) != len(local_paths):
        raise ValidationException("Each ProcessingInput and ProcessingOutput must have a unique LocalPath.")
