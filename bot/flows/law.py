"""The law at one date (guidance C0 T1-T3): which dated items apply on the decision's date, given
the operator's commencement settings. Pure data, no clock: the caller says which day.

An item applies when it is in force and `in_force_from <= on <= in_force_until` (inclusive). A
`coming` item applies only once a commencement setting names its date; a setting also corrects
the start date of an in-force item whose date is provisional ([P]). No setting, no duty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Protocol

from bot.flows.loader import FlowBundle
from bot.flows.schema import Branch, Outcome, Question

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")


class DatedItem(Protocol):
    @property
    def status(self) -> str: ...  # "in_force" | "coming" (gateways: their own status words)

    @property
    def in_force_from(self) -> date | None: ...

    @property
    def in_force_until(self) -> date | None: ...

    @property
    def provision(self) -> str | None: ...


@dataclass(frozen=True)
class Law:
    """The law as at `on`, with the commencement settings in force (`provision id -> date`)."""

    on: date
    commencements: Mapping[str, date] = field(default_factory=lambda: MappingProxyType({}))

    def start(self, item: DatedItem, default_id: str | None = None) -> date | None:
        """The date the item starts to apply (None: it has no start, or is coming with no
        setting: see `applies`)."""
        provision = item.provision or default_id
        if provision and provision in self.commencements:
            return self.commencements[provision]
        return item.in_force_from

    def applies(self, item: DatedItem, default_id: str | None = None) -> bool:
        provision = item.provision or default_id
        commenced = bool(provision and provision in self.commencements)
        if str(item.status) == "coming" and not commenced:
            return False
        start = self.start(item, default_id)
        if start is not None and self.on < start:
            return False
        return item.in_force_until is None or self.on <= item.in_force_until

    def is_coming(self, item: DatedItem, default_id: str | None = None) -> bool:
        """Not yet in force at `on` but not expired either: shown as a `coming` note (T5)."""
        if item.in_force_until is not None and self.on > item.in_force_until:
            return False
        return not self.applies(item, default_id)

    def used(self) -> dict[str, str]:
        """The commencement settings, as logged with a decision (T6)."""
        return {k: v.isoformat() for k, v in sorted(self.commencements.items())}


def law_date(on: date) -> str:
    """T4: "7 December 2026" (no leading zero, month in words, four-digit year)."""
    return f"{on.day} {MONTHS[on.month - 1]} {on.year}"


def law_as_at_line(on: date) -> str:
    """The sentence every answer carries (T4)."""
    return f"The law as at {law_date(on)}."


def dated_items(bundle: FlowBundle) -> list[tuple[str, DatedItem]]:
    """Every dated item in the flows with the provision id a commencement setting would name:
    gateways, notes, citations, routing branches and outcome extras."""
    items: list[tuple[str, DatedItem]] = []
    for gid, gateway in bundle.gateways.items():
        if gateway.in_force_from or gateway.in_force_until or gateway.status == "coming" or gateway.provision:
            items.append((gateway.provision or gid, gateway))
    items += [(note.provision or nid, note) for nid, note in bundle.law_notes.items()]
    for key, editions in bundle.manifest.citations.items():
        items += [(c.provision or f"cite_{key}", c) for c in editions if c.dated]
    for flow in bundle.flows.values():
        for node in flow.nodes:
            for target in node.targets() if isinstance(node, Question) else []:
                if isinstance(target, Branch) and target.dated and target.provision:
                    items.append((target.provision, target))
    extras = [*bundle.shared.always, *(e for sets in bundle.shared.extra_sets.values() for e in sets)]
    extras += [e for o in bundle.shared.outcomes for e in o.extras]
    extras += [e for f in bundle.flows.values() for n in f.nodes if isinstance(n, Outcome) for e in n.extras]
    items += [(e.provision, e) for e in extras if e.dated and e.provision]
    return items


def provisions(bundle: FlowBundle) -> set[str]:
    """The ids a `commencement.<id>` setting may name."""
    return {pid for pid, _ in dated_items(bundle)}


def coming_provisions(bundle: FlowBundle) -> list[str]:
    """Provisions passed but not commenced (`status: coming`), for `flows check` (T3)."""
    return sorted({pid for pid, item in dated_items(bundle) if str(item.status) == "coming"})
