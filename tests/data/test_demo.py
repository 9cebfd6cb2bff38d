import re
import time

from rom_cli.config.schema import TaskConfig
from rom_cli.data.demo import generate, load_demo


def test_deterministic_and_fast():
    t0 = time.perf_counter()
    a = generate(360, 13)
    assert time.perf_counter() - t0 < 1.0
    assert generate(360, 13) == a
    assert generate(360, 14)[0] != a[0]


def test_sizes_and_splits():
    passages, splits = generate(360, 13)
    assert len(passages) >= 360
    assert sum(len(v) for v in splits.values()) >= 1500
    assert set(splits) == {"train", "dev", "test"} and all(splits.values())
    assert len(splits["train"]) > len(splits["test"]) > len(splits["dev"])
    # split by passage: a passage's questions all live in one split
    owner = {}
    for name, qs in splits.items():
        for q in qs:
            pid = q.id.split("/")[0]
            assert owner.setdefault(pid, name) == name
    ids = [q.id for qs in splits.values() for q in qs]
    assert len(ids) == len(set(ids))


def test_spans_valid_and_answers_short():
    passages, splits = generate(360, 13)
    by_id = {p.id: p for p in passages}
    for qs in splits.values():
        for q in qs:
            assert q.spans and q.gold_passage_ids == [s.passage_id for s in q.spans]
            assert 1 <= len(q.answers[0].split()) <= 3
            for s in q.spans:
                assert by_id[s.passage_id].text[s.start:s.end] == s.text == q.answers[0]


def test_passages_look_like_passages():
    passages, _ = generate(360, 13)
    for p in passages:
        n_sent = len(re.findall(r"[.!?](\s|$)", p.text))
        assert 2 <= n_sent <= 6 and 35 <= len(p.text.split()) <= 90, p.text


def ngrams(text, n):
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def test_questions_are_paraphrased():
    passages, splits = generate(360, 13)
    by_id = {p.id: p for p in passages}
    for qs in splits.values():
        for q in qs:
            body = q.text.rstrip("?")
            for pid in q.gold_passage_ids:
                passage = by_id[pid].text
                assert body not in passage
                # entity names (titles of the gold passages) may repeat; the wording around them may not
                names = {w for g in q.gold_passage_ids for w in re.findall(r"\w+", by_id[g].title.lower())}
                shared = {g for g in ngrams(q.text, 3) if not set(g) & names} & ngrams(passage, 3)
                assert not shared, (q.text, passage, shared)


def test_distractors_share_surface_words():
    passages, splits = generate(360, 13)
    by_id = {p.id: p for p in passages}
    q = next(q for q in splits["train"] if q.id.endswith("/town") and q.id.startswith("person"))
    town = q.answers[0]
    assert sum(town in p.text for p in passages) >= 3  # the answer town appears in other passages too
    surname = by_id[q.gold_passage_ids[0]].title.split()[-1]
    first = by_id[q.gold_passage_ids[0]].title.split()[0]
    assert sum(first in p.text or surname in p.text for p in passages) >= 2


def test_load_demo_shares_one_corpus():
    task = load_demo(TaskConfig(demo_passages=40, demo_seed=1))
    corpora = list(task.corpora.values())
    assert all(c is corpora[0] for c in corpora) and len(corpora[0]) == 40
    for qs in task.splits.values():
        for q in qs:
            assert all(g in corpora[0] for g in q.gold_passage_ids)
