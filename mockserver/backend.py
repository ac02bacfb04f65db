"""The simulator's state and services, composed once (moto calls this the backend).

Holds the settings, the one clock, the one id source, the store and the domain services (each given
its collaborators through its constructor), among them the one control service that the control API
and the console both call. Handlers reach it through `request.app.state.backend`; tests may build
one directly.
"""

from __future__ import annotations

import asyncio
import math

from mockserver import cassette
from mockserver.dialect import dialect_of
from mockserver.domain.admission import Admission
from mockserver.domain.answers import AnswerSource, SimulatedAnswers
from mockserver.domain.batches import BatchService
from mockserver.domain.clock import Clock, ManualClock, RealClock
from mockserver.domain.control import Control
from mockserver.domain.faults import NO_SCENARIO, Faults, Scenario
from mockserver.domain.files import FileService
from mockserver.domain.ids import IdSource
from mockserver.domain.journal import Journal
from mockserver.domain.model import SimulatedModel
from mockserver.domain.planner import request_row
from mockserver.domain.planning import PlanningRunner
from mockserver.domain.realtime import Realtime
from mockserver.domain.result_files import ResultFiles
from mockserver.domain.results import Results
from mockserver.domain.scheduler import Planned, Timing
from mockserver.domain.upstream_runs import PENDING, UpstreamRuns
from mockserver.domain.users import Users
from mockserver.domain.views import BatchViews
from mockserver.render import BatchJsonCache
from mockserver.settings import Settings
from mockserver.store import RequestRow, Store
from mockserver.upstream import Upstream


class Backend:
    def __init__(
        self, settings: Settings, store: Store, clock: Clock, ids: IdSource, scenario: Scenario = NO_SCENARIO
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.ids = ids
        self.profile = dialect_of(settings)  # the wire's half of the profile; the domain gets its policy
        policy = self.profile.policy
        self.batch_json = BatchJsonCache()  # polled batches answer from here while unchanged
        self.users = Users(settings.api_keys)
        model = SimulatedModel(settings.seed or 0, {m.name: m.dimensions for m in settings.models if m.kind == "embeddings"},
                               strict_schemas=self.profile.openai)  # OpenAI's strict structured-output rules
        self.model = model
        self.faults = Faults(scenario)
        self.journal = Journal()
        answers: AnswerSource = SimulatedAnswers(model)
        if settings.upstream is None and settings.replay is not None:  # a cassette answers, with its latencies
            fallback = SimulatedAnswers(model) if settings.replay_missing == "simulate" else None
            answers = cassette.ReplayAnswers(cassette.load(settings.replay), fallback)
        timing = Timing(settings.latency_min, settings.latency_max, settings.concurrency_per_model)
        self.upstream = Upstream(settings.upstream) if settings.upstream is not None else None
        self.realtime = Realtime(store, settings, model, ids.uuid, clock.now, self.faults, self.users, answers,
                                 proxy=self.upstream)
        self._loop: asyncio.AbstractEventLoop | None = None  # the event loop serving requests, once started
        self.upstream_runs: UpstreamRuns | None = None
        if self.upstream is not None:  # a real server answers, each batch request when the clock reaches it
            keep_response = policy.http_failures_keep_response

            def row_of(batch_id: str, planned: Planned, custom_id: str, model_name: str) -> RequestRow:
                return request_row(batch_id, planned, custom_id, model_name, keep_response)

            self.upstream_runs = UpstreamRuns(store, self.upstream, timing, clock.now, row_of, self._saved, self.faults)
        self.planning = PlanningRunner(store, settings, policy, self.faults, timing, answers, self.upstream_runs,
                                       clock.now, self.forget_batch)
        self.views = BatchViews(store, settings, policy, clock.now, self.planning.stalled)
        self.files = FileService(store, settings, policy, ids, clock.now, ResultFiles(store, self.views, policy),
                                 self._file_deleted)
        admission = Admission(store, settings, policy, self.faults, clock.now, self.files.request_models)
        self.batches = BatchService(store, settings, policy, admission, self.planning, self.views, Results(store),
                                    ids.uuid, clock.now)
        self.control = Control(settings.control_token, clock, self.faults, self.journal,
                               forget=(store.forget_everything, self.planning.forget, self.views.forget))

    def _file_deleted(self, file_id: str) -> None:
        self.batches.file_deleted(file_id)

    def forget_batch(self, batch_id: str) -> None:
        """The batch's requests or row were written by another thread: drop what is cached of the row
        (the views' and JSON caches follow its version). On the event loop, after the write, so a
        row read before it is not kept."""
        self.store.forget_batch(batch_id)

    def _saved(self, batch_id: str) -> None:
        """Upstream answers were stored for a batch (on the upstream's thread): what is cached of it is
        stale. Dropped on the event loop, after whatever the loop is computing now, which may have
        read the batch just before the save."""
        if self._loop is None:
            self.forget_batch(batch_id)
        else:
            self._loop.call_soon_threadsafe(self.forget_batch, batch_id)

    async def start(self) -> None:
        """At startup, on the event loop: finish planning batches a previous run left unplanned."""
        self._loop = asyncio.get_running_loop()
        if self.upstream_runs is not None:
            self.upstream_runs.resume()
        else:  # requests an upstream left unanswered, and no upstream now: the answers we have finish them
            self.planning.answer_pending(PENDING)
        self.planning.resume_unscheduled()

    def close(self) -> None:
        """Stop what runs beside the server: the planning thread; the upstream's thread, its event loop
        and connections."""
        self.planning.close()
        if self.upstream is not None:
            self.upstream.close()

    def reset(self) -> None:
        """Forget every file, batch, response, fault rule and journal entry; the clock keeps its mode and time."""
        self.control.reset()

    def now(self) -> float:
        return self.clock.now()


def open_clock(store: Store, mode: str, speed: float, wall_now: float) -> Clock:
    """The clock for a data folder. A manual clock resumes where it stopped (and starts at the wall
    time of the first start). A real clock runs at `speed` from where the folder's scaled clock
    stands, as if it had kept running (at speed 1 that is wall time); a new speed takes over from
    there. Neither ever goes back, also when a folder switches between them: each starts no earlier
    than where the other stands."""
    saved_manual = store.get_meta("manual_clock")
    manual_at = float(saved_manual) if saved_manual is not None else None
    saved = store.get_meta("scaled_clock")
    scaled_at = None  # where the saved scaled clock stands now
    if saved is not None:
        virtual, wall, old_speed = map(float, saved.split())
        scaled_at = virtual + (wall_now - wall) * old_speed
    if mode == "manual":
        start = manual_at if manual_at is not None else wall_now
        start = max(start, scaled_at) if scaled_at is not None else start
        store.set_meta("manual_clock", repr(start))
        return ManualClock(start, on_change=lambda t: store.set_meta("manual_clock", repr(t)))
    floor = manual_at if manual_at is not None else -math.inf
    if scaled_at is None:
        origin = (max(wall_now, floor), wall_now)
    elif old_speed == speed and scaled_at >= floor:
        origin = (virtual, wall)
    else:
        origin = (max(scaled_at, floor), wall_now)
    clock = RealClock(speed=speed, origin=origin)  # refuses a bad speed before anything is saved
    store.set_meta("scaled_clock", f"{origin[0]!r} {origin[1]!r} {speed!r}")
    return clock


def next_start_number(store: Store) -> int:
    """How many times this data folder has been opened before (salts the seeded ids)."""
    starts = int(store.get_meta("starts") or "0")
    store.set_meta("starts", str(starts + 1))
    return starts
