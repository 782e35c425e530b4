"""Injected Lambda crashes: the fault endpoint's lambda.crash_next (localstack/extension/EMULATORS.md,
"Lambda: injected crashes"), carried out by the host executor (lambda_host/executor.py).

The functions are `provided.al2023` zips whose `bootstrap` is a Python script speaking the Lambda
Runtime API: it journals when it starts on an event (with its pid and the pid of a child process
in its group), works for the event's `work_seconds`, journals that it finished, and answers.
"""

import io
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROLE = "arn:aws:iam::000000000000:role/recoflow-test-lambda"
RUN = uuid.uuid4().hex[:8]
WORKER = f"crashtest-{RUN}-Deliver"
OTHER = f"crashtest-{RUN}-Other"
WORKER_GLOB = f"crashtest-{RUN}-Deliv*"

BOOTSTRAP = '''#!{python}
import json, os, subprocess, time, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(API + "next") as resp:
        request_id = resp.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(resp.read())
    # a child in the function's process group: a crash must end it too
    child = subprocess.Popen(["sleep", "300"])
    with open(event["journal"], "a") as journal:
        journal.write(json.dumps({{"began": time.time(), "pid": os.getpid(), "child": child.pid}}) + "\\n")
    time.sleep(event["work_seconds"])
    child.kill()
    child.wait()
    with open(event["journal"], "a") as journal:
        journal.write(json.dumps({{"done": True}}) + "\\n")
    body = json.dumps({{"tag": event["tag"], "pid": os.getpid()}}).encode()
    urllib.request.urlopen(urllib.request.Request(API + request_id + "/response", data=body, method="POST")).read()
'''


@pytest.fixture(scope="module")
def lam(client_for):
    return client_for("lambda")


@pytest.fixture(scope="module", autouse=True)
def functions(lam):
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        archive.writestr(info, BOOTSTRAP.format(python=sys.executable))
    for name in (WORKER, OTHER):
        lam.create_function(FunctionName=name, Runtime="provided.al2023", Handler="bootstrap", Role=ROLE,
                            Code={"ZipFile": code.getvalue()}, Timeout=30, MemorySize=256)
    for name in (WORKER, OTHER):
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    yield
    for name in (WORKER, OTHER):
        lam.delete_function(FunctionName=name)


class Invocation:
    """One invoke of a test function and what its journal says happened inside it."""

    def __init__(self, lam, function: str, tag: str, work_seconds: float, journal: Path):
        self.journal = journal
        event = {"tag": tag, "work_seconds": work_seconds, "journal": str(journal)}
        response = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        self.ended = time.time()
        self.error = response.get("FunctionError")
        self.result = json.loads(response["Payload"].read())

    def entries(self) -> list[dict]:
        return [json.loads(line) for line in self.journal.read_text().splitlines()]

    @property
    def began(self) -> dict:
        return self.entries()[0]

    @property
    def finished(self) -> bool:
        return any(entry.get("done") for entry in self.entries())

    @property
    def crashed(self) -> bool:
        return self.error == "Unhandled" and self.result.get("errorType") == "Runtime.ExitError"


@pytest.fixture
def invoke(lam, tmp_path):
    journals = iter(range(1_000_000))
    return lambda function, tag, work_seconds: Invocation(
        lam, function, tag, work_seconds, tmp_path / f"journal-{next(journals)}.jsonl")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; only its parent has not reaped it yet


def rules(faults_api) -> list[dict]:
    return faults_api("GET")["lambda"]["crash_next"]


def crash(after_seconds: float, count: int | None = None, function: str = WORKER_GLOB, payload_contains: str | None = None):
    rule = {"function": function, "after_seconds": after_seconds}
    if count is not None:
        rule["count"] = count
    if payload_contains is not None:
        rule["payload_contains"] = payload_contains
    return rule


# --- the document -------------------------------------------------------------------------------


