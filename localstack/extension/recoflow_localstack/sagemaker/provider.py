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

from localstack.aws.api import RequestContext, handler
from localstack.services.plugins import ServiceLifecycleHook

from recoflow_localstack.sagemaker.jobs import ValidationException
from recoflow_localstack.sagemaker.processing import ProcessingJobs
from recoflow_localstack.sagemaker.training import TrainingJobs

__all__ = ["SageMakerProvider", "ValidationException"]

DEFAULT_MAX_TAGS_RESULTS = 50  # ListTags: MaxResults is at least 50


class SageMakerProvider(TrainingJobs, ProcessingJobs, ServiceLifecycleHook):
    def on_before_stop(self):
        self._kill_running_jobs()

    def _tagged_job_arn(self, context: RequestContext, resource_arn: str) -> str:
        """The ARN of a training or processing job of the caller's; SageMaker answers
        ValidationException for an ARN it has no resource for."""
        store = self._store(context)
        for kind in ("training", "processing"):
            prefix = self._job_arn(context, kind, "")
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
        # tags in key order: a cursor on the key stays exact when tags change between pages
        page, token = self._page(
            tags, key=lambda t: (t["Key"],), descending=False, ordering="tags",
            max_results=request.get("MaxResults") or DEFAULT_MAX_TAGS_RESULTS, token=request.get("NextToken"),
        )
        return {"Tags": page, **({"NextToken": token} if token else {})}
