#!/usr/bin/env python
"""Write a synthetic dataset in DPR's formats, at any scale, streaming (memory does not grow with N).

    python scripts/make_corpus.py --out DIR --passages N --questions Q --dev 500 --seed 0

Files written into DIR:

- `psgs.tsv`: `id<TAB>text<TAB>title` with a header line, ids 1..N, about 100 words per passage,
  written with Python's csv module (tab delimiter, minimal quoting) as DPR's psgs_w100.tsv is: a
  field holding a quote is wrapped in quotes and its quotes doubled (`"he was ""Kel"" to friends"`).
- `train.json`: a DPR retriever JSON list (`question`, `answers`, `positive_ctxs`, `negative_ctxs`,
  `hard_negative_ctxs`; ctx = `title`, `text`, `score`, `title_score`, `passage_id`). Every ctx is a
  passage of the TSV (same id, title and text). The answer occurs word-bounded in the positive
  passage; the negative (1) and hard negatives (1-2: another passage of the same article, a passage
  of another article on the same topic) do not contain it.
- `dev.csv`: DPR QA CSV (`question<TAB>["answer"]`, no header) of questions about held-out articles
  (every 20th article; train questions never ask about them), answerable from one TSV passage.
- `manifest.json`: sizes, seed, bytes per file, seconds per stage, passages/s.

The data is a made-up encyclopedia: each article (`--per-article` passages, one title) is about an
invented entity (person, town, river, company, band, film) with facts whose values are names,
places, years and numbers; each article has a topic whose invented words fill its passages, so
passages of one topic are near one another and dense retrieval has structure to learn. Entity
names are coined from syllables (millions of them), so few titles repeat even at 21M passages (about
1% of articles share a title at 3M passages). Questions are lower case like NQ's ("who founded
velmora industries").

Passage i is a pure function of (seed, i): a counter-based hash (splitmix64, numpy-vectorised)
gives each passage and article its random numbers, so the question stage regenerates any
passage's text on demand instead of keeping the corpus. Nothing depends on numpy's RNG streams.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from rom_cli.atomic import atomic_write_json  # noqa: E402

FORMAT = "rom-synthetic-dpr"
VERSION = 1
WORDS_PER_PASSAGE = 100
DEV_EVERY = 20  # article a is held out for dev questions when a % DEV_EVERY == DEV_EVERY - 1
BLOCK = 2048  # passages generated per vectorised call

# ----------------------------------------------------------------------------- counter-based hashing

_U = np.uint64
_GOLD = _U(0x9E3779B97F4A7C15)
_M1, _M2 = _U(0xBF58476D1CE4E5B9), _U(0x94D049BB133111EB)
SALT_VOCAB, SALT_PASSAGE, SALT_ARTICLE, SALT_TRAIN, SALT_DEV, SALT_TOPIC = 11, 23, 37, 41, 53, 67


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on a uint64 array (wrapping arithmetic)."""
    x = np.asarray(x, dtype=np.uint64)
    x = (x ^ (x >> _U(30))) * _M1
    x = (x ^ (x >> _U(27))) * _M2
    return x ^ (x >> _U(31))


