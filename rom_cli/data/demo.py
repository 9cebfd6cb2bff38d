"""The demo task: a SYNTHETIC, entirely fictional knowledge base generated on the fly.

Nothing here is a real-world fact and nothing is downloaded. A seeded `random.Random(seed)` invents
people, towns, rivers, firms and musical instruments with made-up names, links them (a person is
born in a town and founds a firm or devises an instrument; a river crosses towns, ...) and writes one
passage of 2-6 sentences (about 40-90 words) per entity. Questions ask for one fact each, worded
with paraphrase templates that differ from the passage wording ("X was born in Y" -> "What is the
birthplace of X?"), with exact answer spans (1-3 words). Many passages share surface words (the same
towns, surnames, years) so that lexical overlap alone does not pick the right one.

Questions are split by passage (70/10/20 train/dev/test, so a split's questions come from disjoint
passages) and every split retrieves from the same full corpus. Generation takes well under a second
and is identical on every machine for the same seed (no salted `hash`, no set iteration).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from rom_cli.data.types import AnswerSpan, InMemoryCorpus, LoadStats, Passage, Question, TaskData
from rom_cli.errors import ConfigError

ONSETS = ["b", "br", "d", "dr", "f", "g", "gr", "h", "j", "k", "kr", "l", "m", "n", "p", "r", "s", "sk",
          "st", "t", "th", "tr", "v", "z"]
VOWELS = ["a", "e", "i", "o", "u", "ei", "ou", "a", "e", "o", "a", "i"]
CODAS = ["", "", "", "n", "r", "l", "s", "m", "k", "nd", "rn", "st"]
PROFESSIONS = ["cartographer", "glassblower", "clockmaker", "shipwright", "botanist", "weaver", "astronomer",
               "bookbinder", "surveyor", "potter", "lens grinder", "beekeeper"]
PRODUCTS = ["copper kettles", "woollen blankets", "river barges", "glass lanterns", "clockwork toys",
            "paper fans", "iron ploughs", "salt biscuits", "rope ladders", "tin whistles", "wax candles",
            "leather saddles"]
FIRM_KINDS = ["Works", "Foundry", "Mills", "Looms", "Press", "Glassworks", "Brewery", "Shipyard"]
FAMILIES = [("bowed string", "strings"), ("plucked string", "strings"), ("wind", "finger holes"),
            ("keyboard", "keys"), ("percussion", "bronze plates")]
MATERIALS = ["birch wood", "walnut", "brass", "river clay", "bone", "cedar", "horn", "copper"]
FISH = ["grey perch", "spotted eel", "silver carp", "mud pike", "river trout", "striped loach"]
TOWN_KINDS = ["small", "market", "harbour", "hillside", "mining", "walled"]
NUMBERS = ["three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve"]


class _Names:
    """Invented, pronounceable names; never the same string twice across all kinds."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def word(self, syllables: tuple[int, int] = (2, 2)) -> str:
        while True:
            n = self.rng.randint(*syllables)
            w = "".join(self.rng.choice(ONSETS) + self.rng.choice(VOWELS) + self.rng.choice(CODAS)
                        for _ in range(n))
            w = w.capitalize()
            if 4 <= len(w) <= 9 and w not in self.used:
                self.used.add(w)
                return w


class _Text:
    """Builds a passage sentence by sentence, recording where each fact's answer lands."""

    def __init__(self):
        self.parts: list[str] = []
        self.len = 0
        self.facts: dict[str, tuple[int, str]] = {}

    def add(self, template: str, **slots: str) -> None:
        """`template` uses {slot} for plain values and {*slot} for a fact's answer (recorded)."""
        if self.parts:
            self._put(" ")
        pos = 0
        while pos < len(template):
            lo = template.find("{", pos)
            if lo == -1:
                self._put(template[pos:])
                break
            self._put(template[pos:lo])
            hi = template.index("}", lo)
            key = template[lo + 1:hi]
            fact = key.startswith("*")
            value = slots[key.lstrip("*")]
            if fact:
                self.facts.setdefault(key[1:], (self.len, value))
            self._put(value)
            pos = hi + 1

    def _put(self, s: str) -> None:
        self.parts.append(s)
        self.len += len(s)

    @property
    def text(self) -> str:
        return "".join(self.parts)


@dataclass
class _Entity:
    kind: str
    pid: str
    name: str
    attrs: dict = field(default_factory=dict)
    text: _Text = field(default_factory=_Text)


