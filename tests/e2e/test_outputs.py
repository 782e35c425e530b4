"""Audiences and similar items (issue 18), end to end on the local stack, on a data set with
planted taste clusters: user u<k>_<n> interacts mostly (90 %) with the items i<k>_<n> of cluster
k, whose CATEGORY is CATEGORIES[k]; every cluster also has a cold item (in the items file, never
interacted with). Each output goes through both backends to SUCCEEDED, the jobs side by side:
- audiences for an item of cluster k (container; Personalize aws-item-affinity) and for the items
  of a category (Personalize aws-item-attribute-affinity) hold at least 80 % of cluster k's users
  in their top 100, within the segment (no Hokkaido users); GET /audiences/{rs}, its users' pages
  and the CSV agree; the Slack message of the job that asked has a link that downloads the CSV,
  signed with the stack's download signing key (so it lasts the 7 days it says);
- similar items of an item of cluster k (container; aws-similar-items; aws-sims) are mostly
  (>= 80 %) of cluster k; a cold item gets its category's popular items, an item nobody knows the
  global ones; the banned item never appears;
- the recipes no other suite runs (aws-user-personalization-v2, aws-popularity-count) succeed;
- the CLI's audience, audience-users and similar commands answer as the routes do;
- the web page's result-sets view shows an audience result set's audiences and users, and a
  similar-items result set's lists, as the routes give them (headless Chromium)."""

import csv
import io
import json
import random
import subprocess
import urllib.parse

import pytest
import requests
from playwright.sync_api import expect

from e2e_helpers import REPO, assert_finished_ok, container_form_for, personalize_form_for, run_concurrently, unique
from test_cli import cli_env, run_cli
from test_web_page import browser, page, screenshot, token  # noqa: F401  (the page tests' fixtures)

JOB_TIMEOUT = 420
CATEGORIES = ("coat", "shoe", "hat")
USERS_PER_CLUSTER, ITEMS_PER_CLUSTER, EVENTS_PER_USER, IN_CLUSTER = 200, 12, 15, 0.9
HOKKAIDO = "北海道"
SEGMENT = {"attributes": {"PREFECTURE": {"not_in": [HOKKAIDO]}}}
AUDIENCE_SIZE = 100


def cluster_of(entity_id: str) -> int:
    return int(entity_id[1:].split("_")[0])


def cold_item(k: int) -> str:
    return f"i{k}_cold"


def planted() -> dict:
    """The data files' text: interactions, users (with PREFECTURE, every fifth in Hokkaido) and
    items (with CATEGORY, and each cluster's cold item)."""
    rnd = random.Random(18)
    interactions = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"]
    users = ["USER_ID,GENDER,AGE,REGION,PREFECTURE"]
    for k in range(len(CATEGORIES)):
        for n in range(USERS_PER_CLUSTER):
            prefecture = HOKKAIDO if n % 5 == 0 else ("東京都", "大阪府")[n % 2]
            users.append(f"u{k}_{n},{'FM'[n % 2]},{20 + n % 40},{'tokyo' if n % 2 else 'osaka'},{prefecture}")
            for event in range(EVENTS_PER_USER):
                cluster = k if rnd.random() < IN_CLUSTER else rnd.randrange(len(CATEGORIES))
                item = f"i{cluster}_{rnd.randrange(ITEMS_PER_CLUSTER)}"
                interactions.append(f"u{k}_{n},{item},{1700000000 + 60 * event + n},click")
    items = ["ITEM_ID,CATEGORY"] + [
        f"{item},{category}"
        for k, category in enumerate(CATEGORIES)
        for item in [f"i{k}_{n}" for n in range(ITEMS_PER_CLUSTER)] + [cold_item(k)]
    ]
    return {name: "\n".join(lines) + "\n" for name, lines in
            [("interactions.csv", interactions), ("users.csv", users), ("items.csv", items)]}


def prefectures() -> dict:
    rows = csv.DictReader(io.StringIO(planted()["users.csv"]))
    return {row["USER_ID"]: row["PREFECTURE"] for row in rows}


