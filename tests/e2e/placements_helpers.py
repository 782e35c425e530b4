"""What the placement and event suites share: result sets written straight into the
recommendations table in the shape Deliver writes them (a pointer and one list per user, so
no job has to run), and the placement and event routes, signed like every API call."""

import json
import time

from e2e_helpers import unique

# A placement change is served within 5 s (the API's read cache); a little more for the clock.
SERVED_WITHIN = 6.5


def publish(aws, stack, result_set: str, version: str, users: dict, global_items: list) -> None:
    """Writes `version` of `result_set`: each user's list (user -> items) and the global list,
    then the pointer naming it (as Deliver does: lists first)."""
    client = aws("dynamodb")
    expires = int(time.time()) + 86_400

    def lst(pk, items):
        return {"PutRequest": {"Item": {
            "pk": {"S": pk},
            "items": {"L": [{"S": i} for i in items]},
            "scores": {"L": [{"N": str(round(1.0 - r / 100, 4))} for r in range(len(items))]},
            "expires_at": {"N": str(expires)},
        }}}

    requests = [lst(f"u#{result_set}#{version}#{user}", items) for user, items in users.items()]
    requests.append(lst(f"g#{result_set}#{version}", global_items))
    for start in range(0, len(requests), 25):
        batch = {stack["RecommendationsTable"]: requests[start:start + 25]}
        while batch:
            batch = client.batch_write_item(RequestItems=batch).get("UnprocessedItems") or None
    client.put_item(TableName=stack["RecommendationsTable"], Item={
        "pk": {"S": f"rs#{result_set}"},
        "result_set": {"S": result_set},
        "version": {"S": version},
        "job_id": {"S": f"e2e-{result_set}"},
        "published_at": {"S": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())},
        "num_results": {"N": "10"},
        "excluded_items": {"L": []},
        "users": {"N": str(len(users))},
        "segments": {"N": "0"},
        "version_expires_at": {"N": str(expires)},
    })


class PlacementApi:
    def __init__(self, api):
        self.http, self.base = api.http, api.base

    def put(self, name, document):
        data = document if isinstance(document, (str, bytes)) else json.dumps(document)
        return self.http.put(f"{self.base}/placements/{name}", data=data,
                             headers={"content-type": "application/json"}, timeout=30)

    def show(self, name):
        return self.http.get(f"{self.base}/placements/{name}", timeout=30)

    def list(self, **query):
        return self.http.get(f"{self.base}/placements", params=query, timeout=30)

    def delete(self, name):
        return self.http.delete(f"{self.base}/placements/{name}", timeout=30)

    def serve(self, name, user, **query):
        return self.http.get(f"{self.base}/placements/{name}/{user}", params=query, timeout=30)

    def metrics(self, name, **query):
        return self.http.get(f"{self.base}/placements/{name}/metrics", params=query, timeout=30)

    def events(self, events):
        body = events if isinstance(events, (str, bytes)) else json.dumps({"events": events})
        return self.http.post(f"{self.base}/events", data=body, headers={"content-type": "application/json"}, timeout=60)


def two_result_sets(aws, stack, users: int, version: str = "v1") -> tuple[str, str]:
    """Two fresh result sets with a list for users u0..u{users-1} in each ("<rs>-<user>-<n>")."""
    names = (unique("pa"), unique("pb"))
    for name in names:
        lists = {f"u{u}": [f"{name}-u{u}-{n}" for n in range(1, 4)] for u in range(users)}
        publish(aws, stack, name, version, lists, [f"{name}-top-{n}" for n in range(1, 6)])
    return names


def event(event_id, event_type, recommendation_id, user, item=None, value=None, at=None):
    body = {"event_id": event_id, "type": event_type, "recommendation_id": recommendation_id,
            "user_id": user, "timestamp": at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if item is not None:
        body["item_id"] = item
    if value is not None:
        body["value"] = value
    return body
