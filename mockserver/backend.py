"""The simulator's state and services, composed once (moto calls this the backend).

Holds the settings, the one clock, the one id source, the store and the domain services. Handlers
reach it through `request.app.state.backend`; tests may build one directly.
"""

from __future__ import annotations

from mockserver.domain.batches import BatchService
from mockserver.domain.clock import Clock, ManualClock
from mockserver.domain.faults import NO_SCENARIO, Faults, Scenario
from mockserver.domain.files import FileService
from mockserver.domain.ids import IdSource
from mockserver.domain.journal import Journal
from mockserver.domain.model import SimulatedModel
from mockserver.domain.realtime import Realtime
from mockserver.domain.users import Users
from mockserver.settings import Settings
from mockserver.store import Store


class Backend:
    def __init__(
        self, settings: Settings, store: Store, clock: Clock, ids: IdSource, scenario: Scenario = NO_SCENARIO
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.ids = ids
        self.users = Users(settings.api_keys)
        self.files = FileService(store, settings, ids, clock.now)
        model = SimulatedModel(settings.seed or 0, {m.name: m.dimensions for m in settings.models if m.kind == "embeddings"})
        self.model = model
        self.faults = Faults(scenario)
        self.journal = Journal()
        self.batches = BatchService(store, self.files, settings, model, ids.uuid, clock.now, self.faults)
        self.realtime = Realtime(store, settings, model, ids.uuid, clock.now, self.faults)

    async def start(self) -> None:
        """At startup, on the event loop: finish planning batches a previous run left unplanned."""
        self.batches.resume_unscheduled()

    def reset(self) -> None:
        """Forget every file, batch, response, fault rule and journal entry; the clock keeps its mode and time."""
        self.store.forget_everything()
        self.batches.forget()
        self.faults.clear()
        self.journal.clear()

    def now(self) -> float:
        return self.clock.now()


def open_clock(store: Store, mode: str, speed: float, wall_now: float) -> Clock:
    """The clock for a data folder: a manual clock resumes where it stopped (and starts at the wall
    time of the first start); a real clock runs at `speed`."""
    from mockserver.domain.clock import RealClock

    if mode == "manual":
        saved = store.get_meta("manual_clock")
        start = float(saved) if saved is not None else wall_now
        store.set_meta("manual_clock", repr(start))
        return ManualClock(start, on_change=lambda t: store.set_meta("manual_clock", repr(t)))
    return RealClock(speed=speed)


def next_start_number(store: Store) -> int:
    """How many times this data folder has been opened before (salts the seeded ids)."""
    starts = int(store.get_meta("starts") or "0")
    store.set_meta("starts", str(starts + 1))
    return starts
