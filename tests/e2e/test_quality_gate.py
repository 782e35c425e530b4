"""The quality gate (issue 17), end to end on the local stack: Deliver measures every version
while it writes it and the gate judges it before it is served.

- A second job on a users file with 10 % of the first job's users fails
  max_change.users_personalized: the job ends HELD, its record names the rule, the metric, the
  value and the bound, its version is held, and the API still serves the first version.
- Seven published versions with stable catalogue coverage (one real job, six records written
  beside it as earlier deliveries would have), then a job whose data names a third of the items
  the first one's lists held: HELD by the anomaly rule alone; a job inside the band publishes.
- A malformed quality_gate is refused at submission, naming the field.
- The metrics stored with a version equal a recomputation from the job's score files in S3."""

import csv
import io
import math
from collections import Counter

import pytest
from boto3.dynamodb.types import TypeDeserializer

from e2e_helpers import EXAMPLE_DATA, container_form_for, run_concurrently, segment_users, unique

JOB_TIMEOUT = 300
MAX_LIST_ITEMS = 500
# The score percentiles come from a sketch within 1 % of the exact value.
SKETCH_ACCURACY = 0.01

_deserialize = TypeDeserializer().deserialize


def run(recoflow, form: dict, status: str = "SUCCEEDED") -> dict:
    """Submits the form, waits for its execution; the job, which ended `status`."""
    job_id = recoflow.submit(form)
    job, execution = recoflow.wait_ended(job_id, JOB_TIMEOUT)
    assert (job["status"], execution) == (status, "SUCCEEDED"), (job["status"], execution, job.get("failure"))
    return job


def put_data(aws, stack, name: str, body: str) -> str:
    key = f"e2e/{unique('gate')}/{name}"
    aws("s3").put_object(Bucket=stack["DataBucket"], Key=key, Body=body.encode())
    return f"s3://{stack['DataBucket']}/{key}"


def csv_rows(path) -> list:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def csv_text(rows: list) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def version_record(aws, stack, result_set: str, version: str) -> dict:
    item = aws("dynamodb").get_item(
        TableName=stack["RecommendationsTable"],
        Key={"pk": {"S": f"v#{result_set}#{version}"}},
        ConsistentRead=True,
    )["Item"]
    return {name: _deserialize(value) for name, value in item.items()}


def result_set_versions(api, result_set: str) -> dict:
    """GET /result-sets/{result_set}: its versions by id."""
    response = api.http.get(f"{api.base}/result-sets/{result_set}", timeout=30)
    assert response.status_code == 200, response.text
    return {v["version"]: v for v in response.json()["versions"]}


# ---------- the metrics, recomputed from the score files ----------


def written_lists(recoflow, job: dict, banned: set = frozenset()) -> list:
    """The users' lists as Deliver writes them from the job's score lines: (user, items, scores),
    banned items removed, at most 500 items."""
    lists = []
    for line in recoflow.score_lines(job["job_id"]):
        given, output = line.get("input"), line.get("output")
        user = given.get("userId") if isinstance(given, dict) else None
        if line.get("error") is not None or not user or not isinstance(output, dict):
            continue
        items = output.get("recommendedItems", [])
        scores = (output.get("scores", []) + [0.0] * len(items))[: len(items)]
        kept = [(i, s) for i, s in zip(items, scores) if i not in banned][:MAX_LIST_ITEMS]
        lists.append((user, [i for i, _ in kept], [s for _, s in kept]))
    return lists


def recomputed(lists: list, num_results: int, catalogue_items: int) -> dict:
    """The metrics' definitions (README, core::quality::metrics), in Python."""
    users = len(lists)
    slots = sum(len(items) for _, items, _ in lists)
    per_item = Counter(item for _, items, _ in lists for item in items)
    top = max(math.ceil(catalogue_items * 0.01), 1)
    scores = sorted(s for _, _, list_scores in lists for s in list_scores if math.isfinite(s))
    rank = lambda q: scores[int(q * (len(scores) - 1))]  # noqa: E731 (the sketch's rank)
    return {
        "users_personalized": users,
        "mean_list_length": slots / max(users, 1),
        "short_lists_share": sum(1 for _, items, _ in lists if len(items) < num_results) / max(users, 1),
        "catalog_coverage": min(len(per_item) / catalogue_items, 1.0),
        "top1pct_share": sum(sorted(per_item.values(), reverse=True)[:top]) / slots,
        "score_p50": rank(0.5),
        "score_p99": rank(0.99),
    }


