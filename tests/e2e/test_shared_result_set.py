"""Two Personalize jobs on one result set (issue 16, items 4 and 5), end to end on the local
stack: submitted together, with different items planted in their data (job A's interactions
name only items a-*, job B's only b-*), both succeed; one waits while the other holds the
result set's datasets (WAITING_FOR_QUOTA, the datasets named in its history), and each version
holds only its own job's items: no import replaced the data another job trained on. The result
set's pointer ends at the version of the job submitted last, carries no TTL attribute, and no
quota or hold on datasets is left behind."""

import csv
import io

from boto3.dynamodb.types import TypeDeserializer

from e2e_helpers import (
    EXAMPLE_DATA,
    assert_finished_ok,
    personalize_form_for,
    run_concurrently,
    statuses,
    unique,
)

JOB_TIMEOUT = 420
ITEMS_PER_JOB = 40
INTERACTIONS_PER_USER = 5

_deserialize = TypeDeserializer().deserialize


def planted_interactions(prefix: str) -> bytes:
    """Interactions of every example user with items `<prefix>-00` … only: enough for the
    emulated Personalize to train (≥ 1000 interactions, ≥ 25 users with two or more)."""
    with (EXAMPLE_DATA / "users.csv").open(newline="") as f:
        users = [row["USER_ID"] for row in csv.DictReader(f)]
    out = io.StringIO()
    out.write("USER_ID,ITEM_ID,TIMESTAMP\n")
    for u, user in enumerate(users):
        for j in range(INTERACTIONS_PER_USER):
            item = (u * 7 + j * 3) % ITEMS_PER_JOB
            out.write(f"{user},{prefix}-{item:02d},{1_700_000_000 + u * 10 + j}\n")
    return out.getvalue().encode()


def form_planting(aws, stack, data_uris, result_set: str, prefix: str) -> dict:
    key = f"e2e/{unique('planted-' + prefix)}/interactions.csv"
    aws("s3").put_object(Bucket=stack["DataBucket"], Key=key, Body=planted_interactions(prefix))
    # Same files, same columns: both jobs use the same schema generation, so one dataset group.
    dataset = {"interactions": f"s3://{stack['DataBucket']}/{key}", "users": data_uris["users.csv"]}
    return personalize_form_for(data_uris, result_set=result_set, dataset=dataset, num_results=10)


def version_items(aws, stack, result_set: str, version: str) -> dict:
    """Every list of one version of the result set: pk -> items (users' lists, segments, global)."""
    table = stack["RecommendationsTable"]
    lists = {}
    for kind in ("u", "s", "g"):
        pages = aws("dynamodb").get_paginator("scan").paginate(
            TableName=table,
            FilterExpression="begins_with(pk, :p)",
            ExpressionAttributeValues={":p": {"S": f"{kind}#{result_set}#{version}"}},
        )
        for page in pages:
            for item in page["Items"]:
                lists[item["pk"]["S"]] = list(_deserialize(item["items"])) if "items" in item else []
    return lists


def datasets_waits(job: dict) -> list:
    return [
        h["detail"]
        for h in job["history"]
        if h["status"] == "WAITING_FOR_QUOTA" and "Personalize datasets" in h.get("detail", "")
    ]


def test_two_jobs_on_one_result_set_take_turns_on_its_datasets_and_publish_their_own_data(
    recoflow, aws, stack, data_uris, suite_faults
):
    result_set = unique("e2e-shared")
    forms = {
        "a": form_planting(aws, stack, data_uris, result_set, "a"),
        "b": form_planting(aws, stack, data_uris, result_set, "b"),
    }
    ids = dict(zip(forms, run_concurrently(*(lambda f=f: recoflow.submit(f) for f in forms.values()))))
    ended = dict(zip(ids, run_concurrently(*(lambda i=i: recoflow.wait_ended(i, JOB_TIMEOUT) for i in ids.values()))))
    jobs = {}
    for name, (job, execution) in ended.items():
        assert_finished_ok(job, execution)
        jobs[name] = job

    # One job held the datasets from its import to the end of its training; the other waited,
    # quietly, with the result set and the holder in its history.
    waited = {name: datasets_waits(job) for name, job in jobs.items()}
    assert sum(1 for waits in waited.values() if waits) == 1, {n: statuses(j) for n, j in jobs.items()}
    waiter = next(name for name, waits in waited.items() if waits)
    holder = "b" if waiter == "a" else "a"
    detail = waited[waiter][0]
    assert f"result set {result_set}" in detail and f"job {ids[holder]} holds them" in detail, detail
    holder_trained = next(r["at"] for r in jobs[holder]["resources"] if r["kind"] == "solution-version")
    waiter_imported = next(h["at"] for h in jobs[waiter]["history"] if h["status"] == "IMPORTING")
    assert waiter_imported >= holder_trained, "the waiter imported only after the holder's training ended"

    # The same columns: one dataset group, shared.
    groups = {name: {r["name"] for r in job["resources"] if r["kind"] == "dataset-group"} for name, job in jobs.items()}
    assert groups["a"] == groups["b"] and len(groups["a"]) == 1, groups
    (group,) = groups["a"]
    assert group.startswith(f"rf-{result_set}-g"), group

    # Each version holds its own job's items only.
    versions = {name: job["delivery"]["version"] for name, job in jobs.items()}
    for name, version in versions.items():
        lists = version_items(aws, stack, result_set, version)
        users = [pk for pk in lists if pk.startswith("u#")]
        assert users and f"g#{result_set}#{version}" in lists, sorted(lists)[:5]
        foreign = {pk: items for pk, items in lists.items() if any(not i.startswith(f"{name}-") for i in items)}
        assert not foreign, f"version {version} of job {name} holds other items: {list(foreign.items())[:3]}"

    # Newest by submission: the pointer names the version of the job submitted last, whichever
    # finished last; it keeps the version's expiry outside the table's TTL attribute.
    newest = max(versions, key=versions.get)
    pointer = aws("dynamodb").get_item(
        TableName=stack["RecommendationsTable"], Key={"pk": {"S": f"rs#{result_set}"}}, ConsistentRead=True
    )["Item"]
    assert pointer["version"]["S"] == versions[newest]
    assert pointer["job_id"]["S"] == ids[newest]
    assert "expires_at" not in pointer and int(pointer["version_expires_at"]["N"]) > 0, pointer
    older = "b" if newest == "a" else "a"
    if jobs[older]["history"][-1]["at"] > jobs[newest]["history"][-1]["at"]:
        assert "not made current" in jobs[older]["history"][-1]["detail"], jobs[older]["history"][-1]

    user = next(pk for pk in version_items(aws, stack, result_set, versions[newest]) if pk.startswith("u#"))
    answer = recoflow.api.recommendations(result_set, user.rsplit("#", 1)[-1])
    assert answer.status_code == 200, answer.text
    served = answer.json()
    assert served["version"] == versions[newest] and served["source"] == "personalized", served
    assert all(i["item_id"].startswith(f"{newest}-") for i in served["items"]), served

    for name, job_id in ids.items():
        assert recoflow.holders_of(job_id) == {}, f"job {name} left a slot or its hold on the datasets"