def _sizes(n: int) -> dict[str, int]:
    sizes = {"person": round(n * 0.40), "town": round(n * 0.17), "firm": round(n * 0.18),
             "river": round(n * 0.08)}
    sizes["instrument"] = n - sum(sizes.values())
    return sizes


def generate(n_passages: int = 360, seed: int = 13) -> tuple[list[Passage], dict[str, list[Question]]]:
    """The fictional corpus and its questions per split (train/dev/test)."""
    if n_passages < 20:
        raise ConfigError("task.demo_passages", n_passages, "an integer >= 20")
    rng = random.Random(seed)
    names = _Names(rng)
    sizes = _sizes(n_passages)
    # few first names and surnames, so that several people share each: a question names one person
    # and the passages of namesakes compete with it
    first_names = [names.word((2, 2)) for _ in range(max(8, sizes["person"] // 12))]
    surnames = [names.word((2, 3)) for _ in range(max(10, sizes["person"] // 5))]
    provinces = [names.word((3, 3)) for _ in range(max(3, sizes["town"] // 8))]
    ranges = [names.word((2, 2)) + " Hills" for _ in range(max(3, sizes["river"] // 3))]
    lakes = [("", "Lake " + names.word((2, 2))) if rng.random() < 0.5 else ("the ", names.word((2, 2)) + " Sea")
             for _ in range(max(3, sizes["river"] // 4))]

    def full_name(taken: set[str]) -> str:
        while True:
            n = f"{rng.choice(first_names)} {rng.choice(surnames)}"
            if n not in taken:
                taken.add(n)
                return n

    people_names: set[str] = set()
    ents: dict[str, list[_Entity]] = {k: [] for k in sizes}
    for kind, count in sizes.items():
        for i in range(count):
            if kind == "person":
                name = full_name(people_names)
            elif kind == "firm":
                name = f"{names.word((2, 2))} {rng.choice(FIRM_KINDS)}"
            elif kind == "instrument":
                name = names.word((2, 3)).lower()
            else:
                name = names.word((2, 2))
            ents[kind].append(_Entity(kind, f"{kind}-{i:03d}", name))
    people, towns, firms, rivers, instruments = (ents[k] for k in ("person", "town", "firm", "river", "instrument"))

    # -- links ------------------------------------------------------------------------------
    for t in towns:
        t.attrs.update(province=rng.choice(provinces), river=rng.choice(rivers), year=str(rng.randint(1180, 1690)),
                       founder=full_name(people_names), fair=names.word((2, 2)) + " Fair",
                       kind=rng.choice(TOWN_KINDS))
        t.attrs["river"].attrs.setdefault("towns", []).append(t)
    for p in people:
        p.attrs.update(town=rng.choice(towns), year=str(rng.randint(1760, 1890)), job=rng.choice(PROFESSIONS),
                       last=p.name.split(" ", 1)[1])
    for p in people:
        others = [q for q in people if q is not p and int(q.attrs["year"]) < int(p.attrs["year"])]
        if others and rng.random() < 0.6:
            p.attrs["mentor"] = rng.choice(others)
    for f in firms:
        founder = rng.choice(people)
        f.attrs.update(founder=founder, town=rng.choice(towns), product=rng.choice(PRODUCTS),
                       year=str(int(founder.attrs["year"]) + rng.randint(20, 45)),
                       staff=str(rng.randint(12, 950)))
        founder.attrs.setdefault("firms", []).append(f)
    for ins in instruments:
        inventor = rng.choice(people)
        family, part = rng.choice(FAMILIES)
        ins.attrs.update(inventor=inventor, year=str(int(inventor.attrs["year"]) + rng.randint(18, 50)),
                         family=family, part=part, material=rng.choice(MATERIALS),
                         count=rng.choice(NUMBERS), town=rng.choice(towns))
        inventor.attrs.setdefault("instruments", []).append(ins)
    for r in rivers:
        r.attrs.update(source=rng.choice(ranges), km=f"{rng.randint(40, 980)} kilometres", mouth=rng.choice(lakes),
                       fish=rng.choice(FISH))

    # -- passages ---------------------------------------------------------------------------
    for p in people:
        a, t = p.attrs, p.text
        t.add(rng.choice(["{*name} was born in {*town} in {*year}.", "{*name} was born in the town of {*town} in {*year}."]),
              name=p.name, town=a["town"].name, year=a["year"])
        t.add(rng.choice(["{last} spent most of a working life as {art} {*job}.", "By trade {last} was {art} {*job}."]),
              last=a["last"], job=a["job"], art="an" if a["job"][0] in "aeiou" else "a")
        if "mentor" in a:
            t.add("As a young apprentice, {last} studied under {*mentor}.", last=a["last"], mentor=a["mentor"].name)
        if a.get("firms"):
            f = a["firms"][0]
            t.add("In {fyear}, {last} started {*firm} with borrowed money.", fyear=f.attrs["year"], last=a["last"],
                  firm=f.name)
        if a.get("instruments"):
            t.add("{last} is remembered as the creator of the {*instrument}.", last=a["last"],
                  instrument=a["instruments"][0].name)
        if not a.get("firms") or not a.get("instruments"):
            moved = rng.choice([x for x in towns if x is not a["town"]] or towns)
            a["moved"] = moved
            t.add("Later in life {last} moved to {*moved}, where the family kept a small orchard.",
                  last=a["last"], moved=moved.name)
        if len(t.text.split()) < 40:
            t.add("Letters written by {last} are still kept in the archive of {town}.", last=a["last"],
                  town=a["town"].name)
    for tw in towns:
        a, t = tw.attrs, tw.text
        t.add("{*name} is a {kind} town in the province of {*province}.", name=tw.name, kind=a["kind"],
              province=a["province"])
        t.add("The waters of the {*river} cross {name} from north to south.", river=a["river"].name, name=tw.name)
        t.add("Settlers led by {*founder} established the town in {*year}.", founder=a["founder"], year=a["year"])
        t.add("Every autumn the streets fill for the {*fair}, which draws traders from the whole valley.",
              fair=a["fair"])
        if len(t.text.split()) < 40:
            t.add("The old bridge over the {river} was rebuilt after a flood.", river=a["river"].name)
    for f in firms:
        a, t = f.attrs, f.text
        t.add("{*name} makes {*product} at its headquarters in {*town}.", name=f.name, product=a["product"],
              town=a["town"].name)
        t.add("{*founder} set up the business in {*year}.", founder=a["founder"].name, year=a["year"])
        t.add("Today it employs about {*staff} people, many of them from {home}.", staff=a["staff"],
              home=a["founder"].attrs["town"].name)
        t.add("Its goods are sold at markets across the province of {province}.", province=a["town"].attrs["province"])
    for r in rivers:
        a, t = r.attrs, r.text
        t.add("The {*name} rises in the {*source}.", name=r.name, source=a["source"])
        t.add("It runs for {*km} before emptying into {the}{*mouth}.", km=a["km"], the=a["mouth"][0],
              mouth=a["mouth"][1])
        along = a.get("towns", [])[:3]
        if along:
            t.add("Along its banks lie " + ", ".join(x.name for x in along[:-1]) + (" and " if len(along) > 1 else "")
                  + along[-1].name + ".")
        t.add("Anglers on the {name} mostly catch {*fish}, which they smoke over beech fires.", name=r.name,
              fish=a["fish"])
        if len(t.text.split()) < 40:
            t.add("In dry summers the {name} shrinks to a chain of shallow pools.", name=r.name)
    for ins in instruments:
        a, t = ins.attrs, ins.text
        t.add("The {*name} is a {*family} instrument first built by {*inventor} in {*year}.", name=ins.name,
              family=a["family"], inventor=a["inventor"].name, year=a["year"])
        t.add("Its body is made of {*material} and it has {*count} {part}.", material=a["material"],
              count=a["count"], part=a["part"])
        t.add("Musicians in {*town} play it at weddings and harvest dances.", town=a["town"].name)
        if len(t.text.split()) < 40:
            t.add("A well-kept early {name} hangs in the guild hall of {home}.", name=ins.name,
                  home=a["inventor"].attrs["town"].name)

    # -- questions --------------------------------------------------------------------------
    all_ents = [e for k in sizes for e in ents[k]]
    qs: list[tuple[_Entity, str, str, list[tuple[_Entity, str]]]] = []  # (entity, fact, question, golds)

    def ask(e: _Entity, fact: str, templates: list[str], also: list[tuple[_Entity, str]] = (), **slots) -> None:
        qs.append((e, fact, rng.choice(templates).format(**slots), [(e, fact), *also]))

    for p in people:
        a, n = p.attrs, p.name
        ask(p, "town", ["What is the birthplace of {n}?", "In which town did {n} come into the world?",
                        "Which town is the home town of {n}?"], n=n)
        ask(p, "year", ["In what year did {n} come into the world?", "What year saw the birth of {n}?"], n=n)
        ask(p, "job", ["What was the occupation of {n}?", "Which trade did {n} follow?"], n=n)
        if "mentor" in a:
            ask(p, "mentor", ["Who was the teacher of {n}?", "Under whose guidance did {n} learn the craft?"], n=n)
        if a.get("firms"):
            ask(p, "firm", ["Which company did {n} found?", "What business was established by {n}?"],
                [(a["firms"][0], "name")], n=n)
        if a.get("instruments"):
            ask(p, "instrument", ["Which musical instrument did {n} devise?",
                                  "What instrument is credited to {n}?"], [(a["instruments"][0], "name")], n=n)
        if "moved" in a:
            ask(p, "moved", ["To which town did {n} relocate?", "Where did {n} settle in old age?"], n=n)
    for tw in towns:
        n = tw.name
        ask(tw, "province", ["Which province is {n} part of?", "To what province does {n} belong?"], n=n)
        ask(tw, "river", ["Which river runs through {n}?", "What river flows past {n}?"], n=n)
        ask(tw, "founder", ["Who founded {n}?", "Whose group of settlers founded {n}?"], n=n)
        ask(tw, "year", ["When was {n} founded?", "In which year did {n} come into being?"], n=n)
        ask(tw, "fair", ["Which yearly festival is held in {n}?", "What annual celebration takes place in {n}?"], n=n)
    for f in firms:
        n = f.name
        ask(f, "product", ["What does {n} manufacture?", "What goods are produced by {n}?"], n=n)
        ask(f, "town", ["Where is {n} based?", "In which town does {n} have its head office?"], n=n)
        ask(f, "founder", ["Who is the founder of {n}?", "Which person launched {n}?"],
            [(f.attrs["founder"], "name")], n=n)
        ask(f, "year", ["When was {n} founded?", "In what year did {n} open for business?"], n=n)
        ask(f, "staff", ["How many workers does {n} have?", "What is the size of the workforce of {n}?"], n=n)
    for r in rivers:
        n = r.name
        ask(r, "source", ["Where is the source of the {n}?", "In which hills does the {n} begin?"], n=n)
        ask(r, "km", ["How long is the {n}?", "What is the length of the {n}?"], n=n)
        ask(r, "mouth", ["Into which body of water does the {n} drain?", "Where does the {n} end?"], n=n)
        ask(r, "fish", ["Which fish do anglers usually land on the {n}?", "What is the most common catch in the {n}?"],
            n=n)
    for ins in instruments:
        n = ins.name
        ask(ins, "inventor", ["Who invented the {n}?", "Who is credited with creating the {n}?"],
            [(ins.attrs["inventor"], "name")], n=n)
        ask(ins, "year", ["When was the {n} invented?", "In which year did the {n} first appear?"], n=n)
        ask(ins, "family", ["What kind of instrument is the {n}?", "To which family of instruments does the {n} belong?"],
            n=n)
        ask(ins, "material", ["What material is the {n} made from?", "Out of what is the body of the {n} fashioned?"],
            n=n)
        ask(ins, "count", ["How many {part} does the {n} have?", "What number of {part} does the {n} carry?"],
            n=n, part=ins.attrs["part"])
        ask(ins, "town", ["Where is the {n} most often played?", "In which town do musicians favour the {n}?"], n=n)

    # -- splits by passage ------------------------------------------------------------------
    order = list(range(len(all_ents)))
    rng.shuffle(order)
    n_train, n_dev = round(0.7 * len(order)), round(0.1 * len(order))
    split_of = {}
    for rank, i in enumerate(order):
        split_of[all_ents[i].pid] = "train" if rank < n_train else "dev" if rank < n_train + n_dev else "test"
    passages = [Passage(e.pid, e.text.text, e.name if e.kind != "instrument" else f"the {e.name}") for e in all_ents]
    splits: dict[str, list[Question]] = {"train": [], "dev": [], "test": []}
    for e, fact, text, golds in qs:
        answer = e.text.facts[fact][1]
        spans = []
        for g, gfact in golds:
            start, value = g.text.facts[gfact]
            if value == answer:
                spans.append(AnswerSpan(g.pid, start, value))
        splits[split_of[e.pid]].append(
            Question(f"{e.pid}/{fact}", text, [answer], spans, [s.passage_id for s in spans])
        )
    return passages, splits


def load_demo(task_cfg) -> TaskData:
    """The demo task for a TaskConfig (`demo_passages`, `demo_seed`); every split shares the corpus."""
    passages, splits = generate(int(task_cfg.demo_passages), int(task_cfg.demo_seed))
    corpus = InMemoryCorpus(passages)
    return TaskData(str(task_cfg.name), splits, {name: corpus for name in splits}, LoadStats())