def popular_items(cluster: int | None = None) -> list:
    """Items by interactions, most first (ties by id), of one cluster or all."""
    counts = {}
    for row in csv.DictReader(io.StringIO(planted()["interactions.csv"])):
        if cluster is None or cluster_of(row["ITEM_ID"]) == cluster:
            counts[row["ITEM_ID"]] = counts.get(row["ITEM_ID"], 0) + 1
    return sorted(counts, key=lambda item: (-counts[item], item))


# The most popular item of cluster 1, banned from the similar-items jobs.
BANNED = popular_items(1)[0]


@pytest.fixture(scope="module")
def planted_uris(aws, stack) -> dict:
    prefix = f"e2e/{unique('planted')}"
    uris = {}
    for name, body in {**planted(), "banned.txt": BANNED + "\n"}.items():
        aws("s3").put_object(Bucket=stack["DataBucket"], Key=f"{prefix}/{name}", Body=body.encode())
        uris[name] = f"s3://{stack['DataBucket']}/{prefix}/{name}"
    return uris


def audience_form(uris: dict, backend: str, audience: dict, **overrides) -> dict:
    make = container_form_for if backend == "container" else personalize_form_for
    form = make(uris, output="audience", segment=SEGMENT, audience={**audience, "size": AUDIENCE_SIZE}, **overrides)
    form.pop("num_results", None)
    if backend == "personalize":
        form["personalize"].pop("recipe")  # the output's own: aws-item-affinity or -attribute-affinity
    return form


def similar_form(uris: dict, backend: str, recipe: str | None = None) -> dict:
    make = container_form_for if backend == "container" else personalize_form_for
    form = make(uris, output="similar_items", num_results=10, exclude_items=uris["banned.txt"])
    form.pop("segment")
    del form["dataset"]["users"]
    if backend == "personalize":
        form["personalize"]["recipe"] = recipe or "aws-similar-items"
    return form


SIGNING_KEY_ID = "AKIADOWNLOADSIGNER"


@pytest.fixture(scope="module")
def signing_key(aws, stack):
    """An IAM user's key in the stack's DownloadSigningKeyParameter while the module's jobs
    run: the audience's Slack links are signed with it (without it the role's session signs)."""
    parameter = stack["DownloadSigningKeyParameter"]
    key = {"access_key_id": SIGNING_KEY_ID, "secret_access_key": "local-signing-secret"}
    aws("ssm").put_parameter(Name=parameter, Value=json.dumps(key), Type="SecureString", Overwrite=True)
    yield SIGNING_KEY_ID
    aws("ssm").delete_parameter(Name=parameter)


@pytest.fixture(scope="module")
def ended(recoflow, planted_uris, suite_faults, signing_key) -> dict:
    """Every job of the module, run side by side to their ends."""
    uris = planted_uris
    forms = {
        "audience-container": audience_form(
            uris, "container", {"items": ["i0_3", "i2_5"]}, notify={"on_success": True, "slack_channel": "#ad-segments"}
        ),
        "audience-personalize": audience_form(uris, "personalize", {"items": ["i0_3"]}),
        "audience-filter-personalize": audience_form(uris, "personalize", {"item_filter": {"CATEGORY": ["shoe"]}}),
        "similar-container": similar_form(uris, "container"),
        "similar-personalize": similar_form(uris, "personalize"),
        "similar-sims": similar_form(uris, "personalize", "aws-sims"),
        "user-items-v2": personalize_form_for(
            uris, segment=SEGMENT, personalize={"recipe": "aws-user-personalization-v2", "perform_hpo": False}
        ),
        "user-items-popularity": personalize_form_for(
            uris, segment=SEGMENT, personalize={"recipe": "aws-popularity-count", "perform_hpo": False}
        ),
    }

    def run(form):
        return recoflow.wait_ended(recoflow.submit(form), JOB_TIMEOUT)

    results = run_concurrently(*[lambda form=form: run(form) for form in forms.values()])
    return {name: {"form": form, "job": job, "execution": execution}
            for (name, form), (job, execution) in zip(forms.items(), results)}


def succeeded(ended: dict, name: str) -> dict:
    run = ended[name]
    assert_finished_ok(run["job"], run["execution"])
    return run


