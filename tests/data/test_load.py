import json
import os
from pathlib import Path

import pytest

from rom_cli.config.schema import DataConfig, DataFormat, TaskConfig
from rom_cli.data.dpr import TsvCorpus
from rom_cli.data.load import load_task
from rom_cli.errors import ConfigError, DataError, RomError

REPO_CONF = Path(__file__).resolve().parents[2] / "conf"
SHARED = Path(os.environ.get("ROM_SHARED_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))

CTX = "The Velk river crosses Ormsby. Ormsby was founded in 1412 by Tarn Hollis."


def squad_file(path: Path, n_questions: int = 3, title: str = "Ormsby") -> Path:
    qas = [{"id": f"{title}-{i}", "question": f"q{i}?", "answers": [{"text": "1412", "answer_start": CTX.index("1412")}]}
           for i in range(n_questions)]
    path.write_text(json.dumps({"data": [{"title": title, "paragraphs": [{"context": CTX, "qas": qas}]}]}))
    return path


def dpr_file(path: Path) -> Path:
    items = [{"question": "who founded ormsby?", "answers": ["Tarn Hollis"],
              "positive_ctxs": [{"title": "Ormsby", "text": CTX, "passage_id": "2"}],
              "negative_ctxs": [], "hard_negative_ctxs": [{"title": "X", "text": "other", "passage_id": "99"}]}]
    path.write_text(json.dumps(items))
    return path


def test_auto_detects_each_format(tmp_path):
    squad_file(tmp_path / "train.json")
    (tmp_path / "dev.jsonl").write_text('{"question": "a?", "answer": ["Tarn Hollis"]}\n')
    (tmp_path / "test.qa.csv").write_text("b?\t['1412']\n")
    task = load_task(TaskConfig(name="t", train="train.json", dev="dev.jsonl", test="test.qa.csv"),
                     DataConfig(root=str(tmp_path)))
    assert {k: len(v) for k, v in task.splits.items()} == {"train": 3, "dev": 1, "test": 1}
    # answers-only splits retrieve from the other splits' passages
    assert len(task.corpus("dev")) == 1 and task.corpus("dev").get("Ormsby#0").text == CTX


def test_dpr_json_with_a_shared_passages_tsv(tmp_path):
    dpr_file(tmp_path / "train.json")
    (tmp_path / "psgs.tsv").write_text(f"id\ttext\ttitle\n1\tfiller\tF\n2\t{CTX}\tOrmsby\n")
    task = load_task(TaskConfig(name="dpr", train="train.json", dev="train.json", passages="psgs.tsv"),
                     DataConfig(root=str(tmp_path), cache_dir=str(tmp_path / "cache")))
    assert isinstance(task.corpus("train"), TsvCorpus) and task.corpus("train") is task.corpus("dev")
    (q,) = task.split("train")
    assert q.gold_passage_ids == ["2"] and q.hard_negative_ids == []
    assert task.stats.skipped["train: hard negative id not in task.passages"] == 1
    assert task.corpus("train").get("2").text[q.spans[0].start:q.spans[0].end] == "Tarn Hollis"


def test_dpr_json_without_tsv_uses_its_ctxs(tmp_path):
    dpr_file(tmp_path / "train.json")
    task = load_task(TaskConfig(name="dpr", train="train.json"), DataConfig(root=str(tmp_path)))
    assert sorted(p.id for p in task.corpus("train")) == ["2", "99"]


def test_missing_file_names_key_and_path(tmp_path):
    with pytest.raises(RomError) as err:
        load_task(TaskConfig(name="s", format=DataFormat.squad, dev="squad/dev.json"), DataConfig(root=str(tmp_path)))
    msg = str(err.value)
    assert msg.startswith("task.dev: file not found: ") and str(tmp_path / "squad" / "dev.json") in msg
    assert f"data.root={tmp_path}" in msg and "\n" not in msg


def test_answers_only_without_passages_is_an_error(tmp_path):
    (tmp_path / "dev.jsonl").write_text('{"question": "a?", "answer": ["b"]}\n')
    with pytest.raises(RomError, match="task.dev: .*answers only.*task.passages"):
        load_task(TaskConfig(name="n", dev="dev.jsonl"), DataConfig(root=str(tmp_path)))


def test_empty_split_and_unset_split(tmp_path):
    (tmp_path / "dev.json").write_text(json.dumps({"data": []}))
    with pytest.raises(RomError, match="task.dev: no usable questions"):
        load_task(TaskConfig(name="s", dev="dev.json"), DataConfig(root=str(tmp_path)))
    squad_file(tmp_path / "dev.json")
    with pytest.raises(RomError, match="task.test is not set"):
        load_task(TaskConfig(name="s", dev="dev.json"), DataConfig(root=str(tmp_path)), splits=["test"])


def test_unknown_json_layout(tmp_path):
    (tmp_path / "dev.json").write_text(json.dumps([{"foo": 1}]))
    with pytest.raises(DataError, match="unrecognised JSON layout"):
        load_task(TaskConfig(name="s", dev="dev.json"), DataConfig(root=str(tmp_path)))


def test_limits_are_deterministic_subsets(tmp_path):
    squad_file(tmp_path / "train.json", 20, "A")
    squad_file(tmp_path / "dev.json", 20, "B")
    cfg = TaskConfig(name="s", train="train.json", dev="dev.json", train_limit=5, eval_limit=3)
    a = load_task(cfg, DataConfig(root=str(tmp_path)))
    b = load_task(cfg, DataConfig(root=str(tmp_path)))
    assert len(a.split("train")) == 5 and len(a.split("dev")) == 3
    assert [q.id for q in a.split("train")] == [q.id for q in b.split("train")]
    ids = [q.id for q in a.split("train")]
    assert ids == sorted(ids, key=lambda i: int(i.split("-")[1]))  # file order kept


def test_split_words_applies(tmp_path):
    squad_file(tmp_path / "dev.json")
    task = load_task(TaskConfig(name="s", dev="dev.json", split_words=5, split_stride=1), DataConfig(root=str(tmp_path)))
    corpus = task.corpus("dev")
    assert len(corpus) > 1
    for q in task.split("dev"):
        assert q.spans and all(corpus.get(s.passage_id).text[s.start:s.end] == "1412" for s in q.spans)
    with pytest.raises(ConfigError):
        load_task(TaskConfig(name="s", dev="dev.json", split_words=5, split_stride=5), DataConfig(root=str(tmp_path)))


def test_demo_task_splits_and_limits():
    task = load_task(TaskConfig(format=DataFormat.demo, eval_limit=10), DataConfig(), splits=["train", "test"])
    assert set(task.splits) == {"train", "test"} and len(task.split("test")) == 10
    assert task.corpus("train") is task.corpus("test")


def test_hf_offline_error(monkeypatch, tmp_path):
    # never the network: offline env set before the import, and the constants patched in case
    # another test imported datasets / huggingface_hub already
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    datasets = pytest.importorskip("datasets")
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    name = "rom-cli-test/no-such-dataset-4f2a"
    with pytest.raises(RomError) as err:
        load_task(TaskConfig(name="hf", format=DataFormat.hf, hf_name=name, dev="validation"), DataConfig())
    msg = str(err.value)
    assert name in msg and "network" in msg and "cache" in msg and "\n" not in msg


def test_real_squad_counts():
    if not (SHARED / "squad" / "dev-v1.1.json").is_file():
        pytest.skip(f"no shared data at {SHARED}")
    cfg = TaskConfig(name="squad", format=DataFormat.squad, train="squad/train-v1.1-subset-du2017test.json",
                     dev="squad/dev-v1.1.json")
    task = load_task(cfg, DataConfig(root=str(SHARED)))
    assert len(task.corpus("dev")) == 2067 and len(task.split("dev")) == 10570
    assert len(task.split("train")) == 11877
    # 2,430 paragraphs in the file; two of them (Human_Development_Index #7 and #11) are identical
    assert len(task.corpus("train")) == 2429
    assert task.stats.repaired == {"train: identical paragraph merged": 1} and not task.stats.skipped


def test_real_squad_tune_preset_holds_dev_out_of_train():
    """conf/task/squad_tune.yaml: dev held out of the train file, SQuAD dev kept as the test split."""
    if not (SHARED / "squad" / "dev-v1.1.json").is_file():
        pytest.skip(f"no shared data at {SHARED}")
    from omegaconf import OmegaConf

    preset = OmegaConf.load(REPO_CONF / "task" / "squad_tune.yaml")
    cfg = OmegaConf.merge(OmegaConf.structured(TaskConfig), preset)
    task = load_task(cfg, DataConfig(root=str(SHARED)))
    assert {s: len(q) for s, q in task.splits.items()} == {"train": 10873, "dev": 1004, "test": 10570}
    assert task.corpus("dev") is task.corpus("train") and len(task.corpus("test")) == 2067
    assert not {q.gold_passage_ids[0] for q in task.split("dev")} & {q.gold_passage_ids[0] for q in task.split("train")}


def test_required_split_left_missing_in_a_preset():
    from omegaconf import OmegaConf

    cfg = OmegaConf.structured(TaskConfig(name="dpr"))
    cfg.train = "???"
    with pytest.raises(RomError, match=r"task.train is required by task 'dpr'"):
        load_task(cfg, DataConfig())


def multi_paragraph_squad(path: Path, paragraphs: int = 12, per: int = 3) -> Path:
    data = [{"title": f"T{p}", "paragraphs": [{"context": f"Paragraph {p} says {1400 + p}.", "qas": [
        {"id": f"p{p}-q{i}", "question": f"what does paragraph {p} say ({i})?",
         "answers": [{"text": str(1400 + p), "answer_start": len(f"Paragraph {p} says ")}]} for i in range(per)]}]}
        for p in range(paragraphs)]
    path.write_text(json.dumps({"data": data}))
    return path


def test_dev_holdout_takes_whole_passages_out_of_train(tmp_path):
    multi_paragraph_squad(tmp_path / "train.json")
    squad_file(tmp_path / "test.json", 4, "B")
    cfg = TaskConfig(name="s", train="train.json", test="test.json", dev_holdout=5, eval_split="test")
    task = load_task(cfg, DataConfig(root=str(tmp_path)))
    train, dev = task.split("train"), task.split("dev")
    assert len(dev) == 6 and len(train) == 30  # two whole paragraphs of 3 questions: >= 5 held out
    dev_gold = {q.gold_passage_ids[0] for q in dev}
    assert len(dev_gold) == 2 and not dev_gold & {q.gold_passage_ids[0] for q in train}
    assert task.corpus("dev") is task.corpus("train") and len(task.corpus("dev")) == 12
    assert len(task.split("test")) == 4
    # the same held-out set whatever the train limit; and when only dev is loaded
    limited = load_task(TaskConfig(name="s", train="train.json", dev_holdout=5, train_limit=7), DataConfig(root=str(tmp_path)))
    assert [q.id for q in limited.split("dev")] == [q.id for q in dev] and len(limited.split("train")) == 7
    only_dev = load_task(cfg, DataConfig(root=str(tmp_path)), splits=["dev"])
    assert set(only_dev.splits) == {"dev"} and [q.id for q in only_dev.split("dev")] == [q.id for q in dev]
    only_train = load_task(cfg, DataConfig(root=str(tmp_path)), splits=["train"])
    assert [q.id for q in only_train.split("train")] == [q.id for q in train]


@pytest.mark.parametrize("kwargs,message", [
    ({"dev": "test.json", "dev_holdout": 2}, "0 when task.dev is set"),
    ({"dev_holdout": -1}, "non-negative"),
    ({"dev_holdout": 36}, "fewer than the 36 train questions"),
])
def test_dev_holdout_bad_values(tmp_path, kwargs, message):
    multi_paragraph_squad(tmp_path / "train.json")
    squad_file(tmp_path / "test.json", 4, "B")
    with pytest.raises(ConfigError, match=message):
        load_task(TaskConfig(name="s", train="train.json", **kwargs), DataConfig(root=str(tmp_path)))