def recomputed_overlap(lists: list, previous: list, k: int) -> float:
    before = {user: items for user, items, _ in previous}
    both = [(set(items[:k]), set(before[user][:k])) for user, items, _ in lists if user in before]
    jaccard = [len(a & b) / len(a | b) if a | b else 1.0 for a, b in both]
    return sum(jaccard) / len(jaccard)


def catalogue_size() -> int:
    return len({row[0] for row in csv_rows(EXAMPLE_DATA / "items.csv")[1:] if row and row[0].strip()})


def assert_metrics_recomputed(stored: dict, expected: dict):
    for metric in ("users_personalized", "mean_list_length", "short_lists_share", "catalog_coverage", "top1pct_share"):
        assert stored[metric] == pytest.approx(expected[metric], rel=1e-12, abs=1e-12), (metric, stored, expected)
    for metric in ("score_p50", "score_p99"):
        assert abs(stored[metric] - expected[metric]) <= SKETCH_ACCURACY * abs(expected[metric]) + 1e-12, (
            metric,
            stored[metric],
            expected[metric],
        )


# ---------- the jobs ----------


@pytest.fixture(scope="module")
def first_versions(recoflow, data_uris, suite_faults):
    """The first published version of two result sets, run side by side: `held` (for the
    max_change case) and `band` (for the anomaly case)."""
    forms = {name: container_form_for(data_uris) for name in ("held", "band")}
    jobs = run_concurrently(*(lambda f=f: run(recoflow, f) for f in forms.values()))
    return {name: {"form": form, "job": job} for (name, form), job in zip(forms.items(), jobs)}


def test_a_version_with_a_tenth_of_the_users_is_held_and_the_first_keeps_serving(
    recoflow, aws, stack, api, container_form, first_versions
):
    first = first_versions["held"]
    first_form, first_job = first["form"], first["job"]
    served = first_job["delivery"]["version"]

    # 10 % of the first job's users (those of its segment), the rest of the data the same.
    segment = segment_users(first_form["segment"])
    rows = csv_rows(EXAMPLE_DATA / "users.csv")
    chosen = set(sorted(row[0] for row in rows[1:] if row[0] in segment)[::10])
    users_uri = put_data(aws, stack, "users.csv", csv_text([rows[0]] + [r for r in rows[1:] if r[0] in chosen]))
    form = container_form(
        result_set=first_form["result_set"],
        dataset=dict(first_form["dataset"], users=users_uri),
        quality_gate={"max_change": {"users_personalized": 0.2}},
    )
    job = run(recoflow, form, status="HELD")

    first_lists, lists = written_lists(recoflow, first_job), written_lists(recoflow, job)
    gate = job["gate"]
    assert gate["passed"] is False and gate["rules"] == "form" and gate["on_fail"] == "hold", gate
    assert [(f["rule"], f["metric"]) for f in gate["failures"]] == [("max_change", "users_personalized")], gate
    failure = gate["failures"][0]
    assert failure["value"] == len(lists) and failure["bound"] == 0.2, failure
    assert failure["previous"] == len(first_lists), failure
    assert "held by the quality gate" in job["history"][-1]["detail"], job["history"][-1]

    # The first version still serves, to a user of both versions.
    user = sorted({u for u, _, _ in lists} & {u for u, _, _ in first_lists})[0]
    answer = api.recommendations(first_form["result_set"], user)
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == served, answer.json()

    # The held version is written, measured, not published; its overlap with the first version
    # is its users' Jaccard similarity with their first lists.
    version = job["delivery"]["version"]
    record = version_record(aws, stack, first_form["result_set"], version)
    assert record["held"] is True and "published_at" not in record, record
    assert record["gate"]["failures"][0]["rule"] == "max_change"
    k = form["num_results"]
    assert float(record["metrics"]["overlap_at_k"]) == pytest.approx(recomputed_overlap(lists, first_lists, k), abs=1e-12)
    assert int(record["metrics"]["users_personalized"]) == len(lists)
    states = {v: view["state"] for v, view in result_set_versions(api, first_form["result_set"]).items()}
    assert states == {served: "CURRENT", version: "HELD"}, states


def items_of(lists: list) -> list:
    return sorted({item for _, items, _ in lists for item in items})


