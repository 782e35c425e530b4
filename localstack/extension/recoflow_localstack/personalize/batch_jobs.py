"""What batch inference jobs and batch segment jobs share: the request checks (S3 paths,
numResults, a solution version that is ACTIVE and of a recipe the job serves), the record and
its life cycle under the concurrency quota, and the work itself: JSON lines read from the input
path, one answer line per input line written to ``<output path>/<input file name>.out``, in the
service's shape ``{"input": ..., "output": ..., "error": ...}``."""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

from localstack.aws.api import RequestContext

from recoflow_localstack.emulation import error_code, parse_s3_uri, s3_client, utcnow
from recoflow_localstack.personalize import model as recmodel
from recoflow_localstack.personalize.resources import (
    ACTIVE, PENDING, InvalidInputException, JobFailed, PersonalizeResources, ResourceInUseException, read_job_input,
)

LOG = logging.getLogger(__name__)


class LineError(Exception):
    """An input line the model cannot answer: its output line carries the message as error."""


Answer = Callable[[dict], dict]  # query -> output


def answer_line(raw: str, answer: Answer) -> dict:
    try:
        query = json.loads(raw)
        if not isinstance(query, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        return {"input": raw, "output": None, "error": f"Invalid input line: {e}"}
    try:
        return {"input": query, "output": answer(query), "error": None}
    except LineError as e:
        return {"input": query, "output": None, "error": str(e)}


def required(query: dict, member: str) -> str:
    if member not in query:
        raise LineError(f"Missing required field {member} in input.")
    return str(query[member])


class BatchJobs(PersonalizeResources):
    def _create_batch_job(
        self, context: RequestContext, request: dict, *, table: dict, arn_key: str, resource: str, limit: str,
        what: str, serves: Callable[[str | None], bool], recipe_error: str, default_results: int, max_results: int,
        extra: dict[str, Any], answer: Callable[[recmodel.Model, int], Answer],
    ) -> dict:
        """Checks a Create*Job request, records the job (CREATE PENDING, tagged, within the
        quota ``limits.personalize.<limit>``) and runs it. ``serves(model kind)`` says whether
        the version's recipe is one this job serves, else InvalidInputException ``recipe_error``;
        ``answer(model, numResults)`` answers one parsed input line."""
        store = self._store(context)
        tags = self._checked_tags(store, request)
        version = self._get(store.versions, request["solutionVersionArn"])
        paths = {}
        for member, key, inner in (("jobInput", "s3DataSource", "input"), ("jobOutput", "s3DataDestination", "output")):
            path = ((request.get(member) or {}).get(key) or {}).get("path")
            try:
                parse_s3_uri(path)
            except ValueError:
                raise InvalidInputException(f"Invalid {member}.{key}.path {path!r}: must be an s3:// path.")
            paths[inner] = path
        num_results = request.get("numResults")
        num_results = default_results if num_results is None else num_results
        if not isinstance(num_results, int) or not 1 <= num_results <= max_results:
            raise InvalidInputException(f"numResults must be between 1 and {max_results}, got {num_results}.")
        if not serves(recmodel.recipe_kind(version["recipeArn"])):
            raise InvalidInputException(recipe_error.format(version=version["solutionVersionArn"], recipe=version["recipeArn"]))
        if request.get("filterArn"):
            LOG.warning("personalize emulator: filterArn %s is accepted but not applied", request["filterArn"])
        if version["status"] != ACTIVE:
            raise ResourceInUseException(
                f"Solution version {version['solutionVersionArn']} is not in ACTIVE state (status: {version['status']})."
            )
        arn = self._arn(context, f"{resource}/{request['jobName']}")
        with self._lock:
            self._not_exists(table, arn)
            self._check_limit(table, limit, what)
            now = utcnow()
            record = {
                "jobName": request["jobName"], arn_key: arn, "filterArn": request.get("filterArn"),
                "solutionVersionArn": version["solutionVersionArn"], "numResults": num_results,
                "jobInput": request["jobInput"], "jobOutput": request["jobOutput"], "roleArn": request["roleArn"],
                **extra, "status": PENDING, "creationDateTime": now, "lastUpdatedDateTime": now,
            }
            table[arn] = record
            store.tags.add(arn, tags)

        def work():
            trained = store.models[version["solutionVersionArn"]]
            self._answer_lines(context, paths["input"], paths["output"], answer(trained, num_results))

        self._run_job(record, work, request["jobName"])
        return {arn_key: arn}

    @staticmethod
    def _answer_lines(context: RequestContext, input_path: str, output_path: str, answer: Answer) -> None:
        s3 = s3_client(context.account_id, context.region)
        out_bucket, out_prefix = parse_s3_uri(output_path)
        if out_prefix and not out_prefix.endswith("/"):
            out_prefix += "/"
        for key, text in read_job_input(s3, input_path, what="input files"):
            lines = [json.dumps(answer_line(raw, answer), separators=(",", ":")) for raw in text.splitlines() if raw.strip()]
            out_key = f"{out_prefix}{key.rsplit('/', 1)[-1]}.out"
            try:
                s3.put_object(Bucket=out_bucket, Key=out_key, Body=("\n".join(lines) + "\n").encode("utf-8"))
            except Exception as e:
                code = error_code(e) or type(e).__name__
                raise JobFailed(f"Could not write output to s3://{out_bucket}/{out_key}: {code}.")
