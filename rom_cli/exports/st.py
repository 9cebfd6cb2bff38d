"""`format=sentence-transformers`: one SentenceTransformer folder that encodes as rom's query and passage roles.

rom's two roles may differ in more than their input: with `encoder.projection_dim>0` each role has its own
projection, and with `encoder.shared=false` its own backbone. So the folder holds a sentence-transformers
`Router` with a `query` and a `document` route (`model.encode_query`, `model.encode_document`), each:
Transformer (the role's backbone and a tokenizer packing as rom does) -> Pooling (rom's mean or cls) ->
Dense (the role's projection, no activation; only with projection_dim>0) -> Normalize (cosine only).

rom packs a passage as `[CLS] title [SEP] text [SEP]`, the title and its [SEP] of token type 0, the text of
type 1 (`[CLS] text [SEP]` with a type-1 body when untitled). The document tokenizer reproduces both:
feed `(title, text)` pairs for titled passages, plain text for untitled ones. The export is compared
with rom on probe inputs before it is kept (`rom_export.json`: `max_abs_diff`).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import torch

from rom_cli.config.schema import value_of
from rom_cli.errors import RomError
from rom_cli.exports.common import (
    PROBE_PASSAGES,
    PROBE_QUESTIONS,
    export_folder,
    generic_tokenizer_class,
    rom_tokenizer,
    save_tokenizer,
    write_metadata,
)
from rom_cli.model.backbone import accepts_token_type_ids

TOLERANCE = 1e-4  # largest difference to rom's vectors (fp32, on probe inputs) an export may have

README = """# {name}: rom's query and passage encoders as one sentence-transformers model

Exported by `rom export format=sentence-transformers` from `{checkpoint}` (step {step}).

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("{folder}")
queries = model.encode_query(["Who founded the observatory?"])                  # rom's query vectors
passages = model.encode_document([("Tarsk", "The observatory was founded in 1820."),  # (title, text)
                                  "An untitled passage is plain text."])
