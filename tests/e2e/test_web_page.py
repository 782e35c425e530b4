"""Issue 9: the web page for business users, driven in headless Chromium against the deployed
local stack. The browser is Debian's /usr/bin/chromium (scripts/install-browser.sh, run by
make install), driven by Playwright; no browser is ever downloaded. Screenshots of the pages
are saved under build/test-artifacts/."""

import re
import time
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from e2e_helpers import FINAL_STATUSES, REPO, RUNNING_STATUSES, personalize_form_for, resources_of, unique

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium dials out at start (updates, sync, QUIC),
# which this machine's closed network refuses.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = REPO / "build" / "test-artifacts"

# Each page call is a Lambda invocation on the local stack: allow for a cold start.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser.sh (part of make install)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def token(aws, stack) -> str:
    parameter = aws("ssm").get_parameter(Name=stack["UiTokenParameter"], WithDecryption=True)
    return parameter["Parameter"]["Value"]


@pytest.fixture
def page(browser, stack, token):
    """The form page in a fresh tab, with the access token typed into its token box."""
    context = browser.new_context(locale="en-US", timezone_id="UTC", viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(stack["WebPageUrl"])
    page.fill("#token", token)  # the box appears when the page first calls the API
    page.click("#token-save")
    yield page
    context.close()
    assert not errors, f"the page's script failed: {errors}"


def screenshot(page, name: str):
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def fill_valid_form(page, data_uris) -> dict:
    """Fills a valid Amazon Personalize form, choosing the example data the picker offers."""
    for name in ("interactions.csv", "users.csv", "items.csv"):
        expect(page.locator(f'#data-files option[value="{data_uris[name]}"]')).to_have_count(1)
    values = {"job_name": unique("web"), "result_set": unique("web"), "submitted_by": "web-page@example.com"}
    for field, value in values.items():
        page.fill(f"#{field}", value)
    page.check("input[name=backend][value=personalize]")
    page.fill("#num_results", "10")
    page.fill("#interactions", data_uris["interactions.csv"])
    page.fill("#users", data_uris["users.csv"])
    page.fill("#items", data_uris["items.csv"])
    page.check("input[name=gender][value=F]")
    page.fill("#region", "tokyo, osaka")
    return values


def submit(page):
    """Clicks the submit button; the API's answer to the page's POST."""
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/ui/api/jobs")) as answer:
        page.click("#submit")
    return answer.value


def test_a_valid_form_is_followed_live_to_success(page, data_uris, suite_faults):
    values = fill_valid_form(page, data_uris)
    answer = submit(page)
    assert answer.status == 202, answer.text()
    job_id = answer.json()["job_id"]
    expect(page.locator("#job-id")).to_have_text(job_id)
    expect(page.locator("#job-form")).to_be_hidden()

    # Watch the status the page shows, as a person would, until it is final.
    seen, deadline = [], time.monotonic() + 180
    while time.monotonic() < deadline:
        status = page.locator("#job-status").get_attribute("class").removeprefix("status").strip()
        if status and (not seen or seen[-1] != status):
            seen.append(status)
        if status in FINAL_STATUSES:
            break
        time.sleep(0.25)
    assert seen and seen[-1] == "SUCCEEDED", f"the page showed {seen}: {page.inner_text('#progress')}"
    assert RUNNING_STATUSES & set(seen), f"the page never showed the job running: {seen}"
    expect(page.locator("#job-status")).to_have_text("done (SUCCEEDED)")
    expect(page.locator("#job-history li").last).to_contain_text("SUCCEEDED")
    expect(page.locator("#job-failure")).to_be_hidden()

    # The link to try the recommendations API, and its answer shown on the page.
    link = page.locator("#try-link")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", re.compile(f"ui/api/recommendations/{values['result_set']}/"))
    link.click()
    expect(page.locator("#try-answer")).to_contain_text('"items"')
    expect(page.locator("#job-failure")).to_be_hidden()
    screenshot(page, "web-form-submitted.png")

    # The finished job reads in Japanese too.
    page.select_option("#language", "ja")
    expect(page.locator("#job-status")).to_have_text("完了 (SUCCEEDED)")


def test_b_each_problem_is_shown_beside_its_field(page, data_uris):
    page.fill("#job_name", "")
    page.fill("#submitted_by", "web-page@example.com")
    page.fill("#result_set", unique("web"))
    page.fill("#num_results", "0")
    page.fill("#interactions", "s3://not-an-allowed-bucket/interactions.csv")
    page.fill("#users", data_uris["users.csv"])
    answer = submit(page)
    assert answer.status == 400, answer.text()
    problems = answer.json()["error"]["problems"]
    assert {("$.job_name", "missing_field"), ("$.num_results", "out_of_range"),
            ("$.dataset.interactions", "bucket_not_allowed")} <= {(p["path"], p["code"]) for p in problems}

    # Every problem of the API's answer, with its code and message, beside its own field.
    for problem in problems:
        field = page.locator(f'[data-path="{problem["path"]}"]')
        expect(field).to_have_class(re.compile(r"\binvalid\b"))
        line = field.locator(f':scope > .problems > .problem[data-code="{problem["code"]}"]')
        expect(line).to_have_text(f'{problem["message"]} ({problem["code"]})')
    expect(page.locator(".problem")).to_have_count(len(problems))
    expect(page.locator("#banner")).to_have_text("The form has problems; nothing was started. See the fields marked in red.")
    expect(page.locator("#progress")).to_be_hidden()
    screenshot(page, "web-form-problems.png")


def test_c_the_language_switches_to_japanese_and_back(page):
    page.select_option("#language", "ja")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page).to_have_title("recoflow – 新しいレコメンドジョブ")
    expect(page.locator("label[for=job_name]")).to_have_text("ジョブ名")
    expect(page.locator("legend[data-i18n='section.segment']")).to_have_text("対象の顧客")
    expect(page.locator("#submit")).to_have_text("ジョブを開始")
    screenshot(page, "web-form-ja.png")

    # The choice holds on the jobs page (same tab), and switches back there.
    page.click("a[data-i18n='nav.jobs']")
    expect(page.locator("th[data-i18n='jobs.status']")).to_have_text("状態")
    page.select_option("#language", "en")
    expect(page.locator("th[data-i18n='jobs.status']")).to_have_text("Status")
    page.go_back()
    expect(page.locator("label[for=job_name]")).to_have_text("Job name")
    expect(page.locator("#submit")).to_have_text("Start the job")


