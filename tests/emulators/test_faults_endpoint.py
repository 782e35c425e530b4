"""The emulators' fault/quota endpoint /_recoflow/faults (localstack/extension/EMULATORS.md)."""

import json
import time
import urllib.error
import urllib.request

import pytest


def test_post_merges_and_delete_restores(faults_api, faults):
    before = faults_api("GET")
    after = faults({"limits": {"sagemaker": {"training": {"ml.g5.xlarge": 0}}}, "fail_next": {"sagemaker": 2}})
    assert after["limits"]["sagemaker"]["training"]["ml.g5.xlarge"] == 0
    assert after["limits"]["sagemaker"]["training"]["*"] == before["limits"]["sagemaker"]["training"]["*"]
    assert after["fail_next"] == {**before["fail_next"], "sagemaker": 2}
    assert faults_api("GET") == after


@pytest.mark.parametrize("body", [
    {"throttle": {"personalize": {"rate": 2}}},
    {"fail_next": {"sagemaker": -1}},
    {"limits": {"personalize": {"batch_inference_jobs": "five"}}},
    {"sagemaker_images": {"x": []}},
    {"limits": 5},
    {"throttle": {"sagemaker": 0.5}},
    {"throttle": {"dynamo": {"rate": 0.5}}},
    {"throttle": {"dynamodb": {"rate": True}}},
    {"throttle": {"dynamodb": {"operations": ["BatchWriteItems"]}}},
    {"throttle": {"dynamodb": {"operations": "BatchWriteItem"}}},
    {"throttle": {"dynamodb": {"error": "InternalServerError"}}},
    {"throttle": {"personalize": {"rate": 0.5, "error": "ThrottlingException"}}},
    {"dynamodb": {"unprocessed_rate": 1.5}},
    {"dynamodb": {"unprocessed_rate": "half"}},
    {"dynamodb": {"tables": "scores"}},
    {"dynamodb": {"unprocesed_rate": 0.5}},
    {"dynamodb": []},
    {"scheduler": {"time_scale": 0}},
    {"scheduler": {"time_scale": -60}},
    {"scheduler": {"time_scale": 1e9}},
    {"scheduler": {"time_scale": True}},
    {"scheduler": {"auto_fire": "yes"}},
    {"scheduler": {"retry_base_seconds": -1}},
    {"scheduler": {"timescale": 60}},
    {"scheduler": 60},
    {"fail_next": {"scheduler": -1}},
    {"fail_next": {"scheduler": 1.5}},
])
def test_invalid_update_is_refused_and_changes_nothing(endpoint, faults_api, body):
    before = faults_api("GET")
    req = urllib.request.Request(f"{endpoint}/_recoflow/faults", data=json.dumps(body).encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=10)
    assert refused.value.code == 400
    assert "error" in json.load(refused.value)
    assert faults_api("GET") == before


def test_the_scheduler_clock_follows_time_scale_and_delete_puts_it_back_on_real_time(endpoint, faults_api, faults):
    def ahead() -> float:
        with urllib.request.urlopen(f"{endpoint}/_recoflow/scheduler", timeout=10) as resp:
            return json.load(resp)["clock"]["ahead_of_real_seconds"]

    faults({"scheduler": {"time_scale": 1000}})
    time.sleep(0.5)
    assert ahead() >= 400  # half a second at 1000x: about 500 s ahead
    faults({"scheduler": {"time_scale": 1}})
    kept = ahead()
    time.sleep(0.3)
    assert abs(ahead() - kept) < 5  # back at real speed, still ahead: the clock never jumps
    faults_api("DELETE")
    assert abs(ahead()) < 1
