"""The pipeline's settings: one typed, frozen, validated object.

Loaded once at the edge (the CLI or a runner) and handed down; nothing below
reads the environment. Every field has a default that works on a laptop.
Derived locations (pipeline root, ML Metadata store, serving directory) are
properties of `PipelineConfig`, never stored copies.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Optional, Tuple

RUNNING_MODES = ("in_memory", "multi_threading", "multi_processing")
BEAM_RUNNERS = ("direct", "flink", "dataflow")
# Each runner-specific Beam setting: (its flag, the runner it belongs to).
_RUNNER_FIELDS = {
    "flink_master": ("--flink-master", "flink"),
    "flink_job_server_jar": ("--flink-job-server-jar", "flink"),
    "flink_job_endpoint": ("--flink-job-endpoint", "flink"),
    "flink_worker_pool": ("--flink-worker-pool", "flink"),
    "parallelism": ("--flink-parallelism", "flink"),
    "dataflow_project": ("--dataflow-project", "dataflow"),
    "dataflow_region": ("--dataflow-region", "dataflow"),
    "dataflow_temp_location": ("--dataflow-temp-location", "dataflow")}
_HOST_PORT_RE = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")
# Where this package's setup.py is: beside this module in a source checkout
# (the local main job, tests); in the container image, where the Dockerfile
# copies it. Kubeflow and Vertex tasks run in that image.
SOURCE_SETUP_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 "setup.py")
IMAGE_SETUP_FILE = "/opt/tfds-pipeline/setup.py"
# Beam's Flink job server as `make flink-job-server` builds it beside this
# package (flink/job-server/pom.xml). The image has neither it nor Java:
# compiled packages reach a job server that runs beside the Flink cluster
# (`flink_job_endpoint`, docs/beam-runners.md).
FLINK_JOB_SERVER_JAR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "build", "flink-job-server",
    "beam-runners-flink-job-server.jar")
# Beam flags that already say where the workers' code comes from.
_DEPENDENCY_FLAGS = ("--setup_file", "--extra_package", "--requirements_file",
                     "--sdk_container_image", "--worker_harness_container_image")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class ConfigError(ValueError):
    """A setting is invalid; the message names the value and what to do."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _whole(value, minimum: int) -> bool:
    """An int (not a bool) of at least `minimum`."""
    return (isinstance(value, int) and not isinstance(value, bool)
            and value >= minimum)


