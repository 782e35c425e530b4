"""Amazon Personalize batch segment jobs (USER_SEGMENTATION recipes): for each input line, the
users most likely to interact with an item (aws-item-affinity, ``{"itemId": "i1"}``) or with
the items whose attributes match (aws-item-attribute-affinity,
``{"itemAttributes": "ITEMS.CATEGORY = \\"coat\\""}``), written as
``{"input": {...}, "output": {"usersList": ["u1", ...]}, "error": null}``."""

from __future__ import annotations

from localstack.aws.api import RequestContext, handler

from recoflow_localstack.emulation import public_view
from recoflow_localstack.personalize import item_attributes
from recoflow_localstack.personalize import model as recmodel
from recoflow_localstack.personalize.batch_jobs import Answer, BatchJobs, LineError, required

# numResults: the service's documented maximum; its default is not documented
DEFAULT_USERS, MAX_USERS = 25, 5_000_000


class BatchSegmentOperations(BatchJobs):
    @handler("CreateBatchSegmentJob", expand=False)
    def create_batch_segment_job(self, context: RequestContext, request: dict) -> dict:
        return self._create_batch_job(
            context, request, table=self._store(context).segment_jobs, arn_key="batchSegmentJobArn",
            resource="batch-segment-job", limit="batch_segment_jobs", what="batch segment jobs",
            serves=lambda kind: kind in recmodel.USER_SEGMENTATION,
            recipe_error="Solution version {version} was trained with {recipe}: batch segment jobs need a "
                         "USER_SEGMENTATION recipe (aws-item-affinity, aws-item-attribute-affinity).",
            default_results=DEFAULT_USERS, max_results=MAX_USERS, extra={}, answer=_segment,
        )

    @handler("DescribeBatchSegmentJob", expand=False)
    def describe_batch_segment_job(self, context: RequestContext, request: dict) -> dict:
        record = self._get(self._store(context).segment_jobs, request["batchSegmentJobArn"])
        return {"batchSegmentJob": public_view(record)}

    @handler("ListBatchSegmentJobs", expand=False)
    def list_batch_segment_jobs(self, context: RequestContext, request: dict) -> dict:
        return self._list(self._store(context).segment_jobs, request, "batchSegmentJobs", "solutionVersionArn")


def _segment(trained: recmodel.Model, n: int) -> Answer:
    known_items = {item for item, _count in trained.popularity}

    def answer(query: dict) -> dict:
        if trained.kind == recmodel.ITEM_AFFINITY:
            item = required(query, "itemId")
            if item not in known_items:
                raise LineError(f"Item {item} was not in the training data of the solution version.")
            items = {item}
        else:
            try:
                conditions = item_attributes.parse(required(query, "itemAttributes"))
            except item_attributes.ExpressionError as e:
                raise LineError(str(e)) from None
            items = item_attributes.matching_items(conditions, trained.item_attributes)
            if not items:
                raise LineError(f"No item of the training data matches {query['itemAttributes']}.")
        return {"usersList": trained.users_for_items(items, n)}

    return answer
