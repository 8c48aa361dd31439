"""Committed schemas (the data contract), one folder per TFDS dataset."""