def test_d_recent_jobs_are_listed_newest_first(page, data_uris, suite_faults):
    fill_valid_form(page, data_uris)
    answer = submit(page)
    assert answer.status == 202, answer.text()
    job_id = answer.json()["job_id"]
    expect(page.locator("#job-id")).to_have_text(job_id)

    page.click("a[data-i18n='nav.jobs']")
    row = page.locator(f'#jobs tr[data-job-id="{job_id}"]')
    expect(row).to_be_visible()
    expect(row.locator("td").nth(4)).to_have_text("web-page@example.com")
    expect(row.locator("td.status")).to_have_attribute("data-status", re.compile(r"^[A-Z_]+$"))

    created = [datetime.strptime(text.replace("\u202f", " "), "%m/%d/%Y, %I:%M:%S %p")
               for text in page.locator("#jobs tr td:nth-child(4)").all_inner_texts()]
    assert len(created) > 1 and created == sorted(created, reverse=True), created
    screenshot(page, "web-jobs.png")


def test_e_the_result_set_view_charts_versions_and_switches_them(browser, stack, token, recoflow, data_uris, suite_faults):
    """Two jobs on one result set make two versions; the view lists them with their states,
    charts each metric across them as inline SVG, and promotes (asking why) and rolls back."""
    result_set = unique("web-rs")
    first = recoflow.submit(personalize_form_for(data_uris, result_set=result_set))
    first_job, _ = recoflow.wait_ended(first, timeout=300)
    second = recoflow.submit(personalize_form_for(data_uris, result_set=result_set))
    second_job, _ = recoflow.wait_ended(second, timeout=300)
    assert (first_job["status"], second_job["status"]) == ("SUCCEEDED", "SUCCEEDED")
    older, newer = first_job["delivery"]["version"], second_job["delivery"]["version"]

    context = browser.new_context(locale="en-US", timezone_id="UTC", viewport={"width": 1200, "height": 1000})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(stack["WebPageUrl"] + "ui/result-sets?result_set=" + result_set)
    page.fill("#token", token)
    page.click("#token-save")
    expect(page.locator(f'#result-sets tr[data-result-set="{result_set}"]')).to_be_visible()
    rows = page.locator("#versions tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#rs-current")).to_have_text(newer)
    expect(page.locator(f'#versions tr[data-version="{newer}"] td.state')).to_have_attribute("data-state", "CURRENT")
    expect(page.locator(f'#versions tr[data-version="{older}"] td.state')).to_have_attribute("data-state", "SUPERSEDED")
    # A chart per metric the versions have, a point per version, the current one marked.
    chart = page.locator('#charts svg.chart[data-metric="users_personalized"]')
    expect(chart).to_be_visible()
    expect(chart.locator("circle.point")).to_have_count(2)
    expect(chart.locator(f'circle.point.CURRENT[data-version="{newer}"]')).to_have_count(1)
    assert page.locator("#charts svg.chart").count() >= 5
    screenshot(page, "web-result-set.png")

    # Promote asks why; without a reason nothing is sent.
    page.click(f'#versions tr[data-version="{older}"] button.promote')
    expect(page.locator("#promote-box")).to_be_visible()
    page.click("#promote-confirm")
    expect(page.locator("#banner")).to_have_text("Say why the version is promoted.")
    page.fill("#promote-reason", "the web page's test")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/promote")) as answer:
        page.click("#promote-confirm")
    assert answer.value.status == 200, answer.value.text()
    expect(page.locator("#banner")).to_have_text(f"Version {older} is serving now.")
    expect(page.locator("#rs-current")).to_have_text(older)
    expect(page.locator(f'#versions tr[data-version="{older}"] td.state')).to_have_attribute("data-state", "CURRENT")
    expect(page.locator(f'#versions tr[data-version="{older}"] td').nth(5)).to_contain_text("the web page's test")

    page.select_option("#language", "ja")
    expect(page.locator(f'#versions tr[data-version="{older}"] td.state')).to_have_text("配信中 (CURRENT)")
    expect(page.locator("#rollback")).to_have_text("ロールバック")
    page.click("#rollback")
    expect(page.locator("#rs-current")).to_have_text(newer)
    expect(page.locator("#banner")).to_have_text(f"ロールバックしました。バージョン {newer} を配信中です。")
    screenshot(page, "web-result-set-ja.png")
    context.close()
    assert not errors, f"the page's script failed: {errors}"


