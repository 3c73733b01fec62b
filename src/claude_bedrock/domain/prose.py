"""Deterministic text for the simulator: plausible English answers and thinking, from a seed.

Text is assembled from fixed phrase tables (built once per ``ProseWriter``) chosen by a
``Draws`` byte stream, and mentions the content words of the user's last message ("topics") so
an answer reads as related to the question. Nothing here is random: the same ``Draws`` seed,
topics and target always give the same passage.

Invariants:

* a ``Passage`` is a sequence of stream-sized pieces (about ``WORDS_PER_PIECE`` words, one
  delta each); ``"".join(pieces)`` is the text, each piece after the first starts with
  whitespace or punctuation, and ``tokens`` equals
  ``tokens.count_text(text)`` exactly: the token count of every phrase is precomputed and the
  counts add up because pieces meet at whitespace or a character-class boundary (see the
  additivity invariant in ``tokens``), so no regex runs over the generated text;
* topic slots (``{t}``) always sit between whitespace and a space or punctuation mark.

Source: none (product behaviour of the simulator; issue text "plausible prose of realistic
length").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import NamedTuple

from claude_bedrock.domain.tokens import count_text

__all__ = ["WORDS_PER_PIECE", "Draws", "Passage", "ProseWriter", "split_words"]

_POOL_BYTES = 256
_SENTENCE_ENDS = (".", "!", "?")
#: Words per streamed piece (one ``text_delta`` / ``thinking_delta`` each).
WORDS_PER_PIECE = 3


class Draws:
    """A deterministic stream of pseudo-random choices derived from a seed (SHAKE-256)."""

    __slots__ = ("_seed", "_pool", "_pos", "_round")

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._pool = hashlib.shake_256(seed).digest(_POOL_BYTES)
        self._pos = 0
        self._round = 0

    def fork(self, label: str) -> Draws:
        """An independent stream for one purpose (text, tool ids, signature...)."""
        return Draws(self._seed + b"/" + label.encode())

    def take(self, count: int) -> bytes:
        """The next ``count`` bytes of the stream."""
        out = b""
        while len(out) < count:
            if self._pos >= _POOL_BYTES:
                self._round += 1
                self._pool = hashlib.shake_256(self._seed + self._round.to_bytes(4, "big")).digest(_POOL_BYTES)
                self._pos = 0
            chunk = self._pool[self._pos : self._pos + count - len(out)]
            self._pos += len(chunk)
            out += chunk
        return out

    def below(self, bound: int) -> int:
        """An integer in ``[0, bound)`` (``bound`` ≥ 1)."""
        if bound <= 256:
            if self._pos >= _POOL_BYTES:
                return self.take(1)[0] % bound
            value = self._pool[self._pos]
            self._pos += 1
            return value % bound
        return int.from_bytes(self.take(8), "big") % bound

    def between(self, low: int, high: int) -> int:
        """An integer in ``[low, high]``."""
        return low + self.below(high - low + 1)

    def choice(self, options: Sequence[str]) -> str:
        return options[self.below(len(options))]

    def chance(self, percent: int) -> bool:
        return self.below(100) < percent


class Passage(NamedTuple):
    """Generated text as stream-ready pieces, with its exact token count."""

    pieces: tuple[str, ...]
    tokens: int

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def first_sentences(self, target_tokens: int) -> Passage:
        """The passage up to its first sentence end at or after ``target_tokens`` (the whole
        passage when there is none): a shorter passage that is a prefix of this one, and never
        longer for a smaller target. Counted piece by piece (the pieces' counts add up)."""
        kept: list[str] = []
        tokens = 0
        for piece in self.pieces:
            if kept and tokens >= target_tokens and kept[-1].endswith(_SENTENCE_ENDS):
                return Passage(tuple(kept), tokens)
            kept.append(piece)
            tokens += count_text(piece)
        return self


def split_words(text: str, per: int = WORDS_PER_PIECE) -> list[str]:
    """Split ``text`` at spaces into pieces of ``per`` words; ``"".join`` gives ``text`` back."""
    if not text:
        return []
    words = text.split(" ")
    prefix = ""
    while len(words) > 1 and words[0] == "":
        prefix += " "
        words = words[1:]
    return [(" " if i else prefix) + " ".join(words[i : i + per]) for i in range(0, len(words), per)]


class _Phrase(NamedTuple):
    chunks: tuple[str, ...]  # stream-sized pieces, some holding ``{t}`` slots
    slotted: tuple[bool, ...]
    tokens: int  # tokens of the fixed text (without the slots)

    def emit(
        self, out: list[str], prefix: str, topics: Sequence[str], topic_tokens: Sequence[int], draws: Draws
    ) -> int:
        """Append the filled pieces to ``out``; return their tokens.

        With no ``prefix``, a phrase starting with punctuation (a sentence tail such as
        ``", and then..."``) is glued onto the previous piece.
        """
        tokens = self.tokens
        for position, (chunk, slotted) in enumerate(zip(self.chunks, self.slotted)):
            while slotted and "{t}" in chunk:
                pick = draws.below(len(topics))
                chunk = chunk.replace("{t}", topics[pick], 1)
                tokens += topic_tokens[pick]
            if position:
                out.append(chunk)
            elif prefix:
                out.append(prefix + chunk)
            elif out and not chunk[:1].isspace():
                out[-1] += chunk
            else:
                out.append(chunk)
        return tokens


def _table(*phrases: str) -> tuple[_Phrase, ...]:
    table = []
    for phrase in phrases:
        chunks = tuple(split_words(phrase))
        tokens = sum(count_text(part) for part in phrase.split("{t}"))
        table.append(_Phrase(chunks, tuple("{t}" in chunk for chunk in chunks), tokens))
    return tuple(table)


_OPENINGS = (
    "Here is a short overview of {t}.",
    "Good question about {t}.",
    "Let me walk through {t} step by step.",
    "There are a few useful ways to think about {t}.",
    "Happy to help with {t}.",
    "In short, {t} comes down to a handful of ideas.",
    "Sure, here is how I would approach {t}.",
    "The answer depends a little on context, but the core of {t} is simple.",
)
_LEADS = (
    "The first thing to keep in mind is to",
    "A practical starting point is to",
    "In most cases, the simplest option is to",
    "A good habit is to",
    "It usually helps to",
    "You may also want to",
    "Another useful step is to",
    "The key idea is to",
    "Where possible, try to",
    "A reliable approach is to",
    "Before anything else, it pays to",
    "For {t} in particular, it is worth taking time to",
)
_CORES = (
    " break {t} into smaller parts",
    " start from a small, concrete example",
    " check your assumptions about {t} early",
    " compare two or three alternatives side by side",
    " write down what success looks like",
    " focus on the parts of {t} that change most often",
    " measure before changing anything",
    " keep the first version as simple as possible",
    " look at how {t} behaves in practice",
    " test each change in isolation",
    " ask what the real constraints are",
    " revisit the plan once you have real data",
    " explain {t} to someone else in plain words",
    " separate what you know from what you assume",
)
_TAILS = (
    ".",
    ", and then refine the details.",
    " before going further.",
    ", since that keeps {t} manageable.",
    ", which makes later decisions easier.",
    " so that problems surface early.",
    ", especially when time is limited.",
    " rather than guessing.",
)
_FACTS = (
    "This works well for both small and large projects.",
    "Most of the effort usually goes into the first iteration.",
    "Small improvements add up quickly over time.",
    "It is worth noting what you learn about {t} along the way.",
    "None of this needs to be perfect on the first try.",
    "People often underestimate how much {t} depends on the details.",
    "A short checklist can make this much easier to repeat.",
    "The same pattern shows up in many related problems.",
)
_CLOSINGS = (
    "I hope this helps, and feel free to ask if you want more detail on {t}.",
    "Let me know if you would like a concrete example.",
    "If you share more about your situation, I can tailor this further.",
    "Happy to go deeper on any of these points.",
)
_THINK_OPENINGS = (
    "The user is asking about {t}.",
    "This question is about {t}.",
    "Let me think about what matters most for {t}.",
    "I need to figure out a clear way to explain {t}.",
)
_THINK_LEADS = (
    "I should",
    "It would help to",
    "Maybe I can",
    "I want to",
    "First, I will",
    "Then I can",
)
_THINK_CORES = (
    " explain the main idea first",
    " keep the answer concise",
    " give a concrete example of {t}",
    " mention the most common pitfall",
    " check whether {t} needs any caveats",
    " structure the answer in a few short steps",
    " consider what the user already knows",
    " avoid overcomplicating {t}",
)
_THINK_TAILS = (".", ", then summarise.", " without too much jargon.", " and keep it practical.")
_THINK_CLOSINGS = ("That should cover what they need.", "Okay, I have a plan for the answer.")

_FALLBACK_TOPICS = ("this topic", "the question", "the problem")
#: A capitalised word, Latin-1 letters included ("Zürich", "Zoë", "São"), never the start of a
#: word cut at a letter beyond them ("Gdańsk" is no "Gda"). An ASCII capital may follow, as
#: before ("McDonald" gives "Mc" and "Donald"): ASCII text reads as it always did.
_CAPITALISED = r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?![^\W\d_A-Z])"
_TOPIC_RE = re.compile(rf"{_CAPITALISED}(?:[ -]{_CAPITALISED})+|[^\W\d_]{{4,}}")
_PROPER_NOUN_RE = re.compile(rf"{_CAPITALISED}(?:[ -]{_CAPITALISED})*")


