"""Tags on what recoflow launches (localstack/extension/recoflow_localstack/tagging.py).

SageMaker: Tags on CreateTrainingJob/CreateProcessingJob, AddTags, ListTags, DeleteTags.
Personalize: tags on every Create* that takes them, TagResource, UntagResource, ListTagsForResource.
Describe* answer what AWS answers: no tags.
"""

import json

import pytest
from botocore.exceptions import ClientError

from emu_helpers import fresh_account, unique, wait_for
from sagemaker_requests import UNRUNNABLE, code, processing_request, training_request

JOB_TAGS = {"recoflow:job-id": "job-123", "recoflow:result-set": "spring-tokyo", "recoflow:submitted-by": "ana@example.com"}
ROLE = "arn:aws:iam::000000000000:role/personalize"
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"


def sm_tags(tags: dict) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def p_tags(tags: dict) -> list[dict]:
    return [{"tagKey": k, "tagValue": v} for k, v in tags.items()]


@pytest.mark.parametrize("kind", ["training", "processing"])
def test_sagemaker_job_tags_from_create_add_list_delete(own_account, images, kind):
    sm = own_account("sagemaker")
    name = unique("tagged")
    if kind == "training":
        arn = sm.create_training_job(**training_request(name, "unused", image=UNRUNNABLE, channels=(),
                                                        Tags=sm_tags(JOB_TAGS)))["TrainingJobArn"]
        assert "Tags" not in sm.describe_training_job(TrainingJobName=name)
    else:
        arn = sm.create_processing_job(**processing_request(name, "unused", image=UNRUNNABLE, entrypoint=(),
                                                            Tags=sm_tags(JOB_TAGS)))["ProcessingJobArn"]
        assert "Tags" not in sm.describe_processing_job(ProcessingJobName=name)
    assert sm.list_tags(ResourceArn=arn)["Tags"] == sm_tags(dict(sorted(JOB_TAGS.items())))

    added = sm.add_tags(ResourceArn=arn, Tags=[{"Key": "recoflow:job-id", "Value": "job-456"}, {"Key": "team", "Value": ""}])
    expected = {**JOB_TAGS, "recoflow:job-id": "job-456", "team": ""}
    assert sorted(added["Tags"], key=lambda t: t["Key"]) == sm_tags(dict(sorted(expected.items())))
    sm.delete_tags(ResourceArn=arn, TagKeys=["team", "not-there"])
    expected.pop("team")
    assert sm.list_tags(ResourceArn=arn)["Tags"] == sm_tags(dict(sorted(expected.items())))


def test_sagemaker_tag_errors(own_account, images):
    sm = own_account("sagemaker")
    name = unique("tagged")
    arn = sm.create_training_job(**training_request(name, "unused", image=UNRUNNABLE, channels=()))["TrainingJobArn"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == []
    unknown = arn.replace(name.lower(), "no-such-job")
    for call in (lambda: sm.list_tags(ResourceArn=unknown),
                 lambda: sm.add_tags(ResourceArn=unknown, Tags=[{"Key": "a", "Value": "b"}]),
                 lambda: sm.delete_tags(ResourceArn=unknown, TagKeys=["a"])):
        with pytest.raises(ClientError) as refused:
            call()
        assert code(refused.value) == "ValidationException"
    refusals = [
        ([{"Key": "bad#key", "Value": "v"}], "Member must satisfy regular expression pattern"),
        ([{"Key": "k" * 129, "Value": "v"}], "Member must have length less than or equal to 128"),
        ([{"Key": "aws:reserved", "Value": "v"}], "reserved for AWS"),
        ([{"Key": "same", "Value": "1"}, {"Key": "same", "Value": "2"}], "Duplicate tag key"),
    ]
    for tags, message in refusals:
        with pytest.raises(ClientError) as refused:
            sm.add_tags(ResourceArn=arn, Tags=tags)
        assert code(refused.value) == "ValidationException"
        assert message in refused.value.response["Error"]["Message"]
    # at most 50 tags on a resource, however they are added
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(45)])
    with pytest.raises(ClientError) as refused:
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"x{i}", "Value": "v"} for i in range(6)])
    assert code(refused.value) == "ValidationException"
    assert len(sm.list_tags(ResourceArn=arn, MaxResults=50)["Tags"]) == 45


