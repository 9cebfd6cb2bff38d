import pytest

from rom_cli.errors import ConfigError
from rom_cli.model.backbone import build_backbone, load_backbone_config, set_attention_dropout
from tests.conftest import compose_cfg


def test_attention_dropout_none_keeps_the_backbones_own():
    cfg = compose_cfg("train", ["encoder=tiny"]).encoder
    assert load_backbone_config(cfg).attention_probs_dropout_prob == pytest.approx(0.1)


def test_attention_dropout_reaches_every_attention_layer():
    cfg = compose_cfg("train", ["encoder=tiny", "encoder.attention_dropout=0.0"]).encoder
    backbone = build_backbone(cfg)
    assert backbone.config.attention_probs_dropout_prob == 0.0
    # the hidden-state dropout is untouched
    assert backbone.config.hidden_dropout_prob == pytest.approx(0.1)
    layer = backbone.encoder.layer[0].attention.self
    assert getattr(layer, "dropout_prob", getattr(getattr(layer, "dropout", None), "p", None)) == 0.0


def test_attention_dropout_refuses_a_non_probability_and_a_config_without_the_key():
    class NoDropoutConfig:
        pass

    with pytest.raises(ConfigError, match="encoder.attention_dropout"):
        set_attention_dropout(NoDropoutConfig(), 0.0)
    cfg = compose_cfg("train", ["encoder=tiny", "encoder.attention_dropout=1.5"]).encoder
    with pytest.raises(ConfigError, match=r"encoder.attention_dropout.*\[0, 1\)"):
        load_backbone_config(cfg)
