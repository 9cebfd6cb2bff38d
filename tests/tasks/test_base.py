import torch

from rom_cli.tasks.base import multi_positive_nll


def test_multi_positive_nll_is_fp32_under_bf16_autocast():
    g = torch.Generator().manual_seed(1)
    scores = (torch.randn(6, 40, generator=g) * 20).to(torch.bfloat16)
    positive = torch.zeros(6, 40, dtype=torch.bool)
    positive[torch.arange(6), torch.arange(6)] = True
    positive[0, 7] = True
    fp32 = scores.float()  # the same bf16 values, in fp32
    expected = (torch.logsumexp(fp32, 1) - torch.logsumexp(fp32.masked_fill(~positive, float("-inf")), 1)).mean()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        got = multi_positive_nll(scores, positive)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
