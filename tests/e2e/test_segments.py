"""Segments and fallbacks on any attribute (issue 18), end to end on the local stack: a users
file with PREFECTURE and MEMBER_RANK columns (made here, some prefectures written with the
compatibility ideograph 都, U+FA26, which NFC makes the unified 都), a job whose segment and
fallback dimensions are those columns; new users get their segment's list by query parameters
named in any case, NFC-normalised; the version's dimensions are its only attribute parameters;
a column the users file lacks, or a range over a column of text, fails the job in Prepare
naming the column, with nothing launched."""

import collections
import csv
import io
import unicodedata

import pytest

from e2e_helpers import EXAMPLE_DATA, assert_finished_ok, container_form_for, run_concurrently, statuses, unique

JOB_TIMEOUT = 240
TOKYO, OSAKA, HOKKAIDO = "東京都", "大阪府", "北海道"
# 都 as CJK COMPATIBILITY IDEOGRAPH-FA26: another code point, the same text after NFC.
TOKYO_VARIANT = "東京\ufa26"
PREFECTURES = {"tokyo": TOKYO, "osaka": OSAKA}
RANKS = ["gold", "silver", "trial"]
SEGMENT = {"attributes": {"PREFECTURE": {"in": [TOKYO, OSAKA]}, "member_rank": {"not_in": ["trial"]}}}
FALLBACK = {"attributes": ["PREFECTURE", "MEMBER_RANK"], "min_users": 2}


def members() -> list:
    """The example users with a prefecture (from their region) and a member rank; every third
    Tokyo user's prefecture written with the compatibility ideograph."""
    rows = []
    with (EXAMPLE_DATA / "users.csv").open(newline="") as f:
        for i, row in enumerate(csv.DictReader(f)):
            prefecture = PREFECTURES.get(row["REGION"], HOKKAIDO)
            if prefecture == TOKYO and i % 3 == 0:
                prefecture = f" {TOKYO_VARIANT} "
            rows.append({**row, "PREFECTURE": prefecture, "MEMBER_RANK": RANKS[i % 3]})
    return rows


def members_csv(rows: list) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value.strip())


def in_segment(row: dict) -> bool:
    return nfc(row["PREFECTURE"]) in (TOKYO, OSAKA) and row["MEMBER_RANK"] != "trial"


