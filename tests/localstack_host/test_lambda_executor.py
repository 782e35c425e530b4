"""Lambda on the host-mode LocalStack (recoflow-host executor, no Docker).

Run against a running stack:
    localstack/host/start.sh && .localstack-host/venv/bin/pytest tests/localstack_host
The functions are `provided.al2023` zips whose `bootstrap` is a Python script speaking the
Lambda Runtime API (see conftest.py), so no Rust build is needed.
"""

import json
import time

from pathlib import Path

from hostfn import HOST_DIR, LAMBDA_LOG_DIR, invoke, unique, wait_for


def test_direct_invoke_returns_result_and_lambda_environment(aws, make_function, endpoint):
    name = make_function(env={"RECOFLOW_TEST_VAR": "from-config"})

    result, error = invoke(aws, name, {"hello": "world"})

    assert error is None
    assert result["echo"] == {"hello": "world"}
    env = result["env"]
    assert env["AWS_ENDPOINT_URL"] == endpoint
    assert env["AWS_REGION"] == aws("lambda").meta.region_name
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    assert env["_HANDLER"] == "bootstrap"
    assert env["RECOFLOW_TEST_VAR"] == "from-config"
    assert env["LAMBDA_TASK_ROOT"] == result["cwd"]
    assert result["arn"].endswith(f":function:{name}")
    assert int(result["deadline_ms"]) > time.time() * 1000


def test_function_code_is_unpacked_in_the_instances_own_tmp_dir(aws, make_function):
    # the extension's on_platform_start: cleared with the instance, instead of every deploy
    # piling up in /tmp/lambda
    result, error = invoke(aws, make_function(), {})

    assert error is None
    code_root = (HOST_DIR / "filesystem/tmp/localstack/lambda").resolve()
    assert Path(result["cwd"]).resolve().is_relative_to(code_root)


def test_warm_invokes_reuse_the_process(aws, make_function):
    name = make_function()
    first, _ = invoke(aws, name, {})
    second, _ = invoke(aws, name, {})
    assert first["pid"] == second["pid"]


def test_function_error_carries_the_error_type_the_runtime_sent(aws, make_function):
    name = make_function()

    result, error = invoke(aws, name, {"action": "fail", "errorType": "QuotaExhausted"})

    assert error == "Unhandled"
    assert result["errorType"] == "QuotaExhausted"
    assert result["errorMessage"] == "failed on purpose"
    # an error leaves the process serving
    ok, error = invoke(aws, name, {"after": "error"})
    assert error is None and ok["echo"] == {"after": "error"}


