"""The fuzz suite's Hypothesis profiles, chosen by `DWSIM_FUZZ_PROFILE` (`ci` by default, or `long`).

- `ci`: derandomized (the same examples on every run, so CI is reproducible), sized so that the
  whole `fuzz/` directory runs in about a minute on two cores; part of the plain `pytest` run.
- `long`: random, `LONG_FACTOR` times the examples of `ci` (about 30,000 in all; roughly an hour
  on two cores), failures saved in Hypothesis' example database (`.hypothesis/`) so a re-run
  replays them first. `DWSIM_FUZZ_PROFILE=long pytest fuzz`.

The profiles are registered globally but never loaded globally (that would change the unit tests'
settings too): each fuzz test takes its settings from `fuzz_settings`, built on the chosen profile.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings

PROFILE_ENV = "DWSIM_FUZZ_PROFILE"
LONG_FACTOR = 40

_SUPPRESSED = [
    HealthCheck.function_scoped_fixture,  # the target and the server log are shared on purpose
    HealthCheck.too_slow,  # every example is an HTTP round trip
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
]

settings.register_profile(
    "ci", max_examples=50, deadline=None, derandomize=True, database=None, print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile(
    "long", max_examples=50 * LONG_FACTOR, deadline=None, print_blob=True, suppress_health_check=_SUPPRESSED,
)

PROFILE = os.environ.get(PROFILE_ENV, "ci")
if PROFILE not in ("ci", "long"):
    raise ValueError(f"{PROFILE_ENV}={PROFILE!r}: choose 'ci' or 'long'")


LIVE_EXAMPLES = 3  # examples a test against the live service (`DWSIM_FUZZ_TARGET=live`): a tiny budget
_LIVE = os.environ.get("DWSIM_FUZZ_TARGET") == "live"


def fuzz_settings(examples: int, **overrides: Any) -> settings:
    """Settings for one test: `examples` in the ci profile, `LONG_FACTOR` times as many in long; at
    most `LIVE_EXAMPLES` against the live service."""
    count = examples if PROFILE == "ci" else examples * LONG_FACTOR
    if _LIVE:
        count = min(count, LIVE_EXAMPLES)
    return settings(settings.get_profile(PROFILE), max_examples=count, **overrides)