@dataclasses.dataclass(frozen=True)
class DatasetConfig:
    """Which TensorFlow Datasets dataset to read, and from where.

    Attributes:
      name: TFDS dataset name, e.g. `fashion_mnist`, `mnist`, `kmnist`.
      version: TFDS version such as `3.0.1`; None takes the builder's default.
      config: TFDS builder config name, for datasets that have several.
      train_split: TFDS split (slicing allowed, e.g. `train[:10%]`) that
        becomes the pipeline's `train` split.
      eval_split: TFDS split that becomes the pipeline's `eval` split.
      data_dir: TFDS data directory; None means TFDS's default
        (`~/tensorflow_datasets`).
      manual_dir: folder holding the dataset's source files, for preparing it
        without network access (TFDS `DownloadConfig(manual_dir=...)`).
    """

    name: str = "fashion_mnist"
    version: Optional[str] = None
    config: Optional[str] = None
    train_split: str = "train"
    eval_split: str = "test"
    data_dir: Optional[str] = None
    manual_dir: Optional[str] = None

    def __post_init__(self):
        _require(
            bool(_NAME_RE.match(self.name)),
            f"dataset name {self.name!r} is not a TFDS name: use lower case "
            "letters, digits and underscores, e.g. 'fashion_mnist'.")
        _require(
            self.version is None
            or bool(re.match(r"^\d+\.\d+\.\d+$", self.version)),
            f"dataset version {self.version!r} is not of the form 1.2.3; "
            "leave it unset to use the dataset's default version.")
        _require(
            bool(self.train_split) and bool(self.eval_split),
            "train and eval splits must name TFDS splits, e.g. 'train' and "
            "'test'.")

    @property
    def tfds_name(self) -> str:
        """The name as TFDS parses it: `name[/config][:version]`."""
        name = self.name
        if self.config:
            name += "/" + self.config
        if self.version:
            name += ":" + self.version
        return name

    @property
    def splits(self) -> dict:
        """Pipeline split name -> TFDS split."""
        return {"train": self.train_split, "eval": self.eval_split}


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """How the Trainer trains.

    Attributes:
      epochs: passes over the training split.
      batch_size_per_replica: examples per replica per step; the global batch
        is this times the number of replicas in sync.
      cpu_replicas: on a machine without GPUs, split the CPU into this many
        logical devices so MirroredStrategy runs this many replicas. Ignored
        when GPUs are visible (all of them are used).
      workers: Trainer processes training together under
        MultiWorkerMirroredStrategy (1, the default: MirroredStrategy in
        one process). Each worker runs this Trainer's replicas (its GPUs, or
        `cpu_replicas` CPUs); the global batch is `batch_size_per_replica`
        times every worker's replicas, each example is seen once per
        epoch, and only the first worker (the chief) exports the model.
        Locally the workers are processes of this machine; on Vertex a
        worker pool, on Kubeflow a TFJob.
      steps_per_execution: training steps Keras runs per call into
        TensorFlow. The same steps, in fewer Python round trips
        (docs/performance.md). Callbacks see every this many steps. With
        one replica and no XLA, those steps' batches also come from the
        input pipeline as one chunk (components/trainer/chunked.py).
      jit_compile: compile the training step with XLA (Keras
        `jit_compile`), which fuses the model's ops into fewer kernels.
        Off by default: on CPUs XLA's matrix products are slower than
        TensorFlow's, and without it the step's Adam is one fused kernel
        and its batches come in chunks, which together train faster
        (docs/performance.md); try it on GPUs. Left off where XLA cannot
        run the step: several replicas on CPUs (XLA has no CPU
        collectives), which the training record then says.
      validate_every: also evaluate on the eval split every this many
        epochs while training (Keras `validation_freq`), for validation
        curves in TensorBoard. 0 (the default): not while training; the
        Evaluator evaluates the trained model on every eval example anyway,
        and validating makes the epochs slower (docs/performance.md).
      cache_budget_mib: the Trainer keeps the transformed training split
        (and, with `validate_every`, the eval split, from what is left) in
        memory between epochs when it takes at most this much (at 4 bytes
        per pixel: Fashion-MNIST's 60,000 images take 180 MiB); a larger
        split is read and transformed again every epoch.
      shuffle_buffer: examples in the training shuffle buffer, reshuffled
        every epoch; 0 (the default, as in the seed's Keras script) keeps
        the order TFDS wrote, which TFDS already shuffled when preparing the
        dataset; shuffling lowered test accuracy on Fashion-MNIST
        (docs/performance.md).
      seed: seeds Python, NumPy and TensorFlow in the Trainer, so a re-run
        on the same data trains the same model.
      warm_start: start training from the weights of the latest blessed
        model trained on other data (new data: fine-tune from the served
        model; unchanged data: stays cached).
      tpu: train under TPUStrategy on this TPU: `local` for a TPU VM (GKE
        TPU node pools, Vertex TPU VMs), or a TPU name or grpc:// address.
        None (the default): MirroredStrategy over the GPUs, or the CPU.
    """

    epochs: int = 5
    batch_size_per_replica: int = 64
    cpu_replicas: int = 1
    workers: int = 1
    steps_per_execution: int = 100
    jit_compile: bool = False
    validate_every: int = 0
    cache_budget_mib: int = 1024
    shuffle_buffer: int = 0
    seed: int = 0
    warm_start: bool = False
    tpu: Optional[str] = None

    def __post_init__(self):
        _require(_whole(self.seed, 0),
                 f"seed must be a whole number >= 0, got {self.seed!r}.")
        _require(_whole(self.validate_every, 0),
                 f"validate every must be 0 (not while training) or a number"
                 f" of epochs, got {self.validate_every!r}.")
        _require(_whole(self.cache_budget_mib, 0),
                 f"cache budget must be 0 (never cache) or more MiB, got "
                 f"{self.cache_budget_mib!r}.")
        _require(_whole(self.shuffle_buffer, 0),
                 f"shuffle buffer must be 0 (no shuffling) or more, got "
                 f"{self.shuffle_buffer!r}.")
        _require(self.workers == 1 or self.cpu_replicas == 1,
                 f"--trainer-workers {self.workers} and --cpu-replicas "
                 f"{self.cpu_replicas} cannot be combined: each worker "
                 "trains on its own devices (one CPU, or its GPUs); use "
                 "one or the other.")
        _require(isinstance(self.jit_compile, bool),
                 f"jit compile must be true or false, got "
                 f"{self.jit_compile!r}.")
        for field in ("epochs", "batch_size_per_replica", "cpu_replicas",
                      "workers", "steps_per_execution"):
            value = getattr(self, field)
            _require(_whole(value, 1),
                     f"{field.replace('_', ' ')} must be a positive whole "
                     f"number, got {value!r}.")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """The gate a model must pass to be blessed (and so pushed).

    Attributes:
      min_accuracy: overall accuracy on the eval split must be at least this.
      max_accuracy_drop: overall accuracy may fall at most this much
        (absolute) below the last blessed model's.
      max_class_accuracy_drop: each class's accuracy may fall at most this
        much below the last blessed model's.
    """

    min_accuracy: float = 0.8
    max_accuracy_drop: float = 0.01
    max_class_accuracy_drop: float = 0.05

    def __post_init__(self):
        _require(
            0.0 <= self.min_accuracy <= 1.0,
            f"minimum accuracy must be between 0 and 1, got "
            f"{self.min_accuracy!r}.")
        for field in ("max_accuracy_drop", "max_class_accuracy_drop"):
            value = getattr(self, field)
            _require(
                0.0 <= value <= 1.0,
                f"{field.replace('_', ' ')} must be between 0 and 1 "
                f"(an absolute accuracy difference), got {value!r}.")


