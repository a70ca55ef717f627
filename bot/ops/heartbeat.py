"""Is `canishare clock` alive? The one function doctor and the metrics ask.

STAND-IN until issue 20's heartbeat lands (branch `truth`): it reads the scheduler's leader
lease, which a running clock renews every tick. A lease that has run out means no clock has
ticked since; none at all means no clock has ever run against this database.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.clock import Clock
from bot.dsl.scheduler import LEASE
from bot.storage import Storage


@dataclass(frozen=True)
class Heartbeat:
    ever: bool  # has a clock ever run against this database?
    silent_seconds: float  # how long since the clock was last known alive (0 while alive)

    @property
    def alive(self) -> bool:
        return self.ever and self.silent_seconds <= 0


def clock_heartbeat(storage: Storage, clock: Clock) -> Heartbeat:
    with storage.read() as tx:
        until = tx.housekeeping.lease_until(LEASE)
    if until is None:
        return Heartbeat(False, 0.0)
    return Heartbeat(True, max(0.0, (clock.now() - until).total_seconds()))
