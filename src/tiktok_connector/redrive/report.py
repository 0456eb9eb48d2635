"""What a redrive run did (or, in a dry run, would do): counts by outcome and reason, and the plan."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from tiktok_connector.redrive.decisions import Action, Decision
from tiktok_connector.redrive.letters import Letter

PLAN_LIMIT: Final = 100


@dataclass(slots=True)
class RedriveReport:
    """What a run did. `messages_read` = redriven + parked + requeued + left, always."""

    dry_run: bool
    messages_read: int = 0
    messages_redriven: int = 0
    events_redriven: int = 0
    parked: Counter[str] = field(default_factory=Counter)
    requeued: Counter[str] = field(default_factory=Counter)
    left: Counter[str] = field(default_factory=Counter)
    delete_failures: int = 0
    stopped: str | None = None
    would_send_messages: int = 0
    would_send_events: int = 0
    would_park: Counter[str] = field(default_factory=Counter)
    plan: list[dict[str, object]] = field(default_factory=list)

    @property
    def accounted(self) -> int:
        return self.messages_redriven + self.parked.total() + self.requeued.total() + self.left.total()

    def add_to_plan(self, message_id: str | None, decision: Decision, letter: Letter | None) -> None:
        """A dry run's decision: counted, and listed while the plan is short enough to read."""
        if decision.action is Action.SEND and letter is not None:
            self.would_send_messages += 1
            self.would_send_events += letter.event_count
        else:
            self.would_park[decision.reason] += 1
        if len(self.plan) >= PLAN_LIMIT:
            return
        entry: dict[str, object] = {
            "message_id": message_id,
            "action": decision.action.value,
            "reason": decision.reason,
        }
        if letter is not None:
            entry.update(
                events=letter.event_count,
                event_ids=letter.event_ids,
                redrive_attempts=letter.redrive_attempts,
                dead_letter_reason=letter.reason,
            )
        self.plan.append(entry)

    def to_dict(self) -> dict[str, object]:
        document: dict[str, object] = {
            "dry_run": self.dry_run,
            "messages_read": self.messages_read,
            "redriven": {"messages": self.messages_redriven, "events": self.events_redriven},
            "parked": dict(sorted(self.parked.items())),
            "requeued": dict(sorted(self.requeued.items())),
            "left": dict(sorted(self.left.items())),
            "stopped": self.stopped,
        }
        if self.delete_failures:
            document["delete_failures"] = self.delete_failures
        if self.dry_run:
            document["would_send"] = {"messages": self.would_send_messages, "events": self.would_send_events}
            document["would_park"] = dict(sorted(self.would_park.items()))
            document["plan"] = self.plan
            document["plan_truncated"] = self.messages_read > len(self.plan)
        return document