def get(api, path: str, **query) -> requests.Response:
    return api.http.get(f"{api.base}{path}", params=query, timeout=30)


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def all_users(api, result_set: str, item: str | None, limit: int) -> tuple[list, int]:
    """Every user of an audience through its pages, and how many pages."""
    users, query, pages = [], {"limit": str(limit), **({"item": item} if item else {})}, 0
    while True:
        page = ok(get(api, f"/audiences/{result_set}/users", **query))
        users += page["users"]
        pages += 1
        if not page["next"]:
            return users, pages
        query["next"] = page["next"]


def csv_rows(aws, stack, result_set: str, version: str, ordinal: int) -> list:
    key = f"audiences/{result_set}/{version}/{ordinal:04d}.csv"
    body = aws("s3").get_object(Bucket=stack["ResultsBucket"], Key=key)["Body"].read()
    return list(csv.DictReader(io.StringIO(body.decode())))


@pytest.mark.parametrize(
    "name, audience, cluster",
    [
        ("audience-container", 0, 0),
        ("audience-container", 1, 2),
        ("audience-personalize", 0, 0),
        ("audience-filter-personalize", 0, 1),
    ],
    ids=["container-i0_3", "container-i2_5", "personalize-affinity", "personalize-attribute-affinity"],
)
def test_an_audience_holds_its_cluster_s_users_within_the_segment_and_its_pages_are_its_csv(
    api, aws, stack, ended, name, audience, cluster
):
    run = succeeded(ended, name)
    result_set = run["form"]["result_set"]
    shown = ok(get(api, f"/audiences/{result_set}"))
    entry = shown["audiences"][audience]
    item = entry.get("item")
    assert shown["columns"] == ["PREFECTURE"], shown
    assert entry["size"] == AUDIENCE_SIZE, entry
    assert shown["size"] == AUDIENCE_SIZE * len(shown["audiences"]), shown
    assert (item is None) == (name == "audience-filter-personalize"), entry
    users, pages = all_users(api, result_set, item, limit=30)
    assert pages == 4, "100 users, 30 a page"
    from_cluster = sum(cluster_of(u["user_id"]) == cluster for u in users)
    assert from_cluster >= 0.8 * AUDIENCE_SIZE, (name, from_cluster)
    home = prefectures()
    assert all(u["attributes"]["PREFECTURE"] == home[u["user_id"]] != HOKKAIDO for u in users)
    scores = [u["score"] for u in users]
    assert scores == sorted(scores, reverse=True), "best first"
    rows = csv_rows(aws, stack, result_set, shown["version"], audience)
    assert [(r["user_id"], float(r["score"]), r["PREFECTURE"]) for r in rows] == [
        (u["user_id"], u["score"], u["attributes"]["PREFECTURE"]) for u in users
    ]
    counted = {}
    for u in users:
        counted[u["attributes"]["PREFECTURE"]] = counted.get(u["attributes"]["PREFECTURE"], 0) + 1
    assert {v["value"]: v["users"] for v in entry["breakdown"]["PREFECTURE"]} == counted, entry["breakdown"]


def test_the_audience_s_slack_message_links_a_csv_that_downloads(ended, slack, aws, stack, signing_key):
    run = succeeded(ended, "audience-container")
    job_id, result_set = run["job"]["job_id"], run["form"]["result_set"]
    [message] = slack.about(job_id)
    body = message["body"]
    assert body["channel"] == "#ad-segments", body
    assert f"{2 * AUDIENCE_SIZE} users in 2 audience(s)" in body["text"], body["text"]
    # Signed with the key, not the role's session: the links last their 7 days, as said.
    assert "Download links work until" in body["text"] and "(in 168 h 0 min)" in body["text"], body["text"]
    [actions] = [b for b in body["blocks"] if b["type"] == "actions" and "CSV" in json.dumps(b)]
    buttons = [e for e in actions["elements"] if e["text"]["text"].startswith("CSV")]
    assert [b["text"]["text"] for b in buttons] == ["CSV: i0_3", "CSV: i2_5"], buttons
    version = run["job"]["delivery"]["version"]
    for ordinal, button in enumerate(buttons):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(button["url"]).query)
        assert query["X-Amz-Credential"][0].startswith(f"{signing_key}/"), button["url"]
        assert "X-Amz-Security-Token" not in query and query["X-Amz-Expires"] == ["604800"], button["url"]
        downloaded = requests.get(button["url"], timeout=30)
        assert downloaded.status_code == 200, downloaded.text[:300]
        key = f"audiences/{result_set}/{version}/{ordinal:04d}.csv"
        assert downloaded.content == aws("s3").get_object(Bucket=stack["ResultsBucket"], Key=key)["Body"].read()
        assert downloaded.content.startswith(b"user_id,score,PREFECTURE\n")