@dataclasses.dataclass(frozen=True)
class BeamConfig:
    """Where and how the components' Beam steps run (ExampleGen,
    StatisticsGen, Transform, Evaluator): docs/beam-runners.md.

    Attributes:
      runner: `direct` (Beam's DirectRunner, in the component's process),
        `flink` (a Flink cluster, through Beam's Flink job server) or
        `dataflow` (Google Cloud Dataflow).
      direct_num_workers: DirectRunner workers; 0 uses one per CPU core.
      direct_running_mode: `in_memory`, `multi_threading` or
        `multi_processing`.
      flink_master: the Flink cluster's REST address, host:port.
      flink_job_server_jar: Beam's Flink job server jar (`make
        flink-job-server`), which each Beam step starts with `java`; None:
        the one that builds beside this package.
      flink_job_endpoint: host:port of a Beam Flink job server that is
        already running (its gRPC job port), instead of one started per
        step from the jar: what a compiled package uses, whose image has no
        Java.
      flink_worker_pool: host:port of Beam SDK worker pools serving Beam's
        EXTERNAL environment (this project's image run as `boot
        --worker_pool`, beside each TaskManager); None runs the SDK workers
        in the submitting process (LOOPBACK), for a cluster on this host.
      parallelism: the Flink job's parallelism; 0 keeps the cluster's
        default.
      worker_image: the image remote SDK workers run, as Beam's
        `--sdk_container_image` (this project's image: docs/beam-runners.md).
      dataflow_project, dataflow_region, dataflow_temp_location: where
        Dataflow runs the steps and stages their files (a gs:// URI).
      extra_args: further Beam pipeline args, passed through unchanged.
    """

    runner: str = "direct"
    direct_num_workers: int = 1
    direct_running_mode: str = "in_memory"
    flink_master: Optional[str] = None
    flink_job_server_jar: Optional[str] = None
    flink_job_endpoint: Optional[str] = None
    flink_worker_pool: Optional[str] = None
    parallelism: int = 0
    worker_image: Optional[str] = None
    dataflow_project: Optional[str] = None
    dataflow_region: Optional[str] = None
    dataflow_temp_location: Optional[str] = None
    extra_args: Tuple[str, ...] = ()

    def __post_init__(self):
        _require(
            self.runner in BEAM_RUNNERS,
            f"Beam runner {self.runner!r} is unknown; use one of "
            f"{', '.join(BEAM_RUNNERS)}.")
        _require(
            isinstance(self.direct_num_workers, int)
            and self.direct_num_workers >= 0,
            f"Beam direct workers must be 0 (one per core) or more, got "
            f"{self.direct_num_workers!r}.")
        _require(
            self.direct_running_mode in RUNNING_MODES,
            f"Beam running mode {self.direct_running_mode!r} is unknown; use "
            f"one of {', '.join(RUNNING_MODES)}.")
        _require(_whole(self.parallelism, 0),
                 f"Flink parallelism must be 0 (the cluster's default) or "
                 f"more, got {self.parallelism!r}.")
        for field, (flag, runner) in _RUNNER_FIELDS.items():
            if getattr(self, field) not in (None, 0):
                _require(self.runner == runner,
                         f"{flag} is a setting of --beam-runner {runner}, "
                         f"and the Beam runner is {self.runner}.")
        _require(self.worker_image is None or self.runner != "direct",
                 "--beam-worker-image is the image of remote Beam workers "
                 "(--beam-runner flink with --flink-worker-pool, or "
                 "dataflow); the DirectRunner runs in this process.")
        if self.runner == "flink":
            _require(self.flink_master is not None,
                     "--beam-runner flink needs --flink-master HOST:PORT, the "
                     "Flink cluster's REST address.")
            for field in ("flink_master", "flink_job_endpoint",
                          "flink_worker_pool"):
                value = getattr(self, field)
                _require(value is None or _HOST_PORT_RE.match(value),
                         f"--{field.replace('_', '-')} {value!r} is not "
                         "HOST:PORT (e.g. localhost:8081).")
            _require(self.flink_job_endpoint is None
                     or self.flink_job_server_jar is None,
                     "--flink-job-endpoint and --flink-job-server-jar are two "
                     "ways to reach Beam's Flink job server (one running, or "
                     "one started from the jar): pass one.")
            _require(
                (self.flink_worker_pool is None) == (self.worker_image is None),
                "--flink-worker-pool and --beam-worker-image go together: the "
                "pool's address and the image it runs (this project's, "
                "which holds TFX and this package, so nothing is staged).")
        if self.runner == "dataflow":
            for field, flag in (
                    ("dataflow_project", "--dataflow-project"),
                    ("dataflow_region", "--dataflow-region"),
                    ("dataflow_temp_location", "--dataflow-temp-location"),
                    ("worker_image", "--beam-worker-image")):
                _require(getattr(self, field),
                         f"--beam-runner dataflow needs {flag}.")
            _require(self.dataflow_temp_location.startswith("gs://"),
                     f"--dataflow-temp-location "
                     f"{self.dataflow_temp_location!r} is not a gs:// URI; "
                     "Dataflow stages and writes temporary files in Cloud "
                     "Storage.")

    @property
    def job_server_jar(self) -> str:
        """The Flink job server jar Beam is pointed at on this machine."""
        return self.flink_job_server_jar or FLINK_JOB_SERVER_JAR

    def pipeline_args(self, setup_file: Optional[str] = None,
                      in_image: bool = False) -> list:
        """The args every Beam-based component receives.

        Args:
          in_image: for the tasks of a compiled package, which run in this
            project's image. It has no Java and no job server jar, so Flink
            needs `flink_job_endpoint` there (or a jar named by
            `flink_job_server_jar` that the user's own image holds).
          setup_file: this package's setup.py where the components run,
            given to Beam as `--setup_file` unless the settings already say
            where the workers' code comes from (an image, or a dependency
            flag in `extra_args`). Without any such flag, TFX builds a
            throw-away sdist of itself before every Beam component
            (seconds each, four per run: docs/performance.md), which only a
            remote Beam worker would install, and which would lack this
            package anyway. Remote workers run this project's image
            (`worker_image`), which holds TFX and this package: nothing is
            staged for them.
        """
        _require(
            not in_image or self.runner != "flink" or self.flink_job_endpoint
            or self.flink_job_server_jar,
            "--beam-runner flink in a compiled package needs "
            "--flink-job-endpoint HOST:PORT, Beam's Flink job server running "
            "beside the cluster (docs/beam-runners.md): the image has no "
            "Java to start one in each task.")
        args = list(self._runner_args())
        args += self.extra_args
        if self.worker_image and not any(
                arg.startswith("--sdk_container_image") for arg in args):
            args.append(f"--sdk_container_image={self.worker_image}")
        if setup_file and not any(
                arg.split("=", 1)[0].replace("extra_packages", "extra_package")
                in _DEPENDENCY_FLAGS for arg in args):
            args.append(f"--setup_file={setup_file}")
        return args

    def _runner_args(self):
        if self.runner == "direct":
            yield "--runner=DirectRunner"
            yield f"--direct_num_workers={self.direct_num_workers}"
            yield f"--direct_running_mode={self.direct_running_mode}"
        elif self.runner == "flink":
            if self.flink_job_endpoint:
                # Beam's portable runner is what FlinkRunner is once it has
                # started its job server.
                yield "--runner=PortableRunner"
                yield f"--job_endpoint={self.flink_job_endpoint}"
            else:
                yield "--runner=FlinkRunner"
                yield f"--flink_job_server_jar={self.job_server_jar}"
            # The job server then submits to this cluster, the one checked.
            yield f"--flink_master={self.flink_master}"
            if self.flink_worker_pool:
                yield "--environment_type=EXTERNAL"
                yield f"--environment_config={self.flink_worker_pool}"
            else:
                yield "--environment_type=LOOPBACK"
            if self.parallelism:
                yield f"--parallelism={self.parallelism}"
        else:
            yield "--runner=DataflowRunner"
            yield f"--project={self.dataflow_project}"
            yield f"--region={self.dataflow_region}"
            yield f"--temp_location={self.dataflow_temp_location}"
            # The image holds the Beam SDK: Dataflow stages none.
            yield "--sdk_location=container"


