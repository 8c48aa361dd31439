"""`deploy`: upload a compiled package to Kubeflow Pipelines (and start a
run) or submit it to Vertex AI. Its options, shared with `schedule`, are
here too."""

import click

from pipeline.commands.options import VERTEX, default


def deploy_options(function):
    """Where a compiled package goes (shared by deploy and schedule)."""
    decorators = [
        click.option("--package", default=None,
                     help="The file `compile` wrote."),
        click.option("--host", envvar="KF_PIPELINES_ENDPOINT",
                     help="[kubeflow] KFP API endpoint, e.g. "
                          "http://localhost:8080 or https://HOST/pipeline."),
        click.option("--token", envvar="KF_PIPELINES_TOKEN",
                     help="[kubeflow] Bearer token for the KFP API."),
        click.option("--experiment", default=None,
                     help="[kubeflow] Experiment for the runs [schedule "
                          "default: the pipeline's name]."),
        click.option("--project", envvar="GOOGLE_CLOUD_PROJECT",
                     help="[vertex] Google Cloud project."),
        click.option("--region", default=default(VERTEX, "region"),
                     show_default=True, help="[vertex] Vertex AI region."),
        click.option("--service-account", default=None,
                     help="[vertex] Service account the runs use."),
        click.option("--param", "params", multiple=True,
                     metavar="NAME=VALUE",
                     help="Pipeline parameter, repeatable, e.g. epochs=10."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def check_target(target: str, package, host, project):
    """The package and the target's required setting, or a usage error
    naming what is missing."""
    if not package:
        raise click.UsageError("--package is needed: the file `compile` "
                               "wrote.")
    if target == "kubeflow" and not host:
        raise click.UsageError(
            "--host (or KF_PIPELINES_ENDPOINT) is needed for --target "
            "kubeflow, e.g. http://localhost:8080.")
    if target == "vertex" and not project:
        raise click.UsageError(
            "--project (or GOOGLE_CLOUD_PROJECT) is needed for --target "
            "vertex.")


@click.command(epilog="""
\b
Examples:
  python -m pipeline deploy --target kubeflow --package pipeline.yaml \\
      --host http://localhost:8080 --experiment fashion --param epochs=10
  python -m pipeline deploy --target vertex --package pipeline.json \\
      --project my-project --region us-central1
""")
@click.option("--target", type=click.Choice(["kubeflow", "vertex"]),
              required=True)
@click.option("--run/--no-run", "start_run", default=None,
              help="[kubeflow] Also start a run [default: when "
                   "--experiment is given].")
@deploy_options
def deploy(target, start_run, package, host, token, experiment, project,
           region, service_account, params):
    """Upload a compiled pipeline (Kubeflow: a new pipeline version, and a
    run in an experiment if asked; Vertex: submit a PipelineJob)."""
    from pipeline.scheduling import deploy as deployment  # pylint: disable=import-outside-toplevel
    check_target(target, package, host, project)
    try:
        pipeline = deployment.read_package(package, target)
        values = pipeline.values(params)
        if target == "kubeflow":
            if start_run and not experiment:
                experiment = pipeline.name
            if start_run is False:
                experiment = None
            result = deployment.kfp_deploy(pipeline, host, token, experiment,
                                           values)
            click.echo(f"Pipeline {result.pipeline_id}, version "
                       f"{result.version_id}")
            if result.run_id:
                click.echo(f"Run {result.run_id} in experiment "
                           f"{experiment!r}")
        else:
            name = deployment.vertex_submit(pipeline, deployment.Vertex(
                project, region, service_account), values)
            click.echo(f"PipelineJob {name}")
    except deployment.DeployError as error:
        raise click.ClickException(str(error)) from None