@pytest.mark.parametrize("name", ["similar-container", "similar-personalize", "similar-sims"])
def test_similar_items_are_of_the_item_s_cluster_and_never_the_banned_one(api, ended, name):
    run = succeeded(ended, name)
    result_set = run["form"]["result_set"]
    for k in range(len(CATEGORIES)):
        for item in (f"i{k}_1", f"i{k}_4"):
            answer = ok(get(api, f"/similar-items/{result_set}/{item}", n="5"))
            assert answer["source"] == "similar", answer
            assert answer["category"] == CATEGORIES[k], answer
            ids = [i["item_id"] for i in answer["items"]]
            assert len(ids) == 5 and item not in ids and BANNED not in ids, answer
            in_cluster = sum(cluster_of(i) == k for i in ids)
            assert in_cluster >= 4, (item, ids)


def test_a_cold_item_gets_its_category_s_popular_items_and_a_stranger_the_global_ones(api, ended):
    run = succeeded(ended, "similar-container")
    result_set = run["form"]["result_set"]
    for k in range(len(CATEGORIES)):
        answer = ok(get(api, f"/similar-items/{result_set}/{cold_item(k)}", n="5"))
        assert (answer["source"], answer["category"]) == ("category", CATEGORIES[k]), answer
        expected = [i for i in popular_items(k) if i != BANNED][:5]
        assert [i["item_id"] for i in answer["items"]] == expected, answer
    stranger = ok(get(api, f"/similar-items/{result_set}/{unique('nobody-knows')}", n="5"))
    assert stranger["source"] == "global" and "category" not in stranger, stranger
    assert [i["item_id"] for i in stranger["items"]] == [i for i in popular_items() if i != BANNED][:5]


def test_the_output_routes_refuse_bad_input_and_the_wrong_result_set(api, ended):
    audiences = succeeded(ended, "audience-container")["form"]["result_set"]
    similar = succeeded(ended, "similar-container")["form"]["result_set"]
    lists = succeeded(ended, "user-items-v2")["form"]["result_set"]
    cases = [
        (f"/audiences/{audiences}/users", {"item": "i0_3", "limit": "0"}, 400, "InvalidParameter", "limit:"),
        (f"/audiences/{audiences}/users", {"item": "i9_9"}, 400, "InvalidParameter", "item:"),
        (f"/audiences/{audiences}/users", {"item": "i0_3", "next": "forged"}, 400, "InvalidParameter", "next:"),
        (f"/similar-items/{similar}/i0_1", {"n": "0"}, 400, "InvalidParameter", "n"),
        (f"/similar-items/{similar}/i0_1", {"color": "red"}, 400, "InvalidParameter", "color"),
        (f"/similar-items/{audiences}/i0_1", {}, 404, "ResultSetNotFound", f"GET /audiences/{audiences}"),
        (f"/audiences/{similar}", {}, 404, "ResultSetNotFound", f"GET /similar-items/{similar}/"),
        (f"/recommendations/{audiences}/u0_1", {}, 404, "ResultSetNotFound", f"GET /audiences/{audiences}"),
        (f"/audiences/{unique('none')}", {}, 404, "ResultSetNotFound", "no result set"),
    ]
    for path, query, status, code, says in cases:
        response = get(api, path, **query)
        assert response.status_code == status, (path, query, response.text)
        error = response.json()["error"]
        assert error["code"] == code and says in error["message"], (path, query, error)
    assert ok(api.recommendations(lists, "u0_1"))["items"], "a user_items job of the planted data serves lists"


