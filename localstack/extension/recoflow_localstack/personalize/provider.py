"""Amazon Personalize control plane, emulated.

Resources live in memory per account and region. Dataset groups, datasets and solutions become
ACTIVE shortly after creation; dataset import jobs, solution versions and batch inference jobs run
on a background thread through CREATE PENDING -> CREATE IN_PROGRESS -> ACTIVE | CREATE FAILED,
doing real work (CSV import from S3, training a stand-in model, writing batch output to S3) within
the artificial duration configured in ``recoflow_localstack.faults``.

Requests are checked against the service model before they get here (emulation.py; a broken
constraint answers InvalidInputException); this module checks what the model cannot say.
List calls page like SageMaker's (paging.py): a page of maxResults resources, newest first, is
taken before the parent filter (datasetGroupArn, solutionArn, ...) is applied.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from localstack.aws.api import RequestContext, handler

from recoflow_localstack import faults, paging
from recoflow_localstack.emulation import (
    RegionalStores, ServiceError, build_arn, list_keys, parse_s3_uri, s3_client, start_thread, utcnow,
)
from recoflow_localstack.personalize import model as recmodel
from recoflow_localstack.tagging import MAX_TAGS_PER_RESOURCE, TagStore

LOG = logging.getLogger(__name__)

SERVICE = "personalize"

PENDING = "CREATE PENDING"
IN_PROGRESS = "CREATE IN_PROGRESS"
ACTIVE = "ACTIVE"
FAILED = "CREATE FAILED"
STOPPING = "CREATE STOPPING"
STOPPED = "CREATE STOPPED"
RUNNING = (PENDING, IN_PROGRESS, STOPPING)

DEFAULT_MAX_RESULTS = 100  # List* without maxResults
DATASET_TYPES = {"interactions": "INTERACTIONS", "items": "ITEMS", "users": "USERS", "actions": "ACTIONS",
                 "action_interactions": "ACTION_INTERACTIONS"}
REQUIRED_COLUMNS = {
    "INTERACTIONS": ("USER_ID", "ITEM_ID", "TIMESTAMP"),
    "ITEMS": ("ITEM_ID",),
    "USERS": ("USER_ID",),
}
INJECTED_FAILURE = "Injected failure (recoflow fault injection: fail_next)."


# --- errors (shapes from the botocore model: code == shape name, HTTP 400) ------------------


class InvalidInputException(ServiceError):
    pass


class ResourceNotFoundException(ServiceError):
    pass


class ResourceAlreadyExistsException(ServiceError):
    pass


class ResourceInUseException(ServiceError):
    pass


class LimitExceededException(ServiceError):
    pass


class InvalidNextTokenException(ServiceError):
    pass


class TooManyTagsException(ServiceError):
    pass


class TooManyTagKeysException(ServiceError):
    pass


class JobFailed(Exception):
    pass


# --- store ------------------------------------------------------------------------------


@dataclass
class Store:
    schemas: dict[str, dict] = field(default_factory=dict)
    dataset_groups: dict[str, dict] = field(default_factory=dict)
    datasets: dict[str, dict] = field(default_factory=dict)
    import_jobs: dict[str, dict] = field(default_factory=dict)
    solutions: dict[str, dict] = field(default_factory=dict)
    versions: dict[str, dict] = field(default_factory=dict)
    batch_jobs: dict[str, dict] = field(default_factory=dict)
    # not part of any API response
    dataset_rows: dict[str, list[dict]] = field(default_factory=dict)
    models: dict[str, recmodel.Model] = field(default_factory=dict)
    tags: TagStore = field(default_factory=lambda: TagStore(invalid=InvalidInputException, too_many=TooManyTagsException))

    def taggable(self) -> dict[str, dict]:
        """Resources that take tags, by ARN (schemas do not: CreateSchema has no tags)."""
        tables = (self.dataset_groups, self.datasets, self.import_jobs, self.solutions, self.versions, self.batch_jobs)
        return {arn: record for table in tables for arn, record in list(table.items())}


def _public(record: dict) -> dict:
    # dict(record) is one C-level copy: job threads may add keys while a request reads
    return {k: v for k, v in dict(record).items() if v is not None}


class PersonalizeProvider:
    service = SERVICE

    def __init__(self):
        self._stores = RegionalStores(Store)
        self._lock = threading.RLock()

    # --- helpers -------------------------------------------------------------------------

    def _store(self, context: RequestContext) -> Store:
        return self._stores.of(context)

    @staticmethod
    def _arn(context: RequestContext, resource: str) -> str:
        return build_arn(context, SERVICE, resource)

    @staticmethod
    def _get(table: dict, resource_arn: str) -> dict:
        if resource_arn not in table:
            raise ResourceNotFoundException(f"Resource Arn {resource_arn} does not exist.")
        return table[resource_arn]

    @staticmethod
    def _checked_tags(store: Store, request: dict) -> dict[str, str]:
        return store.tags.checked([(t["tagKey"], t["tagValue"]) for t in request.get("tags") or []])

    @staticmethod
    def _not_exists(table: dict, arn: str) -> None:
        if arn in table:
            raise ResourceAlreadyExistsException(f"Another resource with Arn {arn} already exists.")

    @staticmethod
    def _touch(record: dict, **changes) -> None:
        record.update(changes)
        record["lastUpdatedDateTime"] = utcnow()

    @staticmethod
    def _list(table: dict[str, dict], request: dict, result_key: str, parent_key: str | None = None) -> dict:
        """List*: a page of maxResults resources, newest first, then only those of the parent named
        by ``parent_key`` in the request (when given): the page may be short or empty while
        nextToken is set (paging.py)."""
        parent = request.get(parent_key) if parent_key else None
        try:
            page, token = paging.page_then_filter(
                list(table.items()),  # (ARN, record): the ARN makes each sort key distinct
                key=lambda item: (paging.sortable(item[1]["creationDateTime"]), item[0]),
                descending=True, keep=lambda item: parent is None or item[1].get(parent_key) == parent,
                max_results=request.get("maxResults") or DEFAULT_MAX_RESULTS,
                token=request.get("nextToken"), ordering=result_key,
            )
        except paging.InvalidToken:
            raise InvalidNextTokenException(f"The next token {request.get('nextToken')!r} is not valid.")
        result: dict[str, Any] = {result_key: [_public(record) for _arn, record in page]}
        if token:
            result["nextToken"] = token
        return result

    def _activate_later(self, record: dict) -> None:
        """Short life cycle of a non-job resource: CREATE PENDING -> ACTIVE."""
        delay = min(1.0, faults.job_duration(SERVICE) / 3)

        def run():
            time.sleep(delay / 2)
            self._touch(record, status=IN_PROGRESS)
            time.sleep(delay / 2)
            self._touch(record, status=ACTIVE)

        start_thread(f"personalize-activate-{record.get('name')}", run)

    def _run_job(self, record: dict, work, name: str, factor: float = 1.0) -> None:
        """CREATE PENDING -> CREATE IN_PROGRESS -> work() -> ACTIVE | CREATE FAILED."""
        duration = faults.job_duration(SERVICE) * factor

        def run():
            time.sleep(duration * 0.2)
            with self._lock:
                if record["status"] != PENDING:  # stopped while pending
                    return
                self._touch(record, status=IN_PROGRESS)
            started = time.monotonic()
            try:
                if faults.take_injected_failure(SERVICE):
                    raise JobFailed(INJECTED_FAILURE)
                work()
            except JobFailed as e:
                time.sleep(max(0.0, duration * 0.4 - (time.monotonic() - started)))
                self._finish(record, FAILED, str(e))
                return
            except Exception as e:
                LOG.exception("personalize job %s crashed", name)
                self._finish(record, FAILED, f"Internal error: {e}")
                return
            time.sleep(max(0.0, duration * 0.8 - (time.monotonic() - started)))
            self._finish(record, ACTIVE)

        start_thread(f"personalize-job-{name}", run)

    def _finish(self, record: dict, status: str, reason: str | None = None) -> None:
        with self._lock:
            # a version being stopped (CREATE STOPPING) is ended by StopSolutionVersionCreation's timer
            if record["status"] == IN_PROGRESS:
                self._touch(record, status=status, **({"failureReason": reason} if reason else {}))

    def _check_limit(self, table: dict, limit_name: str, what: str) -> None:
        limit = faults.personalize_limit(limit_name)
        running = sum(1 for r in list(table.values()) if r["status"] in RUNNING)
        if running >= limit:
            raise LimitExceededException(
                f"You have reached the maximum number of {limit} concurrent {what} for this account "
                f"({running} in progress). Wait until one finishes, or request a quota increase."
            )

    # --- schemas -------------------------------------------------------------------------

    @handler("CreateSchema", expand=False)
    def create_schema(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        name = request["name"]
        try:
            schema = json.loads(request.get("schema") or "")
            fields = schema["fields"]
            if schema.get("type") != "record" or not isinstance(fields, list) or not fields:
                raise ValueError("not a record with fields")
            for f in fields:
                if not isinstance(f, dict) or "name" not in f or "type" not in f:
                    raise ValueError("field without name or type")
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidInputException(f"Provided schema is not a valid Avro schema: {e}")
        arn = self._arn(context, f"schema/{name}")
        with self._lock:
            self._not_exists(store.schemas, arn)
            now = utcnow()
            store.schemas[arn] = {
                "name": name, "schemaArn": arn, "schema": request["schema"], "domain": request.get("domain"),
                "creationDateTime": now, "lastUpdatedDateTime": now,
            }
        return {"schemaArn": arn}

    @handler("DescribeSchema", expand=False)
    def describe_schema(self, context: RequestContext, request: dict) -> dict:
        return {"schema": _public(self._get(self._store(context).schemas, request["schemaArn"]))}

    @handler("ListSchemas", expand=False)
    def list_schemas(self, context: RequestContext, request: dict) -> dict:
        return self._list(self._store(context).schemas, request, "schemas")

    @handler("DeleteSchema", expand=False)
    def delete_schema(self, context: RequestContext, request: dict) -> None:
        store = self._store(context)
        arn = request.get("schemaArn")
        self._get(store.schemas, arn)
        if any(d["schemaArn"] == arn for d in list(store.datasets.values())):
            raise ResourceInUseException(f"Schema {arn} is used by a dataset.")
        del store.schemas[arn]

    # --- dataset groups ------------------------------------------------------------------

    @handler("CreateDatasetGroup", expand=False)
    def create_dataset_group(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        tags = self._checked_tags(store, request)
        name = request["name"]
        arn = self._arn(context, f"dataset-group/{name}")
        with self._lock:
            self._not_exists(store.dataset_groups, arn)
            now = utcnow()
            record = {
                "name": name, "datasetGroupArn": arn, "status": PENDING, "roleArn": request.get("roleArn"),
                "kmsKeyArn": request.get("kmsKeyArn"), "domain": request.get("domain"),
                "creationDateTime": now, "lastUpdatedDateTime": now,
            }
            store.dataset_groups[arn] = record
            store.tags.add(arn, tags)
        self._activate_later(record)
        return {"datasetGroupArn": arn, "domain": request.get("domain")}

    @handler("DescribeDatasetGroup", expand=False)
    def describe_dataset_group(self, context: RequestContext, request: dict) -> dict:
        record = self._get(self._store(context).dataset_groups, request["datasetGroupArn"])
        return {"datasetGroup": _public(record)}

    @handler("ListDatasetGroups", expand=False)
    def list_dataset_groups(self, context: RequestContext, request: dict) -> dict:
        return self._list(self._store(context).dataset_groups, request, "datasetGroups")

    @handler("DeleteDatasetGroup", expand=False)
    def delete_dataset_group(self, context: RequestContext, request: dict) -> None:
        store = self._store(context)
        arn = request.get("datasetGroupArn")
        self._get(store.dataset_groups, arn)
        if any(d["datasetGroupArn"] == arn for d in list(store.datasets.values())) or any(
            s["datasetGroupArn"] == arn for s in list(store.solutions.values())
        ):
            raise ResourceInUseException(
                f"Dataset group {arn} still has datasets or solutions; delete them first."
            )
        del store.dataset_groups[arn]
        store.tags.forget(arn)

    # --- datasets ------------------------------------------------------------------------

    @handler("CreateDataset", expand=False)
    def create_dataset(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        tags = self._checked_tags(store, request)
        name = request["name"]
        dataset_type = DATASET_TYPES.get(str(request.get("datasetType") or "").lower())
        if not dataset_type:
            raise InvalidInputException(
                f"Invalid datasetType {request.get('datasetType')!r}: must be one of Interactions, Items, Users, "
                f"Actions, Action_Interactions."
            )
        schema = self._get(store.schemas, request["schemaArn"])
        group = self._get(store.dataset_groups, request["datasetGroupArn"])
        if group["status"] != ACTIVE:
            raise ResourceInUseException(
                f"Dataset group {group['datasetGroupArn']} is not in ACTIVE state (status: {group['status']})."
            )
        field_names = {f["name"].upper() for f in json.loads(schema["schema"])["fields"]}
        missing = [c for c in REQUIRED_COLUMNS.get(dataset_type, ()) if c not in field_names]
        if missing:
            raise InvalidInputException(
                f"Schema {schema['schemaArn']} is not valid for dataset type {dataset_type}: "
                f"missing required field(s) {', '.join(missing)}."
            )
        arn = self._arn(context, f"dataset/{group['name']}/{dataset_type}")
        with self._lock:
            self._not_exists(store.datasets, arn)
            now = utcnow()
            record = {
                "name": name, "datasetArn": arn, "datasetGroupArn": group["datasetGroupArn"],
                "datasetType": dataset_type, "schemaArn": schema["schemaArn"], "status": PENDING,
                "creationDateTime": now, "lastUpdatedDateTime": now,
            }
            store.datasets[arn] = record
            store.tags.add(arn, tags)
        self._activate_later(record)
        return {"datasetArn": arn}

    @handler("DescribeDataset", expand=False)
    def describe_dataset(self, context: RequestContext, request: dict) -> dict:
        return {"dataset": _public(self._get(self._store(context).datasets, request["datasetArn"]))}

    @handler("ListDatasets", expand=False)
    def list_datasets(self, context: RequestContext, request: dict) -> dict:
        return self._list(self._store(context).datasets, request, "datasets", "datasetGroupArn")

    @handler("DeleteDataset", expand=False)
    def delete_dataset(self, context: RequestContext, request: dict) -> None:
        store = self._store(context)
        arn = request.get("datasetArn")
        self._get(store.datasets, arn)
        if any(j["datasetArn"] == arn and j["status"] in RUNNING for j in list(store.import_jobs.values())):
            raise ResourceInUseException(f"Dataset {arn} has a dataset import job in progress.")
        del store.datasets[arn]
        store.tags.forget(arn)
        store.dataset_rows.pop(arn, None)

    # --- dataset import jobs ------------------------------------------------------------

    @handler("CreateDatasetImportJob", expand=False)
    def create_dataset_import_job(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        tags = self._checked_tags(store, request)
        name = request["jobName"]
        dataset = self._get(store.datasets, request["datasetArn"])
        location = (request.get("dataSource") or {}).get("dataLocation")
        try:
            parse_s3_uri(location)
        except ValueError:
            raise InvalidInputException(f"Invalid dataSource.dataLocation {location!r}: must be an s3:// path.")
        import_mode = request.get("importMode") or "FULL"
        if dataset["status"] != ACTIVE:
            raise ResourceInUseException(
                f"Dataset {dataset['datasetArn']} is not in ACTIVE state (status: {dataset['status']})."
            )
        arn = self._arn(context, f"dataset-import-job/{name}")
        with self._lock:
            self._not_exists(store.import_jobs, arn)
            if any(j["datasetArn"] == dataset["datasetArn"] and j["status"] in RUNNING for j in list(store.import_jobs.values())):
                raise ResourceInUseException(
                    f"Dataset {dataset['datasetArn']} already has a dataset import job in progress."
                )
            self._check_limit(store.import_jobs, "dataset_import_jobs", "dataset import jobs")
            now = utcnow()
            record = {
                "jobName": name, "datasetImportJobArn": arn, "datasetArn": dataset["datasetArn"],
                "dataSource": {"dataLocation": location}, "roleArn": request["roleArn"], "status": PENDING,
                "importMode": import_mode,
                "publishAttributionMetricsToS3": request.get("publishAttributionMetricsToS3"),
                "creationDateTime": now, "lastUpdatedDateTime": now,
            }
            store.import_jobs[arn] = record
            store.tags.add(arn, tags)

        def work():
            rows = self._import_csv(context, store, dataset, location)
            with self._lock:
                if import_mode == "INCREMENTAL":
                    store.dataset_rows.setdefault(dataset["datasetArn"], []).extend(rows)
                else:
                    store.dataset_rows[dataset["datasetArn"]] = rows

        self._run_job(record, work, name)
        return {"datasetImportJobArn": arn}

    def _import_csv(self, context: RequestContext, store: Store, dataset: dict, location: str) -> list[dict]:
        s3 = s3_client(context.account_id, context.region)
        bucket, key = parse_s3_uri(location)
        try:
            if not key or key.endswith("/"):
                keys = [k for k in list_keys(s3, bucket, key) if k.lower().endswith(".csv")]
            else:
                keys = [key]
            if not keys:
                raise JobFailed(f"No CSV files found at {location}.")
            texts = [(k, s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode("utf-8-sig")) for k in keys]
        except JobFailed:
            raise
        except Exception as e:
            code = getattr(e, "response", {}).get("Error", {}).get("Code", type(e).__name__)
            raise JobFailed(f"Could not read input file(s) at {location}: {code}. Check the path and bucket policy.")

        schema = json.loads(store.schemas[dataset["schemaArn"]]["schema"])
        fields = {f["name"].upper(): f for f in schema["fields"]}
        required = [name for name, f in fields.items() if not _nullable(f["type"])]
        for column in REQUIRED_COLUMNS.get(dataset["datasetType"], ()):
            if column not in required:
                required.append(column)
        rows: list[dict] = []
        for k, text in texts:
            reader = csv.reader(io.StringIO(text))
            header = next(reader, None)
            if not header:
                raise JobFailed(f"Input CSV s3://{bucket}/{k} is empty.")
            header = [h.strip().upper() for h in header]
            missing = [c for c in required if c not in header]
            if missing:
                raise JobFailed(
                    f"Input CSV s3://{bucket}/{k} is missing the following required columns: [{', '.join(missing)}]."
                )
            unknown = [h for h in header if h not in fields]
            if unknown:
                raise JobFailed(
                    f"Input CSV s3://{bucket}/{k} has columns not in the dataset schema: [{', '.join(unknown)}]."
                )
            for line_no, values in enumerate(reader, start=2):
                if not values or all(not v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    raise JobFailed(
                        f"Input CSV s3://{bucket}/{k}, line {line_no}: expected {len(header)} fields, got {len(values)}."
                    )
                row = dict(zip(header, (v.strip() for v in values)))
                for column in required:
                    if row.get(column, "") == "":
                        raise JobFailed(
                            f"Input CSV s3://{bucket}/{k}, line {line_no}: required field {column} is empty."
                        )
                if "TIMESTAMP" in row:
                    try:
                        int(float(row["TIMESTAMP"]))
                    except ValueError:
                        raise JobFailed(
                            f"Input CSV s3://{bucket}/{k}, line {line_no}: TIMESTAMP {row['TIMESTAMP']!r} is not a "
                            f"Unix epoch time in seconds (long)."
                        )
                rows.append(row)
        return rows

    @handler("DescribeDatasetImportJob", expand=False)
    def describe_dataset_import_job(self, context: RequestContext, request: dict) -> dict:
        record = self._get(self._store(context).import_jobs, request["datasetImportJobArn"])
        return {"datasetImportJob": _public(record)}

    @handler("ListDatasetImportJobs", expand=False)
    def list_dataset_import_jobs(self, context: RequestContext, request: dict) -> dict:
        return self._list(self._store(context).import_jobs, request, "datasetImportJobs", "datasetArn")

    # --- solutions ----------------------------------------------------------------------

    @handler("CreateSolution", expand=False)
    def create_solution(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        tags = self._checked_tags(store, request)
        name = request["name"]
        group = self._get(store.dataset_groups, request["datasetGroupArn"])
        recipe = request.get("recipeArn")
        if request.get("performAutoML"):
            recipe = recipe or "arn:aws:personalize:::recipe/aws-user-personalization"
        if not recipe:
            raise InvalidInputException("recipeArn is required when performAutoML is false.")
        if recmodel.recipe_kind(recipe) is None:
            raise ResourceNotFoundException(f"Resource Arn {recipe} does not exist.")
        if group["status"] != ACTIVE:
            raise ResourceInUseException(
                f"Dataset group {group['datasetGroupArn']} is not in ACTIVE state (status: {group['status']})."
            )
        arn = self._arn(context, f"solution/{name}")
        with self._lock:
            self._not_exists(store.solutions, arn)
            now = utcnow()
            record = {
                "name": name, "solutionArn": arn, "performHPO": bool(request.get("performHPO")),
                "performAutoML": bool(request.get("performAutoML")),
                "performAutoTraining": bool(request.get("performAutoTraining")),
                "recipeArn": recipe, "datasetGroupArn": group["datasetGroupArn"], "eventType": request.get("eventType"),
                "solutionConfig": request.get("solutionConfig"), "status": PENDING,
                "creationDateTime": now, "lastUpdatedDateTime": now,
            }
            store.solutions[arn] = record
            store.tags.add(arn, tags)
        self._activate_later(record)
        return {"solutionArn": arn}

    @handler("DescribeSolution", expand=False)
    def describe_solution(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        record = dict(self._get(store.solutions, request["solutionArn"]))
        versions = [v for v in list(store.versions.values()) if v["solutionArn"] == record["solutionArn"]]
        if versions:
            latest = max(versions, key=lambda v: v["creationDateTime"])
            record["latestSolutionVersion"] = _public(
                {k: latest.get(k) for k in ("solutionVersionArn", "status", "trainingMode", "trainingType",
                                            "creationDateTime", "lastUpdatedDateTime", "failureReason")}
            )
        return {"solution": _public(record)}

    @handler("ListSolutions", expand=False)
    def list_solutions(self, context: RequestContext, request: dict) -> dict:
        return self._list(self._store(context).solutions, request, "solutions", "datasetGroupArn")

    @handler("DeleteSolution", expand=False)
    def delete_solution(self, context: RequestContext, request: dict) -> None:
        store = self._store(context)
        arn = request.get("solutionArn")
        self._get(store.solutions, arn)
        if any(v["solutionArn"] == arn and v["status"] in RUNNING for v in list(store.versions.values())):
            raise ResourceInUseException(f"Solution {arn} has a solution version in progress.")
        del store.solutions[arn]
        store.tags.forget(arn)
        for varn in [a for a, v in list(store.versions.items()) if v["solutionArn"] == arn]:
            del store.versions[varn]
            store.models.pop(varn, None)
            store.tags.forget(varn)

    # --- solution versions ---------------------------------------------------------------

    @handler("CreateSolutionVersion", expand=False)
    def create_solution_version(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        tags = self._checked_tags(store, request)
        solution = self._get(store.solutions, request["solutionArn"])
        mode = request.get("trainingMode") or "FULL"
        if solution["status"] != ACTIVE:
            raise ResourceInUseException(
                f"Solution {solution['solutionArn']} is not in ACTIVE state (status: {solution['status']})."
            )
        name = request.get("name")
        version_id = uuid.uuid4().hex[:8]
        arn = f"{solution['solutionArn']}/{version_id}"
        with self._lock:
            if name and any(v["solutionArn"] == solution["solutionArn"] and v.get("name") == name for v in list(store.versions.values())):
                raise ResourceAlreadyExistsException(f"A solution version named {name} already exists for {solution['solutionArn']}.")
            self._check_limit(store.versions, "solution_versions", "solution versions in progress")
            now = utcnow()
            record = {
                "name": name, "solutionVersionArn": arn, "solutionArn": solution["solutionArn"],
                "performHPO": solution["performHPO"], "performAutoML": solution["performAutoML"],
                "recipeArn": solution["recipeArn"], "eventType": solution.get("eventType"),
                "datasetGroupArn": solution["datasetGroupArn"], "solutionConfig": solution.get("solutionConfig"),
                "trainingMode": mode, "trainingType": "MANUAL", "status": PENDING,
                "creationDateTime": now, "lastUpdatedDateTime": now,
            }
            store.versions[arn] = record
            store.tags.add(arn, tags)

        def work():
            interactions_arn = next(
                (a for a, d in list(store.datasets.items())
                 if d["datasetGroupArn"] == solution["datasetGroupArn"] and d["datasetType"] == "INTERACTIONS"),
                None,
            )
            if interactions_arn is None:
                raise JobFailed("The dataset group has no Interactions dataset. Create one and import data first.")
            rows = store.dataset_rows.get(interactions_arn)
            if not rows:
                raise JobFailed("No interactions data has been imported into the Interactions dataset.")
            if solution.get("eventType"):
                rows = [r for r in rows if r.get("EVENT_TYPE") == solution["eventType"]]
            try:
                trained = recmodel.train(recmodel.recipe_kind(solution["recipeArn"]), rows, solution.get("eventType"))
            except recmodel.InsufficientData as e:
                raise JobFailed(str(e))
            store.models[arn] = trained
            record["trainingHours"] = 0.0

        # HPO trains many candidate models: it takes correspondingly longer
        factor = faults.hpo_duration_factor() if solution["performHPO"] else 1.0
        self._run_job(record, work, f"version-{version_id}", factor)
        return {"solutionVersionArn": arn}

    @handler("DescribeSolutionVersion", expand=False)
    def describe_solution_version(self, context: RequestContext, request: dict) -> dict:
        record = self._get(self._store(context).versions, request["solutionVersionArn"])
        return {"solutionVersion": _public(record)}

    @handler("ListSolutionVersions", expand=False)
    def list_solution_versions(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        solution = request.get("solutionArn")
        if solution and solution not in store.solutions:
            raise ResourceNotFoundException(f"Resource Arn {solution} does not exist.")
        return self._list(store.versions, request, "solutionVersions", "solutionArn")

    @handler("StopSolutionVersionCreation", expand=False)
    def stop_solution_version_creation(self, context: RequestContext, request: dict) -> None:
        record = self._get(self._store(context).versions, request["solutionVersionArn"])
        # check and change under the lock the job thread takes to finish: otherwise a version that
        # turned ACTIVE in between would be set to CREATE STOPPING and stay there for good
        with self._lock:
            if record["status"] not in (PENDING, IN_PROGRESS):
                raise ResourceInUseException(
                    f"Solution version {record['solutionVersionArn']} is in status {record['status']} and cannot be stopped."
                )
            if record["status"] == PENDING:  # nothing started yet: stopped at once, as documented
                self._touch(record, status=STOPPED)
                return
            self._touch(record, status=STOPPING)
        delay = faults.stopping_seconds()

        def stopped():
            # CREATE STOPPING lasts a while on AWS too, whatever the training does meanwhile
            time.sleep(delay)
            with self._lock:
                if record["status"] == STOPPING:
                    self._touch(record, status=STOPPED)

        start_thread(f"personalize-stop-{record['solutionVersionArn'].rsplit('/', 1)[-1]}", stopped)

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
        in_bucket, in_key = parse_s3_uri(input_path)
        out_bucket, out_prefix = parse_s3_uri(output_path)
        if out_prefix and not out_prefix.endswith("/"):
            out_prefix += "/"
        try:
            keys = list(list_keys(s3, in_bucket, in_key)) if (not in_key or in_key.endswith("/")) else [in_key]
            if not keys:
                raise JobFailed(f"No input files found at {input_path}.")
            inputs = [(k, s3.get_object(Bucket=in_bucket, Key=k)["Body"].read().decode("utf-8")) for k in keys]
        except JobFailed:
            raise
        except Exception as e:
            code = getattr(e, "response", {}).get("Error", {}).get("Code", type(e).__name__)
            raise JobFailed(f"Could not read input file(s) at {input_path}: {code}. Check the path and bucket policy.")
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
                code = getattr(e, "response", {}).get("Error", {}).get("Code", type(e).__name__)
                raise JobFailed(f"Could not write output to s3://{out_bucket}/{out_key}: {code}.")

    @handler("DescribeBatchInferenceJob", expand=False)
    def describe_batch_inference_job(self, context: RequestContext, request: dict) -> dict:
        record = self._get(self._store(context).batch_jobs, request["batchInferenceJobArn"])
        return {"batchInferenceJob": _public(record)}

    @handler("ListBatchInferenceJobs", expand=False)
    def list_batch_inference_jobs(self, context: RequestContext, request: dict) -> dict:
        return self._list(self._store(context).batch_jobs, request, "batchInferenceJobs", "solutionVersionArn")

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


def _nullable(avro_type: Any) -> bool:
    return isinstance(avro_type, list) and "null" in avro_type


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
