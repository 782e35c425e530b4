"""Each emulated operation held against its botocore service model.

For every operation the emulators implement: a valid call succeeds, and a request breaking each
constraint the model puts on it (required, enum, length, range, pattern; cases made by
model_cases.py from the valid request) is refused with the service's error code, HTTP 400, and a
message naming the member and the constraint as AWS words it. Requests go out with boto3's own
checks turned off, so the emulator is what refuses them. Each service runs in an account of its own.
"""

import json
from datetime import datetime, timedelta, timezone

import botocore.session
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from emu_helpers import fresh_account, unique, wait_for
from model_cases import broken_requests
from sagemaker_requests import SLEEP, TEST_IMAGES, UNRUNNABLE, processing_request, training_request

MODELS = botocore.session.get_session()
INVALID_REQUEST_CODE = {"sagemaker": "ValidationException", "personalize": "InvalidInputException"}
SM_ROLE = "arn:aws:iam::000000000000:role/sagemaker"
P_ROLE = "arn:aws:iam::000000000000:role/personalize"
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"
ITEM_AFFINITY = "arn:aws:personalize:::recipe/aws-item-affinity"
SCHEMA = json.dumps({
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema", "version": "1.0",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}],
})
AN_HOUR_AGO = datetime.now(tz=timezone.utc) - timedelta(hours=1)


class SageMakerWorld:
    """What valid SageMaker requests refer to, in an account of its own."""

    def __init__(self, client_for):
        account = fresh_account()
        self.client = client_for("sagemaker", account, checked=False)
        s3 = client_for("s3", account)
        self.bucket = unique("conformance")
        s3.create_bucket(Bucket=self.bucket)
        for key in ("train/interactions/a.csv", "m/model.tar.gz", "score/users.jsonl"):
            s3.put_object(Bucket=self.bucket, Key=key, Body=b"x\n")
        self.training_job = unique("described")
        self.training_arn = self.client.create_training_job(
            **training_request(self.training_job, self.bucket, image=UNRUNNABLE))["TrainingJobArn"]
        self.processing_job = unique("described")
        self.client.create_processing_job(**processing_request(self.processing_job, self.bucket, image=UNRUNNABLE, entrypoint=()))
        self.sleeping: list[tuple[str, str]] = []

    def sleeping_job(self, kind: str) -> str:
        """A job that stays InProgress until stopped (stopped at the end of the module)."""
        name = unique("sleeper")
        if kind == "training":
            self.client.create_training_job(**training_request(name, self.bucket, image=SLEEP, channels=()))
        else:
            self.client.create_processing_job(**processing_request(name, self.bucket, image=SLEEP, entrypoint=()))
        self.sleeping.append((kind, name))
        return name

    def stop_sleepers(self) -> None:
        for kind, name in self.sleeping:
            try:
                if kind == "training":
                    self.client.stop_training_job(TrainingJobName=name)
                else:
                    self.client.stop_processing_job(ProcessingJobName=name)
            except ClientError:
                pass  # already stopped by the valid-call test


def full_listing() -> dict:
    return {"MaxResults": 10, "NameContains": "described", "StatusEquals": "InProgress", "SortBy": "Name",
            "SortOrder": "Ascending", "CreationTimeAfter": AN_HOUR_AGO, "CreationTimeBefore": datetime.now(tz=timezone.utc),
            "LastModifiedTimeAfter": AN_HOUR_AGO}


SAGEMAKER_REQUESTS = {
    "CreateTrainingJob": lambda w: training_request(
        unique("created"), w.bucket, image=UNRUNNABLE, Environment={"MODE": "test"},
        Tags=[{"Key": "recoflow:job-id", "Value": "j1"}]),
    "DescribeTrainingJob": lambda w: {"TrainingJobName": w.training_job},
    "StopTrainingJob": lambda w: {"TrainingJobName": w.sleeping_job("training")},
    "ListTrainingJobs": lambda w: full_listing(),
    "CreateProcessingJob": lambda w: processing_request(
        unique("created"), w.bucket, f"s3://{w.bucket}/m/model.tar.gz", image=UNRUNNABLE,
        Environment={"MODE": "test"}, Tags=[{"Key": "recoflow:job-id", "Value": "j1"}]),
    "DescribeProcessingJob": lambda w: {"ProcessingJobName": w.processing_job},
    "StopProcessingJob": lambda w: {"ProcessingJobName": w.sleeping_job("processing")},
    "ListProcessingJobs": lambda w: full_listing(),
    "AddTags": lambda w: {"ResourceArn": w.training_arn, "Tags": [{"Key": "team", "Value": "ml"}]},
    "ListTags": lambda w: {"ResourceArn": w.training_arn, "MaxResults": 50},
    "DeleteTags": lambda w: {"ResourceArn": w.training_arn, "TagKeys": ["team"]},
}


