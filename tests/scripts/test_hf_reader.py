"""scripts/hf_reader.py: the separate-reader peer (the HF QA recipe) on the tiny encoder and the demo task."""

from __future__ import annotations

from tests.scripts.test_bench_table import load_script


def tokenizer():
    from rom_cli.model.backbone import load_tokenizer
    from tests.conftest import compose_cfg

    return load_tokenizer(compose_cfg("train", ["encoder=tiny"]).encoder)


def test_train_features_label_the_answer_tokens_and_cls_for_windows_without_it():
    hf_reader = load_script("hf_reader")
    tok = tokenizer()
    context = " ".join(f"word{i}" for i in range(300)) + " the answer is Paris in France. " + "filler " * 300
    a = context.index("Paris")
    recipe = {**hf_reader.RECIPE, "max_length": 128, "stride": 32}
    features, used = hf_reader.train_features(tok, [("where is it?", context, (a, a + len("Paris")))], recipe, 100)
    assert used == 1 and len(features) > 3  # a long paragraph overflows into several features
    labelled = [f for f in features if f["start_positions"] > 0]
    assert labelled and all(f["end_positions"] >= f["start_positions"] for f in labelled)
    f = labelled[0]
    assert tok.decode(f["input_ids"][f["start_positions"]: f["end_positions"] + 1]).strip().lower() == "paris"
    assert any(f["start_positions"] == 0 and f["end_positions"] == 0 for f in features)  # [CLS] elsewhere
    capped, _ = hf_reader.train_features(tok, [("q", context, (a, a + 5))] * 5, recipe, 2)
    assert len(capped) == 2


def test_run_trains_each_seed_and_reports_mean_and_spread():
    hf_reader = load_script("hf_reader")
    out = hf_reader.run(["task=demo", "encoder=tiny", "trainer.threads=1", "trainer.precision=fp32",
                         "task.eval_limit=6", "encoder.attention_dropout=0.0"], steps=2, seeds=[0, 1])
    assert out["seeds"] == [0, 1] and len(out["per_seed"]) == 2
    em = out["reader_gold"]["em"]
    assert em["min"] <= em["mean"] <= em["max"] and em["values"] == [r["reader_gold"]["em"] for r in out["per_seed"]]
    for r in out["per_seed"]:
        assert r["train_features"] == 16 and r["reader_gold"]["questions"] == 6 == out["reader_gold"]["questions"]
        assert r["precision"] == "fp32" and r["parameters"] > 0 and r["train_s"] > 0
    # seeds differ (data order and head initialisation); the same seed repeats exactly
    again = hf_reader.run(["task=demo", "encoder=tiny", "trainer.threads=1", "trainer.precision=fp32",
                           "task.eval_limit=6", "encoder.attention_dropout=0.0"], steps=2, seeds=[1])
    assert again["per_seed"][0]["loss_last10"] == out["per_seed"][1]["loss_last10"]
