"""mockserver.testing's plumbing: starting a simulator process, and the live target's clean-up."""

from __future__ import annotations

import pytest

from mockserver.testing import ServerProcess


def test_a_server_that_dies_at_start_is_reported_with_its_output() -> None:
    # the child's output ends at once: that is the answer, not a wait for a start line that never comes
    with pytest.raises(RuntimeError) as failed:
        ServerProcess(["--profile", "nope"])
    message = str(failed.value)
    assert "simulator did not start (exited with 2)" in message
    assert "argument --profile: invalid choice: 'nope'" in message
