"""Result sets and their versions (issue 17) end to end on the local stack: versions made by
real deliveries (two jobs on one result set, then a third held back by its quality gate),
listed by GET /result-sets and GET /result-sets/{rs} with their states; rollback and promote
switch what GET /recommendations serves within 10 s (the pointer cache is 5 s); every 404/409
code and a promotion without a reason; concurrent rollbacks keep the pointer consistent (the
conditional write); each answer logs one embedded-metric-format line; and the CLI's commands
against the stack. The tests of this module run in order and share the result set."""

import json
import time

import pytest

from e2e_helpers import assert_finished_ok, personalize_form_for, run_concurrently, unique, wait_for
from test_cli import run_cli

JOB_TIMEOUT = 300
SERVED_WITHIN = 10.0
# A user of the example data in the forms' segment (women in Tokyo or Osaka): scored by every job.
SEGMENT = {"gender": ["F"], "region": ["tokyo", "osaka"]}


class ResultSetApi:
    """The result-set routes, signed like every API call of the suite."""

    def __init__(self, api):
        self.http, self.base = api.http, api.base

    def list(self, **query):
        return self.http.get(f"{self.base}/result-sets", params=query, timeout=30)

    def show(self, result_set, **query):
        return self.http.get(f"{self.base}/result-sets/{result_set}", params=query, timeout=30)

    def promote(self, result_set, version, body=None):
        data = None if body is None else json.dumps(body)
        url = f"{self.base}/result-sets/{result_set}/versions/{version}/promote"
        return self.http.post(url, data=data, headers={"content-type": "application/json"}, timeout=30)

    def rollback(self, result_set, body=None):
        data = None if body is None else json.dumps(body)
        return self.http.post(f"{self.base}/result-sets/{result_set}/rollback", data=data,
                              headers={"content-type": "application/json"}, timeout=30)

    def discard(self, result_set, version):
        return self.http.delete(f"{self.base}/result-sets/{result_set}/versions/{version}", timeout=30)


def error_code(response) -> tuple[int, str]:
    return response.status_code, response.json().get("error", {}).get("code")


@pytest.fixture(scope="module")
def versions_api(api) -> ResultSetApi:
    return ResultSetApi(api)


@pytest.fixture(scope="module")
def shared(recoflow, data_uris, suite_faults) -> dict:
    """The module's result set and what its jobs left: filled in as the tests go."""
    return {"result_set": unique("e2e-rs"), "versions": []}


def run_job(recoflow, data_uris, result_set, **overrides) -> dict:
    form = personalize_form_for(data_uris, result_set=result_set, segment=SEGMENT, num_results=10, **overrides)
    job_id = recoflow.submit(form)
    job, status = recoflow.wait_ended(job_id, timeout=JOB_TIMEOUT)
    return job | {"execution_status": status}


def served_version(api, result_set, user) -> str:
    response = api.recommendations(result_set, user)
    assert response.status_code == 200, response.text
    return response.json()["version"]


def wait_served(api, result_set, user, version):
    """The recommendations route serves `version` within SERVED_WITHIN seconds."""
    started = time.monotonic()
    wait_for(f"{result_set} to serve {version}", lambda: served_version(api, result_set, user) == version,
             timeout=SERVED_WITHIN, interval=0.5)
    return time.monotonic() - started


def test_a_first_version_serves_and_has_nothing_to_roll_back_to(recoflow, data_uris, versions_api, shared):
    job = run_job(recoflow, data_uris, shared["result_set"])
    assert_finished_ok(job, job["execution_status"])
    shared["versions"].append(job["delivery"]["version"])
    shared["jobs"] = [job["job_id"]]
    shared["user"] = next(line["input"]["userId"] for line in recoflow.score_lines(job["job_id"]) if not line.get("error"))
    assert error_code(versions_api.rollback(shared["result_set"])) == (409, "NoPreviousVersion")