scores = model.similarity(queries, passages)                                     # {similarity}
```

- Queries go through the `query` route, passages through the `document` route (also what a plain
  `model.encode` uses): {routes}.
- Feed a titled passage as a `(title, text)` pair: rom encodes `[CLS] title [SEP] text [SEP]`, title of
  token type 0 and text of type 1, and the pair reproduces it exactly as long as the title has at most
  {title_max} tokens (a quarter of the passage length, rom's limit on titles). Untitled passages are plain
  strings (`[CLS] text [SEP]`, the text of type 1 as rom packs it). Do not join title and text into one
  string: that changes the token types and the vectors.
- Lengths: queries {query_max} tokens, passages {passage_max} tokens, truncated as rom truncates.
- rom's retrieval scores are these similarities divided by its temperature ({temperature}); the ranking
  is the same.
- Checked on export: the largest difference to rom's own vectors on probe inputs was {diff:.2e} (fp32).
"""


def _modules():
    """sentence-transformers' module classes (6.x layout first, then 5.x), or one line naming the package."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as ex:
        raise RomError(f"format=sentence-transformers: the sentence-transformers package is not installed "
                       f"({type(ex).__name__}): expected `pip install 'rom-cli[export]'`") from None
    try:
        from sentence_transformers.sentence_transformer.modules import (
            Dense,
            Normalize,
            Pooling,
            Router,
            Transformer,
        )
    except ImportError:
        try:
            from sentence_transformers.models import Dense, Normalize, Pooling, Router, Transformer
        except ImportError as ex:
            raise RomError("format=sentence-transformers: this sentence-transformers has no Router module "
                           f"({ex}): expected sentence-transformers>=5.0") from None
    return SentenceTransformer, Router, Transformer, Pooling, Dense, Normalize


def rom_vectors(session) -> tuple[np.ndarray, np.ndarray]:
    """rom's own fp32 vectors of the probe inputs (queries, passages), through the functions `rom index` uses."""
    from rom_cli.data.types import InMemoryCorpus, Passage
    from rom_cli.model.encode import encode_corpus, encode_queries

    s, enc = session, session.enc_cfg
    queries = encode_queries(s.model, s.packer, s.packer.tokenize(PROBE_QUESTIONS), int(enc.query_max_length), 8,
                             s.device, "fp32")
    corpus = InMemoryCorpus([Passage(str(i), text, title) for i, (title, text) in enumerate(PROBE_PASSAGES)])
    passages, _ = encode_corpus(s.model, s.packer, corpus, int(enc.passage_max_length), 8, s.device, "fp32")
    return queries, passages


def st_vectors(model) -> tuple[np.ndarray, np.ndarray]:
    documents = [(title, text) if title else text for title, text in PROBE_PASSAGES]
    return (np.asarray(model.encode_query(PROBE_QUESTIONS, convert_to_numpy=True, show_progress_bar=False)),
            np.asarray(model.encode_document(documents, convert_to_numpy=True, show_progress_bar=False)))


def export(session, out: Path) -> dict:
    SentenceTransformer, Router, Transformer, Pooling, Dense, Normalize = _modules()
    # its notes (routes of two lengths, which folder it loads) would fill the export's output
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
    model, enc = session.model, session.enc_cfg
    hidden, cosine = int(model.hidden_size), value_of(enc.similarity) == "cosine"
    routes, described = {}, []
    with export_folder(out) as folder, tempfile.TemporaryDirectory(dir=folder.parent) as scratch:
        for role, route, max_len, single_type in (("query", "query", enc.query_max_length, 0),
                                                  ("passage", "document", enc.passage_max_length, 1)):
            backbone_dir = Path(scratch) / role
            backbone = model.backbone(role)
            backbone.save_pretrained(str(backbone_dir))
            tokenizer = rom_tokenizer(session.packer, single_type, int(max_len), accepts_token_type_ids(backbone))
            save_tokenizer(tokenizer, backbone_dir)
            modules = [Transformer(str(backbone_dir), max_seq_length=int(max_len)),
                       Pooling(hidden, pooling_mode=value_of(enc.pooling))]
            steps = [f"{'shared' if enc.shared else role} backbone", f"{value_of(enc.pooling)} pooling"]
            if role in model.projections:
                layer = model.projections[role]
                dense = Dense(hidden, int(layer.out_features), bias=True, activation_function=torch.nn.Identity())
                dense.linear.load_state_dict({k: v.detach().float().cpu() for k, v in layer.state_dict().items()})
                modules.append(dense)
                steps.append(f"the {role} projection to {layer.out_features}")
            if cosine:
                modules.append(Normalize())
                steps.append("L2 normalisation")
            routes[route] = modules
            described.append(f"`{route}`: " + ", ".join(steps))
        st = SentenceTransformer(modules=[Router.for_query_document(routes["query"], routes["document"])],
                                 device="cpu", similarity_fn_name="cosine" if cosine else "dot")
        st.save(str(folder))
        generic_tokenizer_class(folder)
        loaded = SentenceTransformer(str(folder), device="cpu")  # what a user gets, checked against rom
        theirs, ours = st_vectors(loaded), rom_vectors(session)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(theirs, ours, strict=True))
        if not diff <= TOLERANCE:
            raise RomError(f"format=sentence-transformers: the exported model differs from rom's encoders by "
                           f"{diff:.2e} on probe inputs (expected at most {TOLERANCE:g}): this tokenizer or "
                           f"backbone ({type(model.backbone('query')).__name__}) cannot be reproduced; nothing was written")
        fields = {"checkpoint": session.path, "step": session.step, "folder": out, "name": enc.name,
                  "routes": "; ".join(described), "similarity": "cosine" if cosine else "dot product",
                  "title_max": int(enc.passage_max_length) // 4, "query_max": int(enc.query_max_length),
                  "passage_max": int(enc.passage_max_length), "temperature": float(enc.temperature), "diff": diff}
        return write_metadata(folder, session, "sentence-transformers", README.format(**fields),
                              routes={"query": "encode_query", "document": "encode_document"},
                              pooling=value_of(enc.pooling), similarity=value_of(enc.similarity),
                              projection_dim=int(enc.projection_dim or 0), shared=bool(enc.shared),
                              query_max_length=int(enc.query_max_length),
                              passage_max_length=int(enc.passage_max_length),
                              temperature=float(enc.temperature), max_abs_diff=diff)