def test_f_a_repeated_form_is_a_schedule_listed_in_the_viewers_zone_and_paused(browser, stack, token, data_uris):
    """The form's Repeat block makes a schedule (its next runs shown in the viewer's time); the
    schedules page lists it with its next run in the viewer's zone (Asia/Tokyo here) and pauses
    and resumes it, in English and Japanese."""
    context = browser.new_context(locale="en-US", timezone_id="Asia/Tokyo", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(stack["WebPageUrl"])
    page.fill("#token", token)
    page.click("#token-save")
    values = fill_valid_form(page, data_uris)
    # The zone is the viewer's until changed; every Monday at 03:00 in New York.
    expect(page.locator("#schedule_timezone")).to_have_value("Asia/Tokyo")
    page.fill("#schedule_expression", "cron(0 3 ? * MON *)")
    page.fill("#schedule_timezone", "America/New_York")
    answer = submit(page)
    assert answer.status == 201, answer.text()
    schedule = answer.json()
    expect(page.locator("#schedule-id")).to_have_text(schedule["schedule_id"])
    expect(page.locator("#schedule-next li")).to_have_count(5)
    screenshot(page, "web-schedule-created.png")

    page.goto(stack["WebPageUrl"] + "ui/schedules")
    row = page.locator(f'#schedules tr[data-schedule-id="{schedule["schedule_id"]}"]')
    expect(row).to_be_visible()
    expect(page.locator("#viewer-zone")).to_have_text("Asia/Tokyo")
    # 03:00 in New York is 17:00 (EST) or 16:00 (EDT) in Tokyo: shown in the viewer's time.
    next_run = datetime.fromisoformat(schedule["next_runs"][0]["utc"].replace("Z", "+00:00"))
    tokyo_hour = (next_run.hour + 9) % 24
    expect(row.locator("td.next-run")).to_contain_text(f"{tokyo_hour:02d}:00")
    expect(row.locator("td.state")).to_have_attribute("data-state", "ENABLED")
    with page.expect_response(lambda r: r.request.method == "PATCH") as paused:
        row.locator("button.pause").click()
    assert paused.value.status == 200, paused.value.text()
    expect(row.locator("td.state")).to_have_attribute("data-state", "PAUSED")
    expect(row.locator("td.next-run")).to_have_text("–")
    expect(page.locator("#banner")).to_have_text(
        f"Schedule {values['job_name']} paused: it starts no more jobs until resumed."
    )
    page.select_option("#language", "ja")
    expect(row.locator("td.state")).to_have_text("一時停止中")
    expect(row.locator("button.resume")).to_have_text("再開")
    row.locator("button.resume").click()
    expect(row.locator("td.state")).to_have_attribute("data-state", "ENABLED")
    expect(page.locator("#banner")).to_have_text(f"スケジュール {values['job_name']} を再開しました。")
    screenshot(page, "web-schedules-ja.png")
    context.close()
    assert not errors, f"the page's script failed: {errors}"


def test_g_the_placement_view_shows_arms_kpis_with_intervals_and_a_daily_chart(browser, stack, token, aws, api):
    """An A/B placement on two result sets, answers and events through the API; the view lists
    it, shows its arms and split, each arm's KPIs with an interval bar, the difference against
    the first arm, and the CTR per day as an inline SVG; then in Japanese."""
    from placements_helpers import PlacementApi, event, two_result_sets

    placements = PlacementApi(api)
    a, b = two_result_sets(aws, stack, 20)
    name = unique("web-pl")
    document = {"schema_version": 1, "placement": name, "n": 3,
                "experiment": {"type": "ab", "salt": "web", "arms": [
                    {"name": "control", "result_set": a, "weight": 60}, {"name": "candidate", "result_set": b, "weight": 40}]}}
    assert placements.put(name, document).status_code == 201
    events = []
    for u in range(20):
        answer = placements.serve(name, f"u{u}").json()
        rid = answer["recommendation_id"]
        events.append(event(f"{name}-{u}-i", "impression", rid, f"u{u}"))
        if u % 3 == 0:
            events.append(event(f"{name}-{u}-c", "click", rid, f"u{u}", item=answer["items"][0]["item_id"]))
    assert placements.events(events).json()["accepted"] == len(events)

    context = browser.new_context(locale="en-US", timezone_id="UTC", viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(stack["WebPageUrl"] + "ui/placements?placement=" + name)
    page.fill("#token", token)
    page.click("#token-save")
    expect(page.locator(f'#placements tr[data-placement="{name}"]')).to_be_visible()
    expect(page.locator("#pl-name")).to_have_text(name)
    expect(page.locator('#arms tr[data-arm="control"] td.share')).to_have_text("60 %")
    expect(page.locator('#arms tr[data-arm="candidate"] td.share')).to_have_text("40 %")
    expect(page.locator("#kpis tr")).to_have_count(2)
    impressions = sum(int(page.locator(f'#kpis tr[data-arm="{arm}"] td.impressions').inner_text()) for arm in ("control", "candidate"))
    assert impressions == 20
    expect(page.locator('#kpis tr[data-arm="control"] span.interval[data-kpi="ctr"] svg.interval-bar rect.range')).to_have_count(1)
    expect(page.locator('#kpis tr[data-arm="candidate"] td.versus')).to_contain_text("p =")
    expect(page.locator('#kpis tr[data-arm="control"] td.versus')).to_have_text("–")
    chart = page.locator("#daily svg.chart.daily")
    expect(chart).to_be_visible()
    expect(chart.locator("polyline.series")).to_have_count(2)
    screenshot(page, "web-placement.png")
    page.select_option("#language", "ja")
    expect(page.locator("h3 [data-i18n='pl.kpis']")).to_have_text("アームごとの KPI")
    expect(page.locator('#arms tr[data-arm="control"] td').nth(1)).to_have_text("A/B")
    expect(page.locator('#kpis tr[data-arm="candidate"] td.versus')).to_contain_text("有意")
    screenshot(page, "web-placement-ja.png")
    context.close()
    assert not errors, f"the page's script failed: {errors}"


def test_h_a_failed_job_is_retried_and_a_running_one_cancelled_from_the_jobs_list(page, recoflow, faults, container_form):
    failed = recoflow.submit(container_form(segment={"region": ["atlantis"]}))
    failed_job, _ = recoflow.wait_ended(failed, timeout=90)
    assert failed_job["status"] == "FAILED", failed_job
    # Long SageMaker jobs: still training when the button is clicked.
    faults.set({"durations": {"sagemaker": 60.0}})
    running = recoflow.submit(container_form(instance_type="ml.m5.xlarge"))
    recoflow.wait_job(
        running,
        "training job running",
        lambda j: any(r["state"] == "RUNNING" for r in resources_of(j, "training-job")),
        timeout=60,
    )

    page.click("a[data-i18n='nav.jobs']")
    failed_row = page.locator(f'#jobs tr[data-job-id="{failed}"]')
    running_row = page.locator(f'#jobs tr[data-job-id="{running}"]')
    expect(failed_row.locator("button[data-action='jobs.cancel']")).to_have_count(0)
    expect(running_row.locator("button[data-action='jobs.retry']")).to_have_count(0)

    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(f"/ui/api/jobs/{failed}/retry")) as answer:
        failed_row.locator("button[data-action='jobs.retry']").click()
    assert answer.value.status == 202, answer.value.text()
    retry = answer.value.json()["job_id"]
    expect(page.locator("#banner")).to_have_text(f"Job {retry} retries {failed}.")
    expect(page.locator(f'#jobs tr[data-job-id="{retry}"]')).to_be_visible()
    assert recoflow.job(failed)["retried_by"] == retry
    # Retried once: the row names its retry instead of offering another.
    expect(failed_row.locator(".retried-by")).to_have_text(f"retried by {retry}")
    expect(failed_row.locator("button[data-action='jobs.retry']")).to_have_count(0)

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda r: r.request.method == "DELETE" and r.url.endswith(f"/ui/api/jobs/{running}")) as answer:
        running_row.locator("button[data-action='jobs.cancel']").click()
    assert answer.value.status == 202, answer.value.text()
    expect(page.locator("#banner")).to_have_text(f"Job {running} is cancelled.")
    expect(running_row.locator("td.status")).to_have_attribute("data-status", "CANCELLED")
    assert recoflow.job(running)["status"] == "CANCELLED"
    screenshot(page, "web-jobs-actions.png")
