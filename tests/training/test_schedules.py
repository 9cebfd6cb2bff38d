from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from rom_cli.config.schema import PhaseConfig, ScheduleConfig, ScheduleName
from rom_cli.errors import RomError
from rom_cli.training.schedules import build_sampler

TASKS = ["ict", "retrieval", "reader"]
SIZES = {"ict": 6000, "retrieval": 3000, "reader": 1000}
WEIGHTS = {"ict": 1.0, "retrieval": 2.0, "reader": 1.0}
NAMES = [n.value for n in ScheduleName]
DRAWS = 20_000
TOL = 0.02  # absolute tolerance on empirical frequencies over 20,000 draws (std <= 0.0036)


def make(name, seed=0, max_steps=1000, tasks=TASKS, sizes=SIZES, mixture=WEIGHTS, **kw):
    """kw are ScheduleConfig fields; `mixture` holds the mixture weights."""
    return build_sampler(
        ScheduleConfig(name=ScheduleName(name), **kw), tasks, sizes, mixture, seed, max_steps
    )


def frequencies(sampler, n=DRAWS):
    counts = Counter(sampler.tasks_for_step(s)[0] for s in range(n))
    return {t: counts[t] / n for t in sampler.tasks}


def expected_probs(name, **kw):
    n = np.array([SIZES[t] for t in TASKS], float)
    if name == "proportional":
        p = n
    elif name == "temperature":
        cap = kw.get("cap")
        p = (np.minimum(n, cap) if cap else n) ** (1 / kw.get("temperature", 2.0))
    elif name == "uniform":
        p = np.ones(3)
    elif name == "specified":
        w = kw.get("weights") or WEIGHTS
        p = np.array([w[t] for t in TASKS], float)
    return dict(zip(TASKS, p / p.sum(), strict=True))


@pytest.mark.parametrize(
    "name,kw",
    [
        ("proportional", {}),
        ("temperature", {"temperature": 2.0}),
        ("temperature", {"temperature": 1.0, "cap": 2000}),
        ("uniform", {}),
        ("specified", {}),
        ("specified", {"weights": {"ict": 0.0, "retrieval": 1.0, "reader": 3.0}}),
    ],
)
def test_frequencies_match_formula(name, kw):
    sampler = make(name, **kw)
    expected = expected_probs(name, **kw)
    assert sampler.probabilities(0) == pytest.approx(expected)
    freq = frequencies(sampler)
    for t in TASKS:
        assert abs(freq[t] - expected[t]) <= TOL, (t, freq[t], expected[t])


def test_round_robin_cycles():
    s = make("round_robin")
    assert [s.tasks_for_step(i)[0] for i in range(7)] == TASKS * 2 + ["ict"]
    assert s.probabilities(5) == pytest.approx({t: 1 / 3 for t in TASKS})
    assert s.loss_weight("reader") == 1.0


def test_joint_uses_every_task_with_loss_weights():
    s = make("joint")
    assert s.tasks_for_step(0) == TASKS and s.tasks_for_step(17) == TASKS
    assert s.loss_weight("retrieval") == 2.0
    assert s.probabilities(3) == pytest.approx({"ict": 0.25, "retrieval": 0.5, "reader": 0.25})


def test_sequential_switches_at_configured_steps():
    phases = [
        PhaseConfig(tasks=["ict"], steps=100),
        PhaseConfig(tasks=["retrieval", "reader"], steps=50),
        PhaseConfig(tasks=["reader"], steps=10),
    ]
    s = make("sequential", phases=phases)
    assert s.tasks_for_step(0) == ["ict"] and s.tasks_for_step(99) == ["ict"]
    assert s.tasks_for_step(100) == ["retrieval"] and s.tasks_for_step(101) == ["reader"]
    assert s.tasks_for_step(149) == ["reader"] and s.tasks_for_step(148) == ["retrieval"]
    assert s.tasks_for_step(150) == ["reader"] and s.tasks_for_step(10_000) == ["reader"]  # last runs on
    assert s.probabilities(120) == {"ict": 0.0, "retrieval": 0.5, "reader": 0.5}
    assert s.probabilities(5) == {"ict": 1.0, "retrieval": 0.0, "reader": 0.0}


def test_sequential_default_phases_split_max_steps():
    s = make("sequential", max_steps=100)  # 33, 33, 34
    assert [s.tasks_for_step(i)[0] for i in (0, 32, 33, 65, 66, 99, 500)] == [
        "ict",
        "ict",
        "retrieval",
        "retrieval",
        "reader",
        "reader",
        "reader",
    ]


def test_dictconfig_accepted():
    cfg = OmegaConf.create(
        {"name": "sequential", "phases": [{"tasks": ["ict"], "steps": 2}, {"tasks": ["reader"]}]}
    )
    s = build_sampler(cfg, TASKS, SIZES, WEIGHTS, 0, 10)
    assert [s.tasks_for_step(i)[0] for i in range(4)] == ["ict", "ict", "reader", "reader"]
    structured = OmegaConf.merge(
        OmegaConf.structured(ScheduleConfig),
        {"name": "specified", "weights": {"ict": 1, "retrieval": 0, "reader": 1}},
    )
    assert build_sampler(structured, TASKS, SIZES, WEIGHTS, 0, 10).probabilities(0)["retrieval"] == 0.0


