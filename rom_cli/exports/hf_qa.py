"""`format=hf-qa`: the reader as a transformers `*ForQuestionAnswering` folder whose `qa_outputs` is rom's span head.

The reader backbone (the shared one, or the reader tower) goes into the architecture's QA class (e.g.
`BertForQuestionAnswering`) and rom's span head (start, end logits) becomes `qa_outputs`, so the QA model's
logits are rom's on the same input. The tokenizer packs `[CLS] question [SEP] passage [SEP]` (types 0 / 1)
as rom's reader does. The export is compared with rom's reader on a probe input before it is kept.

What the folder cannot carry: rom's passage-relevance head. rom ranks the windows of a long passage (and
several passages) by that head's log-softmax plus the span score; a QA pipeline ranks windows by span
probability alone. On a passage that fits one window (`encoder.reader_max_length` tokens with the
question) both pick the same span; on longer passages they may pick different windows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rom_cli.errors import RomError
from rom_cli.exports.common import (
    PROBE_PASSAGES,
    PROBE_QUESTIONS,
    export_folder,
    rom_tokenizer,
    save_tokenizer,
    write_metadata,
)
from rom_cli.model.backbone import accepts_token_type_ids

TOLERANCE = 1e-4  # largest difference to rom's span logits (fp32, on a probe input) an export may have

README = """# {name}: rom's reader as a transformers question-answering model

Exported by `rom export format=hf-qa` from `{checkpoint}` (step {step}): `{arch}`, whose `qa_outputs` is
rom's span head.

```python
from transformers import pipeline  # transformers 4.x: the question-answering pipeline left transformers 5.0

qa = pipeline("question-answering", model="{folder}")
qa(question="Who founded the observatory?", context="The observatory was founded by Ada Vell in 1820.",
   {kwargs})
```

- Pass those settings: they are rom's window length, window overlap and longest answer, and rom answers
  with token offsets (`align_to_words=False`; the pipeline's default widens a span to whole words).
- On transformers 5 load it with `AutoModelForQuestionAnswering.from_pretrained("{folder}")` and its
  tokenizer: `model(**tokenizer(question, context, return_tensors="pt"))` gives rom's start and end logits.
- The context is the passage text alone (rom's reader does not read titles).
- rom's passage-relevance head is not part of this model. rom picks among the windows of a passage longer
  than one window (and among passages) by relevance plus span score, the pipeline by span score alone, so
  their answers agree on passages that fit one window ({window} tokens with the question) and may differ
  on longer ones.
- Checked on export: the largest difference to rom's span logits on a probe input was {diff:.2e} (fp32).
"""


def rom_logits(session, question: str, context: str):
    """(input ids, passage mask, start, end) of rom's reader on one window (as evaluation packs it)."""
    s, enc = session, session.enc_cfg
    q_ids = s.packer.tokenize([question]).ids
    text = s.packer.tokenize([context]).ids
    batch = s.packer.reader_pairs(q_ids, text, int(enc.reader_max_length), int(enc.query_max_length))
    batch.pop("window_offset")
    with torch.no_grad():
        start, end, _ = s.model.read({k: v.to(s.device) for k, v in batch.items()})
    return batch["input_ids"][0], batch["passage_mask"][0].bool(), start[0].float().cpu(), end[0].float().cpu()


def export(session, out: Path) -> dict:
    from transformers import AutoModelForQuestionAnswering

    model, enc = session.model, session.enc_cfg
    backbone = model.backbone("reader")
    try:
        qa = AutoModelForQuestionAnswering.from_config(backbone.config)
    except (ValueError, KeyError) as ex:
        raise RomError(f"format=hf-qa: transformers has no question-answering class for {type(backbone).__name__} "
                       f"({type(ex).__name__}): expected a backbone with a *ForQuestionAnswering class (BERT, MiniLM, "
                       "DistilBERT, RoBERTa, ...)") from None
    head = getattr(qa, "qa_outputs", None)
    if not isinstance(head, torch.nn.Linear) or tuple(head.weight.shape) != tuple(model.span_head.weight.shape):
        raise RomError(f"format=hf-qa: {type(qa).__name__} has no qa_outputs layer shaped like rom's span head "
                       f"{tuple(model.span_head.weight.shape)}: expected a standard extractive QA class")
    base = getattr(qa, qa.base_model_prefix)
    missing, _ = base.load_state_dict(backbone.state_dict(), strict=False)  # the QA class drops the pooler
    if missing:
        raise RomError(f"format=hf-qa: {type(qa).__name__} expects weights the reader backbone lacks: {missing[:4]}")
    head.load_state_dict(model.span_head.state_dict())
    qa = qa.float().eval()
    qa.config.architectures = [type(qa).__name__]
    tokenizer = rom_tokenizer(session.packer, 0, int(enc.reader_max_length), accepts_token_type_ids(backbone))
    kwargs = {"max_seq_len": int(enc.reader_max_length), "doc_stride": int(enc.reader_stride),
              "max_answer_len": int(enc.max_answer_tokens), "max_question_len": int(enc.query_max_length),
              "align_to_words": False}
    with export_folder(out) as folder:
        qa.save_pretrained(str(folder))
        save_tokenizer(tokenizer, folder)
        diff = _check(session, folder)
        fields = {"checkpoint": session.path, "step": session.step, "folder": out, "name": enc.name,
                  "arch": type(qa).__name__, "window": int(enc.reader_max_length), "diff": diff,
                  "kwargs": ", ".join(f"{k}={v!r}" for k, v in kwargs.items())}
        return write_metadata(folder, session, "hf-qa", README.format(**fields), architecture=type(qa).__name__,
                              pipeline_kwargs=kwargs, relevance_head="not exported (see README.md)",
                              max_abs_diff=diff)


def _check(session, folder: Path) -> float:
    """Reload the folder as a user would and compare its logits with rom's reader on a probe input."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    qa = AutoModelForQuestionAnswering.from_pretrained(str(folder)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    question, (_, context) = PROBE_QUESTIONS[0], PROBE_PASSAGES[0]
    ids, passage, start, end = rom_logits(session, question, context)
    inputs = tokenizer(question, context, truncation="only_second", max_length=int(session.enc_cfg.reader_max_length),
                       return_tensors="pt")
    if inputs["input_ids"][0].tolist() != ids.tolist():
        raise RomError("format=hf-qa: the exported tokenizer does not pack [CLS] question [SEP] passage [SEP] as rom "
                       "does for this tokenizer; nothing was written")
    with torch.no_grad():
        output = qa(**inputs)
    theirs = torch.stack([output.start_logits[0], output.end_logits[0]])[:, passage]
    diff = float(np.abs((theirs - torch.stack([start, end])[:, passage]).numpy()).max())
    if not diff <= TOLERANCE:
        raise RomError(f"format=hf-qa: the exported model's span logits differ from rom's reader by {diff:.2e} "
                       f"(expected at most {TOLERANCE:g}); nothing was written")
    return diff
