"""EventBridge Scheduler's API: moto keeps the schedules (as in LocalStack's own provider), this
provider checks CreateSchedule and UpdateSchedule as the service does first, and tells the
firing engine when a schedule changed. Every other operation goes to moto unchanged.

What moto gets wrong and is put right here: an unknown GroupName (moto: a KeyError, HTTP 500;
the service: ResourceNotFoundException), ActionAfterCompletion on UpdateSchedule (moto drops
it), and State left out of UpdateSchedule (moto stores None; the service means ENABLED).
"""

from __future__ import annotations

from localstack.aws.api import RequestContext, handler
from localstack.aws.api.scheduler import ResourceNotFoundException, SchedulerApi
from localstack.services.moto import call_moto

from recoflow_localstack.scheduler import store
from recoflow_localstack.scheduler.engine import engine
from recoflow_localstack.scheduler.schedule_checks import checked_timing


class SchedulerProvider(SchedulerApi):
    @staticmethod
    def _checked(context: RequestContext, request: dict) -> str:
        group = request.get("GroupName") or "default"
        if not store.group_exists(context.account_id, context.region, group):
            raise ResourceNotFoundException(f"Schedule group {group} does not exist.")
        checked_timing(request, engine().clock.now())
        return group

    @handler("CreateSchedule", expand=False)
    def create_schedule(self, context: RequestContext, request: dict) -> dict:
        self._checked(context, request)
        response = call_moto(context)
        engine().note_change(response["ScheduleArn"])
        return response

    @handler("UpdateSchedule", expand=False)
    def update_schedule(self, context: RequestContext, request: dict) -> dict:
        group = self._checked(context, request)
        response = call_moto(context)
        schedule = store.moto_schedule(context.account_id, context.region, group, request["Name"])
        schedule.action_after_completion = request.get("ActionAfterCompletion")
        schedule.state = request.get("State") or "ENABLED"
        engine().note_change(response["ScheduleArn"])
        return response