@pytest.mark.parametrize("section, message", [
    ([], "lambda must be an object with only crash_next"),
    ({"crash_now": []}, "lambda must be an object with only crash_next"),
    ({"crash_next": {"function": "f"}}, "lambda.crash_next must be a list of crash rules"),
    ({"crash_next": ["f"]}, "lambda.crash_next[0] must be an object"),
    ({"crash_next": [crash(1), {"function": "f", "after_seconds": 1, "times": 2}]}, "lambda.crash_next[1]: unknown field times"),
    ({"crash_next": [{"after_seconds": 1}]}, "lambda.crash_next[0].function must be a function name or an fnmatch glob"),
    ({"crash_next": [crash(1, function="")]}, "lambda.crash_next[0].function must be"),
    ({"crash_next": [{"function": "f"}]}, "lambda.crash_next[0].after_seconds is required"),
    ({"crash_next": [crash(-0.5)]}, "lambda.crash_next[0].after_seconds must be a number from 0 to 900"),
    ({"crash_next": [crash(901)]}, "lambda.crash_next[0].after_seconds must be a number from 0 to 900"),
    ({"crash_next": [crash("1")]}, "lambda.crash_next[0].after_seconds must be a number"),
    ({"crash_next": [crash(True)]}, "lambda.crash_next[0].after_seconds must be a number"),
    ({"crash_next": [crash(1, count=0)]}, "lambda.crash_next[0].count must be an integer of at least 1"),
    ({"crash_next": [crash(1, count=1.5)]}, "lambda.crash_next[0].count must be an integer of at least 1"),
    ({"crash_next": [crash(1, count=True)]}, "lambda.crash_next[0].count must be an integer of at least 1"),
    ({"crash_next": [crash(1, payload_contains="")]}, "lambda.crash_next[0].payload_contains must be a non-empty string"),
    ({"crash_next": [{**crash(1), "payload_contains": 7}]}, "lambda.crash_next[0].payload_contains must be a non-empty string"),
])
def test_a_bad_crash_rule_is_refused_naming_the_field_and_changes_nothing(endpoint, faults_api, section, message):
    before = faults_api("GET")
    request = urllib.request.Request(f"{endpoint}/_recoflow/faults", data=json.dumps({"lambda": section}).encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert message in json.load(refused.value)["error"]
    assert faults_api("GET") == before


def test_a_rule_is_shown_whole_a_post_replaces_the_list_and_delete_clears_it(faults_api, faults):
    assert rules(faults_api) == []
    shown = faults({"lambda": {"crash_next": [crash(0.5, payload_contains="part-0003")]}})
    assert shown["lambda"]["crash_next"] == [crash(0.5, count=1, payload_contains="part-0003")]
    faults({"lambda": {"crash_next": [crash(2, count=3)]}})
    assert rules(faults_api) == [crash(2, count=3)]
    faults({"throttle": {"sagemaker": {"rate": 0.0}}})  # another section leaves the rules alone
    assert rules(faults_api) == [crash(2, count=3)]
    faults_api("DELETE")
    assert rules(faults_api) == []


# --- crashes ------------------------------------------------------------------------------------


def test_a_matching_invocation_is_killed_after_the_seconds_and_the_next_runs_in_a_fresh_process(faults_api, faults, invoke):
    warm = invoke(WORKER, "part-0001", 0)
    faults({"lambda": {"crash_next": [crash(1.0, payload_contains='part-0002')]}})

    crashed = invoke(WORKER, "part-0002", 8)

    assert crashed.crashed, crashed.result
    assert crashed.result["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    assert crashed.began["pid"] == warm.began["pid"], "the warm process took the event"
    # killed about a second into its work, long before the 8 s it would have taken
    assert 0.9 <= crashed.ended - crashed.began["began"] < 4.0
    assert not crashed.finished
    # the whole process group went: the function's child too
    deadline = time.monotonic() + 5
    while alive(crashed.began["child"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(crashed.began["pid"]) and not alive(crashed.began["child"])
    assert rules(faults_api) == [], "a rule of count 1 is used up by one crash"

    again = invoke(WORKER, "part-0002", 0)  # the retry of the same work
    assert again.error is None and again.result == {"tag": "part-0002", "pid": again.began["pid"]}
    assert again.began["pid"] != crashed.began["pid"]


def test_another_payload_or_function_is_not_crashed_and_uses_up_nothing(faults_api, faults, invoke):
    rule = crash(0.3, count=1, payload_contains="part-0007")
    faults({"lambda": {"crash_next": [rule]}})

    other_payload = invoke(WORKER, "part-0008", 1.0)
    other_function = invoke(OTHER, "part-0007", 1.0)

    assert other_payload.error is None and other_payload.finished
    assert other_function.error is None and other_function.finished
    assert rules(faults_api) == [rule]


def test_a_function_that_answers_before_the_rule_falls_due_uses_up_nothing(faults_api, faults, invoke):
    rule = crash(3.0, count=1, function=WORKER)
    faults({"lambda": {"crash_next": [rule]}})

    quick = invoke(WORKER, "part-0011", 0.2)

    assert quick.error is None and quick.finished
    assert rules(faults_api) == [rule]


def test_count_is_exact_when_matching_invocations_run_at_once(faults_api, faults, invoke):
    faults({"lambda": {"crash_next": [crash(1.0, count=2)]}})

    # three workers at once: each works long enough that all three overlap on a loaded machine
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda i: invoke(WORKER, f"part-002{i}", 6), range(3)))

    assert sorted(r.crashed for r in results) == [False, True, True], [r.result for r in results]
    assert len({r.began["pid"] for r in results}) == 3, "the three ran in processes of their own"
    survivor = next(r for r in results if not r.crashed)
    assert survivor.error is None and survivor.finished
    assert not any(r.finished for r in results if r.crashed)
    assert rules(faults_api) == []

    after = invoke(WORKER, "part-0020", 0)
    assert after.error is None and after.finished
