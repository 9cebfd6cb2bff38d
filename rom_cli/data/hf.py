"""A Hugging Face hub dataset in SQuAD layout (`id, title, context, question, answers{text,
answer_start}`), e.g. `rajpurkar/squad`. `datasets` is imported only here, only when used; loading
needs the network or a local datasets cache, and a failure is one RomError naming `task.hf_name`.
"""

from __future__ import annotations

from rom_cli.data.squad import parse_squad
from rom_cli.data.types import LoadStats, Passage, Question
from rom_cli.errors import RomError


def rows_to_squad(rows) -> dict:
    """Group SQuAD-layout rows into the SQuAD v1.1 JSON structure (articles by title, paragraphs by
    context, both in first-seen order)."""
    articles: dict[str, dict[str, list]] = {}
    for row in rows:
        title = str(row.get("title") or "")
        paragraphs = articles.setdefault(title, {})
        answers = row.get("answers") or {}
        texts = list(answers.get("text") or [])
        starts = list(answers.get("answer_start") or [])
        qa = {
            "id": str(row.get("id") or ""),
            "question": row.get("question") or "",
            "answers": [{"text": t, "answer_start": s} for t, s in zip(texts, starts, strict=False)],
        }
        paragraphs.setdefault(row.get("context") or "", []).append(qa)
    return {
        "data": [
            {"title": title, "paragraphs": [{"context": c, "qas": qas} for c, qas in paras.items()]}
            for title, paras in articles.items()
        ]
    }


def load_hf(
    name: str | None, config: str | None, split: str, stats: LoadStats | None = None
) -> tuple[list[Question], list[Passage]]:
    """Load one split of a hub dataset in SQuAD layout."""
    if not name:
        raise RomError("task.hf_name is not set: expected a Hugging Face dataset name such as rajpurkar/squad")
    try:
        import datasets

        ds = datasets.load_dataset(name, config, split=split)
    except Exception as ex:  # network, cache, auth, unknown name/split: all user-fixable
        reason = " ".join(str(ex).split())[:200]
        raise RomError(
            f"task.hf_name={name!r}: could not load the Hugging Face dataset (split {split!r}); it needs the "
            f"network or a local datasets cache ({type(ex).__name__}: {reason})"
        ) from None
    missing = {"context", "question", "answers"} - set(ds.column_names)
    if missing:
        raise RomError(
            f"task.hf_name={name!r}: split {split!r} is not in SQuAD layout (missing columns: {sorted(missing)})"
        )
    return parse_squad(rows_to_squad(ds), f"hf:{name}[{split}]", stats)
