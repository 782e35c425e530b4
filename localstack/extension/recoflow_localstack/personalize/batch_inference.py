"""Amazon Personalize batch inference jobs: JSON lines from S3 in, the trained stand-in
model's recommendations out, in the service's output format (``batch_jobs.py``)."""

from __future__ import annotations

from localstack.aws.api import RequestContext, handler

from recoflow_localstack.emulation import public_view
from recoflow_localstack.personalize import model as recmodel
from recoflow_localstack.personalize.batch_jobs import Answer, BatchJobs, LineError, required

DEFAULT_RESULTS, MAX_RESULTS = 25, 500


class BatchInferenceOperations(BatchJobs):
    @handler("CreateBatchInferenceJob", expand=False)
    def create_batch_inference_job(self, context: RequestContext, request: dict) -> dict:
        return self._create_batch_job(
            context, request, table=self._store(context).batch_jobs, arn_key="batchInferenceJobArn",
            resource="batch-inference-job", limit="batch_inference_jobs", what="batch inference jobs",
            serves=lambda kind: kind not in recmodel.USER_SEGMENTATION,
            recipe_error="Solution version {version} was trained with {recipe}, a USER_SEGMENTATION recipe: "
                         "get its user segments with CreateBatchSegmentJob.",
            default_results=DEFAULT_RESULTS, max_results=MAX_RESULTS,
            extra={"batchInferenceJobConfig": request.get("batchInferenceJobConfig"),
                   "batchInferenceJobMode": request.get("batchInferenceJobMode") or "BATCH_INFERENCE"},
            answer=_recommendations,
        )

    @handler("DescribeBatchInferenceJob", expand=False)
    def describe_batch_inference_job(self, context: RequestContext, request: dict) -> dict:
        record = self._get(self._store(context).batch_jobs, request["batchInferenceJobArn"])
        return {"batchInferenceJob": public_view(record)}

    @handler("ListBatchInferenceJobs", expand=False)
    def list_batch_inference_jobs(self, context: RequestContext, request: dict) -> dict:
        return self._list(self._store(context).batch_jobs, request, "batchInferenceJobs", "solutionVersionArn")


def _recommendations(trained: recmodel.Model, n: int) -> Answer:
    """One input line's recommendedItems and scores: ``{"userId"}`` lines, ``{"itemId"}`` for
    RELATED_ITEMS recipes, ``{"userId", "itemList"}`` for PERSONALIZED_RANKING."""

    def answer(query: dict) -> dict:
        if trained.kind == recmodel.SIMILAR_ITEMS:
            items, scores = trained.similar_items(required(query, "itemId"), n)
        elif trained.kind == recmodel.RANKING:
            if "userId" not in query or not isinstance(query.get("itemList"), list):
                raise LineError("Missing required field userId and itemList in input.")
            items, scores = trained.rank(str(query["userId"]), [str(i) for i in query["itemList"]])
        else:
            items, scores = trained.recommend_for_user(required(query, "userId"), n)
        return {"recommendedItems": items, "scores": scores}

    return answer
