"""Scale (issue 21), end to end on the local stack: a 200,000-user job is scored in parts and
delivered by one worker per score file (at least 4, as its Distributed Map's run shows) after its
fallbacks are counted in 4 shares, with exact counts; readers hammering the result set meanwhile see only whole versions; a worker
killed in the middle of its file (an injected crash) is retried on its own file and the counts
stay exact."""

import collections
import json
import os
import subprocess
import threading
import time

import pytest
import requests

from e2e_helpers import REPO, assert_finished_ok, container_form_for, unique

USERS = 200_000
# Parts of 50,000 users on the local stacks (ScoringPartUsers in scripts/deploy-local.sh), and
# fallback shares of as many (FallbackShareUsers).
PARTS = 4
SHARES = 4
JOB_TIMEOUT = 900
RECSYS = os.environ.get("RECOFLOW_RECSYS_BIN", str(REPO / "target" / "local" / "recsys"))


@pytest.fixture(scope="module")
def scale_data(aws, stack, tmp_path_factory) -> dict:
    """200,000 synthetic users with a few interactions each (the reference container's
    generator), uploaded to the data bucket; S3 URIs by file name."""
    out = tmp_path_factory.mktemp("scale")
    subprocess.run(
        [RECSYS, "gen", "--users", str(USERS), "--items", "2000", "--interactions-per-user", "3",
         "--cold-start-fraction", "0", "--out", str(out)],
        check=True, capture_output=True,
    )
    prefix = f"e2e/{unique('scale')}"
    uris = {}
    for name in ("users.csv", "interactions.csv", "items.csv"):
        aws("s3").upload_file(str(out / name), stack["DataBucket"], f"{prefix}/{name}")
        uris[name] = f"s3://{stack['DataBucket']}/{prefix}/{name}"
    return uris


def sample_users() -> list:
    """Users of the generated set (ids u000000 … u199999), one from each part."""
    return [f"u{n:06d}" for n in (7, 60_011, 120_013, 199_999)]


def test_a_200000_user_job_is_delivered_by_a_worker_per_score_file(
    recoflow, api, aws, stack, faults, data_uris, scale_data
):
    result_set = unique("e2e-scale")
    # A first, small version of the result set (the example data: none of the big job's users).
    first = recoflow.submit(container_form_for(data_uris, result_set=result_set))
    first_job, status = recoflow.wait_ended(first, 300)
    assert_finished_ok(first_job, status)
    old = first_job["delivery"]["version"]

    # The worker of the third part is killed 3 s into its file, once.
    crash = faults.inject_lambda_crash("*DeliverFunction*", "part-00002", 3.0)
    assert crash, "the crash rule is armed"

    seen = collections.defaultdict(set)  # version -> sources answered
    problems, slow = [], []
    stop = threading.Event()

    def read(user):
        while not stop.is_set():
            try:
                response = api.recommendations(result_set, user)
            except requests.RequestException:
                # The one-process local stack is saturated by the delivery's writes: a slow
                # answer is no wrong answer.
                slow.append(user)
                continue
            if response.status_code != 200:
                problems.append(f"{user}: {response.status_code} {response.text[:200]}")
                time.sleep(0.2)
                continue
            answer = response.json()
            seen[answer["version"]].add(answer["source"])
            time.sleep(0.5)

    readers = [threading.Thread(target=read, args=(user,)) for user in sample_users()]
    for reader in readers:
        reader.start()
    try:
        form = container_form_for(scale_data, result_set=result_set, segment=None)
        form.pop("segment")
        form["container"]["instance_count"] = 2
        job_id = recoflow.submit(form)
        job, status = recoflow.wait_ended(job_id, JOB_TIMEOUT)
        assert_finished_ok(job, status)
        # Past the API's pointer cache, the new version is what is served.
        time.sleep(6)
    finally:
        stop.set()
        for reader in readers:
            reader.join()

    # Counts exact: every user scored is delivered once.
    assert job["counts"]["users_to_score"] == USERS
    assert job["counts"]["scoring_parts"] == PARTS
    assert job["counts"]["users_delivered"] == USERS, job["counts"]
    assert job["counts"]["lines_skipped"] == 0
    assert job["delivery"]["score_files"] == PARTS
    # The progress the workers reported as they finished (added at once by several).
    assert job["counts"]["score_files_done"] == PARTS
    assert job["counts"]["score_files_done_users"] == USERS
    assert job["counts"]["fallback_shares_done"] == SHARES
    assert job["counts"]["fallback_shares_done_users"] == USERS

    # One worker per share and per score file, as the execution's map runs show; none failed
    # for good.
    sfn = aws("stepfunctions")
    runs = sfn.list_map_runs(executionArn=recoflow.execution_arn(job_id))["mapRuns"]
    assert len(runs) == 2, runs  # the fallback shares' and the score files'
    for described in (sfn.describe_map_run(mapRunArn=r["mapRunArn"]) for r in runs):
        assert described["status"] == "SUCCEEDED", described
        assert described["maxConcurrency"] >= PARTS, described
        assert described["itemCounts"]["succeeded"] >= PARTS, described["itemCounts"]
        assert described["itemCounts"]["failed"] == 0, described["itemCounts"]
    # The parent's history does not grow with the parts: the workers' invocations are the two
    # map runs' child executions (no score file is named in it; the only map iterations are
    # RunPhases' two phases), far from Step Functions' limit.
    history = recoflow.history(job_id)
    assert not [e for e in history if ".jsonl.out" in json.dumps(e, default=str)], "a worker ran in the parent"
    assert sum(e["type"] == "MapIterationStarted" for e in history) <= 2
    assert len(history) < 25_000 // 10, len(history)

    # The crash happened (its rule is used up) and its file's worker finished it on a retry.
    assert faults.lambda_crashes_left() == [], "the injected crash never fired"
    progress_key = next(
        obj["Key"]
        for obj in aws("s3").list_objects_v2(
            Bucket=stack["ResultsBucket"], Prefix=f"jobs/{job_id}/delivery/"
        )["Contents"]
        if "part-00002" in obj["Key"]
    )
    progress = json.loads(
        aws("s3").get_object(Bucket=stack["ResultsBucket"], Key=progress_key)["Body"].read()
    )
    assert progress["users"] == USERS // PARTS and progress.get("metrics"), progress["users"]

    # Readers saw the old version (fallback lists: it never scored these users) and then the
    # new one whole: every answer of the new version is the user's own list.
    new = job["delivery"]["version"]
    assert not problems, problems[:5]
    assert set(seen) <= {old, new}, set(seen)
    assert new in seen, "the new version was never served"
    assert seen[new] == {"personalized"}, seen[new]
    assert "personalized" not in seen.get(old, set()), seen[old]
    for user in sample_users():
        answer = api.recommendations(result_set, user).json()
        assert (answer["version"], answer["source"]) == (new, "personalized"), answer
