"""Amazon Personalize control plane, emulated.

Resources live in memory per account and region. Dataset groups, datasets and solutions become
ACTIVE shortly after creation; dataset import jobs, solution versions and batch inference jobs run
on a background thread through CREATE PENDING -> CREATE IN_PROGRESS -> ACTIVE | CREATE FAILED,
doing real work (CSV import from S3, training a stand-in model, writing batch output to S3) within
the artificial duration configured in ``recoflow_localstack.faults``.

Requests are checked against the service model before they get here (emulation.py; a broken
constraint answers InvalidInputException); the operations check what the model cannot say.
List calls page like SageMaker's (paging.py): a page of maxResults resources, newest first, is
taken before the parent filter (datasetGroupArn, solutionArn, ...) is applied.

One class per resource family (``datasets.py``, ``solutions.py``, ``batch_inference.py``,
``batch_segments.py``), on the shared base of ``resources.py``; tags, which apply to all of them,
are here.
"""

from __future__ import annotations

from localstack.aws.api import RequestContext, handler

from recoflow_localstack.personalize.batch_inference import BatchInferenceOperations
from recoflow_localstack.personalize.batch_segments import BatchSegmentOperations
from recoflow_localstack.personalize.datasets import DatasetOperations
from recoflow_localstack.personalize.resources import (
    InvalidInputException, ResourceNotFoundException, Store, TooManyTagKeysException,
)
from recoflow_localstack.personalize.solutions import SolutionOperations
from recoflow_localstack.tagging import MAX_TAGS_PER_RESOURCE

__all__ = ["InvalidInputException", "PersonalizeProvider"]


class PersonalizeProvider(DatasetOperations, SolutionOperations, BatchInferenceOperations, BatchSegmentOperations):
    # --- tags ----------------------------------------------------------------------------

    def _taggable(self, store: Store, resource_arn: str) -> str:
        if resource_arn in store.schemas:
            raise InvalidInputException(f"Resource {resource_arn} cannot be tagged: schemas take no tags.")
        if resource_arn not in store.taggable():
            raise ResourceNotFoundException(f"Resource Arn {resource_arn} does not exist.")
        return resource_arn

    @handler("TagResource", expand=False)
    def tag_resource(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        resource = self._taggable(store, request["resourceArn"])
        store.tags.add(resource, self._checked_tags(store, request))
        return {}

    @handler("UntagResource", expand=False)
    def untag_resource(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        resource = self._taggable(store, request["resourceArn"])
        if len(request["tagKeys"]) > MAX_TAGS_PER_RESOURCE:
            raise TooManyTagKeysException(
                f"The request contains more tag keys than can be associated with a resource "
                f"({MAX_TAGS_PER_RESOURCE} tag keys per resource)."
            )
        store.tags.remove(resource, request["tagKeys"])
        return {}

    @handler("ListTagsForResource", expand=False)
    def list_tags_for_resource(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        tags = store.tags.get(self._taggable(store, request["resourceArn"]))
        return {"tags": [{"tagKey": k, "tagValue": v} for k, v in tags.items()]}