class PersonalizeWorld:
    """What valid Personalize requests refer to, in an account of its own: ACTIVE schema, dataset
    group, dataset (with imported interactions), solutions and solution versions (popularity and
    item affinity), a batch inference job and a batch segment job."""

    def __init__(self, client_for):
        account = fresh_account()
        self.client = client_for("personalize", account, checked=False)
        s3 = client_for("s3", account)
        self.bucket = unique("conformance")
        s3.create_bucket(Bucket=self.bucket)
        rows = ["USER_ID,ITEM_ID,TIMESTAMP"] + [f"u{u},i{(u * 7 + k) % 30},{1700000000 + k}" for u in range(50) for k in range(25)]
        s3.put_object(Bucket=self.bucket, Key="interactions.csv", Body="\n".join(rows).encode())
        s3.put_object(Bucket=self.bucket, Key="users.json", Body=b'{"userId": "u1"}\n')
        s3.put_object(Bucket=self.bucket, Key="items.json", Body=b'{"itemId": "i1"}\n')
        self.schema = self.new_schema()
        self.group = self.new_group()
        self.dataset = self.new_dataset(self.group)
        self.import_job = self.created("dataset_import_job", self.client.create_dataset_import_job(
            jobName=unique("import"), datasetArn=self.dataset, roleArn=P_ROLE,
            dataSource={"dataLocation": f"s3://{self.bucket}/interactions.csv"}))
        self.solution = self.new_solution(self.group)
        self.hpo_solution = self.new_solution(self.group, performHPO=True)  # its versions train long enough to stop
        self.version = self.created("solution_version", self.client.create_solution_version(solutionArn=self.solution))
        self.batch_job = self.client.create_batch_inference_job(**self.batch_request())["batchInferenceJobArn"]
        self.segment_version = self.created("solution_version", self.client.create_solution_version(
            solutionArn=self.new_solution(self.group, recipeArn=ITEM_AFFINITY)))
        self.segment_job = self.client.create_batch_segment_job(**self.segment_request())["batchSegmentJobArn"]

    def created(self, kind: str, response: dict) -> str:
        """The ARN of a new resource, once ACTIVE."""
        key = "".join(p.capitalize() if i else p for i, p in enumerate(kind.split("_")))
        arn = response[f"{key}Arn"]
        record = wait_for(lambda: getattr(self.client, f"describe_{kind}")(**{f"{key}Arn": arn})[key],
                          lambda r: r["status"] in ("ACTIVE", "CREATE FAILED"))
        assert record["status"] == "ACTIVE", record
        return arn

    def new_schema(self) -> str:
        return self.client.create_schema(name=unique("schema"), schema=SCHEMA)["schemaArn"]

    def new_group(self) -> str:
        return self.created("dataset_group", self.client.create_dataset_group(name=unique("group")))

    def new_dataset(self, group: str) -> str:
        return self.created("dataset", self.client.create_dataset(
            name=unique("dataset"), schemaArn=self.schema, datasetGroupArn=group, datasetType="Interactions"))

    def new_solution(self, group: str, recipeArn: str = POPULARITY, **extra) -> str:
        return self.created("solution", self.client.create_solution(
            name=unique("solution"), datasetGroupArn=group, recipeArn=recipeArn, **extra))

    def batch_request(self) -> dict:
        return {"jobName": unique("batch"), "solutionVersionArn": self.version, "roleArn": P_ROLE, "numResults": 5,
                "jobInput": {"s3DataSource": {"path": f"s3://{self.bucket}/users.json"}},
                "jobOutput": {"s3DataDestination": {"path": f"s3://{self.bucket}/out/"}},
                "batchInferenceJobMode": "BATCH_INFERENCE", "tags": [{"tagKey": "recoflow:job-id", "tagValue": "j1"}]}

    def segment_request(self) -> dict:
        return {"jobName": unique("segment"), "solutionVersionArn": self.segment_version, "roleArn": P_ROLE, "numResults": 5,
                "jobInput": {"s3DataSource": {"path": f"s3://{self.bucket}/items.json"}},
                "jobOutput": {"s3DataDestination": {"path": f"s3://{self.bucket}/segments/"}},
                "tags": [{"tagKey": "recoflow:job-id", "tagValue": "j1"}]}


