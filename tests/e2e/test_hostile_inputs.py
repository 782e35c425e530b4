"""Hostile input (issue 10, security and operability): whatever arrives, through the API or as a
form in S3 or as an S3 event, the answer is a 4xx in the project's one error shape or a recorded
rejection, never a 500, a hang or a half-written record."""

import json
import time

import pytest
import requests

from e2e_helpers import unique, wait_for

NESTED = "[" * 20_000 + "]" * 20_000


def assert_client_error(response: requests.Response, *statuses):
    assert response.status_code in (statuses or range(400, 500)), (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] and body["error"]["message"], body


@pytest.mark.parametrize(
    "name, body",
    [
        ("deeply nested", NESTED),
        ("a number", "42"),
        ("null", "null"),
        ("a string", '"form"'),
        ("empty", ""),
        ("not utf-8", b"{\"job_name\": \"caf\xe9\"}"),
        ("a NUL in a name", json.dumps({"schema_version": 1, "job_name": "a\u0000b"})),
        ("bidi override in a name", json.dumps({"schema_version": 1, "job_name": "spring\u202egnirps"})),
        ("a huge number", '{"schema_version": 1e999999}'),
        ("duplicate keys", '{"schema_version": 1, "schema_version": 2}'),
        ("wrong types everywhere", json.dumps({"schema_version": "1", "job_name": [], "backend": {}, "num_results": "ten"})),
        ("a path in an S3 URI", json.dumps({"schema_version": 1, "dataset": {"interactions": "s3://recoflow-data-000000000000/../../etc/passwd"}})),
    ],
)
def test_post_jobs_answers_400_to_what_is_not_a_valid_form(api, name, body):
    response = api.post_job(body)
    assert_client_error(response, 400)


def test_post_jobs_refuses_a_body_over_the_limit(api):
    response = api.post_job("{" + " " * (1024 * 1024) + "}")
    assert_client_error(response, 400, 413)


@pytest.mark.parametrize(
    "path",
    [
        "/jobs/..%2F..%2Fetc%2Fpasswd",
        "/jobs/%00",
        "/jobs/" + "a" * 2000,
        "/jobs/%E2%80%AE",
        "/jobs/%C0%AF",
        "/jobs/'%20OR%201=1",
        "/recommendations/..%2F/u1",
        "/recommendations/" + "r" * 300 + "/u1",
        "/recommendations/UPPER/u1",
    ],
)
def test_odd_paths_are_4xx(api, path):
    response = api.http.get(api.base + path, timeout=30)
    assert_client_error(response)


@pytest.mark.parametrize(
    "query", ["limit=abc", "limit=0", "limit=100000", "next=%7Bnot-a-cursor", "next=" + "A" * 5000, "cursor=x"]
)
def test_listing_jobs_with_bad_paging_is_400(api, query):
    response = api.http.get(f"{api.base}/jobs?{query}", timeout=30)
    assert_client_error(response, 400)


# Every route of the API after POST /jobs and the job and recommendation routes above: odd ids,
# names and paging, and bodies that are not what the route takes, each answered 4xx in the one
# error shape (never a 5xx, a timeout or a half-written record).
ODD = "..%2F..%2Fetc%2Fpasswd"
NOT_JSON = "{not json"


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", f"/jobs/{ODD}/retry", "{}"),
        ("POST", "/jobs/no-such-job-123/retry", NOT_JSON),
        ("POST", "/jobs/no-such-job-123/retry", '{"from_phase": "' + "x" * 5000 + '"}'),
        ("GET", "/result-sets?limit=abc", None),
        ("GET", "/result-sets/" + "r" * 300, None),
        ("POST", f"/result-sets/{ODD}/versions/v1/promote", "{}"),
        ("POST", "/result-sets/UPPER/rollback", NOT_JSON),
        ("DELETE", "/result-sets/spring/versions/%00", None),
        ("GET", f"/audiences/{ODD}", None),
        ("GET", "/audiences/spring/users?limit=abc", None),
        ("GET", "/audiences/spring/users?next=" + "A" * 5000, None),
        ("GET", "/similar-items/spring/" + "i" * 2000, None),
        ("GET", "/similar-items/spring/i1?n=-3", None),
        ("GET", "/schedules?limit=100000", None),
        ("GET", f"/schedules/{ODD}", None),
        ("PATCH", "/schedules/no-such-schedule", NOT_JSON),
        ("PATCH", "/schedules/no-such-schedule", '{"state": "SOMETIMES"}'),
        ("DELETE", "/schedules/%E2%80%AE", None),
        ("GET", "/triggers?limit=0", None),
        ("GET", "/triggers?next=" + "~" * 3000, None),
        ("GET", "/triggers?sort=newest", None),
        ("GET", f"/triggers/{ODD}", None),
        ("DELETE", "/triggers/%C0%AF", None),
        ("GET", "/placements?limit=abc", None),
        ("GET", f"/placements/{ODD}", None),
        ("PUT", "/placements/home-top", NOT_JSON),
        ("PUT", "/placements/home-top", '{"schema_version": 1, "placement": "home-top", "rules": ' + "[" * 200 + "]" * 200 + "}"),
        ("PUT", "/placements/" + "p" * 300, "{}"),
        ("DELETE", "/placements/'%20OR%201=1", None),
        ("GET", "/placements/home-top/metrics?from=yesterday", None),
        ("GET", "/placements/no-such-placement/" + "u" * 2000, None),
        ("POST", "/events", NOT_JSON),
        ("POST", "/events", '{"events": "all of them"}'),
        ("POST", "/events", '{"events": [' + ",".join(["{}"] * 501) + "]}"),
    ],
)
def test_every_route_answers_odd_input_with_a_4xx_in_the_error_shape(api, method, path, body):
    headers = {"content-type": "application/json"} if body is not None else {}
    response = api.http.request(method, api.base + path, data=body, headers=headers, timeout=30)
    assert_client_error(response)