@dataclasses.dataclass(frozen=True)
class KubeflowConfig:
    """How the pipeline runs on Kubeflow Pipelines.

    Attributes:
      image: container image with this package installed (see Dockerfile).
      metadata_url: the shared ML Metadata store: grpc://host:port (KFP's
        metadata service) or mysql://user@host:port/database; never with a
        password, which every task would show in its arguments (it comes
        from `metadata_secret`, as MLMD_MYSQL_PASSWORD).
      cpu_request, memory_request: every task's requests.
      cpu_limit, memory_limit: every task's limits.
      trainer_cpu, trainer_memory: the Trainer's requests (and limits).
      metadata_secret: `name:key` of a Kubernetes secret holding the MySQL
        password, given to every task as MLMD_MYSQL_PASSWORD.
      trainer_gpus: GPUs for the Trainer (0: none); its pod tolerates the
        `nvidia.com/gpu` taint GKE puts on GPU nodes.
      gpu_type: the Kubernetes accelerator resource name.
      trainer_tpus: TPU chips for the Trainer on GKE (0: none): resource
        `google.com/tpu`, node selectors for `tpu_type` and `tpu_topology`,
        and the `google.com/tpu` toleration.
      tpu_type, tpu_topology: the GKE TPU node pool's accelerator and
        topology, e.g. `tpu-v5-lite-podslice` and `2x2`.
      trainer_node_selector: extra (label, value) node selectors for the
        Trainer, e.g. (("cloud.google.com/gke-accelerator",
        "nvidia-tesla-t4"),).
      retries: retries of a failed task, with exponential backoff.
      volumes: (PersistentVolumeClaim name, mount path) pairs mounted into
        every task; local paths of the pipeline (its root, the TFDS data
        dir) must lie under one of them.
      s3_endpoint: the S3-compatible endpoint of s3:// locations, e.g.
        http://minio-service.kubeflow:9000 (KFP's MinIO), given to every
        task as AWS_ENDPOINT_URL; None: AWS's S3.
      s3_secret: `name[:access_key_key:secret_key_key]` of the Kubernetes
        secret holding the S3 credentials (keys `accesskey` and `secretkey`
        by default, as in KFP's own `mlpipeline-minio-artifact`), given to
        every task as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    """

    image: str
    metadata_url: str = "grpc://metadata-grpc-service.kubeflow:8080"
    cpu_request: str = "1"
    memory_request: str = "2G"
    cpu_limit: str = "2"
    memory_limit: str = "8G"
    trainer_cpu: str = "2"
    trainer_memory: str = "8G"
    trainer_gpus: int = 0
    gpu_type: str = "nvidia.com/gpu"
    trainer_tpus: int = 0
    tpu_type: str = "tpu-v5-lite-podslice"
    tpu_topology: str = "2x2"
    trainer_node_selector: Tuple[Tuple[str, str], ...] = ()
    metadata_secret: Optional[str] = None
    retries: int = 2
    volumes: Tuple[Tuple[str, str], ...] = ()
    s3_endpoint: Optional[str] = None
    s3_secret: Optional[str] = None

    def __post_init__(self):
        _require(bool(self.image) and " " not in self.image,
                 f"image {self.image!r} is not a container image name such "
                 "as gcr.io/project/tfds-pipeline:1.0.")
        for claim, mount_path in self.volumes:
            # A claim's name is a DNS-1123 subdomain (Kubernetes' rule).
            _require(bool(re.fullmatch(
                r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", claim)),
                     f"volume {claim}:{mount_path}: {claim!r} is not a "
                     "PersistentVolumeClaim name (lower-case letters, "
                     "digits, '-' and '.'), e.g. pipeline-data:/data.")
            _require(mount_path.startswith("/")
                     and os.path.normpath(mount_path) == mount_path
                     and mount_path != "/",
                     f"volume {claim}:{mount_path}: the mount path must be "
                     "an absolute, normalized path other than /, e.g. "
                     "pipeline-data:/data.")
        _require(self.s3_endpoint is None or bool(re.fullmatch(
            r"https?://[^\s/@]+(:[0-9]+)?/?", self.s3_endpoint)),
                 f"S3 endpoint {self.s3_endpoint!r} is not http(s)://host"
                 "[:port], e.g. http://minio-service.kubeflow:9000 (no "
                 "credentials: they come from --s3-secret).")
        _require(self.s3_secret is None or bool(re.fullmatch(
            r"[a-z0-9.-]+(:[A-Za-z0-9._-]+:[A-Za-z0-9._-]+)?",
            self.s3_secret)),
                 f"S3 secret {self.s3_secret!r} is not SECRET_NAME or "
                 "SECRET_NAME:ACCESS_KEY_KEY:SECRET_KEY_KEY, e.g. "
                 "mlpipeline-minio-artifact.")
        mount_paths = [m for _, m in self.volumes]
        _require(len(set(mount_paths)) == len(mount_paths),
                 f"two volumes mount at the same path: {mount_paths}.")
        from pipeline.metadata import urls  # pylint: disable=import-outside-toplevel
        try:
            parsed = urls.parse_for_package(self.metadata_url)
        except urls.MetadataUrlError as error:
            raise ConfigError(str(error)) from None
        _require(parsed.scheme in ("grpc", "mysql"),
                 f"metadata URL {parsed} is a file on this machine, which "
                 "the pipeline's tasks cannot share: use a metadata service "
                 "(grpc://host:port) or a MySQL-compatible database "
                 "(mysql://user@host:port/database).")
        _require(isinstance(self.trainer_gpus, int) and self.trainer_gpus >= 0,
                 f"trainer GPUs must be 0 or more, got {self.trainer_gpus!r}.")
        _require(isinstance(self.trainer_tpus, int) and self.trainer_tpus >= 0,
                 f"trainer TPUs must be 0 or more, got {self.trainer_tpus!r}.")
        _require(not (self.trainer_gpus and self.trainer_tpus),
                 "the Trainer gets GPUs or TPUs, not both: set one of "
                 "--trainer-gpus and --trainer-tpus.")
        _require(bool(re.fullmatch(r"\d+(x\d+)+", self.tpu_topology)),
                 f"TPU topology {self.tpu_topology!r} is not like 2x2 or "
                 "2x2x1.")
        _require(self.metadata_secret is None
                 or bool(re.fullmatch(r"[a-z0-9.-]+:[A-Za-z0-9._-]+",
                                      self.metadata_secret)),
                 f"metadata secret {self.metadata_secret!r} is not "
                 "SECRET_NAME:KEY, e.g. mlmd-mysql:password.")
        _require(isinstance(self.retries, int) and self.retries >= 0,
                 f"retries must be 0 or more, got {self.retries!r}.")
        for field in ("cpu_request", "cpu_limit", "trainer_cpu"):
            value = getattr(self, field)
            # The forms kfp's PipelineTask accepts.
            _require(bool(re.fullmatch(r"([0-9]*[.])?[0-9]+m?", value)),
                     f"{field.replace('_', ' ')} {value!r} is not a "
                     "Kubernetes CPU quantity such as 2, 0.5 or 500m.")
        for field in ("memory_request", "memory_limit", "trainer_memory"):
            value = getattr(self, field)
            _require(bool(re.fullmatch(
                r"[0-9]+(E|Ei|P|Pi|T|Ti|G|Gi|M|Mi|K|Ki)?", value)),
                     f"{field.replace('_', ' ')} {value!r} is not a "
                     "Kubernetes memory quantity such as 8G or 512Mi.")

    @property
    def s3_secret_keys(self) -> Optional[Tuple[str, str, str]]:
        """(secret name, access key's key, secret key's key), if set."""
        if not self.s3_secret:
            return None
        name, _, keys = self.s3_secret.partition(":")
        access, _, secret = keys.partition(":")
        return name, access or "accesskey", secret or "secretkey"

    def volume_for(self, path: str) -> Optional[Tuple[str, str]]:
        """The (claim, mount path) a local path lies under, if any."""
        path = os.path.normpath(path)
        for claim, mount_path in self.volumes:
            if os.path.commonpath([mount_path, path]) == mount_path:
                return claim, mount_path
        return None


@dataclasses.dataclass(frozen=True)
class VertexConfig:
    """How the pipeline runs on Vertex AI Pipelines.

    Attributes:
      image: container image with this package installed (see Dockerfile).
      project: the Google Cloud project of the Trainer's custom job; None:
        the project the pipeline runs in.
      region: the Vertex AI region.
      machine_type: the Trainer's machine when it has accelerators, e.g.
        `n1-standard-8` for GPUs, `ct5lp-hightpu-4t` for TPU v5e.
      accelerator_type: a Vertex accelerator, e.g. `NVIDIA_TESLA_T4` or
        `TPU_V5_LITEPOD`; None: the Trainer runs as an ordinary pipeline
        step on CPU.
      accelerator_count: how many.
      tpu_topology: for TPU VMs, e.g. `2x2`.
    """

    image: str
    project: Optional[str] = None
    region: str = "us-central1"
    machine_type: str = "n1-standard-8"
    accelerator_type: Optional[str] = None
    accelerator_count: int = 0
    tpu_topology: Optional[str] = None

    def __post_init__(self):
        _require(bool(self.image) and " " not in self.image,
                 f"image {self.image!r} is not a container image name such "
                 "as us-docker.pkg.dev/project/repo/tfds-pipeline:1.0.")
        _require(bool(re.fullmatch(r"[a-z]+-[a-z]+\d+", self.region)),
                 f"region {self.region!r} is not a Vertex AI region such as "
                 "us-central1.")
        _require(
            isinstance(self.accelerator_count, int)
            and self.accelerator_count >= 0,
            f"accelerator count must be 0 or more, got "
            f"{self.accelerator_count!r}.")
        _require(bool(self.accelerator_type) == bool(self.accelerator_count),
                 "set both the accelerator type and count, or neither (got "
                 f"{self.accelerator_type!r} x {self.accelerator_count}).")

    @property
    def on_tpu(self) -> bool:
        """Whether the Trainer runs on a TPU VM."""
        return bool(self.accelerator_type
                    and self.accelerator_type.startswith("TPU"))


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything one pipeline run needs.

    Attributes:
      output_dir: where every output lives (artifacts, ML Metadata, served
        models, logs). Made absolute on load.
      dataset, training, evaluation, beam: see their classes.
      schema_path: the committed schema (data contract) to validate against;
        None uses `schemas/<dataset name>/schema.pbtxt` shipped with the
        package.
      pipeline_name: name of the pipeline in ML Metadata; None derives it
        from the dataset, so models of different datasets never become each
        other's baseline.
      remote_root: for Kubeflow and Vertex: the pipeline root URI that
        every task can reach; artifacts go there and pushed models under
        `<remote_root>/serving`. None for local runs (under output_dir).
      artifact_root: for local runs: an object store URI (s3://bucket/path,
        gs://bucket/path) where artifacts go, and pushed models under
        `<artifact_root>/serving`, instead of the output dir (which keeps
        ML Metadata, logs and reports).
    """

    output_dir: str = "output"
    dataset: DatasetConfig = DatasetConfig()
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    beam: BeamConfig = BeamConfig()
    schema_path: Optional[str] = None
    pipeline_name: Optional[str] = None
    remote_root: Optional[str] = None
    artifact_root: Optional[str] = None

    def __post_init__(self):
        if self.artifact_root is not None:
            _require(self.remote_root is None,
                     "a compiled package's root is its --pipeline-root; "
                     "artifact_root is for local runs.")
            _require(self.artifact_root.startswith(("s3://", "gs://")),
                     f"pipeline root {self.artifact_root!r} is not an object "
                     "store URI: give s3://bucket/path or gs://bucket/path, "
                     "or leave it out to keep artifacts under --output-dir.")
        if self.remote_root is not None:
            _require(
                "://" in self.remote_root or self.remote_root.startswith("/"),
                f"pipeline root {self.remote_root!r} must be a URI such as "
                "gs://bucket/path (or an absolute path on a shared volume).")
            _require(
                "://" in self.schema_file or _committed_schema(self.schema_file),
                f"schema {self.schema_file!r} is a file on this machine, which the "
                "pipeline's containers cannot read: commit it under "
                "schemas/<dataset>/ (it ships in the image) or upload it "
                "and pass its URI, e.g. --schema gs://bucket/schema.pbtxt.")
        if self.beam.runner == "dataflow":
            # Dataflow's workers read the data and write the artifacts
            # there. (Flink's workers may share a volume: not checked.)
            for what, value in (("pipeline root (--pipeline-root)",
                                 self.pipeline_root),
                                ("TFDS data dir (--tfds-data-dir)",
                                 self.dataset.data_dir)):
                _require(str(value or "").startswith("gs://"),
                         f"--beam-runner dataflow needs the {what} on Cloud "
                         f"Storage, got {value!r}: Dataflow's workers read "
                         "and write there; give a gs:// URI.")
        object.__setattr__(self, "output_dir",
                           os.path.abspath(os.path.expanduser(self.output_dir)))
        if self.remote_root is None:
            self._check_local_paths()

    def _check_local_paths(self) -> None:
        """For runs on this machine: the manual dir exists and the output
        dir can be written. A compiled package's tasks read and write their
        own paths (`remote_root`), so compiling checks neither here."""
        _require(
            self.dataset.manual_dir is None
            or os.path.isdir(self.dataset.manual_dir),
            f"TFDS manual dir {self.dataset.manual_dir!r} is not a "
            "directory: point --tfds-manual-dir at the folder holding the "
            "dataset's files.")
        _require(
            self.dataset.data_dir is None
            or not os.path.exists(self.dataset.data_dir)
            or os.path.isdir(self.dataset.data_dir),
            f"TFDS data dir {self.dataset.data_dir!r} is not a directory: "
            "point --tfds-data-dir at a folder (TFDS creates it if "
            "missing).")
        _require(
            not os.path.exists(self.output_dir)
            or (os.path.isdir(self.output_dir)
                and os.access(self.output_dir, os.W_OK | os.X_OK)),
            f"output dir {self.output_dir!r} is not a writable directory: "
            "choose another --output-dir or fix its permissions.")
        if not os.path.exists(self.output_dir):
            parent = _existing_parent(self.output_dir)
            _require(
                os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK),
                f"output dir {self.output_dir!r} cannot be created: "
                f"{parent!r} is not a writable directory. Choose another "
                "--output-dir.")

    @property
    def name(self) -> str:
        """The pipeline name used in ML Metadata."""
        if self.pipeline_name:
            return self.pipeline_name
        suffix = f"-{self.dataset.config}" if self.dataset.config else ""
        return f"{self.dataset.name}{suffix}".replace("_", "-") + "-classifier"

    @property
    def schema_file(self) -> str:
        """The schema file the pipeline imports."""
        if self.schema_path:
            if "://" in self.schema_path:
                return self.schema_path
            return os.path.abspath(self.schema_path)
        return default_schema_path(self.dataset.name)

    @property
    def schema_import_path(self) -> str:
        """The schema file as the pipeline's tasks name it.

        Locally, the file itself. For Kubeflow and Vertex, whose tasks run
        in the container image: a committed schema is named relative to the
        installed `schemas` package (`schemas/<dataset>/schema.pbtxt`, which
        the ImportSchemaGen executor resolves in the container); any other
        schema must be a URI the tasks can read (checked at construction).
        """
        committed = _committed_schema(self.schema_file)
        if self.remote_root and committed:
            return committed
        return self.schema_file

    @property
    def pipeline_root(self) -> str:
        """Where TFX writes artifacts."""
        if self.remote_root or self.artifact_root:
            return self.remote_root or self.artifact_root
        return os.path.join(self.output_dir, "pipeline_root")

    @property
    def metadata_path(self) -> str:
        """The sqlite ML Metadata store used by the local runners."""
        return metadata_path(self.output_dir)

    @property
    def serving_dir(self) -> str:
        """Versioned SavedModels, in the layout TensorFlow Serving loads."""
        if self.remote_root or self.artifact_root:
            return (self.remote_root or self.artifact_root).rstrip("/") \
                + "/serving"
        return os.path.join(self.output_dir, "serving")

    @property
    def log_dir(self) -> str:
        """Full TFX/TensorFlow logs of each run."""
        return os.path.join(self.output_dir, "logs")

    @property
    def summary_path(self) -> str:
        """The last run's JSON summary."""
        return os.path.join(self.output_dir, "last_run.json")

    @property
    def compiled_pipeline_path(self) -> str:
        """The local runner's compiled pipeline, kept for the next run."""
        return os.path.join(self.output_dir, "compiled", "pipeline.pb")


def metadata_path(output_dir: str) -> str:
    """The local runners' sqlite ML Metadata store in an output dir."""
    return os.path.join(os.path.abspath(os.path.expanduser(output_dir)),
                        "metadata.sqlite")


def default_schema_path(dataset_name: str) -> str:
    """The committed schema of a dataset, shipped as package data."""
    import schemas  # pylint: disable=import-outside-toplevel
    return os.path.join(os.path.dirname(schemas.__file__), dataset_name,
                        "schema.pbtxt")


def _committed_schema(path: str) -> Optional[str]:
    """`schemas/<dataset>/schema.pbtxt` if `path` is a schema of the
    installed `schemas` package, else None."""
    if "://" in path:
        return None
    import schemas  # pylint: disable=import-outside-toplevel
    package_dir = os.path.dirname(os.path.abspath(schemas.__file__))
    if os.path.commonpath([package_dir, os.path.abspath(path)]) != package_dir:
        return None
    return os.path.relpath(path, os.path.dirname(package_dir))


def _existing_parent(path: str) -> str:
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path
