"""When the pipeline runs again: cron expressions (`cron`), the scheduler on
this machine (`local`), and uploading, running and scheduling compiled
packages on Kubeflow Pipelines and Vertex AI (`deploy`)."""