@pytest.fixture(scope="module")
def personalize_world(client_for):
    """In an account of its own: a bucket with interactions, an ACTIVE dataset group, dataset,
    import, solution and solution version, each created with JOB_TAGS."""
    account = fresh_account()
    personalize, s3 = client_for("personalize", account), client_for("s3", account)
    bucket = unique("tags")
    s3.create_bucket(Bucket=bucket)
    rows = ["USER_ID,ITEM_ID,TIMESTAMP"] + [f"u{u},i{(u * 7 + k) % 30},{1700000000 + k}" for u in range(50) for k in range(25)]
    s3.put_object(Bucket=bucket, Key="interactions.csv", Body="\n".join(rows).encode())
    s3.put_object(Bucket=bucket, Key="users.json", Body=b'{"userId": "u1"}\n')
    schema = personalize.create_schema(name=unique("schema"), schema=json.dumps({
        "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema", "version": "1.0",
        "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}],
    }))["schemaArn"]
    tags = p_tags(JOB_TAGS)
    world = {"personalize": personalize, "bucket": bucket, "schema": schema}
    world["group"] = personalize.create_dataset_group(name=unique("group"), tags=tags)["datasetGroupArn"]
    wait_active(personalize, "dataset_group", world["group"])
    world["dataset"] = personalize.create_dataset(name=unique("ds"), schemaArn=schema, datasetGroupArn=world["group"],
                                                  datasetType="Interactions", tags=tags)["datasetArn"]
    wait_active(personalize, "dataset", world["dataset"])
    world["import"] = personalize.create_dataset_import_job(
        jobName=unique("import"), datasetArn=world["dataset"], roleArn=ROLE,
        dataSource={"dataLocation": f"s3://{bucket}/interactions.csv"}, tags=tags)["datasetImportJobArn"]
    wait_active(personalize, "dataset_import_job", world["import"])
    world["solution"] = personalize.create_solution(name=unique("sol"), datasetGroupArn=world["group"],
                                                    recipeArn=POPULARITY, tags=tags)["solutionArn"]
    wait_active(personalize, "solution", world["solution"])
    world["version"] = personalize.create_solution_version(solutionArn=world["solution"], tags=tags)["solutionVersionArn"]
    wait_active(personalize, "solution_version", world["version"])
    return world


def wait_active(personalize, kind: str, arn: str) -> dict:
    describe = getattr(personalize, f"describe_{kind}")
    key = "".join(p.capitalize() if i else p for i, p in enumerate(kind.split("_")))
    record = wait_for(lambda: describe(**{f"{key}Arn": arn})[key], lambda r: r["status"] in ("ACTIVE", "CREATE FAILED"))
    assert record["status"] == "ACTIVE", record
    assert "tags" not in record  # Describe* answers no tags, as on AWS
    return record


def test_every_personalize_resource_recoflow_launches_carries_its_tags(personalize_world):
    personalize, world = personalize_world["personalize"], personalize_world
    batch = personalize.create_batch_inference_job(
        jobName=unique("batch"), solutionVersionArn=world["version"], roleArn=ROLE, tags=p_tags(JOB_TAGS),
        jobInput={"s3DataSource": {"path": f"s3://{world['bucket']}/users.json"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{world['bucket']}/out/"}},
    )["batchInferenceJobArn"]
    wait_active(personalize, "batch_inference_job", batch)
    for arn in (world["group"], world["dataset"], world["import"], world["solution"], world["version"], batch):
        assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == p_tags(JOB_TAGS), arn


def test_personalize_tag_resource_untag_resource(personalize_world):
    personalize, arn = personalize_world["personalize"], personalize_world["solution"]
    personalize.tag_resource(resourceArn=arn, tags=[{"tagKey": "recoflow:job-id", "tagValue": "job-9"},
                                                     {"tagKey": "cost-center", "tagValue": "ml"}])
    personalize.untag_resource(resourceArn=arn, tagKeys=["recoflow:submitted-by", "not-there"])
    tags = {t["tagKey"]: t["tagValue"] for t in personalize.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert tags == {"recoflow:job-id": "job-9", "recoflow:result-set": "spring-tokyo", "cost-center": "ml"}
    personalize.untag_resource(resourceArn=arn, tagKeys=list(tags))
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == []


def test_personalize_tag_errors(personalize_world):
    personalize, world = personalize_world["personalize"], personalize_world
    unknown = world["group"] + "-gone"
    for call in (lambda: personalize.list_tags_for_resource(resourceArn=unknown),
                 lambda: personalize.tag_resource(resourceArn=unknown, tags=p_tags({"a": "b"})),
                 lambda: personalize.untag_resource(resourceArn=unknown, tagKeys=["a"])):
        with pytest.raises(ClientError) as refused:
            call()
        assert code(refused.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as refused:  # schemas take no tags (CreateSchema has none)
        personalize.tag_resource(resourceArn=world["schema"], tags=p_tags({"a": "b"}))
    assert code(refused.value) == "InvalidInputException"
    for tags in ({"aws:x": "1"}, {"bad#key": "1"}):
        with pytest.raises(ClientError) as refused:
            personalize.tag_resource(resourceArn=world["group"], tags=p_tags(tags))
        assert code(refused.value) == "InvalidInputException"
    many = p_tags({f"k{i}": "v" for i in range(51)})
    name = unique("toomany")
    with pytest.raises(ClientError) as refused:
        personalize.create_dataset_group(name=name, tags=many)
    assert code(refused.value) == "TooManyTagsException"
    with pytest.raises(ClientError) as refused:  # refused before anything was created
        personalize.describe_dataset_group(datasetGroupArn=world["group"].rsplit("/", 1)[0] + "/" + name)
    assert code(refused.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as refused:
        personalize.tag_resource(resourceArn=world["dataset"], tags=many)
    assert code(refused.value) == "TooManyTagsException"
    with pytest.raises(ClientError) as refused:
        personalize.untag_resource(resourceArn=world["dataset"], tagKeys=[f"k{i}" for i in range(51)])
    assert code(refused.value) == "TooManyTagKeysException"
