"""Validation of a policy's ``conditions``, by ``event_type`` (the table in CONTRACTS.md).

Conditions are stored as the JSON the client sent (after validation), so what a client reads back
is what it wrote; the models here only decide whether that JSON is acceptable. Unknown keys are
refused rather than ignored: a misspelt ``keywords`` silently matching every message is the kind
of surprise the reference shipped.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter  # type: ignore[import-untyped]
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from coagent_contracts.trigger import TriggerEventType

__all__ = [
    "MAX_REGEX_LENGTH",
    "ConditionsError",
    "CronConditions",
    "SilenceConditions",
    "TimerConditions",
    "UserMessageConditions",
    "validate_conditions",
]

#: Longest accepted ``regex``: Python's ``re`` has no timeout, so patterns stay short.
MAX_REGEX_LENGTH = 200
#: Quantified group whose body is itself quantified (``(a+)+``, ``(\w*)*``, ``(a|aa){2,}``):
#: the classic shapes of catastrophic backtracking, refused up front.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d*,)")
_ALTERNATION_REPEAT = re.compile(r"\((?:[^()\\]|\\.)*\|(?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d*,)")

Overlap = Literal["skip", "buffer_one", "cancel_running", "allow"]
CatchUp = Literal["skip", "once"]
PositiveMinutes = Annotated[float, Field(ge=0.05)]


class ConditionsError(ValueError):
    """Conditions that do not fit their event type; ``errors`` are pydantic-style items."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors


class _Conditions(BaseModel):
    """Keys every event type accepts; ``extra="forbid"`` makes unknown keys a 422."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    overlap: Overlap = "skip"


class Debounce(BaseModel):
    """Coalesce a burst: fire ``period_s`` after the last match, at most ``max_wait_s`` late."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period_s: float = Field(gt=0)
    max_wait_s: float

    @model_validator(mode="after")
    def _max_wait_covers_period(self) -> Debounce:
        if self.max_wait_s < self.period_s:
            raise ValueError("max_wait_s must be greater than or equal to period_s")
        return self


class UserMessageConditions(_Conditions):
    """Which posted messages make the policy fire."""

    keyword: str | list[str] | None = None
    regex: str | None = Field(default=None, max_length=MAX_REGEX_LENGTH)
    sender_kind: Literal["human", "agent", "any"] = "human"
    sender_roles: list[str] | None = None
    mention: str | None = Field(default=None, min_length=1)
    message_count: int | None = Field(default=None, ge=1)
    debounce: Debounce | None = None

    @field_validator("keyword")
    @classmethod
    def _keywords_not_blank(cls, value: str | list[str] | None) -> str | list[str] | None:
        words = [value] if isinstance(value, str) else value or []
        if any(not w.strip() for w in words):
            raise ValueError("keywords must not be blank")
        return value

    @field_validator("regex")
    @classmethod
    def _regex_compiles_and_is_safe(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        if _NESTED_QUANTIFIER.search(value) or _ALTERNATION_REPEAT.search(value):
            raise ValueError("nested or alternated repetition can backtrack catastrophically")
        return value

    def keywords(self) -> list[str]:
        """``keyword`` as a list (a single string is one keyword)."""
        if self.keyword is None:
            return []
        return [self.keyword] if isinstance(self.keyword, str) else list(self.keyword)


class SilenceConditions(_Conditions):
    """Fire once a room has had no human message for ``threshold_mins``."""

    threshold_mins: PositiveMinutes = 5.0


class TimerConditions(_Conditions):
    """Every ``interval_mins`` (plus up to ``jitter_s``, at most half an interval) until
    ``end_at``."""

    interval_mins: PositiveMinutes
    jitter_s: float = Field(default=0.0, ge=0)
    catch_up: CatchUp = "skip"
    end_at: AwareDatetime | None = None


class CronConditions(_Conditions):
    """A cron expression in an IANA time zone until ``end_at``; 6 fields put seconds first."""

    cron: str
    timezone: str = "UTC"
    catch_up: CatchUp = "skip"
    end_at: AwareDatetime | None = None

    @field_validator("cron")
    @classmethod
    def _cron_is_valid(cls, value: str) -> str:
        fields = len(value.split())
        # Seconds first in a 6-field expression, as NATS schedules and Quartz read it.
        if fields not in (5, 6) or not croniter.is_valid(value, second_at_beginning=fields == 6):
            raise ValueError("cron must be a valid 5- or 6-field expression")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_is_iana(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class WebhookConditions(_Conditions):
    pass


class ManualConditions(_Conditions):
    pass


MODELS: dict[str, type[_Conditions]] = {
    "user_message": UserMessageConditions,
    "silence": SilenceConditions,
    "timer": TimerConditions,
    "cron": CronConditions,
    "webhook": WebhookConditions,
    "manual": ManualConditions,
}


def validate_conditions(event_type: TriggerEventType, conditions: dict[str, Any]) -> dict[str, Any]:
    """``conditions`` unchanged if they fit ``event_type``; raises :class:`ConditionsError`.

    The input is returned rather than the model's dump so that defaults are not written into
    the stored policy: a later change of a default then applies to every policy that relied on it.
    """
    try:
        MODELS[event_type].model_validate(conditions)
    except ValidationError as exc:
        raise ConditionsError(
            [
                {
                    "loc": ["conditions", *exc_item["loc"]],
                    "msg": exc_item["msg"],
                    "type": exc_item["type"],
                }
                for exc_item in exc.errors(include_url=False)
            ]
        ) from None
    return conditions
