"""Uploads of generated batch files: every valid file is accepted and round-trips line for line;
every broken one (a valid file plus one named mutation) gets the live status, line number and
message, and changes nothing, neither in the caller's list nor in the store."""

from __future__ import annotations

import pytest
from hypothesis import Phase, given

from fuzz.checks import check_accepted, check_nothing_stored, check_rejected, upload
from fuzz.profiles import fuzz_settings
from fuzz.strategies import MUTATIONS, BatchFile, Broken, batch_files, broken_files
from fuzz.target import FUZZ_LIMITS, FuzzTarget

LIMITS = FUZZ_LIMITS
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)  # a known bug: report the first failure as is


@pytest.mark.simulator_only("the live service has its production limits")
def test_the_target_runs_with_the_limits_the_strategies_assume(fuzz_target: FuzzTarget) -> None:
    assert fuzz_target.limits == LIMITS


@fuzz_settings(60)
@given(f=batch_files(LIMITS))
def test_a_valid_file_is_accepted_and_round_trips(fuzz_target: FuzzTarget, f: BatchFile) -> None:
    content = f.render()
    with fuzz_target.watch(), fuzz_target.user() as api:
        response = upload(api, content)
        check_accepted(api, response, size=len(content), filename="batch.jsonl", expected=f.stored())


EXAMPLES = {"oversized_file": 4, "too_many_requests": 6}
LIMIT_MUTATIONS = {"oversized_body", "too_many_requests", "oversized_file"}  # need the small limits: not on live


def _marks(name: str) -> list[pytest.MarkDecorator]:
    known_bug = MUTATIONS[name].known_bug
    marks = [pytest.mark.xfail(strict=True, reason=known_bug)] if known_bug else []
    if name in LIMIT_MUTATIONS:
        marks.append(pytest.mark.simulator_only("the live limits are production-sized"))
    return marks


MUTATION_PARAMS = [pytest.param(name, marks=_marks(name)) for name in MUTATIONS]


@pytest.mark.parametrize("name", MUTATION_PARAMS)
def test_a_broken_file_gets_the_live_answer_and_changes_nothing(fuzz_target: FuzzTarget, name: str) -> None:
    known_bug = MUTATIONS[name].known_bug is not None

    @fuzz_settings(EXAMPLES.get(name, 12), **({"phases": NO_SHRINK} if known_bug else {}))
    @given(broken=broken_files(name, LIMITS))
    def run(broken: Broken) -> None:
        with fuzz_target.watch(), fuzz_target.user() as api:
            before = fuzz_target.store_state()
            response = upload(api, broken.content, chunked=broken.chunked)
            check_rejected(response, broken.expect)
            check_nothing_stored(fuzz_target, api, before)

    run()