def test_a_second_version_replaces_it_and_both_are_listed_with_their_states(recoflow, data_uris, api, versions_api, shared):
    result_set = shared["result_set"]
    job = run_job(recoflow, data_uris, result_set)
    assert_finished_ok(job, job["execution_status"])
    first, second = shared["versions"][0], job["delivery"]["version"]
    shared["versions"].append(second)
    shared["jobs"].append(job["job_id"])
    assert served_version(api, result_set, shared["user"]) == second
    answer = api.recommendations(result_set, shared["user"]).json()
    assert isinstance(answer["version_age_seconds"], int) and 0 <= answer["version_age_seconds"] < 600, answer

    # GET /result-sets, page by page until ours.
    found, cursor = None, None
    while found is None:
        page = versions_api.list(limit=100, **({"next": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        body = page.json()
        found = next((rs for rs in body["result_sets"] if rs["result_set"] == result_set), None)
        cursor = body["next"]
        if found is None:
            assert cursor, f"{result_set} is not listed"
    assert found["current_version"] == second
    assert found["last_job"] == {"job_id": job["job_id"], "status": "SUCCEEDED"}
    assert 0 <= found["version_age_seconds"] < 600

    shown = versions_api.show(result_set)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert (body["current_version"], body["previous_version"]) == (second, first)
    assert [(v["version"], v["state"]) for v in body["versions"]] == [(second, "CURRENT"), (first, "SUPERSEDED")]
    for version, job_id in zip(body["versions"], reversed(shared["jobs"])):
        assert version["job_id"] == job_id
        assert version["published_at"] and version["created_at"] and version["expires_at"]
        assert version["gate"]["passed"] is True, version["gate"]
        assert version["metrics"]["users_personalized"] > 0, version["metrics"]
        assert version["promoted_by"] is None
    # The local stack makes no metrics of log lines (localstack/CAPABILITIES.md, item 5).
    assert "answers_last_hour" not in body


def test_rollback_serves_the_older_version_within_10_s_and_promote_brings_the_newer_back(api, versions_api, shared):
    result_set, user = shared["result_set"], shared["user"]
    first, second = shared["versions"]
    rolled = versions_api.rollback(result_set, {"reason": "e2e: the second version looks wrong"})
    assert rolled.status_code == 200, rolled.text
    assert (rolled.json()["current_version"], rolled.json()["previous_version"]) == (first, second)
    wait_served(api, result_set, user, first)
    body = versions_api.show(result_set).json()
    assert [(v["version"], v["state"]) for v in body["versions"]] == [(second, "SUPERSEDED"), (first, "CURRENT")]
    back = body["versions"][1]
    assert back["promoted_by"] and back["promoted_at"] and back["reason"] == "e2e: the second version looks wrong"

    promoted = versions_api.promote(result_set, second, {"reason": "e2e: it was fine after all"})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["version"]["state"] == "CURRENT"
    wait_served(api, result_set, user, second)
    assert versions_api.show(result_set).json()["previous_version"] == first


def test_refusals_have_their_codes_and_change_nothing(aws, stack, api, versions_api, shared):
    result_set, user = shared["result_set"], shared["user"]
    first, second = shared["versions"]
    reason = {"reason": "e2e"}
    assert error_code(versions_api.promote(result_set, second, reason)) == (409, "AlreadyCurrent")
    assert error_code(versions_api.promote(result_set, first)) == (400, "ReasonRequired")
    assert error_code(versions_api.promote(result_set, first, {"reason": "  "})) == (400, "ReasonRequired")
    assert error_code(versions_api.promote(result_set, first, {"why": "x"})) == (400, "InvalidParameter")
    assert error_code(versions_api.promote(result_set, "20200101T000000Z-00000000", reason)) == (404, "VersionNotFound")
    assert error_code(versions_api.discard(result_set, first)) == (409, "NotHeld")
    assert error_code(versions_api.discard(result_set, second)) == (409, "NotHeld")
    unknown = unique("e2e-none")
    for response in (versions_api.show(unknown), versions_api.promote(unknown, first, reason),
                     versions_api.rollback(unknown), versions_api.discard(unknown, first)):
        assert error_code(response) == (404, "ResultSetNotFound")
    assert error_code(versions_api.show(result_set, next="not/a/version")) == (400, "InvalidParameter")

    # A version whose lists have expired cannot come back.
    table = stack["RecommendationsTable"]
    key = {"pk": {"S": f"v#{result_set}#{first}"}}
    expiry = aws("dynamodb").get_item(TableName=table, Key=key)["Item"]["version_expires_at"]
    aws("dynamodb").update_item(TableName=table, Key=key, UpdateExpression="SET version_expires_at = :past",
                                ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 60)}})
    try:
        assert error_code(versions_api.promote(result_set, first, reason)) == (409, "VersionExpired")
        assert error_code(versions_api.rollback(result_set)) == (409, "VersionExpired")
        states = [v["state"] for v in versions_api.show(result_set).json()["versions"]]
        assert states == ["CURRENT", "EXPIRED"]
    finally:
        aws("dynamodb").update_item(TableName=table, Key=key, UpdateExpression="SET version_expires_at = :at",
                                    ExpressionAttributeValues={":at": expiry})
    assert served_version(api, result_set, user) == second


