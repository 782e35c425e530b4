"""What SageMaker training and processing jobs share: error shapes, the job record and store,
and the base of the provider (job lookup, quota, stop, List paging, running the job's command
and copying its output to CloudWatch Logs), with the S3 transfers both kinds of job make.
The operations are in ``training.py``, ``processing.py`` and ``provider.py`` (tags)."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localstack.aws.api import RequestContext

from recoflow_localstack import faults, paging
from recoflow_localstack.emulation import EmulatorProvider, ServiceError, error_code, list_keys, parse_s3_uri, utcnow
from recoflow_localstack.sagemaker import runner, sandbox
from recoflow_localstack.tagging import TagStore

LOG = logging.getLogger(__name__)

SERVICE = "sagemaker"
ACTIVE_STATUSES = ("InProgress", "Stopping")
INJECTED_FAILURE = "InternalServerError: Injected failure (recoflow fault injection: fail_next)."
MAX_REASON = 1024
DEFAULT_MAX_RESULTS = 10  # ListTrainingJobs / ListProcessingJobs without MaxResults


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


class JobFailure(Exception):
    """Ends a job Failed with this FailureReason (a processing job: and this ExitMessage)."""

    def __init__(self, reason: str, exit_message: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.exit_message = exit_message


@dataclass
class Job:
    kind: str  # "training" | "processing"
    record: dict
    stop_requested: threading.Event = field(default_factory=threading.Event)
    process: runner.Process | None = None
    # set when the job gets its directory: where its command runs and how it sees /opt/ml
    paths: runner.LocalPaths | None = None
    sandbox: sandbox.JobSandbox | None = None
    instance_type: str = ""
    instance_count: int = 1
    # monotonic time before which a stopped job is still Stopping (set by Stop*Job)
    stopping_until: float = 0.0

    @property
    def name(self) -> str:
        return self.record[f"{self.kind.capitalize()}JobName"]

    def hold_stopping(self) -> None:
        """Called by the job thread before it records Stopped."""
        time.sleep(max(0.0, self.stopping_until - time.monotonic()))

    def reported(self, text: str) -> str:
        """Text for FailureReason or ExitMessage: what the job reports with the container's paths
        (never the job directory's host path), at most 1024 characters."""
        return truncate(self.paths.as_container_text(text) if self.paths else text)


@dataclass
class Store:
    # keyed by the lower-case job name: names are unique without regard to case
    training: dict[str, Job] = field(default_factory=dict)
    processing: dict[str, Job] = field(default_factory=dict)
    tags: TagStore = field(default_factory=lambda: TagStore(invalid=ValidationException, too_many=ValidationException))

    def table(self, kind: str) -> dict[str, Job]:
        return self.training if kind == "training" else self.processing


def truncate(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


class SageMakerJobs(EmulatorProvider[Store]):
    """Base of the provider's job kinds."""

    service = SERVICE

    def __init__(self):
        super().__init__(Store)
        # job commands run in their own process groups (so a stop reaches their children); they
        # must not outlive LocalStack
        atexit.register(self._kill_running_jobs)

    def _kill_running_jobs(self) -> None:
        for store in self._stores.all():
            for job in list(store.training.values()) + list(store.processing.values()):
                job.stop_requested.set()
                process = job.process
                if process is not None and process.popen.poll() is None:
                    process.stop(0.5)

    def _job_arn(self, context: RequestContext, kind: str, name: str) -> str:
        # SageMaker lower-cases the name in job ARNs
        return self._arn(context, f"{kind}-job/{name.lower()}")

    def _invalid_token(self, token: str | None) -> Exception:
        return ValidationException(f'Invalid pagination token because "{token}" is not a token this operation returned.')

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

        page, token = self._page(
            summaries, key=key, descending=order == "Descending", keep=keep,
            max_results=request.get("MaxResults") or DEFAULT_MAX_RESULTS,
            token=request.get("NextToken"), ordering=f"{kind}:{sort_by}:{order}",
        )
        result: dict[str, Any] = {f"{prefix}JobSummaries": page}
        if token:
            result["NextToken"] = token
        return result

    @staticmethod
    def _image_command(image: str | None) -> list[str]:
        """The host command that stands in for ``image``."""
        try:
            argv = runner.image_command(image or "")
            runner.check_runnable(argv)
            return argv
        except runner.ImageNotRunnable as e:
            raise JobFailure(f"ClientError: image {image} cannot be run locally: {e}")

    @staticmethod
    def _workspace(job: Job, isolate_network: bool) -> runner.LocalPaths:
        """A fresh directory for the job, and the sandbox its command will run in."""
        root = runner.job_dir(job.kind, job.name)
        job.record["_WorkDir"] = str(root)
        job.sandbox = sandbox.JobSandbox(root, isolate_network)
        job.paths = runner.LocalPaths(root, mounted=job.sandbox.mounts_opt_ml)
        return job.paths

    def _run_process(
        self, context, job: Job, argv: list[str], env: dict[str, str], deadline: float, host: str = "algo-1",
    ) -> tuple[str, int | None]:
        """Runs the command in the job's sandbox; returns ("exited", rc) | ("stopped", rc) |
        ("timeout", rc). The output goes to <job dir>/job.log and, when the process ends, to
        CloudWatch Logs (the stream of instance ``host``)."""
        if job.stop_requested.is_set():
            return "stopped", None
        log_path = job.paths.root / "job.log"
        notes = job.sandbox.log_notes()
        for note in notes:
            LOG.warning("sagemaker %s job %s: %s", job.kind, job.name, note)
        log_path.write_text("".join(f"{note}\n" for note in notes))
        LOG.info("sagemaker %s job %s: running %s %s (log %s)", job.kind, job.name, argv, job.sandbox.describe(), log_path)
        started = time.time()
        job.process = runner.Process(job.sandbox.command(argv), env, job.paths.opt_ml, log_path)
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
            job.sandbox.tidy()
            publish_log(context, job, log_path, started, host)

    @staticmethod
    def _failure_detail(job: Job, failure: str) -> str:
        """What a failed command said: its failure file, else the tail of its output."""
        return failure or (job.process.tail() if job.process else "") or "See job logs for more information"

    @staticmethod
    def _secondary(job: Job, status: str, message: str) -> None:
        now = utcnow()
        transitions = job.record["SecondaryStatusTransitions"]
        if transitions and "EndTime" not in transitions[-1]:
            transitions[-1]["EndTime"] = now
        transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
        job.record["SecondaryStatus"] = status
        job.record["LastModifiedTime"] = now

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


# --- helpers --------------------------------------------------------------------------------


def no_objects_message(uri: str, region: str, role_arn: str) -> str:
    # the service's wording (CreateTrainingJob ValidationException)
    return (
        f'No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure that the bucket '
        f'exists in the selected region ({region}), that objects exist under that S3 prefix, and that the role '
        f'"{role_arn}" has "s3:ListBucket" permissions on bucket "{parse_s3_uri(uri)[0]}".'
    )


def error_text(e: Exception) -> str:
    return error_code(e) or str(e)


def publish_log(context, job: Job, log_path: Path, started: float, host: str = "algo-1") -> None:
    """Copies the container output to CloudWatch Logs where SageMaker puts it:
    /aws/sagemaker/TrainingJobs or /aws/sagemaker/ProcessingJobs, stream <job name>/<host>-<epoch>."""
    name = job.name
    group = "/aws/sagemaker/TrainingJobs" if job.kind == "training" else "/aws/sagemaker/ProcessingJobs"
    stream = f"{name}/{host}-{int(started)}"
    try:
        from localstack.aws.connect import connect_to

        logs = connect_to(aws_access_key_id=context.account_id, region_name=context.region).logs
        try:
            logs.create_log_group(logGroupName=group)
        except Exception:
            pass  # already exists
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        text = job.paths.as_container_text(log_path.read_text(errors="replace"))
        lines = text.splitlines()[-5000:] or ["(no output)"]
        now_ms = int(time.time() * 1000)
        events = [{"timestamp": now_ms, "message": line[:250000] or " "} for line in lines]
        for i in range(0, len(events), 1000):
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[i : i + 1000])
        job.record["_LogStream"] = f"{group}:{stream}"
    except Exception as e:
        LOG.warning("could not copy %s job %s output to CloudWatch Logs: %s", job.kind, name, e)


# never passed on from LocalStack's environment
SECRET_VARIABLES = ("AWS_SECRET", "AWS_SESSION")
# also withheld with network isolation: SageMaker then gives the container no AWS credentials
CREDENTIAL_VARIABLES = SECRET_VARIABLES + (
    "AWS_ACCESS_KEY_ID", "AWS_CONTAINER_", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_PROFILE",
)


def base_env(paths: runner.LocalPaths, job_env: dict | None, network_isolation: bool) -> dict[str, str]:
    """The command's environment: LocalStack's own (without secrets; with network isolation
    without any AWS credentials), the job's Environment, and where /opt/ml is: the container sees
    it at /opt/ml, or is told its host path in RECSYS_OPT_ML (the reference container's variable)."""
    withheld = CREDENTIAL_VARIABLES if network_isolation else SECRET_VARIABLES
    env = {k: v for k, v in os.environ.items() if not k.startswith(withheld) and k != runner.OPT_ML_VARIABLE}
    env.update(job_env or {})
    if not paths.mounted:
        env[runner.OPT_ML_VARIABLE] = str(paths.opt_ml)
    env["SM_OUTPUT_DIR"] = paths.given("/opt/ml/output")
    return env


def read_failure(paths: runner.LocalPaths, name: str = "failure") -> str:
    """/opt/ml/output/failure (training) or /opt/ml/output/message (processing)."""
    try:
        return paths.local(f"/opt/ml/output/{name}").read_text(errors="replace").strip()
    except OSError:
        return ""


def input_keys(s3, uri: str) -> tuple[str, str, list[str]]:
    """(bucket, prefix, keys) of an S3 input: the one object the URI names, else every object
    under the prefix, in key order."""
    bucket, key = parse_s3_uri(uri)
    keys = [k for k in list_keys(s3, bucket, key) if not k.endswith("/")]
    if key in keys:  # the URI names one object: just that one, under its own name
        keys = [key]
    return bucket, key, keys


def download_keys(s3, bucket: str, prefix: str, keys: list[str], target: Path) -> int:
    """Downloads ``keys`` into ``target``; returns how many. Keys keep their path relative to
    the prefix, like SageMaker."""
    for k in keys:
        rel = k[len(prefix) :].lstrip("/") or k.rsplit("/", 1)[-1]
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
    return len(keys)


def download(s3, uri: str, target: Path) -> int:
    """Downloads one object (when the URI names one) or every object under the prefix; returns
    how many were downloaded."""
    return download_keys(s3, *input_keys(s3, uri), target)


def upload_dir(s3, local: Path, uri: str) -> None:
    bucket, prefix = parse_s3_uri(uri)
    prefix = prefix.rstrip("/")
    for path in sorted(local.rglob("*")):
        if path.is_file():
            rel = path.relative_to(local).as_posix()
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{rel}" if prefix else rel, Body=path.read_bytes())
