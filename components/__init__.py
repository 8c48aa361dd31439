"""What each pipeline step does: custom components and the user code TFX runs.

Nothing here imports `pipeline` or `pipeline_config`.
"""