@pytest.mark.parametrize("name", ["proportional", "temperature", "uniform", "specified"])
def test_deterministic_from_seed_and_step(name):
    a, b, c = make(name, seed=7), make(name, seed=7), make(name, seed=8)
    seq_a = [a.tasks_for_step(s)[0] for s in range(300)]
    assert seq_a == [b.tasks_for_step(s)[0] for s in range(300)]
    # resuming at step 150 (fresh sampler, no saved state) continues the identical sequence
    assert [b.tasks_for_step(s)[0] for s in range(150, 300)] == seq_a[150:]
    assert seq_a != [c.tasks_for_step(s)[0] for s in range(300)]


@pytest.mark.parametrize(
    "kw,match",
    [
        (
            {"name": "specified", "weights": {"ict": 1.0, "retrieval": 1.0, "reader": 1.0, "qa": 1.0}},
            "schedule.weights.qa.*ict, retrieval, reader",
        ),
        ({"name": "specified", "weights": {"ict": 1.0}}, "missing retrieval, reader"),
        (
            {"name": "specified", "weights": {"ict": -1.0, "retrieval": 1.0, "reader": 1.0}},
            "schedule.weights.ict",
        ),
        ({"name": "specified", "weights": {"ict": 0.0, "retrieval": 0.0, "reader": 0.0}}, "positive sum"),
        ({"name": "temperature", "temperature": 0.0}, "schedule.temperature"),
        ({"name": "temperature", "cap": 0}, "schedule.cap"),
        (
            {"name": "sequential", "phases": [PhaseConfig(["ict"], 0), PhaseConfig(["reader"], 5)]},
            r"schedule.phases\[0\].steps",
        ),
        (
            {"name": "sequential", "phases": [PhaseConfig(["qa"], 5)]},
            r"phases\[0\].tasks='qa'.*ict, retrieval, reader",
        ),
        ({"name": "sequential", "phases": [PhaseConfig([], 5)]}, r"phases\[0\].tasks"),
    ],
)
def test_config_errors_are_one_line(kw, match):
    kw = dict(kw)
    name = kw.pop("name")
    with pytest.raises(RomError, match=match) as e:
        make(name, **kw)
    assert "\n" not in str(e.value)


def test_data_errors():
    with pytest.raises(RomError, match="'reader' has 0 training examples"):
        make("proportional", sizes={"ict": 5, "retrieval": 5, "reader": 0})
    with pytest.raises(RomError, match="'reader' has 0"):
        make("temperature", sizes={"ict": 5, "retrieval": 5, "reader": 0})
    with pytest.raises(RomError, match="mixture.tasks"):
        make("uniform", tasks=[])
    with pytest.raises(RomError, match="mixture.tasks"):
        make("joint", mixture={"ict": 0.0, "retrieval": 0.0, "reader": 0.0})


task_names = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=5, unique=True)


@settings(max_examples=60, deadline=None)
@given(
    tasks=task_names,
    data=st.data(),
    name=st.sampled_from(NAMES),
    seed=st.integers(-(2**40), 2**40),
    temperature=st.floats(0.05, 50),
    step=st.integers(0, 10_000),
)
def test_probabilities_sum_to_one_and_no_task_starves(tasks, data, name, seed, temperature, step):
    sizes = {t: data.draw(st.integers(1, 10**9)) for t in tasks}
    # 0 or a weight whose share cannot underflow (5e-324 beside 2.0 is a probability of exactly 0.0)
    weights = {t: data.draw(st.one_of(st.just(0.0), st.floats(1e-9, 100))) for t in tasks}
    if sum(weights.values()) <= 0:
        weights[tasks[0]] = 1.0
    cfg = ScheduleConfig(name=ScheduleName(name), temperature=temperature)
    s = build_sampler(cfg, tasks, sizes, weights, seed, 1000)
    p = s.probabilities(step)
    assert set(p) == set(tasks) and sum(p.values()) == pytest.approx(1.0)
    assert all(0.0 <= v <= 1.0 for v in p.values())
    if name in ("proportional", "uniform", "round_robin"):
        assert all(v > 0 for v in p.values())
    if name in ("specified", "joint"):
        assert all((v > 0) == (weights[t] > 0) for t, v in p.items())
    if name == "temperature" and temperature >= 1:  # T >= 1 can only flatten the distribution
        assert all(v > 0 for v in p.values())
    drawn = s.tasks_for_step(step)
    assert drawn == s.tasks_for_step(step) and all(t in tasks for t in drawn)
    if name != "joint":
        assert len(drawn) == 1 and p[drawn[0]] > 0
