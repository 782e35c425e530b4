"""Amazon Personalize solutions and solution versions (training a stand-in model, ``model.py``,
on the dataset group's interactions)."""

from __future__ import annotations

import time
import uuid

from localstack.aws.api import RequestContext, handler

from recoflow_localstack import faults
from recoflow_localstack.emulation import public_view, start_thread, utcnow
from recoflow_localstack.personalize import model as recmodel
from recoflow_localstack.personalize.resources import (
    ACTIVE, IN_PROGRESS, PENDING, RUNNING, STOPPED, STOPPING, InvalidInputException, JobFailed, PersonalizeResources,
    ResourceAlreadyExistsException, ResourceInUseException, ResourceNotFoundException,
)


class SolutionOperations(PersonalizeResources):
    # --- solutions ----------------------------------------------------------------------

    @handler("CreateSolution", expand=False)
    def create_solution(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        tags = self._checked_tags(store, request)
        name = request["name"]
        group = self._get(store.dataset_groups, request["datasetGroupArn"])
        recipe = request.get("recipeArn")
        if request.get("performAutoML"):
            recipe = recipe or "arn:aws:personalize:::recipe/aws-user-personalization"
        if not recipe:
            raise InvalidInputException("recipeArn is required when performAutoML is false.")
        if recmodel.recipe_kind(recipe) is None:
            raise ResourceNotFoundException(f"Resource Arn {recipe} does not exist.")
        if group["status"] != ACTIVE:
            raise ResourceInUseException(
                f"Dataset group {group['datasetGroupArn']} is not in ACTIVE state (status: {group['status']})."
            )
        arn = self._arn(context, f"solution/{name}")
        with self._lock:
            self._not_exists(store.solutions, arn)
            now = utcnow()
            record = {
                "name": name, "solutionArn": arn, "performHPO": bool(request.get("performHPO")),
                "performAutoML": bool(request.get("performAutoML")),
                "performAutoTraining": bool(request.get("performAutoTraining")),
                "recipeArn": recipe, "datasetGroupArn": group["datasetGroupArn"], "eventType": request.get("eventType"),
                "solutionConfig": request.get("solutionConfig"), "status": PENDING,
                "creationDateTime": now, "lastUpdatedDateTime": now,
            }
            store.solutions[arn] = record
            store.tags.add(arn, tags)
        self._activate_later(record)
        return {"solutionArn": arn}

    @handler("DescribeSolution", expand=False)
    def describe_solution(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        record = dict(self._get(store.solutions, request["solutionArn"]))
        versions = [v for v in list(store.versions.values()) if v["solutionArn"] == record["solutionArn"]]
        if versions:
            latest = max(versions, key=lambda v: v["creationDateTime"])
            record["latestSolutionVersion"] = public_view(
                {k: latest.get(k) for k in ("solutionVersionArn", "status", "trainingMode", "trainingType",
                                            "creationDateTime", "lastUpdatedDateTime", "failureReason")}
            )
        return {"solution": public_view(record)}

    @handler("ListSolutions", expand=False)
    def list_solutions(self, context: RequestContext, request: dict) -> dict:
        return self._list(self._store(context).solutions, request, "solutions", "datasetGroupArn")

    @handler("DeleteSolution", expand=False)
    def delete_solution(self, context: RequestContext, request: dict) -> None:
        store = self._store(context)
        arn = request.get("solutionArn")
        self._get(store.solutions, arn)
        if any(v["solutionArn"] == arn and v["status"] in RUNNING for v in list(store.versions.values())):
            raise ResourceInUseException(f"Solution {arn} has a solution version in progress.")
        self._delete(store, store.solutions, arn)
        for varn in [a for a, v in list(store.versions.items()) if v["solutionArn"] == arn]:
            self._delete(store, store.versions, varn)
            store.models.pop(varn, None)

    # --- solution versions ---------------------------------------------------------------

    @handler("CreateSolutionVersion", expand=False)
    def create_solution_version(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        tags = self._checked_tags(store, request)
        solution = self._get(store.solutions, request["solutionArn"])
        mode = request.get("trainingMode") or "FULL"
        if solution["status"] != ACTIVE:
            raise ResourceInUseException(
                f"Solution {solution['solutionArn']} is not in ACTIVE state (status: {solution['status']})."
            )
        name = request.get("name")
        version_id = uuid.uuid4().hex[:8]
        arn = f"{solution['solutionArn']}/{version_id}"
        with self._lock:
            if name and any(v["solutionArn"] == solution["solutionArn"] and v.get("name") == name for v in list(store.versions.values())):
                raise ResourceAlreadyExistsException(f"A solution version named {name} already exists for {solution['solutionArn']}.")
            self._check_limit(store.versions, "solution_versions", "solution versions in progress")
            now = utcnow()
            record = {
                "name": name, "solutionVersionArn": arn, "solutionArn": solution["solutionArn"],
                "performHPO": solution["performHPO"], "performAutoML": solution["performAutoML"],
                "recipeArn": solution["recipeArn"], "eventType": solution.get("eventType"),
                "datasetGroupArn": solution["datasetGroupArn"], "solutionConfig": solution.get("solutionConfig"),
                "trainingMode": mode, "trainingType": "MANUAL", "status": PENDING,
                "creationDateTime": now, "lastUpdatedDateTime": now,
            }
            store.versions[arn] = record
            store.tags.add(arn, tags)

        def work():
            kind = recmodel.recipe_kind(solution["recipeArn"])
            rows = _imported_rows(store, solution["datasetGroupArn"], "INTERACTIONS")
            if solution.get("eventType"):
                rows = [r for r in rows if r.get("EVENT_TYPE") == solution["eventType"]]
            # aws-item-attribute-affinity trains on the items' attributes as well
            items = _imported_rows(store, solution["datasetGroupArn"], "ITEMS") if kind == recmodel.ITEM_ATTRIBUTE_AFFINITY else None
            try:
                trained = recmodel.train(kind, rows, solution.get("eventType"), items)
            except recmodel.InsufficientData as e:
                raise JobFailed(str(e))
            store.models[arn] = trained
            record["trainingHours"] = 0.0

        # HPO trains many candidate models: it takes correspondingly longer
        factor = faults.hpo_duration_factor() if solution["performHPO"] else 1.0
        self._run_job(record, work, f"version-{version_id}", factor)
        return {"solutionVersionArn": arn}

    @handler("DescribeSolutionVersion", expand=False)
    def describe_solution_version(self, context: RequestContext, request: dict) -> dict:
        record = self._get(self._store(context).versions, request["solutionVersionArn"])
        return {"solutionVersion": public_view(record)}

    @handler("ListSolutionVersions", expand=False)
    def list_solution_versions(self, context: RequestContext, request: dict) -> dict:
        store = self._store(context)
        solution = request.get("solutionArn")
        if solution and solution not in store.solutions:
            raise ResourceNotFoundException(f"Resource Arn {solution} does not exist.")
        return self._list(store.versions, request, "solutionVersions", "solutionArn")

    @handler("StopSolutionVersionCreation", expand=False)
    def stop_solution_version_creation(self, context: RequestContext, request: dict) -> None:
        record = self._get(self._store(context).versions, request["solutionVersionArn"])
        # check and change under the lock the job thread takes to finish: otherwise a version that
        # turned ACTIVE in between would be set to CREATE STOPPING and stay there for good
        with self._lock:
            if record["status"] not in (PENDING, IN_PROGRESS):
                raise ResourceInUseException(
                    f"Solution version {record['solutionVersionArn']} is in status {record['status']} and cannot be stopped."
                )
            if record["status"] == PENDING:  # nothing started yet: stopped at once, as documented
                self._touch(record, status=STOPPED)
                return
            self._touch(record, status=STOPPING)
        delay = faults.stopping_seconds()

        def stopped():
            # CREATE STOPPING lasts a while on AWS too, whatever the training does meanwhile
            time.sleep(delay)
            with self._lock:
                if record["status"] == STOPPING:
                    self._touch(record, status=STOPPED)

        start_thread(f"personalize-stop-{record['solutionVersionArn'].rsplit('/', 1)[-1]}", stopped)


def _imported_rows(store, group_arn: str, dataset_type: str) -> list[dict]:
    """The rows imported into the group's dataset of that type; JobFailed when there is none."""
    label = dataset_type.capitalize()
    arn = next((a for a, d in list(store.datasets.items())
                if d["datasetGroupArn"] == group_arn and d["datasetType"] == dataset_type), None)
    if arn is None:
        raise JobFailed(f"The dataset group has no {label} dataset. Create one and import data first.")
    rows = store.dataset_rows.get(arn)
    if not rows:
        raise JobFailed(f"No {dataset_type.lower()} data has been imported into the {label} dataset.")
    return rows