TAGS = [{"tagKey": "recoflow:job-id", "tagValue": "j1"}]
PERSONALIZE_REQUESTS = {
    "CreateSchema": lambda w: {"name": unique("schema"), "schema": SCHEMA},
    "DescribeSchema": lambda w: {"schemaArn": w.schema},
    "ListSchemas": lambda w: {"maxResults": 10},
    "DeleteSchema": lambda w: {"schemaArn": w.new_schema()},
    "CreateDatasetGroup": lambda w: {"name": unique("group"), "tags": TAGS},
    "DescribeDatasetGroup": lambda w: {"datasetGroupArn": w.group},
    "ListDatasetGroups": lambda w: {"maxResults": 10},
    "DeleteDatasetGroup": lambda w: {"datasetGroupArn": w.new_group()},
    "CreateDataset": lambda w: {"name": unique("dataset"), "schemaArn": w.schema, "datasetGroupArn": w.new_group(),
                                "datasetType": "Interactions", "tags": TAGS},
    "DescribeDataset": lambda w: {"datasetArn": w.dataset},
    "ListDatasets": lambda w: {"datasetGroupArn": w.group, "maxResults": 10},
    "DeleteDataset": lambda w: {"datasetArn": w.new_dataset(w.new_group())},
    "CreateDatasetImportJob": lambda w: {"jobName": unique("import"), "datasetArn": w.dataset, "roleArn": P_ROLE,
                                         "dataSource": {"dataLocation": f"s3://{w.bucket}/interactions.csv"},
                                         "importMode": "INCREMENTAL", "tags": TAGS},
    "DescribeDatasetImportJob": lambda w: {"datasetImportJobArn": w.import_job},
    "ListDatasetImportJobs": lambda w: {"datasetArn": w.dataset, "maxResults": 10},
    "CreateSolution": lambda w: {"name": unique("solution"), "datasetGroupArn": w.group, "recipeArn": POPULARITY,
                                 "performHPO": False, "tags": TAGS},
    "DescribeSolution": lambda w: {"solutionArn": w.solution},
    "ListSolutions": lambda w: {"datasetGroupArn": w.group, "maxResults": 10},
    "DeleteSolution": lambda w: {"solutionArn": w.new_solution(w.group)},
    "CreateSolutionVersion": lambda w: {"solutionArn": w.solution, "name": unique("version"), "trainingMode": "FULL",
                                        "tags": TAGS},
    "DescribeSolutionVersion": lambda w: {"solutionVersionArn": w.version},
    "ListSolutionVersions": lambda w: {"solutionArn": w.solution, "maxResults": 10},
    "StopSolutionVersionCreation": lambda w: {
        "solutionVersionArn": w.client.create_solution_version(solutionArn=w.hpo_solution)["solutionVersionArn"]},
    "CreateBatchInferenceJob": lambda w: w.batch_request(),
    "DescribeBatchInferenceJob": lambda w: {"batchInferenceJobArn": w.batch_job},
    "ListBatchInferenceJobs": lambda w: {"solutionVersionArn": w.version, "maxResults": 10},
    "CreateBatchSegmentJob": lambda w: w.segment_request(),
    "DescribeBatchSegmentJob": lambda w: {"batchSegmentJobArn": w.segment_job},
    "ListBatchSegmentJobs": lambda w: {"solutionVersionArn": w.segment_version, "maxResults": 10},
    "TagResource": lambda w: {"resourceArn": w.group, "tags": TAGS},
    "UntagResource": lambda w: {"resourceArn": w.group, "tagKeys": ["recoflow:job-id"]},
    "ListTagsForResource": lambda w: {"resourceArn": w.group},
}

REQUESTS = {"sagemaker": SAGEMAKER_REQUESTS, "personalize": PERSONALIZE_REQUESTS}
OPERATIONS = [(service, op) for service, requests in REQUESTS.items() for op in requests]


@pytest.fixture(scope="module")
def worlds(client_for, faults_api, fast_jobs):
    faults_api("POST", {"sagemaker_images": TEST_IMAGES,
                        "limits": {"sagemaker": {"training": {"*": 50}, "processing": {"*": 50}}}})
    made = {"sagemaker": SageMakerWorld(client_for), "personalize": PersonalizeWorld(client_for)}
    yield made
    made["sagemaker"].stop_sleepers()


def call(world, operation: str, request: dict) -> dict:
    return getattr(world.client, xform_name(operation))(**request)


@pytest.mark.parametrize("service,operation", OPERATIONS, ids=[op for _, op in OPERATIONS])
def test_a_valid_call_succeeds(worlds, service, operation):
    world = worlds[service]
    response = call(world, operation, REQUESTS[service][operation](world))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize("service,operation", OPERATIONS, ids=[op for _, op in OPERATIONS])
def test_each_broken_constraint_is_refused_like_the_service(worlds, service, operation):
    world = worlds[service]
    model = MODELS.get_service_model(service).operation_model(operation)
    cases = broken_requests(model, REQUESTS[service][operation](world))
    assert cases, f"{operation}: the model gives no constraint to break"
    wrong = []
    for case in cases:
        try:
            call(world, operation, case.request)
            wrong.append(f"{case.kind} {case.path}: accepted")
            continue
        except ClientError as e:
            error, status = e.response["Error"], e.response["ResponseMetadata"]["HTTPStatusCode"]
        expected = f"at '{case.path}' failed to satisfy constraint: {case.constraint}"
        if error["Code"] != INVALID_REQUEST_CODE[service] or status != 400 or expected not in error["Message"]:
            wrong.append(f"{case.kind} {case.path}: {status} {error['Code']}: {error['Message'][:300]}")
    assert not wrong, f"{len(wrong)} of {len(cases)} cases answered unlike the service:\n" + "\n".join(wrong)


def test_every_kind_of_constraint_is_exercised(worlds):
    """The generated cases cover each kind of constraint on both services."""
    kinds = {service: set() for service in REQUESTS}
    for service, operation in OPERATIONS:
        model = MODELS.get_service_model(service).operation_model(operation)
        kinds[service] |= {c.kind for c in broken_requests(model, REQUESTS[service][operation](worlds[service]))}
    for service, seen in kinds.items():
        assert seen == {"required", "enum", "length", "range", "pattern"}, (service, seen)
