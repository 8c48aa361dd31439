"""The pipeline: its factory, its runners and its command line."""
