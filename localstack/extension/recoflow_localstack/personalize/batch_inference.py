"""Amazon Personalize batch inference jobs: JSON lines from S3 in, the trained stand-in
model's recommendations out, in the service's output format."""

from __future__ import annotations

import json
import logging
from typing import Any

from localstack.aws.api import RequestContext, handler

from recoflow_localstack.emulation import error_code, parse_s3_uri, public_view, s3_client, utcnow
from recoflow_localstack.personalize import model as recmodel
from recoflow_localstack.personalize.resources import (
    ACTIVE, PENDING, InvalidInputException, JobFailed, PersonalizeResources, ResourceInUseException, read_job_input,
)

LOG = logging.getLogger(__name__)


class BatchInferenceOperations(PersonalizeResources):
    # --- batch inference jobs ----------------------------------------------------------

    @handler("CreateBatchInferenceJob", expand=False)
    def create_batch_inference_job(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        tags = self._checked_tags(store, request)
        name = request["jobName"]
        version = self._get(store.versions, request["solutionVersionArn"])
        input_path = ((request.get("jobInput") or {}).get("s3DataSource") or {}).get("path")
        output_path = ((request.get("jobOutput") or {}).get("s3DataDestination") or {}).get("path")
        for member, path in (("jobInput.s3DataSource.path", input_path), ("jobOutput.s3DataDestination.path", output_path)):
            try:
                parse_s3_uri(path)
            except ValueError:
                raise InvalidInputException(f"Invalid {member} {path!r}: must be an s3:// path.")
        num_results = request.get("numResults") or 25
        if not isinstance(num_results, int) or not 1 <= num_results <= 500:
            raise InvalidInputException(f"numResults must be between 1 and 500, got {num_results}.")
        if request.get("filterArn"):
            LOG.warning("personalize emulator: filterArn %s is accepted but not applied", request["filterArn"])
        if version["status"] != ACTIVE:
            raise ResourceInUseException(
                f"Solution version {version['solutionVersionArn']} is not in ACTIVE state (status: {version['status']})."
            )
        arn = self._arn(context, f"batch-inference-job/{name}")
        with self._lock:
            self._not_exists(store.batch_jobs, arn)
            self._check_limit(store.batch_jobs, "batch_inference_jobs", "batch inference jobs")
            now = utcnow()
            record = {
                "jobName": name, "batchInferenceJobArn": arn, "filterArn": request.get("filterArn"),
                "solutionVersionArn": version["solutionVersionArn"], "numResults": num_results,
                "jobInput": request["jobInput"], "jobOutput": request["jobOutput"],
                "batchInferenceJobConfig": request.get("batchInferenceJobConfig"), "roleArn": request["roleArn"],
                "batchInferenceJobMode": request.get("batchInferenceJobMode") or "BATCH_INFERENCE",
                "status": PENDING, "creationDateTime": now, "lastUpdatedDateTime": now,
            }
            store.batch_jobs[arn] = record
            store.tags.add(arn, tags)

        def work():
            self._batch_inference(context, store.models[version["solutionVersionArn"]], input_path, output_path, num_results)

        self._run_job(record, work, name)
        return {"batchInferenceJobArn": arn}

    def _batch_inference(self, context, trained: recmodel.Model, input_path: str, output_path: str, n: int) -> None:
        s3 = s3_client(context.account_id, context.region)
        out_bucket, out_prefix = parse_s3_uri(output_path)
        if out_prefix and not out_prefix.endswith("/"):
            out_prefix += "/"
        inputs = read_job_input(s3, input_path, what="input files")
        for key, text in inputs:
            lines = []
            for raw in text.splitlines():
                if not raw.strip():
                    continue
                lines.append(json.dumps(_infer_line(trained, raw, n), separators=(",", ":")))
            out_key = f"{out_prefix}{key.rsplit('/', 1)[-1]}.out"
            try:
                s3.put_object(Bucket=out_bucket, Key=out_key, Body=("\n".join(lines) + "\n").encode("utf-8"))
            except Exception as e:
                code = error_code(e) or type(e).__name__
                raise JobFailed(f"Could not write output to s3://{out_bucket}/{out_key}: {code}.")

    @handler("DescribeBatchInferenceJob", expand=False)
    def describe_batch_inference_job(self, context: RequestContext, request: dict) -> dict:
        record = self._get(self._store(context).batch_jobs, request["batchInferenceJobArn"])
        return {"batchInferenceJob": public_view(record)}

    @handler("ListBatchInferenceJobs", expand=False)
    def list_batch_inference_jobs(self, context: RequestContext, request: dict) -> dict:
        return self._list(self._store(context).batch_jobs, request, "batchInferenceJobs", "solutionVersionArn")


def _infer_line(trained: recmodel.Model, raw: str, n: int) -> dict:
    try:
        query = json.loads(raw)
        if not isinstance(query, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        return {"input": raw, "output": None, "error": f"Invalid input line: {e}"}
    try:
        if trained.kind == recmodel.SIMILAR_ITEMS:
            if "itemId" not in query:
                raise KeyError("itemId")
            items, scores = trained.similar_items(str(query["itemId"]), n)
        elif trained.kind == recmodel.RANKING:
            if "userId" not in query or not isinstance(query.get("itemList"), list):
                raise KeyError("userId and itemList")
            items, scores = trained.rank(str(query["userId"]), [str(i) for i in query["itemList"]])
        else:
            if "userId" not in query:
                raise KeyError("userId")
            items, scores = trained.recommend_for_user(str(query["userId"]), n)
    except KeyError as e:
        return {"input": query, "output": None, "error": f"Missing required field {e.args[0]} in input."}
    output: dict[str, Any] = {"recommendedItems": items, "scores": scores}
    return {"input": query, "output": output, "error": None}