def test_a_held_version_can_be_discarded_and_then_never_promoted(recoflow, data_uris, api, versions_api, shared):
    result_set = shared["result_set"]
    job = run_job(recoflow, data_uris, result_set, quality_gate={"min": {"users_personalized": 1_000_000}})
    assert job["status"] == "HELD", (job["status"], job.get("failure"), job.get("history"))
    held = job["delivery"]["version"]
    shared["held"] = held
    body = versions_api.show(result_set).json()
    assert [(v["version"], v["state"]) for v in body["versions"]][0] == (held, "HELD")
    gate = body["versions"][0]["gate"]
    assert not gate["passed"] and gate["failures"][0]["metric"] == "users_personalized", gate
    assert body["last_job"] == {"job_id": job["job_id"], "status": "HELD"}
    assert served_version(api, result_set, shared["user"]) == shared["versions"][1], "the current version keeps serving"

    discarded = versions_api.discard(result_set, held)
    assert discarded.status_code == 200, discarded.text
    assert discarded.json()["version"]["state"] == "DISCARDED"
    assert discarded.json()["version"]["discarded"]["by"]
    again = versions_api.discard(result_set, held)
    assert (again.status_code, again.json()["version"]["state"]) == (200, "DISCARDED")
    assert error_code(versions_api.promote(result_set, held, {"reason": "e2e"})) == (409, "VersionDiscarded")


def test_concurrent_rollbacks_each_switch_from_what_they_saw_or_are_refused(api, versions_api, shared):
    """Each rollback that succeeds toggles the two versions; one that read a pointer another
    moved meanwhile must be refused (PointerMoved), or the toggles would not add up."""
    result_set = shared["result_set"]
    first, second = shared["versions"]
    before = versions_api.show(result_set).json()["current_version"]
    answers = run_concurrently(*[lambda: versions_api.rollback(result_set) for _ in range(6)])
    codes = [(a.status_code, a.json().get("error", {}).get("code")) for a in answers]
    assert all(code in {(200, None), (409, "PointerMoved")} for code in codes), codes
    switched = sum(1 for status, _ in codes if status == 200)
    assert switched >= 1, codes
    after = versions_api.show(result_set).json()["current_version"]
    other = first if before == second else second
    assert after == (before if switched % 2 == 0 else other), (codes, before, after)
    if after != second:
        assert versions_api.promote(result_set, second, {"reason": "e2e: back"}).status_code == 200
    wait_served(api, result_set, shared["user"], second)


def test_each_answer_logs_one_embedded_metric_format_line(aws, api, shared):
    result_set, user = shared["result_set"], shared["user"]
    since_ms = int(time.time() * 1000) - 5_000
    assert api.recommendations(result_set, user).status_code == 200
    names = [f["FunctionName"] for page in aws("lambda").get_paginator("list_functions").paginate()
             for f in page["Functions"] if "ApiFunction" in f["FunctionName"]]
    assert len(names) == 1, names
    logs = aws("logs")

    def emf_lines():
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{names[0]}", startTime=since_ms)
        documents = []
        for event in (e for page in pages for e in page["events"]):
            try:
                document = json.loads(event["message"])
            except ValueError:
                continue
            if isinstance(document, dict) and "_aws" in document and document.get("ResultSet") == result_set:
                documents.append(document)
        return documents

    line = wait_for("the answer's metric line", emf_lines, timeout=20)[-1]
    assert (line["Status"], line["Answers"], line["Source"]) == ("200", 1, "personalized"), line
    assert line["VersionAgeSeconds"] >= 0 and line["LatencyMs"] >= 0
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "recoflow" and directive["Dimensions"] == [["ResultSet", "Source"], ["Status"]]


