"""Reference client and command line for the Doubleword Batch API (and this simulator)."""