def keys(seed: int, salt: int, idx: np.ndarray) -> np.ndarray:
    """One uint64 key per index, distinct streams per (seed, salt)."""
    base = mix(np.array([(seed * 1_000_003 + salt) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
    return mix(base ^ mix(np.asarray(idx, dtype=np.uint64) * _GOLD + _U(salt)))


def draws(key: np.ndarray, n: int) -> list[list[int]]:
    """n pseudo-random 64-bit ints per key, as Python lists (rows follow `key`)."""
    steps = (np.arange(1, n + 1, dtype=np.uint64) * _GOLD)[None, :]
    return mix(key[:, None] + steps).tolist()


# ----------------------------------------------------------------------------- vocabulary

ONSETS = ["b", "br", "c", "d", "dr", "f", "g", "gr", "h", "k", "l", "m", "n", "p", "r", "s", "st", "t",
          "th", "tr", "v", "w", "z", "ch", "pl", "sh", "b", "d", "l", "m", "n", "r", "s", "t", "v", "", ""]
NUCLEI = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "a", "e", "ai", "ea", "ou", "io", "y", "au"]
CODAS = ["", "", "", "", "", "", "n", "r", "l", "s", "m", "nd", "rt", "st", "th", "ck", "ng", "x", "rn", "ld"]
ACCENTED = {"a": "á", "e": "é", "i": "ï", "o": "ö", "u": "ü"}

FUNCTION_WORDS = (
    "the of and in a to was is for on as with by that from at its which were an also has had be this are "
    "after first during their new two later most one known called part over into under between while "
    "since both other many several early main local large small former second such these there been "
    "all some where more than each only"
).split()
COMMON_WORDS = (
    "river town company album song film village district school team group war church station party "
    "league season family population government building north south east west century area region "
    "history period court museum railway bridge road market island valley county council record series "
    "members people work style design public service system local national world field trade art"
).split()

POOLS = {  # made-up words per role, in this order (sizes sum to ~33k)
    "given": 1500,
    "surname": 6000,
    "place": 4000,
    "org": 1500,
    "general": 4000,
}
TOPICS = 400
TOPIC_WORDS = 40


def _capital(word: str) -> str:
    return word[:1].upper() + word[1:]


def make_vocabulary(seed: int) -> dict[str, list[str]]:
    """Unique invented words for every role (deterministic in `seed`)."""
    need = sum(POOLS.values()) + TOPICS * TOPIC_WORDS
    banned = set(FUNCTION_WORDS) | set(COMMON_WORDS)
    words: dict[str, None] = {}
    start = 0
    while len(words) < need:
        rows = draws(keys(seed, SALT_VOCAB, np.arange(start, start + 8192)), 8)
        start += 8192
        for r in rows:
            n_syl = (2, 2, 2, 2, 3, 3, 1)[r[0] % 7]
            parts = []
            for s in range(n_syl):
                v = r[1 + s]
                coda = CODAS[(v >> 16) % len(CODAS)] if s == n_syl - 1 or v % 3 == 0 else ""
                parts.append(ONSETS[v % len(ONSETS)] + NUCLEI[(v >> 8) % len(NUCLEI)] + coda)
            w = "".join(parts)
            if r[5] % 40 == 0:  # a few accented words, as Wikipedia has
                for i, ch in enumerate(w):
                    if ch in ACCENTED:
                        w = w[:i] + ACCENTED[ch] + w[i + 1:]
                        break
            if 3 <= len(w) <= 10 and w not in banned:
                words.setdefault(w, None)
                if len(words) == need:
                    break
    flat = list(words)
    out, pos = {}, 0
    for role, size in POOLS.items():
        out[role] = flat[pos:pos + size]
        pos += size
    for t in range(TOPICS):
        out[f"topic{t}"] = flat[pos:pos + TOPIC_WORDS]
        pos += TOPIC_WORDS
    return out


# ----------------------------------------------------------------------------- entities and facts

# (attribute, value kind, passage sentences, questions). In sentences {N} is the entity (or a pronoun
# when the sentence starts with it), {v} the value, {w} a topic word; questions use {n} (lower case).
FACTS = {
    "person": [
        ("born_year", "year", ["{N} was born in {v}.", "Born in {v}, {N} grew up in a {w} family."],
         ["when was {n} born", "what year was {n} born"]),
        ("born_place", "place", ["{N} was born in the town of {v}.", "{N} grew up in {v}."],
         ["where was {n} born", "where did {n} grow up"]),
        ("spouse", "person", ["{N} married {v}.", "{N} was married to {v} for many years."],
         ["who was {n} married to", "who is the spouse of {n}"]),
        ("employer", "org", ["{N} worked for {v}.", "{N} joined {v} as a {w} adviser."],
         ["who did {n} work for", "what company did {n} join"]),
        ("award", "award", ["{N} received the {v}.", "{N} was awarded the {v} for {w} work."],
         ["what award did {n} receive", "what prize was {n} awarded"]),
        ("died_year", "year", ["{N} died in {v}.", "{N} died in {v} after a long illness."],
         ["when did {n} die", "what year did {n} die"]),
    ],
    "town": [
        ("founded_year", "year", ["{N} was founded in {v}.", "The first {w} settlement of {N} dates from {v}."],
         ["when was {n} founded", "what year was {n} founded"]),
        ("founder", "person", ["{N} was founded by {v}.", "The town was established by {v}."],
         ["who founded {n}", "who established the town of {n}"]),
        ("river", "river", ["{N} lies on the {v}.", "{N} is located on the banks of the {v}."],
         ["what river is {n} on", "which river flows through {n}"]),
        ("population", "number", ["{N} has a population of {v}.", "At the last census {N} had {v} inhabitants."],
         ["what is the population of {n}", "how many people live in {n}"]),
        ("mayor", "person", ["The mayor of {N} is {v}.", "{v} serves as mayor of {N}."],
         ["who is the mayor of {n}", "who is mayor of {n}"]),
        ("region", "place", ["{N} is a town in the {v} region.", "{N} is part of the province of {v}."],
         ["what region is {n} in", "in which province is {n}"]),
    ],
    "river": [
        ("length", "number", ["{N} is {v} kilometres long.", "{N} runs for {v} kilometres."],
         ["how long is the {n}", "what is the length of the {n}"]),
        ("source", "place", ["{N} rises near {v}.", "The source of {N} is near {v}."],
         ["where does the {n} begin", "where is the source of the {n}"]),
        ("mouth", "place", ["{N} flows into the sea at {v}.", "{N} reaches the coast at {v}."],
         ["where does the {n} flow into the sea", "where does the {n} end"]),
        ("mapped_by", "person", ["{N} was first mapped by {v}.", "The first {w} survey of {N} was made by {v}."],
         ["who first mapped the {n}", "who made the first survey of the {n}"]),
        ("mapped_year", "year", ["{N} was first surveyed in {v}.", "The course of {N} was charted in {v}."],
         ["when was the {n} first surveyed", "what year was the {n} charted"]),
    ],
    "company": [
        ("founded_year", "year", ["{N} was founded in {v}.", "{N} began trading in {v}."],
         ["when was {n} founded", "what year did {n} begin trading"]),
        ("founder", "person", ["{N} was founded by {v}.", "The company was started by {v}."],
         ["who founded {n}", "who started {n}"]),
        ("headquarters", "place", ["{N} is headquartered in {v}.", "The headquarters of {N} are in {v}."],
         ["where is {n} headquartered", "where are the headquarters of {n}"]),
        ("ceo", "person", ["{v} is the chief executive of {N}.", "{N} is led by {v}."],
         ["who is the ceo of {n}", "who runs {n}"]),
        ("employees", "number", ["{N} employs {v} people.", "{N} has {v} employees."],
         ["how many people work for {n}", "how many employees does {n} have"]),
    ],
    "band": [
        ("formed_year", "year", ["{N} formed in {v}.", "{N} played their first {w} concert in {v}."],
         ["when did {n} form", "what year did {n} start"]),
        ("formed_in", "place", ["{N} is a band from {v}.", "{N} was formed in {v}."],
         ["where is {n} from", "where was the band {n} formed"]),
        ("singer", "person", ["The lead singer of {N} is {v}.", "{v} sings for {N}."],
         ["who is the lead singer of {n}", "who sings for {n}"]),
        ("song", "work", ['Their best known song is "{v}".', '{N} had a hit with the single "{v}".'],
         ["what is the best known song by {n}", "what was the hit single by {n}"]),
        ("label", "label", ["{N} signed with {v}.", "{N} records for {v}."],
         ["what label is {n} signed to", "what record label does {n} record for"]),
    ],
    "film": [
        ("release_year", "year", ["{N} was released in {v}.", "{N} opened in cinemas in {v}."],
         ["when was {n} released", "when did {n} come out"]),
        ("director", "person", ["{N} was directed by {v}.", "The film was directed by {v}."],
         ["who directed {n}", "who was the director of {n}"]),
        ("lead", "person", ["{v} played the lead role in {N}.", "{N} stars {v} as a {w} detective."],
         ["who played the lead in {n}", "who starred in {n}"]),
        ("filmed_in", "place", ["{N} was filmed in {v}.", "Most of {N} was shot in {v}."],
         ["where was {n} filmed", "where was {n} shot"]),
        ("composer", "person", ["The music for {N} was written by {v}.", "{v} composed the score of {N}."],
         ["who wrote the music for {n}", "who composed the score of {n}"]),
    ],
}
ENTITY_TYPES = list(FACTS)
PRONOUN = {"person": ("He", "She"), "town": ("The town", "The town"), "river": ("The river", "The river"),
           "company": ("The company", "The firm"), "band": ("The band", "The group"),
           "film": ("The film", "The film")}
KIND_WORDS = {"person": ["writer", "painter", "politician", "engineer", "singer", "scientist", "explorer"],
              "town": ["town", "village", "market town", "port town"], "river": ["river", "stream"],
              "company": ["company", "firm", "manufacturer"], "band": ["band", "rock band", "folk group"],
              "film": ["film", "drama film", "comedy film"]}
TOWN_ENDINGS = ["", "", "", "", "ton", "by", "ford", "wick", "holm", "stead", "burg", "mouth", "field", "dale",
                "ham", "worth", "ley", "bury", "port", "minster", "gate", "well", "thorpe", "haven"]
COMPANY_SUFFIX = ["Industries", "Group", "Holdings", "Motors", "Systems", "Bank", "Airlines", "Press"]
MAX_FACTS = max(len(f) for f in FACTS.values())


class Generator:
    """Passage i (1-based) and question q are pure functions of (seed, i) and (seed, q)."""

    def __init__(self, seed: int, passages: int, per_article: int = 3):
        if passages < 1:
            raise ValueError("--passages must be >= 1")
        if not 1 <= per_article <= min(len(f) for f in FACTS.values()):
            raise ValueError("--per-article must be between 1 and 5")
        self.seed, self.n, self.k = int(seed), int(passages), int(per_article)
        self.articles = (self.n + self.k - 1) // self.k
        vocab = make_vocabulary(self.seed)
        self.given, self.surname = vocab["given"], vocab["surname"]
        self.place, self.org = [_capital(w) for w in vocab["place"]], [_capital(w) for w in vocab["org"]]
        self.given = [_capital(w) for w in self.given]
        self.surname = [_capital(w) for w in self.surname]
        self.general = vocab["general"]
        self.vocab_size = sum(len(v) for v in vocab.values())
        # filler tokens: function words, common words, general words, then one slice per topic
        self.tokens = np.array(FUNCTION_WORDS + COMMON_WORDS + self.general
                               + [w for t in range(TOPICS) for w in vocab[f"topic{t}"]], dtype=object)
        self.topic_base = len(FUNCTION_WORDS) + len(COMMON_WORDS) + len(self.general)
        self.topic_off = int(mix(np.array([self.seed], dtype=np.uint64))[0] % TOPICS)

    # -- articles ---------------------------------------------------------------------------
    def topic(self, a: int) -> int:
        return (a + self.topic_off) % TOPICS  # articles a, a + TOPICS, ... share a topic

    @staticmethod
    def coined(r: int, syllables: int | None = None) -> str:
        """An invented proper name from the bits of r (2-3 syllables: millions of names, so titles
        rarely repeat even over DPR's 21M passages, unlike names drawn from a fixed pool)."""
        parts = []
        for s in range(syllables or 2 + (r & 1)):
            v = r >> (2 + 18 * s)
            coda = CODAS[(v >> 11) % len(CODAS)] if s or v & 64 else ""
            parts.append(ONSETS[v % len(ONSETS)] + NUCLEI[(v >> 6) % len(NUCLEI)] + coda)
        return _capital("".join(parts))

    def _value(self, kind: str, r: int, topic_words: list[str]) -> str:
        if kind == "year":
            return str(1650 + r % 370)
        if kind == "person":
            return f"{self.given[r % len(self.given)]} {self.surname[(r >> 16) % len(self.surname)]}"
        if kind == "place":
            return self.place[r % len(self.place)]
        if kind == "river":
            return f"River {self.place[r % len(self.place)]}"
        if kind == "org":
            return f"{self.org[r % len(self.org)]} {COMPANY_SUFFIX[(r >> 16) % len(COMPANY_SUFFIX)]}"
        if kind == "award":
            return f"{self.place[r % len(self.place)]} Prize"
        if kind == "label":
            return f"{self.org[r % len(self.org)]} Records"
        if kind == "number":
            return f"{1000 + r % 98000:,}"
        if kind == "work":
            return f"{_capital(topic_words[r % TOPIC_WORDS])} {_capital(self.general[(r >> 16) % len(self.general)])}"
        raise ValueError(kind)

    def article(self, a: int, r: list[int]) -> dict:
        """Title, name, type and fact values of article a (r: its random draws)."""
        etype = ENTITY_TYPES[r[0] % len(ENTITY_TYPES)]
        topic = self.topic(a)
        tw = self.tokens[self.topic_base + topic * TOPIC_WORDS:self.topic_base + (topic + 1) * TOPIC_WORDS].tolist()
        if etype == "person":
            given = self.given[r[1] % len(self.given)]
            surname = self.surname[(r[2] >> 1) % len(self.surname)] if r[2] & 1 else self.coined(r[2] >> 1)
            name = title = f"{given} {surname}"
            if r[3] % 50 == 0:  # a nickname in quotes, as in `"Weird Al" Yankovic`
                name = title = f'{given} "{_capital(tw[r[4] % TOPIC_WORDS])}" {surname}'
        elif etype == "town":
            name = title = self.coined(r[1], 2) + TOWN_ENDINGS[r[2] % len(TOWN_ENDINGS)]
        elif etype == "river":
            name = title = f"River {self.coined(r[1], 3 - (r[2] % 4 == 0))}"
        elif etype == "company":
            name = title = f"{self.coined(r[1])} {COMPANY_SUFFIX[r[2] % len(COMPANY_SUFFIX)]}"
        elif etype == "band":
            name = title = f"The {self.coined(r[1], 3 - (r[2] % 4 == 0))}s"
        else:
            name = f"{_capital(self.general[r[2] % len(self.general)])} {self.coined(r[1])}"
            title = f"{name} (film)"
        facts = []
        for j, (attr, kind, sentences, questions) in enumerate(FACTS[etype]):
            value = self._value(kind, r[8 + j], tw)
            if attr == "died_year":  # after the birth year
                value = str(int(facts[0]["value"]) + 25 + r[8 + j] % 60)
            facts.append({"attr": attr, "value": value, "sentences": sentences, "questions": questions})
        return {"type": etype, "name": name, "title": title, "topic": topic, "topic_words": tw,
                "female": r[5] % 2 == 1, "facts": facts, "kind_word": KIND_WORDS[etype][r[6] % len(KIND_WORDS[etype])]}

    def articles_of(self, ids: list[int]) -> dict[int, dict]:
        arts = sorted({(i - 1) // self.k for i in ids})
        rows = draws(keys(self.seed, SALT_ARTICLE, np.array(arts, dtype=np.uint64)), 8 + MAX_FACTS)
        return {a: self.article(a, r) for a, r in zip(arts, rows, strict=True)}

    def passage_facts(self, art: dict, p: int) -> list[int]:
        """Indices of the facts that passage p of an article states (each fact in exactly one passage)."""
        return [j for j in range(len(art["facts"])) if j % self.k == p]

    # -- passages ---------------------------------------------------------------------------
    def passages(self, ids) -> list[tuple[str, str]]:
        """(title, text) of each 1-based passage id (any order, repeats allowed)."""
        ids = [int(i) for i in ids]
        if not ids:
            return []
        arts = self.articles_of(ids)
        arr = np.array(ids, dtype=np.uint64)
        n_tok = WORDS_PER_PASSAGE
        rnd = mix(keys(self.seed, SALT_PASSAGE, arr)[:, None]
                  + (np.arange(1, n_tok + 1, dtype=np.uint64) * _GOLD)[None, :])
        # filler tokens: 45% function words, 10% common words, 10% general words, 35% topic words
        u = (rnd % _U(100)).astype(np.int64)
        v = (rnd >> _U(20)).astype(np.int64) & 0xFFFFFF
        topics = np.array([arts[(i - 1) // self.k]["topic"] for i in ids], dtype=np.int64)[:, None]
        nf, nc, ng = len(FUNCTION_WORDS), len(COMMON_WORDS), len(self.general)
        idx = np.where(u < 45, v % nf,
                       np.where(u < 55, nf + v % nc,
                                np.where(u < 65, nf + nc + v % ng,
                                         self.topic_base + topics * TOPIC_WORDS + v % TOPIC_WORDS)))
        words = self.tokens[idx].tolist()
        small = rnd[:, :12].tolist()
        out = []
        for row, i in enumerate(ids):
            a, p = divmod(i - 1, self.k)
            art, r, filler = arts[a], small[row], words[row]
            tw = art["topic_words"]
            intro = [f"{art['name']} is a {tw[r[0] % TOPIC_WORDS]} {art['kind_word']}."] if p == 0 else []
            sentences = []
            for j in self.passage_facts(art, p):
                f = art["facts"][j]
                s = f["sentences"][(r[1] >> j) % 2]
                rr = r[2 + j % 8]
                if s.startswith("{N}") and rr % 10 < 3:  # a pronoun instead of the name
                    s = PRONOUN[art["type"]][int(art["female"])] + s[3:]
                sentences.append(s.format(N=art["name"], v=f["value"], w=tw[rr % TOPIC_WORDS]))
            if r[10] % 10 == 0:  # some quotes in the text, as DPR's passages have
                sentences.append(f'It is also called "{_capital(tw[r[11] % TOPIC_WORDS])}" in {art["kind_word"]}s.')
            used = sum(s.count(" ") + 1 for s in intro + sentences)
            need = max(20, n_tok - used)
            pos, k = 0, 0
            filler_sentences = []
            while pos < need:
                length = min(need - pos, 6 + (r[(k % 10) + 1] >> 40) % 11)
                if need - pos - length < 4:  # no one-word sentence at the end
                    length = need - pos
                chunk = filler[pos:pos + length]
                chunk[0] = _capital(chunk[0])
                filler_sentences.append(" ".join(chunk) + ".")
                pos += length
                k += 1
            # an article starts with its introduction; facts sit among the filler sentences
            at = r[11] % (len(filler_sentences) + 1)
            text = " ".join(intro + filler_sentences[:at] + sentences + filler_sentences[at:])
            out.append((art["title"], text))
        return out

    # -- questions --------------------------------------------------------------------------
    def _pick(self, r: list[int], dev: bool) -> tuple[int, int]:
        """(article, passage id) a question asks about: dev questions only about held-out articles."""
        n_dev = self.articles // DEV_EVERY
        if dev and n_dev:
            a = DEV_EVERY * (r[0] % n_dev) + DEV_EVERY - 1
        else:
            a = r[0] % self.articles
            if not dev and n_dev and a % DEV_EVERY == DEV_EVERY - 1:
                a -= 1
        in_article = min(self.k, self.n - a * self.k)
        return a, a * self.k + 1 + r[1] % in_article

    def questions(self, qs: range, dev: bool) -> list[dict]:
        """Question records for question numbers `qs` (train: with ctxs; dev: question + answers)."""
        rows = draws(keys(self.seed, SALT_DEV if dev else SALT_TRAIN, np.arange(qs.start, qs.stop)), 16)
        picks = [self._pick(r, dev) for r in rows]
        arts = self.articles_of([pid for _, pid in picks])
        plans, need = [], set()
        for r, (a, pid) in zip(rows, picks, strict=True):
            art = arts[a]
            p = pid - 1 - a * self.k
            facts = self.passage_facts(art, p)
            fact = art["facts"][facts[r[2] % len(facts)]]
            q = fact["questions"][r[3] % 2].format(n=art["name"].lower())
            plan = {"q": q, "answer": fact["value"], "pid": pid}
            if not dev:
                plan["neg"] = [1 + r[4 + j] % self.n for j in range(3)]
                same = [a * self.k + 1 + (p + 1 + j) % self.k for j in range(self.k - 1)]
                plan["same"] = [i for i in same if i <= self.n and i != pid]
                t0 = a % TOPICS  # articles t0, t0 + TOPICS, ... share a's topic
                n_same_topic = (self.articles - 1 - t0) // TOPICS + 1
                topic_arts = [t0 + TOPICS * (r[7 + j] % n_same_topic) for j in range(3)]
                plan["topic"] = [b * self.k + 1 + r[10 + j] % min(self.k, self.n - b * self.k)
                                 for j, b in enumerate(topic_arts) if b != a]
                plan["n_hard"] = 1 + r[13] % 2
                plan["scores"] = r[14]
                need.update([pid, *plan["neg"], *plan["same"], *plan["topic"]])
            plans.append(plan)
        if dev:
            return [{"question": p["q"], "answers": [p["answer"]]} for p in plans]
        texts = dict(zip(sorted(need), self.passages(sorted(need)), strict=True))
        records = []
        for plan in plans:
            ans = plan["answer"].lower()

            def clean(cands, plan=plan, ans=ans):
                return [i for i in dict.fromkeys(cands) if i != plan["pid"] and ans not in texts[i][1].lower()]

            neg = clean(plan["neg"])[:1]
            hard = (clean(plan["same"])[:1] + clean(plan["topic"]))
            hard = [i for i in dict.fromkeys(hard) if i not in neg][:plan["n_hard"]]
            s = plan["scores"]
            records.append({
                "dataset": "rom_synthetic",
                "question": plan["q"],
                "answers": [plan["answer"]],
                "positive_ctxs": [ctx(plan["pid"], texts[plan["pid"]], 1000, 1)],
                "negative_ctxs": [ctx(i, texts[i], round(5 + (s >> 8) % 1000 / 100, 4), 0) for i in neg],
                "hard_negative_ctxs": [ctx(i, texts[i], round(12 + (s >> (20 + 8 * k)) % 1000 / 100, 4), 0)
                                       for k, i in enumerate(hard)],
            })
        return records


def ctx(pid: int, title_text: tuple[str, str], score: float, title_score: int) -> dict:
    title, text = title_text
    return {"title": title, "text": text, "score": score, "title_score": title_score, "passage_id": str(pid)}


# ----------------------------------------------------------------------------- writers


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def write_passages(gen: Generator, path: Path, progress: bool = False) -> None:
    tmp = _tmp(path)
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, delimiter="\t", lineterminator="\n")
            w.writerow(["id", "text", "title"])
            for lo in range(1, gen.n + 1, BLOCK):
                ids = range(lo, min(lo + BLOCK, gen.n + 1))
                w.writerows((i, text, title) for i, (title, text) in zip(ids, gen.passages(ids), strict=True))
                if progress and (lo // BLOCK) % 100 == 0:
                    print(f"  passages {ids.stop - 1:,}/{gen.n:,}", file=sys.stderr, flush=True)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_train(gen: Generator, path: Path, n: int, batch: int = 1000) -> None:
    tmp = _tmp(path)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("[")
            first = True
            for lo in range(0, n, batch):
                for rec in gen.questions(range(lo, min(lo + batch, n)), dev=False):
                    fh.write(("\n" if first else ",\n") + json.dumps(rec, ensure_ascii=False))
                    first = False
            fh.write("\n]\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_dev(gen: Generator, path: Path, n: int, batch: int = 1000) -> None:
    tmp = _tmp(path)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            for lo in range(0, n, batch):
                for rec in gen.questions(range(lo, min(lo + batch, n)), dev=True):
                    fh.write(f"{rec['question']}\t{json.dumps(rec['answers'], ensure_ascii=False)}\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="output folder (created)")
    ap.add_argument("--passages", type=int, required=True, help="number of passages N")
    ap.add_argument("--questions", type=int, default=1000, help="train questions Q (default 1000)")
    ap.add_argument("--dev", type=int, default=500, help="dev questions (default 500)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-article", type=int, default=3, help="passages per article, 1-5 (default 3)")
    ap.add_argument("--progress", action="store_true", help="print progress to stderr")
    args = ap.parse_args(argv)
    if args.questions < 0 or args.dev < 0:
        ap.error("--questions and --dev must be >= 0")
    try:
        gen = Generator(args.seed, args.passages, args.per_article)
    except ValueError as ex:
        ap.error(str(ex))
    args.out.mkdir(parents=True, exist_ok=True)
    files = {"passages": args.out / "psgs.tsv", "train": args.out / "train.json", "dev": args.out / "dev.csv"}
    seconds = {}
    t0 = time.perf_counter()
    write_passages(gen, files["passages"], args.progress)
    seconds["passages"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    write_train(gen, files["train"], args.questions)
    seconds["train"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    write_dev(gen, files["dev"], args.dev)
    seconds["dev"] = time.perf_counter() - t2
    seconds["total"] = time.perf_counter() - t0
    manifest = {
        "format": FORMAT, "version": VERSION,
        "passages": gen.n, "questions": args.questions, "dev": args.dev, "seed": args.seed,
        "per_article": gen.k, "articles": gen.articles, "topics": TOPICS, "vocabulary": gen.vocab_size,
        "words_per_passage": WORDS_PER_PASSAGE, "dev_articles": f"every {DEV_EVERY}th (a % {DEV_EVERY} == {DEV_EVERY - 1})",
        "files": {p.name: {"bytes": p.stat().st_size} for p in files.values()},
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "passages_per_s": round(gen.n / max(seconds["passages"], 1e-9), 1),
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "python": sys.version.split()[0], "numpy": np.__version__,
    }
    atomic_write_json(args.out / "manifest.json", manifest)
    print(f"{gen.n:,} passages ({manifest['files']['psgs.tsv']['bytes'] / 1e6:.1f} MB) in {seconds['passages']:.1f}s "
          f"({manifest['passages_per_s']:,.0f}/s), {args.questions:,} train questions in {seconds['train']:.1f}s, "
          f"{args.dev:,} dev questions in {seconds['dev']:.1f}s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