def popular_for(rows: list, prefecture: str, rank: str) -> list:
    """The segment's items, most interacted first (ties by item id), as Deliver ranks them."""
    users = {r["USER_ID"] for r in rows if nfc(r["PREFECTURE"]) == prefecture and r["MEMBER_RANK"] == rank}
    counts = collections.Counter()
    with (EXAMPLE_DATA / "interactions.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if row["USER_ID"] in users:
                counts[row["ITEM_ID"]] += 1
    return [item for item, _ in sorted(counts.items(), key=lambda c: (-c[1], c[0]))]


def item_ids(answer: dict) -> list:
    return [i["item_id"] for i in answer["items"]]


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def members_uri(aws, stack) -> str:
    key = f"e2e/{unique('members')}/members.csv"
    aws("s3").put_object(Bucket=stack["DataBucket"], Key=key, Body=members_csv(members()))
    return f"s3://{stack['DataBucket']}/{key}"


def members_form(data_uris: dict, members_uri: str, **overrides) -> dict:
    form = container_form_for(data_uris, **{"segment": SEGMENT, "fallback": FALLBACK, **overrides})
    form["dataset"]["users"] = members_uri
    return form


@pytest.fixture(scope="module")
def ended(recoflow, data_uris, members_uri, suite_faults):
    """The members job and the two that must fail in Prepare, run side by side."""
    forms = {
        "members": members_form(data_uris, members_uri),
        "unknown_column": members_form(
            data_uris, members_uri, segment={"attributes": {"CITY": {"in": ["sapporo"]}}}
        ),
        "range_on_text": members_form(data_uris, members_uri, segment={"attributes": {"MEMBER_RANK": {"min": 1}}}),
    }

    def run(form):
        job_id = recoflow.submit(form)
        return recoflow.wait_ended(job_id, JOB_TIMEOUT)

    results = run_concurrently(*[lambda form=form: run(form) for form in forms.values()])
    return {name: {"form": form, "job": job, "execution": execution}
            for (name, form), (job, execution) in zip(forms.items(), results)}


@pytest.fixture(scope="module")
def delivered(ended) -> dict:
    run = ended["members"]
    assert_finished_ok(run["job"], run["execution"])
    return run


def test_the_segment_on_any_columns_scores_exactly_its_users(recoflow, delivered):
    expected = {r["USER_ID"] for r in members() if in_segment(r)}
    assert any(TOKYO_VARIANT in r["PREFECTURE"] and in_segment(r) for r in members()), "the data tests NFC"
    job = delivered["job"]
    assert job["counts"]["users_to_score"] == len(expected), job["counts"]
    scored = {line["input"]["userId"] for line in recoflow.score_lines(job["job_id"]) if not line.get("error")}
    assert scored and scored <= expected, (len(scored), len(expected))


@pytest.mark.parametrize(
    "query",
    [
        {"prefecture": TOKYO, "member_rank": "gold"},
        {"PREFECTURE": f"  {TOKYO_VARIANT}", "Member_Rank": "gold"},
    ],
    ids=["composed", "compatibility-ideograph-and-any-case"],
)
def test_a_new_user_gets_the_list_of_the_segment_the_query_names(api, delivered, query):
    rows = members()
    answer = ok(api.recommendations(delivered["form"]["result_set"], unique("new"), n="5", **query))
    assert answer["source"] == "segment", answer
    assert answer["segment"] == f"MEMBER_RANK=gold|PREFECTURE={TOKYO}", answer
    assert item_ids(answer) == popular_for(rows, TOKYO, "gold")[:5], answer


def test_a_broader_segment_answers_when_the_narrow_one_has_no_list(api, delivered):
    answer = ok(api.recommendations(delivered["form"]["result_set"], unique("new"), prefecture=OSAKA, member_rank="bronze"))
    assert answer["source"] == "segment", answer
    assert answer["segment"] == f"PREFECTURE={OSAKA}", "PREFECTURE is kept longest"


def test_a_known_user_outside_the_segment_gets_the_segment_stored_for_them(api, delivered):
    rows = members()
    user = next(r for r in rows if nfc(r["PREFECTURE"]) == HOKKAIDO and r["MEMBER_RANK"] == "silver")
    answer = ok(api.recommendations(delivered["form"]["result_set"], user["USER_ID"]))
    assert answer["source"] == "segment", answer
    assert answer["segment"] == f"MEMBER_RANK=silver|PREFECTURE={HOKKAIDO}", answer


@pytest.mark.parametrize("query, parameter", [({"gender": "F"}, "gender"), ({"age": "27"}, "age")])
def test_attributes_that_are_not_the_version_s_dimensions_are_400(api, delivered, query, parameter):
    response = api.recommendations(delivered["form"]["result_set"], unique("new"), **query)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "InvalidParameter"
    assert error["message"].startswith(f"{parameter}:"), error
    assert "member_rank, prefecture" in error["message"], error


@pytest.mark.parametrize(
    "run, named",
    [
        ("unknown_column", "has no CITY column, which segment.attributes.CITY needs"),
        ("range_on_text", "column MEMBER_RANK holds"),
    ],
)
def test_a_column_the_users_file_cannot_give_fails_in_prepare_with_nothing_launched(recoflow, ended, run, named):
    job, execution = ended[run]["job"], ended[run]["execution"]
    assert execution == "FAILED"
    assert statuses(job) == ["RECEIVED", "QUEUED", "PREPARING", "FAILED"], statuses(job)
    assert job["failure"]["error"] == "DatasetInvalid", job["failure"]
    assert (job["failure"]["status"], job["failure"]["state"]) == ("PREPARING", "Prepare"), job["failure"]
    assert named in job["failure"]["cause"], job["failure"]
    assert job["resources"] == []
    assert recoflow.holders_of(job["job_id"]) == {}
    assert recoflow.training_jobs(NameContains=job["job_id"]) == []
    assert recoflow.processing_jobs(NameContains=job["job_id"]) == []