def test_the_cli_lists_switches_and_discards(api, versions_api, shared):
    result_set = shared["result_set"]
    first, second = shared["versions"]
    listed = run_cli("--local", "result-sets", "--limit", "100")
    assert listed.returncode == 0, listed.stderr
    assert "RESULT SET" in listed.stdout

    shown = run_cli("--local", "--json", "versions", result_set)
    assert shown.returncode == 0, shown.stderr
    states = [(v["version"], v["state"]) for v in json.loads(shown.stdout)["versions"]]
    assert states == [(shared["held"], "DISCARDED"), (second, "CURRENT"), (first, "SUPERSEDED")]
    table = run_cli("--local", "versions", result_set)
    assert f"result set {result_set} serving {second}" in table.stdout, table.stdout

    promoted = run_cli("--local", "promote", result_set, first, "--reason", "e2e: from the CLI")
    assert promoted.returncode == 0, promoted.stderr
    assert f"{result_set} now serves version {first} (was {second})" in promoted.stdout
    wait_served(api, result_set, shared["user"], first)
    rolled = run_cli("--local", "rollback", result_set, "--reason", "e2e: and back")
    assert rolled.returncode == 0, rolled.stderr
    assert f"now serves version {second} (was {first})" in rolled.stdout

    refused = run_cli("--local", "promote", result_set, second, "--reason", "again")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "AlreadyCurrent" in refused.stderr
    assert run_cli("--local", "discard", result_set, first).returncode == 1
    held_again = run_cli("--local", "discard", result_set, shared["held"])
    assert held_again.returncode == 0 and "DISCARDED" in held_again.stdout, held_again.stderr
    missing = run_cli("--local", "versions", unique("e2e-none"))
    assert missing.returncode == 4 and "ResultSetNotFound" in missing.stderr, missing.stderr
    assert run_cli("--local", "promote", result_set, "20200101T000000Z-00000000", "--reason", "x").returncode == 4


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", "/result-sets/..%2F..%2Fetc", None),
        ("GET", "/result-sets/%00", None),
        ("GET", "/result-sets/" + "r" * 2000, None),
        ("GET", "/result-sets?next=%E2%80%AE", None),
        ("GET", "/result-sets?limit=1e9", None),
        ("POST", "/result-sets/spring-2026/versions/%00/promote", '{"reason": "x"}'),
        ("POST", "/result-sets/spring-2026/versions/" + "v" * 300 + "/promote", '{"reason": "x"}'),
        ("POST", "/result-sets/{rs}/versions/{v}/promote", "[" * 20_000 + "]" * 20_000),
        ("POST", "/result-sets/{rs}/versions/{v}/promote", b'{"reason": "caf\xe9"}'),
        ("POST", "/result-sets/{rs}/versions/{v}/promote", '{"reason": "a\\u0000b"}'),
        ("POST", "/result-sets/{rs}/versions/{v}/promote", '{"reason": "' + "x" * 100_000 + '"}'),
        ("POST", "/result-sets/{rs}/rollback", '{"reason": 1e999999}'),
        ("DELETE", "/result-sets/{rs}/versions/..%2F..%2Fpointer", None),
    ],
)
def test_hostile_paths_and_bodies_are_4xx_in_the_one_error_shape(api, shared, method, path, body):
    first = shared["versions"][0] if shared["versions"] else "20200101T000000Z-00000000"
    path = path.replace("{rs}", shared["result_set"]).replace("{v}", first)
    response = api.http.request(method, api.base + path, data=body, timeout=30)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert error["code"] and error["message"], error
