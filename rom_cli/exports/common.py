"""What the exports share: a tokenizer that packs like rom's `Packer`, staged output folders, metadata."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

from rom_cli.atomic import staged_dir
from rom_cli.errors import RomError

METADATA = "rom_export.json"

# probe inputs on which every export is compared with rom before it is kept (a title, none, a long passage)
PROBE_QUESTIONS = ["who founded the observatory in the valley town?", "when was the old mill on the river built"]
PROBE_PASSAGES = [
    ("", "The observatory of Tarsk was founded by Ada Vell in 1820, two years after the mill was built."),
    ("Old mill", "The mill on the river Lenn was built in 1818 by the brothers Orm and sold to the town in 1901."),
]


def rom_tokenizer(packer, single_type: int, max_length: int, token_types: bool):
    """A plain fast tokenizer (`PreTrainedTokenizerFast`: no model-specific class rebuilds its templates on
    load) that packs as rom's `Packer`: one text as `[CLS]:0 text:T [SEP]:T` with T = `single_type` (0 for
    queries; 1 for passages, which rom packs as `[CLS]` then a type-1 body when untitled), a pair as
    `[CLS]:0 A:0 [SEP]:0 B:1 [SEP]:1` (a titled passage; question and passage for the reader)."""
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    source = packer.tokenizer
    backend = Tokenizer.from_str(source.backend_tokenizer.to_str())
    backend.no_padding()
    backend.no_truncation()
    cls, sep = source.convert_ids_to_tokens([packer.cls, packer.sep])
    backend.post_processor = processors.TemplateProcessing(
        single=f"{cls}:0 $A:{single_type} {sep}:{single_type}",
        pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
        special_tokens=list(dict.fromkeys([(cls, packer.cls), (sep, packer.sep)])),
    )
    specials = {k: getattr(source, k) for k in ("cls_token", "sep_token", "pad_token", "unk_token", "mask_token",
                                                "bos_token", "eos_token") if getattr(source, k, None) is not None}
    names = ["input_ids", "token_type_ids", "attention_mask"] if token_types else ["input_ids", "attention_mask"]
    return PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=int(max_length),
                                   model_input_names=names, padding_side="right", **specials)


def save_tokenizer(tokenizer, folder: Path) -> None:
    tokenizer.save_pretrained(str(folder))
    generic_tokenizer_class(folder)


def generic_tokenizer_class(folder: Path) -> None:
    """Name the generic fast tokenizer class in every tokenizer_config.json under `folder` (transformers 5
    writes `TokenizersBackend`, which transformers 4 does not know; both know `PreTrainedTokenizerFast`)."""
    for config in Path(folder).rglob("tokenizer_config.json"):
        data = json.loads(config.read_text(encoding="utf-8"))
        data["tokenizer_class"] = "PreTrainedTokenizerFast"
        config.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


@contextlib.contextmanager
def export_folder(out: Path):
    """A folder assembled beside `out` and renamed over it when complete. An existing `out` is replaced only
    when it is empty or an earlier export (it holds rom_export.json), never another folder."""
    out = Path(out)
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or (out / METADATA).is_file())):
        raise RomError(f"out={out}: exists and is not an earlier rom export: expected a new or empty folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # left by a killed export
    with staged_dir(out, tmp) as folder:
        yield folder


def write_metadata(folder: Path, session, fmt: str, readme: str, **extra) -> dict:
    meta = {"format": fmt, "checkpoint": str(session.path), "step": session.step,
            "fingerprint": session.meta.get("fingerprint"), "encoder": str(session.enc_cfg.name), **extra}
    (Path(folder) / METADATA).write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
    (Path(folder) / "README.md").write_text(readme, encoding="utf-8")
    return meta
