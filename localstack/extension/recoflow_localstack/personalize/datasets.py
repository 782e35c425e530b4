"""Amazon Personalize schemas, dataset groups, datasets and dataset import jobs (the import
reads CSV files from LocalStack's S3 and checks them against the dataset's schema)."""

from __future__ import annotations

import csv
import io
import json

from localstack.aws.api import RequestContext, handler

from recoflow_localstack.emulation import parse_s3_uri, public_view, s3_client, utcnow
from recoflow_localstack.personalize.resources import (
    ACTIVE, PENDING, RUNNING, InvalidInputException, JobFailed, PersonalizeResources, ResourceInUseException, Store,
    read_job_input,
)

DATASET_TYPES = {"interactions": "INTERACTIONS", "items": "ITEMS", "users": "USERS", "actions": "ACTIONS",
                 "action_interactions": "ACTION_INTERACTIONS"}
REQUIRED_COLUMNS = {
    "INTERACTIONS": ("USER_ID", "ITEM_ID", "TIMESTAMP"),
    "ITEMS": ("ITEM_ID",),
    "USERS": ("USER_ID",),
}


class DatasetOperations(PersonalizeResources):
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
        return {"schema": public_view(self._get(self._store(context).schemas, request["schemaArn"]))}

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
        return {"datasetGroup": public_view(record)}

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
        self._delete(store, store.dataset_groups, arn)

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
        return {"dataset": public_view(self._get(self._store(context).datasets, request["datasetArn"]))}

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
        self._delete(store, store.datasets, arn)
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
        texts = read_job_input(s3, location, what="CSV files", suffix=".csv", encoding="utf-8-sig")
        bucket, _key = parse_s3_uri(location)
        schema = json.loads(store.schemas[dataset["schemaArn"]]["schema"])
        fields = {f["name"].upper(): f for f in schema["fields"]}
        required = [name for name, f in fields.items() if not _nullable(f["type"])]
        for column in REQUIRED_COLUMNS.get(dataset["datasetType"], ()):
            if column not in required:
                required.append(column)
        rows: list[dict] = []
        for k, text in texts:
            rows.extend(_csv_rows(f"s3://{bucket}/{k}", text, fields, required))
        return rows

    @handler("DescribeDatasetImportJob", expand=False)
    def describe_dataset_import_job(self, context: RequestContext, request: dict) -> dict:
        record = self._get(self._store(context).import_jobs, request["datasetImportJobArn"])
        return {"datasetImportJob": public_view(record)}

    @handler("ListDatasetImportJobs", expand=False)
    def list_dataset_import_jobs(self, context: RequestContext, request: dict) -> dict:
        return self._list(self._store(context).import_jobs, request, "datasetImportJobs", "datasetArn")


def _nullable(avro_type) -> bool:
    return isinstance(avro_type, list) and "null" in avro_type


def _csv_rows(uri: str, text: str, fields: dict[str, dict], required: list[str]) -> list[dict]:
    """The rows of one CSV file, checked against the schema's fields and required columns."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise JobFailed(f"Input CSV {uri} is empty.")
    header = [h.strip().upper() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise JobFailed(f"Input CSV {uri} is missing the following required columns: [{', '.join(missing)}].")
    unknown = [h for h in header if h not in fields]
    if unknown:
        raise JobFailed(f"Input CSV {uri} has columns not in the dataset schema: [{', '.join(unknown)}].")
    rows = []
    for line_no, values in enumerate(reader, start=2):
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise JobFailed(f"Input CSV {uri}, line {line_no}: expected {len(header)} fields, got {len(values)}.")
        row = dict(zip(header, (v.strip() for v in values)))
        for column in required:
            if row.get(column, "") == "":
                raise JobFailed(f"Input CSV {uri}, line {line_no}: required field {column} is empty.")
        if "TIMESTAMP" in row:
            try:
                int(float(row["TIMESTAMP"]))
            except ValueError:
                raise JobFailed(
                    f"Input CSV {uri}, line {line_no}: TIMESTAMP {row['TIMESTAMP']!r} is not a "
                    f"Unix epoch time in seconds (long)."
                )
        rows.append(row)
    return rows
