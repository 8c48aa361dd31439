"""Where the pipeline runs: here (`local`, with its `preflight` checks), on
Kubeflow Pipelines (`kubeflow`, each task running `node_entrypoint`) and on
Vertex AI (`vertex`). Each reads the config, builds the pipeline with the
factory and hands it to its orchestrator."""
