"""Firing the stored schedules, as EventBridge Scheduler does and LocalStack 4.9.2 does not.

A thread looks at the store every TICK_SECONDS (real time) and fires every ENABLED schedule whose
next firing is due on the scheduler clock (``clock.py``): at its scheduled time, or with
FlexibleTimeWindow FLEXIBLE at a point within the window that depends only on the schedule and
the scheduled time. A failed target call is retried with exponential backoff (RetryPolicy:
MaximumRetryAttempts, MaximumEventAgeInSeconds), then goes to the DeadLetterConfig queue. After
a schedule's last firing (``at()``, or the one nearest EndDate) ActionAfterCompletion DELETE
deletes it.

Tests drive it through ``control.py``: fire the next firing now, deliver a firing again.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import random
import threading
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from recoflow_localstack import faults
from recoflow_localstack.emulation import start_thread
from recoflow_localstack.scheduler import store
from recoflow_localstack.scheduler.clock import SchedulerClock
from recoflow_localstack.scheduler.expressions import ExpressionError, Timing
from recoflow_localstack.scheduler.store import StoredSchedule
from recoflow_localstack.scheduler.targets import Invocation, TargetError, invoke, send_dead_letter, timestamp

LOG = logging.getLogger(__name__)

TICK_SECONDS = 0.1
# per schedule and tick: a clock far ahead of the schedule catches up over several ticks
MAX_FIRINGS_PER_TICK = 100
HISTORY = 50  # firings kept per schedule for GET /_recoflow/scheduler
# the service's defaults (what moto stores when the target has no RetryPolicy)
DEFAULT_RETRY = {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
MAX_RETRY_DELAY_SECONDS = 300.0  # scheduler clock

SUCCEEDED, FAILED, RETRYING, PENDING, DEAD_LETTERED = "SUCCEEDED", "FAILED", "RETRYING", "PENDING", "DEAD_LETTERED"


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Firing:
    schedule: StoredSchedule  # as it was when it fired
    scheduled_time: datetime
    execution_id: str
    last: bool  # no firing follows it
    outcome: str = PENDING
    attempts: list[dict] = field(default_factory=list)
    dead_letter: dict | None = None
    redeliveries: list[dict] = field(default_factory=list)

    def invocation(self, attempt: int) -> Invocation:
        return Invocation(self.schedule.arn, self.scheduled_time, self.execution_id, attempt)

    def view(self) -> dict:
        return {
            "schedule_arn": self.schedule.arn, "scheduled_time": timestamp(self.scheduled_time),
            "made_at": timestamp(_fires_at(self.schedule, self.scheduled_time)), "execution_id": self.execution_id, "outcome": self.outcome, "attempts": list(self.attempts),
            "dead_letter": self.dead_letter, "redeliveries": list(self.redeliveries),
        }


@dataclass
class Track:
    fingerprint: tuple
    timing: Timing | None  # None: an expression the service would have refused
    next_due: datetime | None
    firings: deque = field(default_factory=lambda: deque(maxlen=HISTORY))


def _fires_at(schedule: StoredSchedule, scheduled: datetime) -> datetime:
    """When a firing is made: FLEXIBLE windows spread firings over the window by a hash of the
    schedule and the scheduled time, so a rerun makes the same choice."""
    window = schedule.flexible_time_window
    if window.get("Mode") != "FLEXIBLE" or not window.get("MaximumWindowInMinutes"):
        return scheduled
    digest = hashlib.sha256(f"{schedule.arn}|{scheduled.isoformat()}".encode()).digest()
    return scheduled + timedelta(seconds=int.from_bytes(digest[:8], "big") % (int(window["MaximumWindowInMinutes"]) * 60))


def _iso(instant: datetime | None) -> str | None:
    return timestamp(instant) if instant is not None else None


class FiringEngine:
    def __init__(self, clock: SchedulerClock):
        self.clock = clock
        self._lock = threading.RLock()
        self._tracks: dict[str, Track] = {}
        self._changed_at: dict[str, datetime] = {}  # ARN -> when CreateSchedule/UpdateSchedule ran
        self._retries: list[tuple[datetime, int, Firing, int]] = []  # heap of (due, seq, firing, attempt)
        self._sequence = itertools.count()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="scheduler-delivery")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = start_thread("scheduler-firing", self._run)

    def stop(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                self.tick()
            except Exception:  # one bad tick must not end firing for good
                LOG.exception("scheduler tick failed")

    def note_change(self, arn: str) -> None:
        """CreateSchedule/UpdateSchedule succeeded: a rate schedule without StartDate begins now."""
        with self._lock:
            self._changed_at[arn] = self.clock.now()

    # --- planning ---------------------------------------------------------------------------

    def _track(self, schedule: StoredSchedule, now: datetime) -> Track:
        track = self._tracks.get(schedule.arn)
        if track is not None and track.fingerprint == schedule.fingerprint():
            return track
        since = self._changed_at.pop(schedule.arn, now).replace(microsecond=0)
        try:
            timing = schedule.timing(anchor=since)
            next_due = timing.first(since)
        except ExpressionError as e:
            LOG.warning("schedule %s is never fired: %s", schedule.arn, e)
            timing, next_due = None, None
        fresh = Track(schedule.fingerprint(), timing, next_due)
        if track is not None:
            fresh.firings = track.firings  # an update keeps the history
        self._tracks[schedule.arn] = fresh
        return fresh

    def _take_next(self, schedule: StoredSchedule, track: Track) -> Firing:
        scheduled = track.next_due
        track.next_due = track.timing.following(scheduled)
        firing = Firing(schedule, scheduled, uuid.uuid4().hex[:16], last=track.next_due is None)
        track.firings.append(firing)
        return firing

    def tick(self) -> None:
        now = self.clock.now()
        auto_fire = faults.scheduler_settings()["auto_fire"]
        schedules = store.stored_schedules()
        due: list[tuple[Firing, int]] = []
        with self._lock:
            live = {s.arn for s in schedules}
            for arn in [a for a in self._tracks if a not in live]:
                del self._tracks[arn]
            for schedule in schedules:
                track = self._track(schedule, now)
                if not auto_fire or schedule.state != "ENABLED":
                    continue
                for _ in range(MAX_FIRINGS_PER_TICK):
                    if track.next_due is None or _fires_at(schedule, track.next_due) > now:
                        break
                    due.append((self._take_next(schedule, track), 1))
            while self._retries and self._retries[0][0] <= now:
                _due, _seq, firing, attempt = heapq.heappop(self._retries)
                due.append((firing, attempt))
        for firing, attempt in due:
            self._pool.submit(self._deliver_logged, firing, attempt)

    # --- delivery ---------------------------------------------------------------------------

    def _deliver_logged(self, firing: Firing, attempt: int) -> None:
        try:
            self._deliver(firing, attempt)
        except Exception:
            LOG.exception("delivery of %s at %s crashed", firing.schedule.arn, firing.scheduled_time)

    def _deliver(self, firing: Firing, attempt: int) -> None:
        """One attempt; a failure schedules the next attempt or dead-letters the event."""
        payload = firing.invocation(attempt).render(firing.schedule.target.get("Input"))
        started = self.clock.now()
        try:
            if faults.take_injected_failure("scheduler"):
                raise TargetError("InjectedFailure", "Injected failure (recoflow fault injection: fail_next.scheduler).")
            response = invoke(firing.schedule.target, payload)
        except TargetError as error:
            self._failed(firing, attempt, error, payload, started)
            return
        with self._lock:
            firing.attempts.append({"attempt": attempt, "at": started.isoformat(), "outcome": SUCCEEDED,
                                    "response": response})
            firing.outcome = SUCCEEDED
        self._completed(firing)

    def _failed(self, firing: Firing, attempt: int, error: TargetError, payload: str, started: datetime) -> None:
        policy = {**DEFAULT_RETRY, **(firing.schedule.target.get("RetryPolicy") or {})}
        now = self.clock.now()
        exhausted = None
        if error.retryable:
            base = float(faults.scheduler_settings()["retry_base_seconds"])
            delay = min(MAX_RETRY_DELAY_SECONDS, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            due = now + timedelta(seconds=delay)
            if attempt - 1 >= int(policy["MaximumRetryAttempts"]):
                exhausted = "MaximumRetryAttempts"
            elif (due - firing.scheduled_time).total_seconds() > int(policy["MaximumEventAgeInSeconds"]):
                exhausted = "MaximumEventAgeInSeconds"
        with self._lock:
            firing.attempts.append({"attempt": attempt, "at": started.isoformat(), "outcome": FAILED,
                                    "error": {"code": error.code, "message": error.message}})
            if error.retryable and exhausted is None:
                firing.outcome = RETRYING
                heapq.heappush(self._retries, (due, next(self._sequence), firing, attempt + 1))
                return
        self._dead_letter(firing, error, exhausted, retries=attempt - 1, payload=payload)
        self._completed(firing)

    def _dead_letter(self, firing: Firing, error: TargetError, exhausted: str | None, retries: int, payload: str) -> None:
        queue = (firing.schedule.target.get("DeadLetterConfig") or {}).get("Arn")
        attributes = {
            "ERROR_CODE": error.code, "ERROR_MESSAGE": error.message[:1024], "EXECUTION_ID": firing.execution_id,
            "IS_PAYLOAD_TRUNCATED": "false", "RETRY_ATTEMPTS": str(retries),
            "SCHEDULED_TIME": timestamp(firing.scheduled_time), "SCHEDULE_ARN": firing.schedule.arn,
            "TARGET_ARN": firing.schedule.target.get("Arn", ""),
        }
        if exhausted:
            attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
        outcome, record = FAILED, {"queue": queue, "attributes": attributes}
        if queue:
            try:
                record["message_id"] = send_dead_letter(queue, payload, attributes)
                outcome = DEAD_LETTERED
            except TargetError as e:
                LOG.warning("dead-letter queue %s of %s refused the event: %s", queue, firing.schedule.arn, e)
                record["error"] = {"code": e.code, "message": e.message}
        with self._lock:
            firing.outcome, firing.dead_letter = outcome, record

    def _completed(self, firing: Firing) -> None:
        if firing.last and firing.schedule.action_after_completion == "DELETE":
            if store.delete_if_unchanged(firing.schedule):
                LOG.info("schedule %s deleted after its last firing (ActionAfterCompletion DELETE)", firing.schedule.arn)

    # --- control (control.py) ---------------------------------------------------------------

    def _known(self, arn: str) -> tuple[StoredSchedule, Track]:
        schedule = store.find(arn)
        if schedule is None:
            raise ControlError(404, f"Schedule {arn} does not exist.")
        return schedule, self._track(schedule, self.clock.now())

    def fire_next(self, arn: str) -> dict:
        """Makes the schedule's next firing now, whatever its time, and delivers it before
        answering; a failed delivery is retried in the background as usual."""
        with self._lock:
            schedule, track = self._known(arn)
            if schedule.state != "ENABLED":
                raise ControlError(409, f"Schedule {arn} is {schedule.state}: it has no firing due.")
            if track.next_due is None:
                raise ControlError(409, f"Schedule {arn} has no further firing (expression, EndDate or already fired).")
            firing = self._take_next(schedule, track)
        self._deliver(firing, 1)
        with self._lock:
            return firing.view()

    def redeliver(self, arn: str, scheduled_time: str | None = None) -> dict:
        """Delivers a firing's first attempt again, identical (same scheduled time, execution id
        and attempt number), as the service's at-least-once delivery may: the latest firing, or
        the one at ``scheduled_time``. One attempt, no retries."""
        with self._lock:
            _schedule, track = self._known(arn)
            firings = [f for f in track.firings if scheduled_time in (None, timestamp(f.scheduled_time))]
            if not firings:
                raise ControlError(404, f"Schedule {arn} has not fired{' at ' + scheduled_time if scheduled_time else ''} yet.")
            firing = firings[-1]
        payload = firing.invocation(1).render(firing.schedule.target.get("Input"))
        try:
            delivery = {"outcome": SUCCEEDED, "response": invoke(firing.schedule.target, payload)}
        except TargetError as e:
            delivery = {"outcome": FAILED, "error": {"code": e.code, "message": e.message}}
        with self._lock:
            firing.redeliveries.append({"at": self.clock.now().isoformat(), **delivery})
            return firing.view()

    def view(self, arn: str | None = None) -> dict:
        with self._lock:
            now = self.clock.now()
            schedules = []
            for schedule in store.stored_schedules():
                if arn not in (None, schedule.arn):
                    continue
                track = self._track(schedule, now)
                due = track.next_due if schedule.state == "ENABLED" else None
                schedules.append({
                    "schedule_arn": schedule.arn, "state": schedule.state, "expression": schedule.expression,
                    "timezone": schedule.zone, "next_firing": _iso(due),
                    "next_firing_made_at": _iso(_fires_at(schedule, due)) if due else None,
                    "firings": [f.view() for f in track.firings],
                })
            return {"clock": {**self.clock.view(), "auto_fire": faults.scheduler_settings()["auto_fire"]},
                    "schedules": schedules}


_engine: FiringEngine | None = None
_engine_lock = threading.Lock()


def engine() -> FiringEngine:
    """The process's engine, its clock following ``scheduler.time_scale`` of the fault endpoint."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = FiringEngine(SchedulerClock())
            _engine.clock.set_scale(faults.scheduler_settings()["time_scale"])
            faults.on_change(_follow_settings)
        return _engine


def _follow_settings(config: dict, reset: bool) -> None:
    scale = float(config["scheduler"]["time_scale"])
    if reset:
        engine().clock.reset(scale)
    else:
        engine().clock.set_scale(scale)
