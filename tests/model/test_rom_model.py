import pytest
import torch

from rom_cli.model.rom_model import RomModel
from tests.conftest import compose_cfg


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return RomModel(compose_cfg("train", ["encoder=tiny"]).encoder)


def test_scores_are_fp32_under_bf16_autocast(model):
    g = torch.Generator().manual_seed(0)
    q, p = torch.randn(8, 384, generator=g), torch.randn(32, 384, generator=g)
    with torch.no_grad():
        expected = q @ p.T / model.cfg.temperature  # fp32, no autocast
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            got = model.scores(q, p)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
