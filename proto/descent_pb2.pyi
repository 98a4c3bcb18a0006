from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    PENDING: _ClassVar[JobState]
    RUNNING: _ClassVar[JobState]
    SUCCEEDED: _ClassVar[JobState]
    FAILED: _ClassVar[JobState]
    CANCELLED: _ClassVar[JobState]
    QUEUED: _ClassVar[JobState]
    DAMAGED: _ClassVar[JobState]

class Formula(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FORMULA_UNSPECIFIED: _ClassVar[Formula]
    CENTERED: _ClassVar[Formula]
    FORWARD: _ClassVar[Formula]

class NumgradMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NUMGRAD_METHOD_UNSPECIFIED: _ClassVar[NumgradMethod]
    INCREMENTAL: _ClassVar[NumgradMethod]
    BRUTE: _ClassVar[NumgradMethod]
JOB_STATE_UNSPECIFIED: JobState
PENDING: JobState
RUNNING: JobState
SUCCEEDED: JobState
FAILED: JobState
CANCELLED: JobState
QUEUED: JobState
DAMAGED: JobState
FORMULA_UNSPECIFIED: Formula
CENTERED: Formula
FORWARD: Formula
NUMGRAD_METHOD_UNSPECIFIED: NumgradMethod
INCREMENTAL: NumgradMethod
BRUTE: NumgradMethod

class Tensor(_message.Message):
    __slots__ = ("dtype", "shape", "data")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    dtype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    data: bytes
    def __init__(self, dtype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., data: _Optional[bytes] = ...) -> None: ...

class TensorChunk(_message.Message):
    __slots__ = ("dtype", "shape", "offset", "data", "version")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    dtype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    offset: int
    data: bytes
    version: int
    def __init__(self, dtype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ..., version: _Optional[int] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ("dataset", "workers", "batch_size", "steps", "lr", "reg", "seed", "dtype", "init_scale", "gradient", "check_gradient", "numerical_method", "consistency", "push_every", "overlap", "optimizer", "momentum", "beta1", "beta2", "eps", "lr_schedule", "strategy", "lr_warmup", "compress", "min_workers", "max_workers", "max_worker_failures", "init_from")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    REG_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    INIT_SCALE_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_FIELD_NUMBER: _ClassVar[int]
    CHECK_GRADIENT_FIELD_NUMBER: _ClassVar[int]
    NUMERICAL_METHOD_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    PUSH_EVERY_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZER_FIELD_NUMBER: _ClassVar[int]
    MOMENTUM_FIELD_NUMBER: _ClassVar[int]
    BETA1_FIELD_NUMBER: _ClassVar[int]
    BETA2_FIELD_NUMBER: _ClassVar[int]
    EPS_FIELD_NUMBER: _ClassVar[int]
    LR_SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    LR_WARMUP_FIELD_NUMBER: _ClassVar[int]
    COMPRESS_FIELD_NUMBER: _ClassVar[int]
    MIN_WORKERS_FIELD_NUMBER: _ClassVar[int]
    MAX_WORKERS_FIELD_NUMBER: _ClassVar[int]
    MAX_WORKER_FAILURES_FIELD_NUMBER: _ClassVar[int]
    INIT_FROM_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    workers: int
    batch_size: int
    steps: int
    lr: float
    reg: float
    seed: int
    dtype: str
    init_scale: float
    gradient: str
    check_gradient: bool
    numerical_method: str
    consistency: str
    push_every: int
    overlap: bool
    optimizer: str
    momentum: float
    beta1: float
    beta2: float
    eps: float
    lr_schedule: str
    strategy: str
    lr_warmup: int
    compress: str
    min_workers: int
    max_workers: int
    max_worker_failures: int
    init_from: str
    def __init__(self, dataset: _Optional[str] = ..., workers: _Optional[int] = ..., batch_size: _Optional[int] = ..., steps: _Optional[int] = ..., lr: _Optional[float] = ..., reg: _Optional[float] = ..., seed: _Optional[int] = ..., dtype: _Optional[str] = ..., init_scale: _Optional[float] = ..., gradient: _Optional[str] = ..., check_gradient: _Optional[bool] = ..., numerical_method: _Optional[str] = ..., consistency: _Optional[str] = ..., push_every: _Optional[int] = ..., overlap: _Optional[bool] = ..., optimizer: _Optional[str] = ..., momentum: _Optional[float] = ..., beta1: _Optional[float] = ..., beta2: _Optional[float] = ..., eps: _Optional[float] = ..., lr_schedule: _Optional[str] = ..., strategy: _Optional[str] = ..., lr_warmup: _Optional[int] = ..., compress: _Optional[str] = ..., min_workers: _Optional[int] = ..., max_workers: _Optional[int] = ..., max_worker_failures: _Optional[int] = ..., init_from: _Optional[str] = ...) -> None: ...

class WorkerStats(_message.Message):
    __slots__ = ("worker_id", "node_id", "steps")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    node_id: str
    steps: int
    def __init__(self, worker_id: _Optional[str] = ..., node_id: _Optional[str] = ..., steps: _Optional[int] = ...) -> None: ...

class JobStatus(_message.Message):
    __slots__ = ("job_id", "spec", "state", "message", "steps", "version", "loss", "train_accuracy", "val_accuracy", "test_accuracy", "seconds", "examples_per_second", "per_worker", "created_at", "started_at", "finished_at", "num_classes", "num_features", "num_train", "num_val", "num_test", "loss_history", "gradient_seconds_per_step", "analytic_seconds_per_step", "first_batch_check", "resumed_from", "restarts", "worker_restarts", "checkpoint_version", "checkpoint_at", "checkpoint_error", "staleness_histogram", "staleness_p50", "staleness_p99", "staleness_max", "effective_lr", "curve", "loss_evaluations", "refused_stale_pushes", "duplicate_pushes", "push_bytes", "current_workers", "membership", "parent", "parent_steps")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    VAL_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    TEST_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    PER_WORKER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    NUM_CLASSES_FIELD_NUMBER: _ClassVar[int]
    NUM_FEATURES_FIELD_NUMBER: _ClassVar[int]
    NUM_TRAIN_FIELD_NUMBER: _ClassVar[int]
    NUM_VAL_FIELD_NUMBER: _ClassVar[int]
    NUM_TEST_FIELD_NUMBER: _ClassVar[int]
    LOSS_HISTORY_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_SECONDS_PER_STEP_FIELD_NUMBER: _ClassVar[int]
    ANALYTIC_SECONDS_PER_STEP_FIELD_NUMBER: _ClassVar[int]
    FIRST_BATCH_CHECK_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FROM_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    WORKER_RESTARTS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_AT_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_ERROR_FIELD_NUMBER: _ClassVar[int]
    STALENESS_HISTOGRAM_FIELD_NUMBER: _ClassVar[int]
    STALENESS_P50_FIELD_NUMBER: _ClassVar[int]
    STALENESS_P99_FIELD_NUMBER: _ClassVar[int]
    STALENESS_MAX_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_LR_FIELD_NUMBER: _ClassVar[int]
    CURVE_FIELD_NUMBER: _ClassVar[int]
    LOSS_EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    REFUSED_STALE_PUSHES_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_PUSHES_FIELD_NUMBER: _ClassVar[int]
    PUSH_BYTES_FIELD_NUMBER: _ClassVar[int]
    CURRENT_WORKERS_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PARENT_STEPS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    spec: JobSpec
    state: JobState
    message: str
    steps: int
    version: int
    loss: float
    train_accuracy: float
    val_accuracy: float
    test_accuracy: float
    seconds: float
    examples_per_second: float
    per_worker: _containers.RepeatedCompositeFieldContainer[WorkerStats]
    created_at: float
    started_at: float
    finished_at: float
    num_classes: int
    num_features: int
    num_train: int
    num_val: int
    num_test: int
    loss_history: _containers.RepeatedScalarFieldContainer[float]
    gradient_seconds_per_step: float
    analytic_seconds_per_step: float
    first_batch_check: CheckSummary
    resumed_from: int
    restarts: int
    worker_restarts: int
    checkpoint_version: int
    checkpoint_at: float
    checkpoint_error: str
    staleness_histogram: _containers.RepeatedScalarFieldContainer[int]
    staleness_p50: int
    staleness_p99: int
    staleness_max: int
    effective_lr: float
    curve: _containers.RepeatedCompositeFieldContainer[CurvePoint]
    loss_evaluations: int
    refused_stale_pushes: int
    duplicate_pushes: int
    push_bytes: int
    current_workers: int
    membership: _containers.RepeatedCompositeFieldContainer[MembershipChange]
    parent: str
    parent_steps: int
    def __init__(self, job_id: _Optional[str] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., state: _Optional[_Union[JobState, str]] = ..., message: _Optional[str] = ..., steps: _Optional[int] = ..., version: _Optional[int] = ..., loss: _Optional[float] = ..., train_accuracy: _Optional[float] = ..., val_accuracy: _Optional[float] = ..., test_accuracy: _Optional[float] = ..., seconds: _Optional[float] = ..., examples_per_second: _Optional[float] = ..., per_worker: _Optional[_Iterable[_Union[WorkerStats, _Mapping]]] = ..., created_at: _Optional[float] = ..., started_at: _Optional[float] = ..., finished_at: _Optional[float] = ..., num_classes: _Optional[int] = ..., num_features: _Optional[int] = ..., num_train: _Optional[int] = ..., num_val: _Optional[int] = ..., num_test: _Optional[int] = ..., loss_history: _Optional[_Iterable[float]] = ..., gradient_seconds_per_step: _Optional[float] = ..., analytic_seconds_per_step: _Optional[float] = ..., first_batch_check: _Optional[_Union[CheckSummary, _Mapping]] = ..., resumed_from: _Optional[int] = ..., restarts: _Optional[int] = ..., worker_restarts: _Optional[int] = ..., checkpoint_version: _Optional[int] = ..., checkpoint_at: _Optional[float] = ..., checkpoint_error: _Optional[str] = ..., staleness_histogram: _Optional[_Iterable[int]] = ..., staleness_p50: _Optional[int] = ..., staleness_p99: _Optional[int] = ..., staleness_max: _Optional[int] = ..., effective_lr: _Optional[float] = ..., curve: _Optional[_Iterable[_Union[CurvePoint, _Mapping]]] = ..., loss_evaluations: _Optional[int] = ..., refused_stale_pushes: _Optional[int] = ..., duplicate_pushes: _Optional[int] = ..., push_bytes: _Optional[int] = ..., current_workers: _Optional[int] = ..., membership: _Optional[_Iterable[_Union[MembershipChange, _Mapping]]] = ..., parent: _Optional[str] = ..., parent_steps: _Optional[int] = ...) -> None: ...

class MembershipChange(_message.Message):
    __slots__ = ("time", "joined", "worker_id", "node_id", "reason", "workers")
    TIME_FIELD_NUMBER: _ClassVar[int]
    JOINED_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    time: float
    joined: bool
    worker_id: str
    node_id: str
    reason: str
    workers: int
    def __init__(self, time: _Optional[float] = ..., joined: _Optional[bool] = ..., worker_id: _Optional[str] = ..., node_id: _Optional[str] = ..., reason: _Optional[str] = ..., workers: _Optional[int] = ...) -> None: ...

class CurvePoint(_message.Message):
    __slots__ = ("step", "seconds", "val_accuracy", "loss")
    STEP_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    VAL_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    step: int
    seconds: float
    val_accuracy: float
    loss: float
    def __init__(self, step: _Optional[int] = ..., seconds: _Optional[float] = ..., val_accuracy: _Optional[float] = ..., loss: _Optional[float] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: JobSpec
    def __init__(self, spec: _Optional[_Union[JobSpec, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id", "include_history")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HISTORY_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    include_history: bool
    def __init__(self, job_id: _Optional[str] = ..., include_history: _Optional[bool] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[JobStatus]
    def __init__(self, jobs: _Optional[_Iterable[_Union[JobStatus, _Mapping]]] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ScaleJobRequest(_message.Message):
    __slots__ = ("job_id", "workers", "min_workers", "max_workers")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    MIN_WORKERS_FIELD_NUMBER: _ClassVar[int]
    MAX_WORKERS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    workers: int
    min_workers: int
    max_workers: int
    def __init__(self, job_id: _Optional[str] = ..., workers: _Optional[int] = ..., min_workers: _Optional[int] = ..., max_workers: _Optional[int] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id", "interval")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    interval: float
    def __init__(self, job_id: _Optional[str] = ..., interval: _Optional[float] = ...) -> None: ...

class GetWeightsRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GradientCheckRequest(_message.Message):
    __slots__ = ("dataset", "checks", "h", "formula", "seed", "reg", "batch_size", "init_scale", "h_values", "full", "method", "job_id")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    H_FIELD_NUMBER: _ClassVar[int]
    FORMULA_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    REG_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    INIT_SCALE_FIELD_NUMBER: _ClassVar[int]
    H_VALUES_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    checks: int
    h: float
    formula: Formula
    seed: int
    reg: float
    batch_size: int
    init_scale: float
    h_values: _containers.RepeatedScalarFieldContainer[float]
    full: bool
    method: NumgradMethod
    job_id: str
    def __init__(self, dataset: _Optional[str] = ..., checks: _Optional[int] = ..., h: _Optional[float] = ..., formula: _Optional[_Union[Formula, str]] = ..., seed: _Optional[int] = ..., reg: _Optional[float] = ..., batch_size: _Optional[int] = ..., init_scale: _Optional[float] = ..., h_values: _Optional[_Iterable[float]] = ..., full: _Optional[bool] = ..., method: _Optional[_Union[NumgradMethod, str]] = ..., job_id: _Optional[str] = ...) -> None: ...

class CoordinateCheck(_message.Message):
    __slots__ = ("c", "d", "analytic", "numeric", "rel_error", "kink", "below_resolution")
    C_FIELD_NUMBER: _ClassVar[int]
    D_FIELD_NUMBER: _ClassVar[int]
    ANALYTIC_FIELD_NUMBER: _ClassVar[int]
    NUMERIC_FIELD_NUMBER: _ClassVar[int]
    REL_ERROR_FIELD_NUMBER: _ClassVar[int]
    KINK_FIELD_NUMBER: _ClassVar[int]
    BELOW_RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    c: int
    d: int
    analytic: float
    numeric: float
    rel_error: float
    kink: bool
    below_resolution: bool
    def __init__(self, c: _Optional[int] = ..., d: _Optional[int] = ..., analytic: _Optional[float] = ..., numeric: _Optional[float] = ..., rel_error: _Optional[float] = ..., kink: _Optional[bool] = ..., below_resolution: _Optional[bool] = ...) -> None: ...

class GradientCheckResponse(_message.Message):
    __slots__ = ("formula", "h", "checks", "max_rel_error", "max_rel_error_smooth", "passed", "loss", "dataset", "num_examples", "threshold", "method", "full", "job_id", "summary", "verdict", "notes", "by_h", "num_coordinates", "seconds", "tasks")
    FORMULA_FIELD_NUMBER: _ClassVar[int]
    H_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    MAX_REL_ERROR_FIELD_NUMBER: _ClassVar[int]
    MAX_REL_ERROR_SMOOTH_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    NUM_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    BY_H_FIELD_NUMBER: _ClassVar[int]
    NUM_COORDINATES_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    formula: Formula
    h: float
    checks: _containers.RepeatedCompositeFieldContainer[CoordinateCheck]
    max_rel_error: float
    max_rel_error_smooth: float
    passed: bool
    loss: float
    dataset: str
    num_examples: int
    threshold: float
    method: NumgradMethod
    full: bool
    job_id: str
    summary: CheckSummary
    verdict: str
    notes: _containers.RepeatedScalarFieldContainer[str]
    by_h: _containers.RepeatedCompositeFieldContainer[ErrorVsH]
    num_coordinates: int
    seconds: float
    tasks: int
    def __init__(self, formula: _Optional[_Union[Formula, str]] = ..., h: _Optional[float] = ..., checks: _Optional[_Iterable[_Union[CoordinateCheck, _Mapping]]] = ..., max_rel_error: _Optional[float] = ..., max_rel_error_smooth: _Optional[float] = ..., passed: _Optional[bool] = ..., loss: _Optional[float] = ..., dataset: _Optional[str] = ..., num_examples: _Optional[int] = ..., threshold: _Optional[float] = ..., method: _Optional[_Union[NumgradMethod, str]] = ..., full: _Optional[bool] = ..., job_id: _Optional[str] = ..., summary: _Optional[_Union[CheckSummary, _Mapping]] = ..., verdict: _Optional[str] = ..., notes: _Optional[_Iterable[str]] = ..., by_h: _Optional[_Iterable[_Union[ErrorVsH, _Mapping]]] = ..., num_coordinates: _Optional[int] = ..., seconds: _Optional[float] = ..., tasks: _Optional[int] = ...) -> None: ...

class CheckSummary(_message.Message):
    __slots__ = ("h", "formula", "num_checked", "num_smooth", "num_kink", "num_below_resolution", "max_rel_error", "max_rel_error_smooth", "mean_rel_error_smooth", "max_rel_error_kink", "max_abs_error_smooth", "threshold", "resolution", "passed", "level", "forward_error_expected")
    H_FIELD_NUMBER: _ClassVar[int]
    FORMULA_FIELD_NUMBER: _ClassVar[int]
    NUM_CHECKED_FIELD_NUMBER: _ClassVar[int]
    NUM_SMOOTH_FIELD_NUMBER: _ClassVar[int]
    NUM_KINK_FIELD_NUMBER: _ClassVar[int]
    NUM_BELOW_RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    MAX_REL_ERROR_FIELD_NUMBER: _ClassVar[int]
    MAX_REL_ERROR_SMOOTH_FIELD_NUMBER: _ClassVar[int]
    MEAN_REL_ERROR_SMOOTH_FIELD_NUMBER: _ClassVar[int]
    MAX_REL_ERROR_KINK_FIELD_NUMBER: _ClassVar[int]
    MAX_ABS_ERROR_SMOOTH_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    FORWARD_ERROR_EXPECTED_FIELD_NUMBER: _ClassVar[int]
    h: float
    formula: Formula
    num_checked: int
    num_smooth: int
    num_kink: int
    num_below_resolution: int
    max_rel_error: float
    max_rel_error_smooth: float
    mean_rel_error_smooth: float
    max_rel_error_kink: float
    max_abs_error_smooth: float
    threshold: float
    resolution: float
    passed: bool
    level: str
    forward_error_expected: bool
    def __init__(self, h: _Optional[float] = ..., formula: _Optional[_Union[Formula, str]] = ..., num_checked: _Optional[int] = ..., num_smooth: _Optional[int] = ..., num_kink: _Optional[int] = ..., num_below_resolution: _Optional[int] = ..., max_rel_error: _Optional[float] = ..., max_rel_error_smooth: _Optional[float] = ..., mean_rel_error_smooth: _Optional[float] = ..., max_rel_error_kink: _Optional[float] = ..., max_abs_error_smooth: _Optional[float] = ..., threshold: _Optional[float] = ..., resolution: _Optional[float] = ..., passed: _Optional[bool] = ..., level: _Optional[str] = ..., forward_error_expected: _Optional[bool] = ...) -> None: ...

class ErrorVsH(_message.Message):
    __slots__ = ("h", "centered", "forward")
    H_FIELD_NUMBER: _ClassVar[int]
    CENTERED_FIELD_NUMBER: _ClassVar[int]
    FORWARD_FIELD_NUMBER: _ClassVar[int]
    h: float
    centered: CheckSummary
    forward: CheckSummary
    def __init__(self, h: _Optional[float] = ..., centered: _Optional[_Union[CheckSummary, _Mapping]] = ..., forward: _Optional[_Union[CheckSummary, _Mapping]] = ...) -> None: ...

class GradientCheckProgress(_message.Message):
    __slots__ = ("done", "total", "result")
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    done: int
    total: int
    result: GradientCheckResponse
    def __init__(self, done: _Optional[int] = ..., total: _Optional[int] = ..., result: _Optional[_Union[GradientCheckResponse, _Mapping]] = ...) -> None: ...

class StepSizeSweepRequest(_message.Message):
    __slots__ = ("dataset", "seed", "reg", "init_scale", "step_min", "step_max", "points", "job_id", "batch_size")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    REG_FIELD_NUMBER: _ClassVar[int]
    INIT_SCALE_FIELD_NUMBER: _ClassVar[int]
    STEP_MIN_FIELD_NUMBER: _ClassVar[int]
    STEP_MAX_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    seed: int
    reg: float
    init_scale: float
    step_min: float
    step_max: float
    points: int
    job_id: str
    batch_size: int
    def __init__(self, dataset: _Optional[str] = ..., seed: _Optional[int] = ..., reg: _Optional[float] = ..., init_scale: _Optional[float] = ..., step_min: _Optional[float] = ..., step_max: _Optional[float] = ..., points: _Optional[int] = ..., job_id: _Optional[str] = ..., batch_size: _Optional[int] = ...) -> None: ...

class SweepRow(_message.Message):
    __slots__ = ("step_size", "loss")
    STEP_SIZE_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    step_size: float
    loss: float
    def __init__(self, step_size: _Optional[float] = ..., loss: _Optional[float] = ...) -> None: ...

class StepSizeSweepResponse(_message.Message):
    __slots__ = ("loss_original", "rows", "best_step_size", "dataset", "num_examples", "job_id", "open_ended", "seconds", "tasks")
    LOSS_ORIGINAL_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BEST_STEP_SIZE_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    NUM_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    OPEN_ENDED_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    loss_original: float
    rows: _containers.RepeatedCompositeFieldContainer[SweepRow]
    best_step_size: float
    dataset: str
    num_examples: int
    job_id: str
    open_ended: bool
    seconds: float
    tasks: int
    def __init__(self, loss_original: _Optional[float] = ..., rows: _Optional[_Iterable[_Union[SweepRow, _Mapping]]] = ..., best_step_size: _Optional[float] = ..., dataset: _Optional[str] = ..., num_examples: _Optional[int] = ..., job_id: _Optional[str] = ..., open_ended: _Optional[bool] = ..., seconds: _Optional[float] = ..., tasks: _Optional[int] = ...) -> None: ...

class ClusterInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("node_id", "address", "alive", "cpus", "is_head", "roles")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ALIVE_FIELD_NUMBER: _ClassVar[int]
    CPUS_FIELD_NUMBER: _ClassVar[int]
    IS_HEAD_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    address: str
    alive: bool
    cpus: float
    is_head: bool
    roles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, node_id: _Optional[str] = ..., address: _Optional[str] = ..., alive: _Optional[bool] = ..., cpus: _Optional[float] = ..., is_head: _Optional[bool] = ..., roles: _Optional[_Iterable[str]] = ...) -> None: ...

class ActiveWorker(_message.Message):
    __slots__ = ("job_id", "worker_id", "node_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    worker_id: str
    node_id: str
    def __init__(self, job_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., node_id: _Optional[str] = ...) -> None: ...

class ClusterInfoResponse(_message.Message):
    __slots__ = ("nodes", "total_cpus", "available_cpus", "workers", "ray_address", "server_version")
    NODES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CPUS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_CPUS_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    RAY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    total_cpus: float
    available_cpus: float
    workers: _containers.RepeatedCompositeFieldContainer[ActiveWorker]
    ray_address: str
    server_version: str
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ..., total_cpus: _Optional[float] = ..., available_cpus: _Optional[float] = ..., workers: _Optional[_Iterable[_Union[ActiveWorker, _Mapping]]] = ..., ray_address: _Optional[str] = ..., server_version: _Optional[str] = ...) -> None: ...

class ExportModelRequest(_message.Message):
    __slots__ = ("job_id", "include_test_split")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TEST_SPLIT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    include_test_split: bool
    def __init__(self, job_id: _Optional[str] = ..., include_test_split: _Optional[bool] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("job_id", "version", "spec", "class_names", "scale", "image_shape", "pixel_max", "test_accuracy", "num_test")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAMES_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_SHAPE_FIELD_NUMBER: _ClassVar[int]
    PIXEL_MAX_FIELD_NUMBER: _ClassVar[int]
    TEST_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    NUM_TEST_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    version: int
    spec: JobSpec
    class_names: _containers.RepeatedScalarFieldContainer[str]
    scale: float
    image_shape: _containers.RepeatedScalarFieldContainer[int]
    pixel_max: float
    test_accuracy: float
    num_test: int
    def __init__(self, job_id: _Optional[str] = ..., version: _Optional[int] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., class_names: _Optional[_Iterable[str]] = ..., scale: _Optional[float] = ..., image_shape: _Optional[_Iterable[int]] = ..., pixel_max: _Optional[float] = ..., test_accuracy: _Optional[float] = ..., num_test: _Optional[int] = ...) -> None: ...

class ModelPart(_message.Message):
    __slots__ = ("info", "array", "chunk")
    INFO_FIELD_NUMBER: _ClassVar[int]
    ARRAY_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    info: ModelInfo
    array: str
    chunk: TensorChunk
    def __init__(self, info: _Optional[_Union[ModelInfo, _Mapping]] = ..., array: _Optional[str] = ..., chunk: _Optional[_Union[TensorChunk, _Mapping]] = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("job_id", "inputs")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    inputs: Tensor
    def __init__(self, job_id: _Optional[str] = ..., inputs: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("labels", "scores", "class_names")
    LABELS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAMES_FIELD_NUMBER: _ClassVar[int]
    labels: Tensor
    scores: Tensor
    class_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, labels: _Optional[_Union[Tensor, _Mapping]] = ..., scores: _Optional[_Union[Tensor, _Mapping]] = ..., class_names: _Optional[_Iterable[str]] = ...) -> None: ...

class EvaluateRequest(_message.Message):
    __slots__ = ("job_id", "dataset", "split")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    dataset: str
    split: str
    def __init__(self, job_id: _Optional[str] = ..., dataset: _Optional[str] = ..., split: _Optional[str] = ...) -> None: ...

class EvaluateResponse(_message.Message):
    __slots__ = ("job_id", "dataset", "split", "confusion", "class_names", "num_examples", "accuracy")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    CONFUSION_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAMES_FIELD_NUMBER: _ClassVar[int]
    NUM_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    dataset: str
    split: str
    confusion: Tensor
    class_names: _containers.RepeatedScalarFieldContainer[str]
    num_examples: int
    accuracy: float
    def __init__(self, job_id: _Optional[str] = ..., dataset: _Optional[str] = ..., split: _Optional[str] = ..., confusion: _Optional[_Union[Tensor, _Mapping]] = ..., class_names: _Optional[_Iterable[str]] = ..., num_examples: _Optional[int] = ..., accuracy: _Optional[float] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("job_id", "worker_id", "secret")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    worker_id: str
    secret: str
    def __init__(self, job_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., secret: _Optional[str] = ...) -> None: ...

class PushRequest(_message.Message):
    __slots__ = ("job_id", "worker_id", "node_id", "gradient", "loss", "version", "secret", "updates", "shared_memory", "more", "epoch", "sequence", "compressed")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    SHARED_MEMORY_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    COMPRESSED_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    worker_id: str
    node_id: str
    gradient: Tensor
    loss: float
    version: int
    secret: str
    updates: int
    shared_memory: bool
    more: bool
    epoch: int
    sequence: int
    compressed: CompressedGradient
    def __init__(self, job_id: _Optional[str] = ..., worker_id: _Optional[str] = ..., node_id: _Optional[str] = ..., gradient: _Optional[_Union[Tensor, _Mapping]] = ..., loss: _Optional[float] = ..., version: _Optional[int] = ..., secret: _Optional[str] = ..., updates: _Optional[int] = ..., shared_memory: _Optional[bool] = ..., more: _Optional[bool] = ..., epoch: _Optional[int] = ..., sequence: _Optional[int] = ..., compressed: _Optional[_Union[CompressedGradient, _Mapping]] = ...) -> None: ...

class CompressedGradient(_message.Message):
    __slots__ = ("kind", "shape", "values", "scales", "indices")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    SCALES_FIELD_NUMBER: _ClassVar[int]
    INDICES_FIELD_NUMBER: _ClassVar[int]
    kind: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    values: Tensor
    scales: Tensor
    indices: Tensor
    def __init__(self, kind: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., values: _Optional[_Union[Tensor, _Mapping]] = ..., scales: _Optional[_Union[Tensor, _Mapping]] = ..., indices: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class Parameters(_message.Message):
    __slots__ = ("weights", "version", "stop", "shared_memory", "shared_memory_token", "more")
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    SHARED_MEMORY_FIELD_NUMBER: _ClassVar[int]
    SHARED_MEMORY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    weights: Tensor
    version: int
    stop: bool
    shared_memory: str
    shared_memory_token: bytes
    more: bool
    def __init__(self, weights: _Optional[_Union[Tensor, _Mapping]] = ..., version: _Optional[int] = ..., stop: _Optional[bool] = ..., shared_memory: _Optional[str] = ..., shared_memory_token: _Optional[bytes] = ..., more: _Optional[bool] = ...) -> None: ...

class MinibatchRequest(_message.Message):
    __slots__ = ("dataset", "job_id", "seed", "reg", "init_scale", "draws", "batch_sizes")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    REG_FIELD_NUMBER: _ClassVar[int]
    INIT_SCALE_FIELD_NUMBER: _ClassVar[int]
    DRAWS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZES_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    job_id: str
    seed: int
    reg: float
    init_scale: float
    draws: int
    batch_sizes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, dataset: _Optional[str] = ..., job_id: _Optional[str] = ..., seed: _Optional[int] = ..., reg: _Optional[float] = ..., init_scale: _Optional[float] = ..., draws: _Optional[int] = ..., batch_sizes: _Optional[_Iterable[int]] = ...) -> None: ...

class MinibatchRow(_message.Message):
    __slots__ = ("batch_size", "cosine_mean", "cosine_std", "us_per_example", "full")
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    COSINE_MEAN_FIELD_NUMBER: _ClassVar[int]
    COSINE_STD_FIELD_NUMBER: _ClassVar[int]
    US_PER_EXAMPLE_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    batch_size: int
    cosine_mean: float
    cosine_std: float
    us_per_example: float
    full: bool
    def __init__(self, batch_size: _Optional[int] = ..., cosine_mean: _Optional[float] = ..., cosine_std: _Optional[float] = ..., us_per_example: _Optional[float] = ..., full: _Optional[bool] = ...) -> None: ...

class MinibatchResponse(_message.Message):
    __slots__ = ("rows", "dataset", "job_id", "num_examples", "draws", "dtype", "seconds")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NUM_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    DRAWS_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[MinibatchRow]
    dataset: str
    job_id: str
    num_examples: int
    draws: int
    dtype: str
    seconds: float
    def __init__(self, rows: _Optional[_Iterable[_Union[MinibatchRow, _Mapping]]] = ..., dataset: _Optional[str] = ..., job_id: _Optional[str] = ..., num_examples: _Optional[int] = ..., draws: _Optional[int] = ..., dtype: _Optional[str] = ..., seconds: _Optional[float] = ...) -> None: ...

class LandscapeRequest(_message.Message):
    __slots__ = ("dataset", "job_id", "seed", "reg", "init_scale", "examples", "points", "span")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    REG_FIELD_NUMBER: _ClassVar[int]
    INIT_SCALE_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    job_id: str
    seed: int
    reg: float
    init_scale: float
    examples: int
    points: int
    span: float
    def __init__(self, dataset: _Optional[str] = ..., job_id: _Optional[str] = ..., seed: _Optional[int] = ..., reg: _Optional[float] = ..., init_scale: _Optional[float] = ..., examples: _Optional[int] = ..., points: _Optional[int] = ..., span: _Optional[float] = ...) -> None: ...

class LinePoint(_message.Message):
    __slots__ = ("a", "loss")
    A_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    a: float
    loss: float
    def __init__(self, a: _Optional[float] = ..., loss: _Optional[float] = ...) -> None: ...

class LandscapeResponse(_message.Message):
    __slots__ = ("center_loss", "line", "plane_a", "plane_b", "plane_loss", "dataset", "job_id", "num_examples", "direction_scale", "seconds", "tasks")
    CENTER_LOSS_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    PLANE_A_FIELD_NUMBER: _ClassVar[int]
    PLANE_B_FIELD_NUMBER: _ClassVar[int]
    PLANE_LOSS_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NUM_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_SCALE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    center_loss: float
    line: _containers.RepeatedCompositeFieldContainer[LinePoint]
    plane_a: _containers.RepeatedScalarFieldContainer[float]
    plane_b: _containers.RepeatedScalarFieldContainer[float]
    plane_loss: Tensor
    dataset: str
    job_id: str
    num_examples: int
    direction_scale: float
    seconds: float
    tasks: int
    def __init__(self, center_loss: _Optional[float] = ..., line: _Optional[_Iterable[_Union[LinePoint, _Mapping]]] = ..., plane_a: _Optional[_Iterable[float]] = ..., plane_b: _Optional[_Iterable[float]] = ..., plane_loss: _Optional[_Union[Tensor, _Mapping]] = ..., dataset: _Optional[str] = ..., job_id: _Optional[str] = ..., num_examples: _Optional[int] = ..., direction_scale: _Optional[float] = ..., seconds: _Optional[float] = ..., tasks: _Optional[int] = ...) -> None: ...
