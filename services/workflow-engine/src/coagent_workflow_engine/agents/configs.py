"""The schedule and trigger shapes the reference web client edits (frontend-client §4.9).

The client's editors dereference nested keys, so a stored config must be *complete* or null: input
may leave sections out (they get the reference defaults), but every value that is given must fit
the shape and unknown keys are refused, so a typo is a 422 rather than a silently ignored setting.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError("must be a time of day as HH:MM (00:00 to 23:59)")
    return value


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduleRule(_Shape):
    """One rule: every day, one date, or some ISO weekdays (1 = Monday), optionally within hours."""

    type: Literal["everyday", "specific_date", "day_of_week"]
    date: str | None = None
    days: list[Annotated[int, Field(ge=1, le=7)]] | None = None
    time_range: tuple[str, str] | None = None

    @field_validator("date")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError as exc:
                raise ValueError("must be a date as YYYY-MM-DD") from exc
        return value

    @field_validator("time_range")
    @classmethod
    def _times(cls, value: tuple[str, str] | None) -> tuple[str, str] | None:
        if value is not None:
            _hhmm(value[0]), _hhmm(value[1])
        return value

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.type == "specific_date" and self.date is None:
            raise ValueError("a specific_date rule needs a date")
        if self.type == "day_of_week" and not self.days:
            raise ValueError("a day_of_week rule needs days (1 = Monday … 7 = Sunday)")
        return self

    def matches(self, moment: datetime) -> bool:
        """Whether ``moment`` (UTC) falls under this rule."""
        if self.type == "specific_date" and moment.date().isoformat() != self.date:
            return False
        if self.type == "day_of_week" and moment.isoweekday() not in (self.days or []):
            return False
        if self.time_range is None:
            return True
        start, end = (time.fromisoformat(t) for t in self.time_range)
        now = moment.time().replace(tzinfo=None)
        # A range such as 22:00–06:00 spans midnight.
        return start <= now < end if start <= end else now >= start or now < end


class ScheduleConfig(_Shape):
    """Whitelist: usable only when a rule matches; blacklist: usable unless one matches."""

    mode: Literal["whitelist", "blacklist"] = "whitelist"
    rules: list[ScheduleRule] = Field(default_factory=list)

    def allows(self, moment: datetime) -> bool:
        """Whether the schedule lets its owner act at ``moment``."""
        hit = any(rule.matches(moment) for rule in self.rules)
        return hit if self.mode == "whitelist" else not hit


class ContextStrategyShape(_Shape):
    type: Literal["last_n", "all"] = "last_n"
    n: int = Field(default=10, ge=1, le=10_000)


Condition = Literal["message_count", "time_interval_mins", "user_silent_mins"]


class TriggerSection(_Shape):
    enabled_conditions: list[Condition] = Field(default_factory=list)
    message_count: int | None = Field(default=None, ge=1, le=10_000)
    time_interval_mins: float | None = Field(default=None, ge=0.5, le=1440)
    user_silent_mins: float | None = Field(default=None, ge=0.5, le=1440)
    context_strategy: ContextStrategyShape = Field(default_factory=ContextStrategyShape)

    @model_validator(mode="after")
    def _enabled_have_values(self) -> Self:
        missing = [c for c in self.enabled_conditions if getattr(self, c) is None]
        if missing:
            raise ValueError(f"enabled conditions need a value: {', '.join(missing)}")
        return self


class CloseSection(_Shape):
    strategy: Literal["none", "agent_monologue", "user_timeout"] = "none"
    monologue_limit: int | None = Field(default=None, ge=1, le=100)
    timeout_mins: float | None = Field(default=None, ge=1, le=1440)

    @model_validator(mode="after")
    def _strategy_has_value(self) -> Self:
        if self.strategy == "agent_monologue" and self.monologue_limit is None:
            raise ValueError("the agent_monologue strategy needs monologue_limit")
        if self.strategy == "user_timeout" and self.timeout_mins is None:
            raise ValueError("the user_timeout strategy needs timeout_mins")
        return self


class Bound(_Shape):
    min: float | None = None
    max: float | None = None


class SelfModificationSection(_Shape):
    duration_hours: float = Field(default=0, ge=-1, le=720)
    bounds: dict[Condition, Bound] | None = None


class StateResetSection(_Shape):
    enabled: bool = False
    interval_days: int = Field(default=1, ge=1, le=365)
    reset_time: str = "00:00"

    @field_validator("reset_time")
    @classmethod
    def _time(cls, value: str) -> str:
        return _hhmm(value)


class TriggerConfig(_Shape):
    """When an agent speaks in a room, how it stops, and how far it may tune itself."""

    logic: Literal["or", "and"] = "or"
    trigger: TriggerSection = Field(default_factory=TriggerSection)
    close: CloseSection = Field(default_factory=CloseSection)
    self_modification: SelfModificationSection = Field(default_factory=SelfModificationSection)
    state_reset: StateResetSection = Field(default_factory=StateResetSection)


def stored(config: BaseModel | None) -> dict[str, Any] | None:
    """The complete JSON object to store (optional leaves that are unset are left out)."""
    return None if config is None else config.model_dump(mode="json", exclude_none=True)


def schedule_allows(schedule: dict[str, Any] | None, moment: datetime) -> bool:
    """Whether a stored schedule (``None`` = always) allows ``moment``."""
    return schedule is None or ScheduleConfig.model_validate(schedule).allows(moment)
