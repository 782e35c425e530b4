"""What CreateSchedule and UpdateSchedule must satisfy beyond the botocore model (which
``emulation.emulator_dispatch_table`` checks first), refused with ValidationException as the
service refuses it. LocalStack 4.9.2 checks only the expression's shape, with regexes that also
refuse valid expressions such as ``cron(0-15/1 8 ? * 2-6 *)``; UpdateSchedule not at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from localstack.aws.api.scheduler import ValidationException

from recoflow_localstack.scheduler.expressions import At, ExpressionError, Timing, as_instant, parse, time_zone

# a recurring schedule may start at most this long ago (the service's rule)
START_DATE_GRACE = timedelta(minutes=5)


def checked_timing(request: dict, now: datetime) -> Timing:
    """The schedule's timing, or ValidationException naming the member and the problem."""
    text = request.get("ScheduleExpression") or ""
    try:
        expression = parse(text)
    except ExpressionError as e:
        raise ValidationException(f"Invalid Schedule Expression {text}: {e}.") from None
    zone_name = request.get("ScheduleExpressionTimezone") or "UTC"
    try:
        zone = time_zone(zone_name)
    except ExpressionError as e:
        raise ValidationException(f"Invalid ScheduleExpressionTimezone: {e}.") from None
    _check_window(request.get("FlexibleTimeWindow") or {})
    if isinstance(expression, At):  # one-time schedules ignore StartDate and EndDate
        return Timing(expression, zone)
    start, end = as_instant(request.get("StartDate")), as_instant(request.get("EndDate"))
    if start is not None and start < now - START_DATE_GRACE:
        raise ValidationException("The StartDate you specify cannot be earlier than 5 minutes ago.")
    if start is not None and end is not None and end <= start:
        raise ValidationException(
            f"The EndDate you specify ({end.isoformat()}) must be later than the StartDate ({start.isoformat()})."
        )
    return Timing(expression, zone, start, end)


def _check_window(window: dict) -> None:
    mode, minutes = window.get("Mode"), window.get("MaximumWindowInMinutes")
    if mode == "FLEXIBLE" and minutes is None:
        raise ValidationException("FlexibleTimeWindow.MaximumWindowInMinutes is required when Mode is FLEXIBLE.")
    if mode == "OFF" and minutes is not None:
        raise ValidationException("FlexibleTimeWindow.MaximumWindowInMinutes must not be set when Mode is OFF.")
