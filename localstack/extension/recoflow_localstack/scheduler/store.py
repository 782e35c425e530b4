"""The schedules as LocalStack keeps them: in moto's scheduler backend, in process
(``moto.scheduler.models.scheduler_backends[account][region].schedule_groups[group].schedules``),
whichever provider served the API call or the CloudFormation resource that made them.

Requests change those objects in place from other threads, so the firing engine works on
snapshots (``StoredSchedule``) and copies every dict before iterating it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterator

from recoflow_localstack.scheduler.expressions import Timing, as_instant, parse, time_zone


@dataclass(frozen=True)
class StoredSchedule:
    account: str
    region: str
    group: str
    name: str
    arn: str
    expression: str
    zone: str
    state: str
    start_date: Any
    end_date: Any
    flexible_time_window: dict
    target: dict
    action_after_completion: str | None
    modified: float

    @classmethod
    def of(cls, account: str, region: str, schedule) -> "StoredSchedule":
        return cls(
            account=account, region=region, group=schedule.group_name, name=schedule.name, arn=schedule.arn,
            expression=schedule.schedule_expression, zone=schedule.schedule_expression_timezone or "UTC",
            # UpdateSchedule without State leaves None in moto's store; the service means ENABLED
            state=schedule.state or "ENABLED", start_date=schedule.start_date, end_date=schedule.end_date,
            flexible_time_window=copy.deepcopy(schedule.flexible_time_window or {}),
            target=copy.deepcopy(schedule.target or {}), action_after_completion=schedule.action_after_completion,
            modified=schedule.last_modified_date,
        )

    def fingerprint(self) -> tuple:
        """What, when it changes, makes the schedule's firings be planned anew."""
        return (self.modified, self.expression, self.zone, self.state, self.start_date, self.end_date)

    def timing(self, anchor) -> Timing:
        """ExpressionError for what the service would have refused (a schedule stored before
        the checks ran, e.g. by another provider)."""
        return Timing(parse(self.expression), time_zone(self.zone), as_instant(self.start_date),
                      as_instant(self.end_date), anchor)


def _backends() -> Iterator[tuple[str, str, Any]]:
    from moto.scheduler.models import scheduler_backends

    # dict.items: BackendDict.__getitem__ would create backends for accounts never used
    for account, regions in list(dict.items(scheduler_backends)):
        for region, backend in list(dict.items(regions)):
            yield account, region, backend


def stored_schedules() -> list[StoredSchedule]:
    found = []
    for account, region, backend in _backends():
        for group in list(backend.schedule_groups.values()):
            for schedule in list(group.schedules.values()):
                found.append(StoredSchedule.of(account, region, schedule))
    return found


def find(arn: str) -> StoredSchedule | None:
    return next((s for s in stored_schedules() if s.arn == arn), None)


def delete_if_unchanged(schedule: StoredSchedule) -> bool:
    """Deletes the schedule (ActionAfterCompletion DELETE) unless it was updated or deleted since
    the snapshot was taken."""
    for account, region, backend in _backends():
        if (account, region) != (schedule.account, schedule.region):
            continue
        group = backend.schedule_groups.get(schedule.group)
        current = group.schedules.get(schedule.name) if group else None
        if current is not None and current.last_modified_date == schedule.modified:
            group.schedules.pop(schedule.name, None)
            return True
    return False


def group_exists(account: str, region: str, group: str) -> bool:
    from moto.scheduler.models import scheduler_backends

    return group in scheduler_backends[account][region].schedule_groups


def moto_schedule(account: str, region: str, group: str, name: str):
    from moto.scheduler.models import scheduler_backends

    return scheduler_backends[account][region].schedule_groups[group].schedules[name]