@pytest.mark.parametrize("name", ["user-items-v2", "user-items-popularity"])
def test_the_recipes_no_other_suite_runs_succeed(recoflow, ended, name):
    run = succeeded(ended, name)
    assert run["job"]["delivery"]["version"], run["job"]


def test_the_cli_shows_audiences_pages_their_users_and_similar_items(api, ended):
    audiences = succeeded(ended, "audience-container")["form"]["result_set"]
    similar = succeeded(ended, "similar-container")["form"]["result_set"]
    shown = json.loads(run_cli("--local", "--json", "audience", audiences).stdout)
    assert shown == ok(get(api, f"/audiences/{audiences}"))
    first = json.loads(run_cli("--local", "--json", "audience-users", audiences, "--item", "i2_5", "--limit", "60").stdout)
    second = json.loads(
        run_cli("--local", "--json", "audience-users", audiences, "--item", "i2_5", "--next", first["next"]).stdout
    )
    users, _ = all_users(api, audiences, "i2_5", limit=100)
    assert [u["user_id"] for u in first["users"] + second["users"]] == [u["user_id"] for u in users]
    assert second["next"] is None
    text = run_cli("--local", "audience", audiences).stdout
    assert "i0_3" in text and "PREFECTURE" in text, text
    answer = json.loads(run_cli("--local", "--json", "similar", similar, "i0_1", "--n", "5").stdout)
    assert answer["source"] == "similar" and len(answer["items"]) == 5, answer
    assert run_cli("--local", "similar", similar, "i0_1", "--n", "0").returncode != 0


def test_the_web_page_shows_an_audience_its_users_and_an_item_s_similar_items(ended, api, stack, page):  # noqa: F811
    """The result-sets page of an audience result set: each audience's size and users by
    segment, its users a page of 20 at a time as the API gives them; of a similar-items result
    set: an item's list as the API answers it, and where it came from."""
    result_set = succeeded(ended, "audience-container")["form"]["result_set"]
    page.goto(f"{stack['WebPageUrl']}ui/result-sets?result_set={result_set}")
    rows = page.locator("#audiences tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("item i0_3")
    expect(rows.nth(0).locator("td").nth(1)).to_have_text(str(AUDIENCE_SIZE))
    expect(rows.nth(0)).to_contain_text("PREFECTURE: ")
    expect(page.locator("#aud-summary")).to_contain_text(f"{2 * AUDIENCE_SIZE} users in 2 audience(s)")
    expect(page.locator("#similar-box")).to_be_hidden()
    rows.nth(1).locator("button").click()
    users = page.locator("#aud-users tr")
    expect(users).to_have_count(20)
    page.click("#aud-more")
    expect(users).to_have_count(40)
    from_api, _ = all_users(api, result_set, "i2_5", limit=20)
    assert [users.nth(i).get_attribute("data-user") for i in range(40)] == [u["user_id"] for u in from_api[:40]]
    screenshot(page, "result-set-audiences.png")

    similar = succeeded(ended, "similar-container")["form"]["result_set"]
    page.goto(f"{stack['WebPageUrl']}ui/result-sets?result_set={similar}")
    expect(page.locator("#similar-box")).to_be_visible()
    expect(page.locator("#audiences-box")).to_be_hidden()
    page.fill("#sim-item", "i1_1")
    page.click("#sim-show")
    answer = ok(get(api, f"/similar-items/{similar}/i1_1", n="10"))
    listed = page.locator("#sim-items li")
    expect(listed).to_have_count(len(answer["items"]))
    assert [listed.nth(i).get_attribute("data-item") for i in range(len(answer["items"]))] == [
        i["item_id"] for i in answer["items"]]
    expect(page.locator("#sim-source")).to_contain_text("the item's similar items")
    page.fill("#sim-item", "")
    page.fill("#sim-item", unique("nobody-knows"))
    page.press("#sim-item", "Enter")
    expect(page.locator("#sim-source")).to_contain_text("the popular items")
