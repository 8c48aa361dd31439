"""Cron expressions: one form for every scheduler, checked before any call.

Users write standard five-field cron (`minute hour day month weekday`, as in
crontab, Vertex AI schedules and systemd's OnCalendar translations) or one
of the macros @hourly, @daily, @weekly, @monthly, @yearly. KFP's scheduler
(robfig/cron) wants six fields with seconds first; `for_kfp` converts.
"""

import datetime
from typing import Iterator

from croniter import croniter

MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


class CronError(ValueError):
    """Not a cron expression this product accepts."""


def parse(expression: str) -> str:
    """The five-field form of `expression`, or CronError naming it."""
    text = " ".join(expression.split())
    text = MACROS.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) != 5 or not croniter.is_valid(text):
        raise CronError(
            f"cron expression {expression!r} is not valid: use five fields "
            "'minute hour day-of-month month day-of-week', e.g. '0 3 * * *' "
            "(03:00 every day) or '*/30 * * * mon-fri', or one of "
            f"{', '.join(sorted(MACROS))}.")
    return text


def for_kfp(expression: str) -> str:
    """KFP's six-field form (seconds first) of a valid expression."""
    return "0 " + parse(expression)


def ticks(expression: str, start: datetime.datetime
          ) -> Iterator[datetime.datetime]:
    """The times the expression fires after `start`, in order."""
    schedule = croniter(parse(expression), start)
    while True:
        yield schedule.get_next(datetime.datetime)
