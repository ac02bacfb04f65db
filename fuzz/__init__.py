"""Property-based fuzzing of the simulator with Hypothesis: every input, however broken, gets the
live service's answer, never a 5xx, and nothing is lost. See `conftest.py` for the target and the
profiles, `strategies.py` for what is generated."""