def _starts_sentence(text: str, position: int) -> bool:
    before = text[max(0, position - 8) : position].rstrip(" \t")
    return not before or before[-1] in ".!?:\n\"'“"
_STOPWORDS = frozenset(
    """
    about above after again against also although always another anything anyway around because
    been before being below between both could does doing done down during each either else
    enough even ever every explain from further give have having hello help here hers herself
    himself into just know like make many maybe more most much must need only other over please
    quite rather really same several should show since some something still such sure tell than
    thank thanks that their theirs them themselves then there these they thing things think this
    those though through today together under until upon using very want what whatever when
    where whether which while whom whose will with within without would write your yours
    yourself okay work works happen happens mean means used uses best good better example
    question answer
    """.split()
)


class ProseWriter:
    """Builds answers and thinking passages; construct once, reuse for every call."""

    def __init__(self) -> None:
        self._openings = _table(*_OPENINGS)
        self._leads = _table(*_LEADS)
        self._cores = _table(*_CORES)
        self._tails = _table(*_TAILS)
        self._facts = _table(*_FACTS)
        self._closings = _table(*_CLOSINGS)
        self._think_openings = _table(*_THINK_OPENINGS)
        self._think_leads = _table(*_THINK_LEADS)
        self._think_cores = _table(*_THINK_CORES)
        self._think_tails = _table(*_THINK_TAILS)
        self._think_closings = _table(*_THINK_CLOSINGS)

    @staticmethod
    def topics(text: str, limit: int = 3) -> tuple[str, ...]:
        """Up to ``limit`` content words of ``text`` (4+ letters, not stopwords), in order.

        A run of capitalised words (``"San Francisco"``) is one topic. Capitalised words keep
        their case unless they start a sentence. May be empty: the
        writers then use generic phrases ("this topic").
        """
        found: list[str] = []
        for match in _TOPIC_RE.finditer(text):
            word = match.group()
            lowered = word.lower()
            if lowered in _STOPWORDS:
                continue
            starts_sentence = _starts_sentence(text, match.start())
            candidate = word if word[0].isupper() and not starts_sentence else lowered
            if candidate not in found:
                found.append(candidate)
                if len(found) == limit:
                    break
        return tuple(found)

    @staticmethod
    def proper_noun(text: str) -> str | None:
        """The first run of capitalised words not at a sentence start (``"San Francisco"``)."""
        for match in _PROPER_NOUN_RE.finditer(text):
            if not _starts_sentence(text, match.start()):
                return match.group()
        return None

    def answer(self, draws: Draws, topics: Sequence[str], target_tokens: int) -> Passage:
        """A few sentences to a few paragraphs; stops at the first sentence end ≥ target."""
        return self._compose(
            draws,
            topics,
            target_tokens,
            (self._openings, self._leads, self._cores, self._tails, self._facts, self._closings),
            fact_percent=30,
            paragraphs=True,
        )

    def thinking(self, draws: Draws, topics: Sequence[str], target_tokens: int) -> Passage:
        """An internal-monologue passage for a thinking block."""
        return self._compose(
            draws,
            topics,
            target_tokens,
            (
                self._think_openings,
                self._think_leads,
                self._think_cores,
                self._think_tails,
                (),
                self._think_closings,
            ),
            fact_percent=0,
            paragraphs=False,
        )

    def _compose(
        self,
        draws: Draws,
        topics: Sequence[str],
        target_tokens: int,
        tables: tuple[Sequence[_Phrase], ...],
        *,
        fact_percent: int,
        paragraphs: bool,
    ) -> Passage:
        openings, leads, cores, tails, facts, closings = tables
        topics = topics or _FALLBACK_TOPICS
        topic_tokens = [count_text(topic) for topic in topics]
        pieces: list[str] = []
        total = 0

        last_pick: dict[int, int] = {}

        def add(table: Sequence[_Phrase], prefix: str) -> None:
            nonlocal total
            pick = draws.below(len(table))
            if last_pick.get(id(table)) == pick:  # never the same phrase twice in a row
                pick = (pick + 1) % len(table)
            last_pick[id(table)] = pick
            total += table[pick].emit(pieces, prefix, topics, topic_tokens, draws)

        add(openings, "")
        left_in_paragraph = draws.between(2, 4)
        while total < target_tokens:
            separator = " "
            if paragraphs and left_in_paragraph == 0:
                separator = "\n\n"
                left_in_paragraph = draws.between(2, 4)
            left_in_paragraph -= 1
            if facts and draws.chance(fact_percent):
                add(facts, separator)
                continue
            add(leads, separator)
            add(cores, "")
            add(tails, "")
        if closings and draws.chance(50):
            add(closings, "\n\n" if paragraphs and len(pieces) > 12 else " ")
        return Passage(tuple(pieces), total)

    def remark(self, draws: Draws, topics: Sequence[str]) -> Passage:
        """One or two closing sentences (after a tool result summary); starts with a space."""
        topics = topics or _FALLBACK_TOPICS
        topic_tokens = [count_text(topic) for topic in topics]
        pieces: list[str] = []
        tokens = self._facts[draws.below(len(self._facts))].emit(pieces, " ", topics, topic_tokens, draws)
        if draws.chance(50):
            tokens += self._closings[draws.below(len(self._closings))].emit(pieces, " ", topics, topic_tokens, draws)
        return Passage(tuple(pieces), tokens)

    @staticmethod
    def literal(text: str) -> Passage:
        """A passage of fixed text (lead-ins, tool-result summaries, echoes), counted once."""
        return Passage(tuple(split_words(text)), count_text(text))