def test_timeout_kills_the_process_and_next_invoke_gets_a_fresh_one(aws, make_function):
    name = make_function(timeout=1)
    before, _ = invoke(aws, name, {})

    started = time.monotonic()
    # the function would sleep far longer than the bound below, so a slow (loaded) machine cannot
    # make an enforced timeout look like a missing one
    result, error = invoke(aws, name, {"action": "sleep", "seconds": 40})
    elapsed = time.monotonic() - started

    assert error == "Unhandled"
    assert result["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result["errorMessage"]
    assert elapsed < 20, f"timeout not enforced, invoke took {elapsed:.1f}s"

    after, error = invoke(aws, name, {"again": True})
    assert error is None
    assert after["echo"] == {"again": True}
    assert after["pid"] != before["pid"]


def test_crashed_process_is_reported_and_restarted(aws, make_function):
    name = make_function()
    before, _ = invoke(aws, name, {})

    result, error = invoke(aws, name, {"action": "crash"})

    assert error == "Unhandled"
    assert result["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in result["errorMessage"]
    after, error = invoke(aws, name, {"again": True})
    assert error is None and after["pid"] != before["pid"]


def test_process_that_dies_while_idle_is_restarted_on_next_invoke(aws, make_function):
    import os
    import signal

    name = make_function()
    before, _ = invoke(aws, name, {})
    os.kill(before["pid"], signal.SIGKILL)
    # wait until LocalStack's watcher has reaped it (the /proc entry goes with the zombie), then a
    # little longer for the executor to record the exit: otherwise the invoke can still be handed
    # to the dying process and come back as Runtime.ExitError
    assert wait_for(lambda: not os.path.exists(f"/proc/{before['pid']}"), timeout=10, interval=0.1)
    time.sleep(0.5)

    after, error = invoke(aws, name, {"again": True})

    assert error is None and after["echo"] == {"again": True}
    assert after["pid"] != before["pid"]


def test_concurrent_invokes_run_in_separate_processes(aws, make_function):
    from concurrent.futures import ThreadPoolExecutor

    name = make_function()
    with ThreadPoolExecutor(3) as pool:
        # each invoke sleeps long enough that all three overlap even when the threads start late on
        # a loaded machine (an idle environment would otherwise be reused)
        results = list(pool.map(lambda i: invoke(aws, name, {"action": "sleep", "seconds": 4, "i": i}), range(3)))

    assert [error for _, error in results] == [None, None, None]
    assert sorted(r["echo"]["i"] for r, _ in results) == [0, 1, 2]
    assert len({r["pid"] for r, _ in results}) == 3


def test_init_error_is_returned_to_the_caller(aws, make_function):
    name = make_function(env={"RECOFLOW_TEST_INIT_FAIL": "1"})

    result, error = invoke(aws, name, {})

    assert error == "Unhandled"
    assert result["errorType"] == "ConfigMissing"


def test_package_without_bootstrap_is_an_invalid_entrypoint(aws):
    import io
    import zipfile

    from hostfn import ROLE_ARN

    lam = aws("lambda")
    name = unique("hostfn-nobootstrap")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README.txt", "no bootstrap here")
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Handler="bootstrap",
        Role=ROLE_ARN,
        Code={"ZipFile": buf.getvalue()},
    )
    try:
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        result, error = invoke(aws, name, {})
        assert error == "Unhandled"
        assert result["errorType"] == "Runtime.InvalidEntrypoint"
    finally:
        lam.delete_function(FunctionName=name)


def test_logs_go_to_the_function_log_file_and_cloudwatch(aws, make_function):
    name = make_function()
    marker = unique("marker")

    _, error = invoke(aws, name, {"action": "log", "marker": marker})
    assert error is None

    log_file = LAMBDA_LOG_DIR / f"{name}.log"
    text = wait_for(lambda: log_file.exists() and log_file.read_text(), timeout=10)
    assert f"stdout-line {marker}" in text
    assert f"stderr-line {marker}" in text
    assert "START RequestId:" in text and "REPORT RequestId:" in text

    logs = aws("logs")

    def cloudwatch_messages():
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        return "".join(e["message"] for e in events) if events else None

    messages = wait_for(cloudwatch_messages, timeout=20)
    assert messages and f"stdout-line {marker}" in messages
    assert f"stderr-line {marker}" in messages


def test_s3_notification_invokes_the_function(aws, make_function):
    name = make_function()
    lam, s3 = aws("lambda"), aws("s3")
    bucket = unique("hostfn-bucket")
    fn_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    s3.create_bucket(Bucket=bucket)
    lam.add_permission(
        FunctionName=name,
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
    )
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": fn_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "submissions/"}]}},
                }
            ]
        },
    )
    key = f"submissions/{unique('form')}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b"{}")

    log_file = LAMBDA_LOG_DIR / f"{name}.log"
    seen = wait_for(lambda: log_file.exists() and key in log_file.read_text(), timeout=30)
    assert seen, f"S3 notification for {key} never reached the function"
    try:
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket)
    except Exception:
        pass


def test_api_gateway_rest_proxy_invokes_the_function(aws, make_function, endpoint):
    import urllib.request

    name = make_function()
    lam, apigw = aws("lambda"), aws("apigateway")
    fn_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api_id = apigw.create_rest_api(name=unique("hostfn-api"))["id"]
    try:
        root = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
        proxy = apigw.create_resource(restApiId=api_id, parentId=root["id"], pathPart="{proxy+}")
        apigw.put_method(
            restApiId=api_id, resourceId=proxy["id"], httpMethod="ANY", authorizationType="NONE"
        )
        apigw.put_integration(
            restApiId=api_id,
            resourceId=proxy["id"],
            httpMethod="ANY",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{fn_arn}/invocations",
        )
        lam.add_permission(
            FunctionName=name,
            StatementId="apigw",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
        )
        apigw.create_deployment(restApiId=api_id, stageName="test")

        url = f"{endpoint}/_aws/execute-api/{api_id}/test/jobs/abc?x=1"
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200
            body = json.loads(resp.read())
        assert body["path"] == "/jobs/abc"
        assert body["method"] == "GET"
    finally:
        apigw.delete_rest_api(restApiId=api_id)
