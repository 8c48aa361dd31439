"""Runs nodes of a compiled pipeline with TFX's portable `Launcher`, the
way TFX's LocalDagRunner does, but with executor operators that import a
node's executor only when it runs (executor_operators.py): TFX 1.16's
LocalDagRunner takes no executor operators, so a fully cached run through
it imports every executor (TFMA, TFDV, TensorFlow...). The local runner
and the Kubeflow node entrypoint both launch their nodes here.
"""

from absl import logging
from tfx.orchestration import metadata
from tfx.orchestration.local import runner_utils
from tfx.orchestration.portable import launcher

from pipeline.runners import executor_operators


def launcher_for(ir, node_id: str, connection_config) -> launcher.Launcher:
    """TFX's Launcher for node `node_id` of `ir` (its run id set), with its
    deployment's executor and driver, on the store `connection_config`."""
    deployment = runner_utils.extract_local_deployment_config(ir)
    [node] = [n.pipeline_node for n in ir.nodes
              if n.pipeline_node.node_info.id == node_id]
    return launcher.Launcher(
        pipeline_node=node,
        mlmd_connection=metadata.Metadata(connection_config),
        pipeline_info=ir.pipeline_info,
        pipeline_runtime_spec=ir.runtime_spec,
        executor_spec=runner_utils.extract_executor_spec(deployment, node_id),
        custom_driver_spec=runner_utils.extract_custom_driver_spec(
            deployment, node_id),
        # A node found in the cache imports nothing of its executor.
        custom_executor_operators=executor_operators.OPERATORS)


def run_all(ir, connection_config) -> None:
    """LocalDagRunner's loop (TFX 1.16): every node of `ir` (its run id
    set) in the compiled, topological order, one after the other, with the
    same log lines (`pipeline.reporting.progress` times nodes by them)."""
    for node in ir.nodes:
        node_id = node.pipeline_node.node_info.id
        if node.pipeline_node.execution_options.HasField("skip"):
            logging.info("Skipping component %s.", node_id)
            continue
        node_launcher = launcher_for(ir, node_id, connection_config)
        logging.info("Component %s is running.", node_id)
        node_launcher.launch()
        logging.info("Component %s is finished.", node_id)
