"""End-to-end tests of the `recoflow` command line (issue 22): the built binary
(target/${CARGO_PROFILE:-local}/recoflow, built by scripts/build-functions.sh with the functions)
driven against the deployed local stack, exactly as a data scientist or CI would run it."""

import fcntl
import http.server
import json
import os
import pty
import re
import select
import socket
import struct
import subprocess
import tempfile
import termios
import threading
import time
import uuid
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from e2e_helpers import REPO, personalize_form_for, unique

BINARY = REPO / "target" / os.environ.get("CARGO_PROFILE", "local") / "recoflow"
INVALID_FORMS = REPO / "examples" / "forms" / "invalid"
# The stack's LocalStack, as tests/conftest.py finds it.
ENDPOINT = os.environ.get("LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def cli_env(**extra) -> dict:
    """The environment a user of the local stack has: no RECOFLOW_* settings, no config file
    (HOME is empty), AWS's test credentials, and nothing that could reach out to EC2 metadata."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECOFLOW_", "AWS_"))}
    env.update(
        HOME=tempfile.mkdtemp(prefix="recoflow-cli-home-"),
        LOCALSTACK_ENDPOINT=ENDPOINT,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.pop("XDG_CONFIG_HOME", None)
    env.update(extra)
    return env


def run_cli(*args, env=None, timeout=180) -> subprocess.CompletedProcess:
    if not BINARY.exists():
        pytest.fail(f"{BINARY} is missing: build it (scripts/build-functions.sh builds it with the functions)")
    return subprocess.run([str(BINARY), *map(str, args)], capture_output=True, text=True, env=env or cli_env(), timeout=timeout)


def write_form(tmp_path: Path, form: dict, name: str | None = None) -> Path:
    path = tmp_path / (name or f"{form['job_name']}.json")
    path.write_text(json.dumps(form, indent=2))
    return path


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {stderr!r}"
    return lines[0]


@pytest.fixture(scope="module")
def succeeded(data_uris, suite_faults, tmp_path_factory):
    """One personalize job submitted with `submit --wait` (exit 0 once SUCCEEDED): (form, result)."""
    form = personalize_form_for(data_uris)
    path = write_form(tmp_path_factory.mktemp("forms"), form)
    return form, run_cli("--local", "submit", path, "--wait", timeout=300)


def job_id_of(stdout: str) -> str:
    match = re.search(r"submitted job (\S+) ", stdout)
    assert match, stdout
    return match.group(1)


# ---------- submit --wait ----------


def test_submit_wait_follows_the_job_to_succeeded(succeeded):
    form, result = succeeded
    assert result.returncode == 0, result.stdout + result.stderr
    job_id = job_id_of(result.stdout)
    for status in ("QUEUED", "PREPARING", "IMPORTING", "TRAINING", "SCORING", "DELIVERING"):
        assert re.search(rf"^\s+\+\S+\s+{status}\b", result.stdout, re.M), result.stdout
    assert re.search(r"\nSUCCEEDED in \S+: version \S+ published, \d+ user\(s\)\n$", result.stdout), result.stdout
    assert result.stderr == ""
    # Piped: plain lines only.
    assert "\x1b" not in result.stdout and "\r" not in result.stdout


def test_submit_wait_on_a_failing_form_exits_1_with_the_cause(stack, make_form, tmp_path, recoflow):
    missing = f"s3://{stack['DataBucket']}/e2e/nowhere/{uuid.uuid4().hex[:6]}/interactions.csv"
    form = make_form()
    form["dataset"]["interactions"] = missing
    result = recoflow_cli_submit(tmp_path, form, "--wait")
    assert result.returncode == 1, result.stdout + result.stderr
    cause = f"dataset.interactions: {missing} does not exist or cannot be read"
    assert f"FAILED: DatasetMissing (input/data): {cause}" in result.stdout, result.stdout
    reason = one_line(result.stderr)
    assert reason.startswith("recoflow: job ") and "DatasetMissing" in reason and missing in reason, reason
    job = recoflow.job(job_id_of(result.stdout))
    assert job["status"] == "FAILED" and job["failure"]["cause"] == cause


def recoflow_cli_submit(tmp_path, form, *flags):
    return run_cli("--local", "submit", write_form(tmp_path, form), *flags, timeout=300)


def test_submit_an_invalid_form_exits_3_with_every_problem(make_form, tmp_path):
    form = make_form(segment={"age": {"min": 40, "max": 20}}, num_results=0)
    result = recoflow_cli_submit(tmp_path, form)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "[age_range_inverted]" in result.stdout and "[out_of_range]" in result.stdout, result.stdout
    assert re.search(r"\$\.segment\.age \(line \d+\) \[age_range_inverted\]", result.stdout), result.stdout
    assert "nothing was started" in one_line(result.stderr)


def test_submit_with_an_idempotency_key_twice_is_one_job(make_form, tmp_path):
    form = make_form()
    key = unique("cli-key")
    first = recoflow_cli_submit(tmp_path, form, "--idempotency-key", key)
    second = recoflow_cli_submit(tmp_path, form, "--idempotency-key", key)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert job_id_of(first.stdout) == job_id_of(second.stdout)
    assert "used before" in second.stdout
    other = dict(form, job_name=unique("e2e-other"))
    reused = recoflow_cli_submit(tmp_path, other, "--idempotency-key", key)
    assert reused.returncode == 2 and "IdempotencyKeyReused" in one_line(reused.stderr), reused.stderr


def test_submit_via_s3_names_the_job_intake_creates(stack, make_form, tmp_path, recoflow):
    missing = f"s3://{stack['DataBucket']}/e2e/nowhere/{uuid.uuid4().hex[:6]}/interactions.csv"
    form = make_form()
    form["dataset"]["interactions"] = missing
    result = recoflow_cli_submit(tmp_path, form, "--via", "s3", "--wait")
    assert result.returncode == 1, result.stdout + result.stderr
    match = re.search(r"uploaded s3://(\S+)/(submissions/\S+) \(version \S+\): job (\S+)", result.stdout)
    assert match, result.stdout
    bucket, key, job_id = match.groups()
    assert bucket == stack["FormsBucket"]
    assert recoflow.job_id_for_key(key) == job_id
    assert "DatasetMissing" in result.stdout


def test_submit_via_s3_checks_the_form_before_uploading(aws, stack, make_form, tmp_path):
    form = make_form(job_name="Not A Name")
    result = recoflow_cli_submit(tmp_path, form, "--via", "s3")
    assert result.returncode == 3 and "[invalid_name]" in result.stdout, result.stdout + result.stderr
    assert "nothing was uploaded" in one_line(result.stderr)
    listed = aws("s3").list_objects_v2(Bucket=stack["FormsBucket"], Prefix=f"submissions/{form['job_name']}")
    assert listed.get("KeyCount", 0) == 0


# ---------- status --follow: terminal and pipe ----------


def run_in_pty(args, env, timeout=240) -> tuple[int, str]:
    """Runs the CLI with a pseudo-terminal as its stdout and stderr; (exit code, output)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    process = subprocess.Popen([str(BINARY), *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    os.close(master)
    code = process.wait(timeout=10)
    return code, output.decode("utf-8", "replace")


def test_status_follow_shows_live_progress_on_a_terminal_and_plain_lines_in_a_pipe(personalize_form, tmp_path):
    form = personalize_form()
    submitted = recoflow_cli_submit(tmp_path, form)
    assert submitted.returncode == 0, submitted.stderr
    job_id = job_id_of(submitted.stdout)
    assert f"recoflow status {job_id} --follow" in submitted.stdout
    env = cli_env()
    piped = {}
    follower = threading.Thread(target=lambda: piped.update(result=run_cli("--local", "status", job_id, "--follow", env=env, timeout=300)))
    follower.start()
    code, screen = run_in_pty(["--local", "status", job_id, "--follow"], env)
    follower.join(timeout=300)

    assert code == 0, screen
    # A live display redraws itself: cursor movements and line clearing, spinner frames, ticks.
    assert ANSI.search(screen) and "\r" in screen, repr(screen[:500])
    assert any(frame in screen for frame in "⠁⠂⠄⡀⢀⠠⠐⠈⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"), repr(screen[:500])
    assert "✔ QUEUED" in screen and "✔ SUCCEEDED" in screen, repr(screen[-800:])
    for status in ("PREPARING", "TRAINING", "SCORING"):
        assert status in screen

    result = piped["result"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", result.stdout), repr(result.stdout)
    lines = result.stdout.splitlines()
    assert lines[0] == f"job {job_id} ({form['job_name']})"
    statuses = [m.group(1) for m in (re.match(r"^\s+\+\S+(?: \S+)?\s+([A-Z_]+)\b", line) for line in lines[1:-1]) if m]
    assert statuses[0] == "RECEIVED" and statuses[-1] == "SUCCEEDED", lines
    assert len(statuses) == len(set(statuses)), f"each change once: {lines}"
    assert lines[-1].startswith("SUCCEEDED in ")


def test_status_of_a_finished_job_shows_its_history_and_exit(succeeded):
    job_id = job_id_of(succeeded[1].stdout)
    result = run_cli("--local", "status", job_id)
    assert result.returncode == 0, result.stderr
    assert re.search(rf"^job\s+{job_id}", result.stdout, re.M)
    assert re.search(r"^status\s+SUCCEEDED for \S+", result.stdout, re.M), result.stdout
    assert "history" in result.stdout and "resources" in result.stdout and "delivery  version" in result.stdout


# ---------- validate ----------


def test_validate_every_invalid_example_exits_3_naming_its_code():
    files = sorted(INVALID_FORMS.glob("*.json"))
    assert len(files) >= 30
    for path in files:
        code = path.name.split("--")[0]
        result = run_cli("--local", "validate", path)
        assert result.returncode == 3, f"{path.name}: {result.returncode} {result.stdout} {result.stderr}"
        assert f"[{code}]" in result.stdout, f"{path.name}: {result.stdout}"
        assert one_line(result.stderr) == "recoflow: 1 of 1 form(s) invalid"


def test_validate_a_folder_for_github_annotates_lines():
    # Offline, as CI runs it: the allow-lists on the command line.
    result = run_cli(
        "validate", "--format", "github", INVALID_FORMS,
        "--allow-bucket", "recoflow-data-000000000000",
        "--allow-image-repository", "000000000000.dkr.ecr.us-east-1.amazonaws.com/recsys",
    )
    assert result.returncode == 3
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    files = sorted(INVALID_FORMS.glob("*.json"))
    assert {re.search(r"file=([^,]+)", a).group(1) for a in annotations} == {str(f) for f in files}
    inverted = next(a for a in annotations if "title=age_range_inverted" in a)
    line = int(re.search(r",line=(\d+),", inverted).group(1))
    source = (INVALID_FORMS / "age_range_inverted--min-over-max.json").read_text().splitlines()
    assert '"age"' in source[line - 1], (line, source)
    assert result.stdout.splitlines()[-1] == f"{len(files)} form(s) checked, {len(files)} invalid"


def test_validate_valid_examples_exit_0():
    forms = [p for p in (REPO / "examples" / "forms").glob("*.json")]
    result = run_cli("--local", "validate", *forms)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(line.endswith(")") and ": valid (" in line for line in result.stdout.splitlines()), result.stdout


# ---------- --json, jobs, recommend, cancel, config ----------


def test_json_output_parses(succeeded, tmp_path):
    form, result = succeeded
    job_id = job_id_of(result.stdout)
    status = json.loads(run_cli("--local", "--json", "status", job_id).stdout)
    assert status["job_id"] == job_id and status["status"] == "SUCCEEDED"
    listing = json.loads(run_cli("--local", "--json", "jobs", "--limit", "3").stdout)
    assert len(listing["jobs"]) <= 3 and "next" in listing
    user = "u001"
    answer = json.loads(run_cli("--local", "--json", "recommend", form["result_set"], user, "--n", "3").stdout)
    assert answer["result_set"] == form["result_set"] and len(answer["items"]) <= 3
    checked = json.loads(run_cli("--local", "--json", "validate", INVALID_FORMS / "not_json--trailing-comma.json").stdout)
    assert checked["invalid"] == 1 and checked["forms"][0]["problems"][0]["code"] == "not_json"
    assert isinstance(checked["forms"][0]["problems"][0]["line"], int)
    missing = run_cli("--local", "--json", "status", "no-such-job-123")
    assert missing.returncode == 4 and json.loads(missing.stdout)["error"]["code"] == "JobNotFound"
    # --wait with --json: progress on stderr, the finished job alone on stdout.
    waited = run_cli("--local", "--json", "submit", write_form(tmp_path, dict(form, job_name=unique("e2e-json"))), "--wait", timeout=300)
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["status"] == "SUCCEEDED"
    assert "SUCCEEDED" in waited.stderr


def test_jobs_and_recommend_print_tables(succeeded):
    form, result = succeeded
    jobs = run_cli("--local", "jobs", "--limit", "100")
    assert jobs.returncode == 0, jobs.stderr
    assert jobs.stdout.splitlines()[0].split() == ["JOB", "ID", "NAME", "STATUS", "FOR", "RESULT", "SET", "SUBMITTED", "BY"]
    assert job_id_of(result.stdout) in jobs.stdout
    answer = run_cli("--local", "recommend", form["result_set"], "someone-new", "--attr", "gender=F", "--attr", "region=tokyo", "--n", "5")
    assert answer.returncode == 0, answer.stderr
    assert re.match(r"\d+ for someone-new from \S+ version \S+: (segment|global)", answer.stdout), answer.stdout
    assert answer.stdout.splitlines()[1].split() == ["#", "ITEM", "SCORE"]
    bad = run_cli("--local", "recommend", form["result_set"], "u1", "--attr", "shoe_size=9")
    assert bad.returncode == 2 and "InvalidParameter" in one_line(bad.stderr), bad.stderr


def test_not_found_exits_4():
    for args in (["status", "no-such-job-123"], ["recommend", "no-such-result-set", "u1"], ["cancel", "no-such-job-123"]):
        result = run_cli("--local", *args)
        assert result.returncode == 4, f"{args}: {result.stdout} {result.stderr}"
        one_line(result.stderr)
    result = run_cli("--local", "--stack", "no-such-stack", "jobs")
    assert result.returncode == 4 and "no-such-stack does not exist" in one_line(result.stderr), result.stderr


def test_cancel_a_running_job_then_again_then_a_finished_one(personalize_form, tmp_path, succeeded):
    submitted = recoflow_cli_submit(tmp_path, personalize_form())
    job_id = job_id_of(submitted.stdout)
    cancelled = run_cli("--local", "cancel", job_id)
    assert cancelled.returncode == 0 and f"job {job_id} cancelled" in cancelled.stdout, cancelled.stdout + cancelled.stderr
    again = run_cli("--local", "cancel", job_id)
    assert again.returncode == 0 and "already cancelled" in again.stdout, again.stdout + again.stderr
    followed = run_cli("--local", "status", job_id, "--follow")
    assert followed.returncode == 1 and followed.stdout.splitlines()[-1].startswith("CANCELLED by "), followed.stdout
    finished = run_cli("--local", "cancel", job_id_of(succeeded[1].stdout))
    assert finished.returncode == 1 and "JobFinished" in one_line(finished.stderr), finished.stderr


def test_settings_come_from_flags_then_environment_then_config_file(tmp_path, stack):
    config = tmp_path / "config.toml"
    config.write_text('local = true\ntimeout_seconds = 20\n')
    from_file = run_cli("jobs", "--limit", "1", env=cli_env(RECOFLOW_CONFIG=str(config)))
    assert from_file.returncode == 0, from_file.stderr
    # The environment's target wins over the file's; the flag's over both.
    closed = free_port()
    env = cli_env(RECOFLOW_CONFIG=str(config), RECOFLOW_API_URL=f"http://127.0.0.1:{closed}/Prod")
    assert run_cli("jobs", env=env).returncode == 5
    assert run_cli("--api-url", stack["ApiUrl"], "jobs", "--limit", "1", env=env).returncode == 0
    config.write_text('local = true\nregoin = "x"\n')
    typo = run_cli("jobs", env=cli_env(RECOFLOW_CONFIG=str(config)))
    assert typo.returncode == 2 and "line 2" in one_line(typo.stderr) and "regoin" in typo.stderr
    nothing = run_cli("jobs")
    assert nothing.returncode == 2 and "--stack" in one_line(nothing.stderr)


# ---------- unreachable, refused, signed ----------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_endpoint_exits_5_within_10_seconds():
    port = free_port()
    for args, env in (
        (["--api-url", f"http://127.0.0.1:{port}/Prod", "jobs"], cli_env()),
        (["--local", "status", "some-job"], cli_env(LOCALSTACK_ENDPOINT=f"http://127.0.0.1:{port}")),
    ):
        started = time.monotonic()
        result = run_cli(*args, env=env, timeout=30)
        elapsed = time.monotonic() - started
        assert result.returncode == 5, f"{args}: {result.returncode} {result.stderr}"
        assert elapsed < 10, f"{args} took {elapsed:.1f} s"
        reason = one_line(result.stderr)
        assert f"127.0.0.1:{port}" in reason and "refused" in reason.lower(), reason


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request like the API would and keeps it (method, path, headers, body)."""

    seen: list = []
    silent = False

    def handle_one(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        Recorder.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        if Recorder.silent:
            time.sleep(6)
            return
        reply = json.dumps({"jobs": [], "next": None, "job_id": "api-1", "status": "QUEUED", "replayed": False}).encode()
        self.send_response(202 if self.command == "POST" else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_DELETE = handle_one

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    Recorder.seen = []
    Recorder.silent = False
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def expected_signature(method, url, headers, body, secret) -> str:
    """The SigV4 signature botocore computes for the same request at the same time."""
    signed = re.search(r"SignedHeaders=([^,]+)", headers["authorization"]).group(1).split(";")
    request = AWSRequest(method=method, url=url, data=body, headers={n: headers[n] for n in signed})
    request.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(Credentials("AKIDCLITEST", secret), "execute-api", "eu-west-1")
    canonical = auth.canonical_request(request)
    return auth.signature(auth.string_to_sign(request, canonical), request)


def test_requests_are_signed_as_botocore_signs_them(recorder, tmp_path, make_form):
    secret = "cli-secret-" + uuid.uuid4().hex
    env = cli_env(AWS_ACCESS_KEY_ID="AKIDCLITEST", AWS_SECRET_ACCESS_KEY=secret, AWS_REGION="eu-west-1")
    base = f"{recorder}/Prod"
    assert run_cli("--api-url", base, "jobs", "--limit", "7", env=env).returncode == 0
    form_path = write_form(tmp_path, make_form())
    assert run_cli("--api-url", base, "submit", form_path, "--idempotency-key", "k-42", env=env).returncode == 0
    assert [(m, p) for m, p, _, _ in Recorder.seen] == [("GET", "/Prod/jobs?limit=7"), ("POST", "/Prod/jobs")]
    for method, path, headers, body in Recorder.seen:
        auth = headers["authorization"]
        assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDCLITEST/") and "/eu-west-1/execute-api/aws4_request" in auth
        signature = re.search(r"Signature=([0-9a-f]{64})", auth).group(1)
        assert signature == expected_signature(method, f"{recorder}{path}", headers, body, secret), (method, path)
    post_headers = Recorder.seen[1][2]
    assert post_headers["idempotency-key"] == "k-42" and "idempotency-key" in post_headers["authorization"]
    assert Recorder.seen[1][3] == form_path.read_bytes()


def test_a_silent_api_exits_5_after_the_timeout(recorder):
    Recorder.silent = True
    started = time.monotonic()
    result = run_cli("--api-url", f"{recorder}/Prod", "--timeout", "2", "jobs", timeout=30)
    assert result.returncode == 5 and "no answer" in one_line(result.stderr), result.stderr
    assert time.monotonic() - started < 10
