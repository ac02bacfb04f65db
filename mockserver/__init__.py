"""An offline simulator of the Doubleword Batch API (OpenAI-compatible files and batches)."""

__version__ = "0.1.0"