def test_cancelling_an_odd_id_is_4xx(api):
    response = api.http.delete(f"{api.base}/jobs/..%2F..", timeout=30)
    assert_client_error(response)


def test_a_deeply_nested_form_in_s3_is_recorded_as_rejected(recoflow, aws, stack):
    key = f"submissions/{unique('nested')}.json"
    aws("s3").put_object(Bucket=stack["FormsBucket"], Key=key, Body=NESTED.encode())
    job_id = recoflow.job_id_for_key(key)
    job = recoflow.wait_job(job_id, "its rejection", lambda j: j["status"] == "REJECTED", timeout=60)
    assert job["problems"] and job["problems"][0]["code"] == "not_json", job["problems"]
    assert recoflow.execution_status(job_id) is None, "a rejected form started an execution"


def test_a_form_key_with_spaces_and_unicode_is_taken_as_it_is(recoflow, aws, stack, make_form):
    key = f"submissions/{unique('spring')} 春の セール.json"
    aws("s3").put_object(Bucket=stack["FormsBucket"], Key=key, Body=json.dumps(make_form()).encode())
    job_id = recoflow.job_id_for_key(key)
    job = recoflow.job(job_id)
    assert job["source"]["key"] == key, job["source"]
    assert job["status"] != "REJECTED", job.get("problems")


def test_an_event_for_a_form_that_is_gone_is_recorded_not_lost(recoflow, aws, stack, make_form):
    """An S3 event delivered after its object was deleted (a late retry, out of order)."""
    key = recoflow.drop_form(make_form(), unique("gone"))
    first = recoflow.job_id_for_key(key)
    event = recoflow.s3_event(key)
    aws("s3").delete_object(Bucket=stack["FormsBucket"], Key=key)
    # Replayed with a version of its own, so it is not the same delivery as the first.
    event["Records"][0]["s3"]["object"]["eTag"] = "0" * 32
    event["Records"][0]["s3"]["object"]["versionId"] = None
    outcome, error = recoflow.invoke(stack["IntakeFunctionName"], event)
    assert error is None, f"intake failed on an event for a missing form: {outcome}"
    assert [o["outcome"] for o in outcome] == ["ignored"], outcome
    # The first job is untouched.
    assert recoflow.job(first)["status"] != "REJECTED"


def test_many_bad_requests_at_once_get_answers_not_timeouts(api):
    """A burst of garbage does not wedge the API: every request is answered within the timeout."""
    from concurrent.futures import ThreadPoolExecutor

    bodies = [NESTED, "{", "null", '{"schema_version": 1}'] * 5
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda b: api.post_job(b).status_code, bodies))
    assert all(s == 400 for s in statuses), statuses
    assert time.monotonic() - started < 60
    # And the API still works.
    wait_for("GET /jobs to answer", lambda: api.http.get(f"{api.base}/jobs", timeout=30).status_code == 200, timeout=10)


# The web page's copies of the audience and similar-items routes: the same odd input with the
# page's token is a 4xx in the error shape; without the token, or with a wrong one, 401.
@pytest.mark.parametrize(
    "path",
    [
        f"/ui/api/audiences/{ODD}",
        "/ui/api/audiences/spring/users?limit=abc",
        "/ui/api/audiences/spring/users?next=" + "A" * 5000,
        "/ui/api/similar-items/spring/" + "i" * 2000,
        "/ui/api/similar-items/spring/i1?n=-3",
    ],
)
def test_the_page_s_output_routes_answer_odd_input_with_a_4xx_and_want_the_token(api, aws, stack, path):
    token = aws("ssm").get_parameter(Name=stack["UiTokenParameter"], WithDecryption=True)["Parameter"]["Value"]
    url = api.base + path
    assert_client_error(requests.get(url, headers={"authorization": f"Bearer {token}"}, timeout=30))
    for headers in ({}, {"authorization": "Bearer not-the-token"}):
        assert_client_error(requests.get(url, headers=headers, timeout=30), 401)