def seed_published_versions(aws, stack, result_set: str, like: dict, coverages: list):
    """Version records as earlier published deliveries left them (the VersionRecord shape),
    copies of `like` with the given catalogue coverages, older than it."""
    table = stack["RecommendationsTable"]
    for i, coverage in enumerate(coverages):
        version = f"20260101T00000{i}Z-seed{i:04d}"
        metrics = dict(like["metrics"], catalog_coverage=coverage)
        item = {
            "pk": {"S": f"v#{result_set}#{version}"},
            "version_of": {"S": result_set},
            "version": {"S": version},
            "job_id": {"S": f"seed-{i}"},
            "created_at": {"S": f"2026-01-01T00:00:0{i}.000Z"},
            "written_at": {"S": f"2026-01-01T00:10:0{i}.000Z"},
            "published_at": {"S": f"2026-01-01T00:10:0{i}.000Z"},
            "held": {"BOOL": False},
            "metrics": {"M": {name: {"N": str(value)} for name, value in metrics.items()}},
            "version_expires_at": {"N": str(int(like["version_expires_at"]))},
            "expires_at": {"N": str(int(like["expires_at"]))},
        }
        aws("dynamodb").put_item(TableName=table, Item=item)


def test_a_version_outside_the_band_of_the_last_seven_is_held_by_the_anomaly_rule_alone(
    recoflow, aws, stack, data_uris, container_form, first_versions
):
    first = first_versions["band"]
    result_set = first["form"]["result_set"]
    record = version_record(aws, stack, result_set, first["job"]["delivery"]["version"])
    coverage = float(record["metrics"]["catalog_coverage"])
    seed_published_versions(aws, stack, result_set, record, [coverage * f for f in (1.0, 1.01, 0.99, 1.0, 1.02, 0.98)])

    # The dropped job's interactions name a third of the items the first version's lists hold,
    # so its lists (of those items only) cover a third of the catalogue's share.
    third = set(items_of(written_lists(recoflow, first["job"]))[::3])
    rows = csv_rows(EXAMPLE_DATA / "interactions.csv")
    interactions = put_data(aws, stack, "interactions.csv", csv_text([rows[0]] + [r for r in rows[1:] if r[1] in third]))
    gate = {"anomaly": {"metrics": ["catalog_coverage"], "history": 8}}
    dropped_form = container_form(
        result_set=result_set, dataset=dict(first["form"]["dataset"], interactions=interactions), quality_gate=gate
    )
    usual_form = container_form(result_set=result_set, quality_gate=gate)
    dropped, usual = run_concurrently(
        lambda: run(recoflow, dropped_form, status="HELD"), lambda: run(recoflow, usual_form)
    )

    outcome = dropped["gate"]
    assert [(f["rule"], f["metric"]) for f in outcome["failures"]] == [("anomaly", "catalog_coverage")], outcome
    failure = outcome["failures"][0]
    assert failure["value"] <= len(third) / catalogue_size() + 1e-12, (failure, coverage)
    assert failure["previous"] == pytest.approx(coverage, rel=0.02), failure
    assert failure["bound"] < coverage, "the band's lower edge"

    assert usual["gate"]["passed"] is True and not usual["gate"].get("notes"), usual["gate"]
    pointer = aws("dynamodb").get_item(
        TableName=stack["RecommendationsTable"], Key={"pk": {"S": f"rs#{result_set}"}}, ConsistentRead=True
    )["Item"]
    assert pointer["version"]["S"] == usual["delivery"]["version"]


@pytest.mark.parametrize(
    ("gate", "path", "code"),
    [
        ({"min": {"catalog_coverag": 0.05}}, "$.quality_gate.min.catalog_coverag", "unknown_field"),
        ({"max_change": {"users_personalized": 0.2}, "on_fail": "retry"}, "$.quality_gate.on_fail", "invalid_choice"),
    ],
)
def test_a_malformed_gate_is_refused_at_submission_naming_the_field(api, container_form, gate, path, code):
    response = api.post_job(container_form(quality_gate=gate))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "InvalidForm", error
    assert (path, code) in {(p["path"], p["code"]) for p in error["problems"]}, error["problems"]


def test_the_metrics_stored_with_a_version_are_those_of_its_score_files(recoflow, api, first_versions):
    first = first_versions["held"]
    form, job = first["form"], first["job"]
    stored = result_set_versions(api, form["result_set"])[job["delivery"]["version"]]["metrics"]
    lists = written_lists(recoflow, job)
    assert_metrics_recomputed(stored, recomputed(lists, form["num_results"], catalogue_size()))
    assert stored["banned_served"] == 0
    assert stored["segments_published"] == job["counts"]["segments_published"]
    assert "overlap_at_k" not in stored, "a first version has nothing to compare with"
