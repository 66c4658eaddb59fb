"""Page quality: how much each landing page's visible text is its own, and other things a marketer should fix.

Pure functions and plain data: rendered text in, numbers and findings out. Nothing here renders or
serves; ``pages.Renderer`` and ``check`` feed it.

Similarity is the Jaccard index of two pages' 5-word shingles (every run of 5 consecutive words), after
the page's own town, state and treatment names are taken out: otherwise "Barrington" against "Cary" would
count as a difference, and swapping a name is exactly what makes a doorway page.

Finding each page's most similar sibling among 25,000 without comparing 312 million pairs relies on the
shape of a site made from one template: most shingles are the template's, shared by nearly every page.
``Siblings`` takes the shingles shared by a sample of pages as the boilerplate, and keeps of each page
only how it differs from it (the shingles it adds, the boilerplate shingles it lacks). From those small
sets and the boilerplate's size, the Jaccard index of two pages is exact arithmetic (``similarity``).

Up to ``COMPARE_ALL`` pages per treatment every pair is compared, so the result is exact. Past that,
``_Search`` scores exactly only the likely twins: every page sharing a rarely used shingle (an intro, a
nearby town, a distance), and the smallest pages sharing its frequent ones (an office, a county). A
twin it misses could only be more similar than the one it names, so on a large site a page's figure can
be understated, rarely and slightly (on the 25,000-town benchmark: 1% of pages, by 0.0001 on average),
never overstated: the gate does not hold a page back that the exact measure would let through.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
import statistics
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

SHINGLE_WORDS = 5
SAMPLE_PAGES = 32  # pages whose shared shingles are taken as the template's boilerplate
COMPARE_ALL = 400  # up to this many pages of a treatment, every pair is compared (about a second)
RARE_SHARE = 32  # a shingle on at most this many pages leads to every one of them
KEEP_PER_ROUTE = 8  # siblings proposed per route and page, past COMPARE_ALL

# A shingle is kept as the hash of its words: a set of ints is built twice as fast as a set of tuples. The
# Shingler first turns each word into a number of its own (a digest of the word), so that a shingle is the
# same number in every process (Python's string hashing differs between processes; a tuple of ints' hash
# does not), and fingerprints kept on disk (landing.quality_cache) stay valid.
Shingle = int

# -- text -----------------------------------------------------------------------------------------

# Not visible: scripts, styles, templates, comments, and what is hidden from everyone (the honeypot).
_INVISIBLE = re.compile(
    r"<(script|style|template)\b.*?</\1\s*>"
    r"|<!--.*?-->"
    r"|<(div|p|span|label)\b[^>]*\baria-hidden=\"true\"[^>]*>.*?</\2\s*>",
    re.S | re.I,
)
_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"\w+")


def main_html(page_html: str) -> str:
    """The inside of a page's <main> element; a fragment without one counts whole."""
    start = page_html.find("<main")
    end = page_html.rfind("</main>")
    if start < 0 or end < start:
        return page_html
    return page_html[page_html.index(">", start) + 1:end]


def main_text(page_html: str) -> str:
    """The visible text of a page's <main>, as one line. Tags count as spaces: words never run together."""
    visible = _INVISIBLE.sub(" ", main_html(page_html))
    return " ".join(html.unescape(_TAG.sub(" ", visible)).split())


def words(text: str) -> list[str]:
    """Lower-case words: letters and digits, split at everything else ("St. Charles" -> st, charles)."""
    return _WORD.findall(text.lower())


def without_names(tokens: Sequence[str], names: Iterable[str]) -> list[str]:
    """``tokens`` with every occurrence of each name (a phrase, split into words like the text) taken out."""
    return _drop_names(f" {' '.join(tokens)} ", names).split()


def _drop_names(spaced: str, names: Iterable[str]) -> str:
    # Spaces on both sides of the text and of each name make str.replace match whole words only, and it
    # runs in C, which matters at 25,000 pages of 1,500 words.
    for name in sorted({" ".join(words(name)) for name in names} - {""}, key=len, reverse=True):
        needle = f" {name} "
        while needle in spaced:  # twice in a row ("il il") needs a second pass: replace() does not overlap
            spaced = spaced.replace(needle, " ")
    return spaced


def shingles(tokens: Sequence[Hashable], size: int = SHINGLE_WORDS) -> set[Shingle]:
    """Every run of ``size`` consecutive words (hashed); a text shorter than that is one shingle."""
    if len(tokens) < size:
        return {hash(tuple(tokens))} if tokens else set()
    return set(map(hash, zip(*(tokens[start:] for start in range(size)))))


def page_shingles(page_text: str, names: Iterable[str]) -> set[Shingle]:
    """What is compared of a page: its text's shingles, once its own names are taken out."""
    return shingles(list(map(_WordNumbers().__getitem__, without_names(words(page_text), names))))


class Shingler:
    """``page_shingles(main_text(html), [*names, *common])``, fast: the words of each piece of text between
    two tags are remembered, because nearly all of them are the template's and recur on every page.
    (Remembering whole blocks and their shingles was tried: pages have ~230 blocks, and the shingles that
    cross from one to the next cost as much as shingling everything.)
    """

    def __init__(self, remember: int = 200_000) -> None:
        self.remember = remember  # pieces of text kept; past that, new pieces are worked out every time
        self._words: dict[str, str] = {}
        self._numbers = _WordNumbers()

    def __call__(self, page_html: str, names: Iterable[str], common: Iterable[str] = ()) -> set[Shingle]:
        """The page's shingles without its own ``names`` and the ``common`` ones (its treatment's)."""
        known = self._words
        parts = []
        for piece in _TAG.split(_INVISIBLE.sub(" ", main_html(page_html))):
            normal = known.get(piece)
            if normal is None:
                normal = " ".join(words(html.unescape(piece)))
                if len(known) < self.remember:
                    known[piece] = normal
            if normal:
                parts.append(normal)
        numbers = self._numbers
        if len(numbers) > self.remember:
            numbers.clear()
        return shingles(list(map(numbers.__getitem__, _drop_names(f" {' '.join(parts)} ", [*names, *common]).split())))

    def release(self) -> None:
        """Forget the pieces of text remembered (a few hundred thousand on a large site), a piece at a time (see
        ``drain``)."""
        drain(self._words)
        drain(self._numbers)


class _WordNumbers(dict[str, int]):
    """A word's number: the first 60 bits of its digest, the same in every process (and below 2**61 - 1,
    which ints hash to themselves under)."""

    def __missing__(self, word: str) -> int:
        number = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest()) >> 4
        self[word] = number
        return number


def jaccard(a: set[Shingle], b: set[Shingle]) -> float:
    """|a ∩ b| / |a ∪ b|; two empty sets have nothing in common (0.0)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


# -- nearest siblings -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Twin:
    """A page's most similar sibling and how similar they are (0: nothing shared, 1: the same text)."""

    index: int | None  # the sibling's position among the pages compared; None when the page has none
    similarity: float


@dataclass(frozen=True, slots=True)
class _Page:
    own: frozenset[Shingle]  # shingles it has beyond the boilerplate
    lacks: frozenset[int]  # boilerplate shingles (as their numbers) it does not have

    @property
    def size(self) -> int:
        return len(self.own) + len(self.lacks)


def difference(page: set[Shingle], boilerplate: Mapping[Shingle, int]) -> _Page:
    """A page's shingles as their difference from a boilerplate (shingle -> its number)."""
    own = frozenset(page.difference(boilerplate))
    if len(page) - len(own) == len(boilerplate):  # all of the boilerplate: the usual case, and cheap
        return _Page(own, frozenset())
    return _Page(own, frozenset(number for shingle, number in boilerplate.items() if shingle not in page))


# How nearest() finds the twin of each of ``count`` pages: ``find(0)``, ``find(1)``... in order, here or spread
# over processes (landing.quality_cache).
Spread = Callable[[Callable[[int], "Twin"], int], list["Twin"]]


def in_order(find: Callable[[int], Twin], count: int) -> list[Twin]:
    return [find(number) for number in range(count)]


@dataclass
class Siblings:
    """Collects the shingle sets of one treatment's pages, then finds each page's most similar sibling.

    Only each page's difference from the boilerplate is kept, so memory grows with what pages have of
    their own, not with their length.
    """

    sample_size: int = SAMPLE_PAGES
    compare_all: int = COMPARE_ALL
    _waiting: list[set[Shingle]] = field(default_factory=list)
    _boilerplate: dict[Shingle, int] | None = None
    _pages: list[_Page] = field(default_factory=list)
    search: _Search | None = None  # the last nearest()'s

    def add(self, page: set[Shingle]) -> None:
        """Add the next page's shingles (pages are numbered in the order they are added)."""
        if self._boilerplate is None:
            self._waiting.append(page)
            if len(self._waiting) >= self.sample_size:
                self._settle()
            return
        self._pages.append(difference(page, self._boilerplate))

    @property
    def boilerplate(self) -> dict[Shingle, int] | None:
        """The shingles taken as the template's (-> their numbers), once ``sample_size`` pages are in."""
        return self._boilerplate

    def add_difference(self, page: _Page) -> None:
        """Add the next page as its ``difference`` from the boilerplate (worked out elsewhere, once settled)."""
        assert self._boilerplate is not None and not self._waiting
        self._pages.append(page)

    def __len__(self) -> int:
        return len(self._pages) + len(self._waiting)

    def _settle(self) -> None:
        """Fix the boilerplate from the pages seen so far, and file them."""
        common = set.intersection(*self._waiting) if self._waiting else set()
        self._boilerplate = {shingle: number for number, shingle in enumerate(common)}
        waiting, self._waiting = self._waiting, []
        self._pages.extend(difference(page, self._boilerplate) for page in waiting)

    def nearest(self, spread: Spread = in_order) -> list[Twin]:
        """Each page's most similar sibling; of equally similar siblings, the first added."""
        if self._boilerplate is None:
            self._settle()
        assert self._boilerplate is not None
        search = _Search(self._pages, len(self._boilerplate))
        self.search = search  # kept for the quality cache's index of the pages (landing.quality_cache)
        if len(self._pages) <= self.compare_all:
            everyone = range(len(self._pages))
            return spread(lambda number: search.best(number, everyone), len(self._pages))
        return spread(search.twin, len(self._pages))


    def release(self) -> None:
        """Let go of the pages and the last search, a piece at a time (see ``drain``)."""
        search, self.search = self.search, None
        if search is not None:
            search.release()
        drain(self._pages)


def drain(items: list[Any] | dict[Any, Any]) -> None:
    """Empty a list or dict an item at a time. Freed at once, 25,000 pages' shingle sets are one cascade of
    deallocations in C, a few hundred milliseconds in which a service measuring in its reload thread answers
    nothing; a loop in Python lets the event loop's thread have its turn between items."""
    if isinstance(items, dict):
        while items:
            items.popitem()
    else:
        while items:
            items.pop()


def similarity(a: _Page, b: _Page, base: int) -> float:
    """Jaccard of two pages from their differences to a boilerplate of ``base`` shingles, exactly:
    |A ∩ B| = base - |lacks A ∪ lacks B| + |own A ∩ own B|, |A ∪ B| = base - |lacks A ∩ lacks B| + |own A ∪ own B|.
    """
    return _jaccard(base, len(a.own), len(a.lacks), len(b.own), len(b.lacks), len(a.own & b.own),
                    len(a.lacks & b.lacks))


def _jaccard(base: int, own_a: int, lacks_a: int, own_b: int, lacks_b: int, shared_own: int, shared_lacks: int) -> float:
    inter = base - (lacks_a + lacks_b - shared_lacks) + shared_own
    union = base - shared_lacks + own_a + own_b - shared_own
    return inter / union if union > 0 else 0.0


LACKS = 1 << 64  # above every shingle (a 64-bit hash): _Search's key of boilerplate shingle n missing is LACKS + n


class _Search:
    """Finds each page's twin without comparing every pair.

    A shingle few pages have (an intro, a nearby town, a distance) is "rare": every page sharing one with
    a page is scored. The others are "frequent" (an office, a county): each page keeps them as bits, so
    the overlap of two pages is a count of shared rare shingles plus a popcount, exact and cheap. Pages
    sharing no rare shingle with a page are only told apart by their frequent bits and their size, so
    the candidates among them are the smallest pages with the same bits (the same office, county...), the
    smallest pages with each of its frequent shingles, and the smallest pages of all. Every candidate is
    scored exactly; a twin the candidates miss could only be more similar than the one named, so the
    report can understate a page's similarity, rarely and slightly, but never overstate it.
    """

    def __init__(self, pages: list[_Page], base: int, rare: int = RARE_SHARE, keep: int = KEEP_PER_ROUTE) -> None:
        self.pages = pages
        self.base = base
        self.keep = keep
        self.masks: list[int] = []  # per level of frequency: the bits of shingles at least that frequent
        self.sizes = [(len(page.own), len(page.lacks)) for page in pages]
        # One int per shingle a page differs by: its own shingles as they are (64-bit hashes), missing ones as
        # LACKS + their number. Counted through a generator, not one list: counting 3 million keys in one C call
        # would hold the GIL for most of a second, and a service measuring in its reload thread would answer
        # nothing meanwhile.
        counts = Counter(chain.from_iterable(chain(page.own, (LACKS + number for number in page.lacks)) for page in pages))
        # Only shingles of several pages are listed: most (a page's intro, its distances) are on one page alone,
        # and tell nothing about its siblings. What is done for each shingle of each of 25,000 pages is a set
        # operation (in C); Python loops run over the rare shingles and the few pages that fill ``smallest``.
        self.shared = frozenset(key for key, count in counts.items() if count > 1)
        self.rare: dict[int, list[int]] = {key: [] for key in self.shared if counts[key] <= rare}
        listed = self.rare
        self._rare_own = frozenset(key for key in listed if key < LACKS)
        self._rare_lacks = frozenset(key - LACKS for key in listed if key >= LACKS)
        for number, page in enumerate(pages):
            for key in page.own & self._rare_own:
                listed[key].append(number)
            if page.lacks:
                for missing in page.lacks & self._rare_lacks:
                    listed[LACKS + missing].append(number)
        by_size = sorted(range(len(pages)), key=lambda n: (sum(self.sizes[n]), n))
        self.bit: dict[int, int] = {}  # a frequent shingle's key -> its bit
        bit = self.bit
        # Frequent shingles get bits from the most frequent down, so "the shingles on more than n pages"
        # are the low bits of a mask: see the levels below. Ties go by key, so that nothing depends on the
        # order a set happens to list a page's shingles in (the same in every process, or not).
        levels: list[int] = []
        for key in sorted((key for key in self.shared if counts[key] > rare), key=lambda key: (-counts[key], key)):
            if not levels or counts[key] * 2 <= levels[-1]:
                levels.append(counts[key])
                self.masks.append((1 << len(bit)) - 1)
            bit[key] = 1 << len(bit)
        self.masks.append((1 << len(bit)) - 1)
        own_bit = {key: value for key, value in bit.items() if key < LACKS}
        lacks_bit = {key - LACKS: value for key, value in bit.items() if key >= LACKS}
        self._frequent_own, self._frequent_lacks = frozenset(own_bit), frozenset(lacks_bit)
        # Distinct bits: their sum is their union.
        self.own_bits = [sum(map(own_bit.__getitem__, page.own & self._frequent_own)) for page in pages]
        self.lacks_bits = [sum(map(lacks_bit.__getitem__, page.lacks & self._frequent_lacks)) for page in pages]
        # The smallest pages with each frequent shingle, smallest first: pages are visited smallest first, and
        # a shingle leaves the search once it has its fill (after a few dozen pages, nearly all have).
        self.smallest: dict[int, list[int]] = {key: [] for key in bit}
        open_own, open_lacks = set(own_bit), set(lacks_bit)
        for number in by_size:
            if not (open_own or open_lacks):
                break
            page = pages[number]
            for key, is_open in chain(((key, open_own) for key in page.own & open_own),
                                      ((LACKS + missing, open_lacks) for missing in page.lacks & open_lacks)):
                holders = self.smallest[key]
                holders.append(number)
                if len(holders) > keep:
                    is_open.discard(key if key < LACKS else key - LACKS)
        self.plainest = by_size[:keep + 1]
        # Groups of pages sharing all frequent shingles down to each level (an office; an office and a
        # county; ...): the smallest pages of each of a page's groups are likely twins.
        members: dict[tuple[int, int, int], list[int]] = {}
        levels_masks = list(enumerate(self.masks))
        for number in by_size:
            own_bits, lacks_bits = self.own_bits[number], self.lacks_bits[number]
            for level, mask in levels_masks:
                group = members.setdefault((level, own_bits & mask, lacks_bits & mask), [])
                if len(group) <= keep:
                    group.append(number)
        self.group = members

    def _keys(self, number: int) -> tuple[list[int], list[int]]:
        """A page's rare shingles (as keys), and its frequent ones from the most frequent down. Worked out when its
        twin is looked for, so that it happens in the worker processes (``Spread``), not before them."""
        page = self.pages[number]
        rare = [*(page.own & self._rare_own), *(LACKS + missing for missing in page.lacks & self._rare_lacks)]
        frequent = [*(page.own & self._frequent_own), *(LACKS + missing for missing in page.lacks & self._frequent_lacks)]
        return rare, sorted(frequent, key=self.bit.__getitem__)

    def score(self, number: int, other: int, shared_own: int = 0, shared_lacks: int = 0) -> float:
        """Exact similarity, given the rare shingles the two share (own ones, and missing ones)."""
        own_a, lacks_a = self.sizes[number]
        own_b, lacks_b = self.sizes[other]
        shared_own += (self.own_bits[number] & self.own_bits[other]).bit_count()
        shared_lacks += (self.lacks_bits[number] & self.lacks_bits[other]).bit_count()
        return _jaccard(self.base, own_a, lacks_a, own_b, lacks_b, shared_own, shared_lacks)

    def twin(self, number: int) -> Twin:
        shared_own: Counter[int] = Counter()
        shared_lacks: Counter[int] = Counter()
        rare_keys, frequent_keys = self._keys(number)
        for key in rare_keys:
            (shared_own if key < LACKS else shared_lacks).update(self.rare[key])
        frequent = Counter(chain.from_iterable(self.smallest[key] for key in frequent_keys))
        candidates = set(shared_own) | set(shared_lacks)
        candidates.update(other for other, _ in frequent.most_common(self.keep + 1))
        own_bits, lacks_bits = self.own_bits[number], self.lacks_bits[number]
        for level, mask in enumerate(self.masks):
            candidates.update(self.group[(level, own_bits & mask, lacks_bits & mask)])
        candidates.update(self.plainest)
        candidates.discard(number)
        best_value, best_index = -1.0, -1
        # score(), written out: this runs about a hundred times for each of 25,000 pages
        base, sizes, all_own_bits, all_lacks_bits = self.base, self.sizes, self.own_bits, self.lacks_bits
        own_a, lacks_a = sizes[number]
        get_own, get_lacks = shared_own.get, shared_lacks.get
        for other in sorted(candidates):
            own_b, lacks_b = sizes[other]
            both_own = get_own(other, 0) + (own_bits & all_own_bits[other]).bit_count()
            both_lack = get_lacks(other, 0) + (lacks_bits & all_lacks_bits[other]).bit_count()
            union = base - both_lack + own_a + own_b - both_own
            value = (base - (lacks_a + lacks_b - both_lack) + both_own) / union if union > 0 else 0.0
            if value > best_value:
                best_value, best_index = value, other
        return Twin(best_index, best_value) if best_index >= 0 else Twin(None, 0.0)

    def release(self) -> None:
        """Empty the search's tables a piece at a time (see ``drain``); it finds no twins after this."""
        for table in (self.rare, self.smallest, self.group, self.bit):
            drain(table)
        for listed in (self.own_bits, self.lacks_bits, self.sizes):
            drain(listed)

    def best(self, number: int, others: Iterable[int]) -> Twin:
        """The twin among ``others``, each compared in full."""
        page = self.pages[number]
        best_value, best_index = -1.0, -1
        for other in others:
            if other != number and (value := similarity(page, self.pages[other], self.base)) > best_value:
                best_value, best_index = value, other
        return Twin(best_index, best_value) if best_index >= 0 else Twin(None, 0.0)


def exact_nearest(pages: Sequence[set[Shingle]]) -> list[Twin]:
    """Every pair compared on whole shingle sets: the reference ``Siblings`` is tested against."""
    twins = []
    for number, page in enumerate(pages):
        best_value, best_index = -1.0, None
        for other, candidate in enumerate(pages):
            if other != number and (value := jaccard(page, candidate)) > best_value:
                best_value, best_index = value, other
        twins.append(Twin(best_index, best_value) if best_index is not None else Twin(None, 0.0))
    return twins


@dataclass(frozen=True, slots=True)
class Measured:
    """A page's most similar sibling (by path) and their similarity."""

    path: str
    twin: str | None
    similarity: float


def own_names(town: str, state: str, state_name: str, treatment: str) -> tuple[str, ...]:
    """What is taken out of a page's text before comparing: its place, its town and its treatment.

    The state goes only as part of the place ("Barrington, IL"): on its own, codes such as IN, OR and ME
    are also everyday words, and a practice's name often holds its state's ("Illinois Pain & Spine").
    """
    return (f"{town} {state}", f"{town} {state_name}", town, treatment)


class SimilarityMeter:
    """Pages in, each page's most similar sibling out; siblings are the pages of the same group (treatment)."""

    def __init__(self) -> None:
        self.shingler = Shingler()
        self.siblings: dict[str, Siblings] = {}
        self.paths: dict[str, list[str]] = {}

    def add(self, group: str, path: str, page_html: str, names: Iterable[str], common: Iterable[str] = ()) -> None:
        """A rendered page (or just its <main>) of ``group``; ``names``: the page's own, ``common``: those of
        every page of the group (the treatment's), both taken out before comparing."""
        self.siblings.setdefault(group, Siblings()).add(self.shingler(page_html, names, common))
        self.paths.setdefault(group, []).append(path)

    def results(self) -> dict[str, Measured]:
        """By path, in the order pages were added within each group."""
        found = {}
        for group, siblings in self.siblings.items():
            paths = self.paths[group]
            for path, twin in zip(paths, siblings.nearest()):
                found[path] = Measured(path, paths[twin.index] if twin.index is not None else None, twin.similarity)
        return found


# -- the report -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageFacts:
    """What a page has of its own, to say what would make it unique."""

    path: str
    place: str  # "Barrington, IL"
    line: int  # its row in locations.csv
    intro: bool
    county: bool
    coordinates: bool
    office: str  # id
    nearby: tuple[str, ...]  # paths of the nearby towns it links to


@dataclass(frozen=True, slots=True)
class Similar:
    """One page, its most similar sibling, and what would set it apart."""

    path: str
    twin: str | None
    similarity: float
    advice: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Distribution:
    pages: int
    median: float
    p90: float
    max: float


def distribution(values: Sequence[float]) -> Distribution:
    """Median, 90th percentile (inclusive method: a value that occurs) and maximum."""
    if not values:
        return Distribution(0, 0.0, 0.0, 0.0)
    ordered = sorted(values)
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[8] if len(ordered) > 1 else ordered[0]
    return Distribution(len(ordered), statistics.median(ordered), p90, ordered[-1])


def advice(page: PageFacts, twin: PageFacts | None) -> tuple[str, ...]:
    """What the page lacks or shares with its twin, most useful fix first."""
    said = []
    if not page.intro:
        said.append("no intro")
    if not page.county:
        said.append("no county")
    if not page.coordinates:
        said.append("no coordinates")
    if twin is not None:
        shared = []
        if twin.office == page.office:
            shared.append("office")
        common = len(set(page.nearby) & set(twin.nearby))
        if page.nearby and common == len(page.nearby):
            shared.append("nearby towns")
        elif common:
            shared.append(f"{common} of {len(page.nearby)} nearby towns")
        if shared:
            said.append("same " + " and ".join(shared) + " as its twin")
    return tuple(said)


@dataclass(frozen=True, slots=True)
class GateAdvice:
    """What `landing check` suggests for [quality] gate, from the site's own figures."""

    gate: float | None  # None: no gate is worth setting yet (most pages are too much alike: add content first)
    held: int  # pages that gate would hold back
    pages: int


ALIKE_MEDIAN = 0.85  # when half the pages share this much with a sibling, a gate would only hide the site


def gate_advice(values: Sequence[float]) -> GateAdvice:
    """A gate that holds back only the pages most like a sibling: the 90th percentile rounded up to a hundredth,
    so at most about a tenth of the pages; none at all while most pages are alike (a gate would then hide
    most of the site, and local content is what it needs)."""
    if not values:
        return GateAdvice(None, 0, 0)
    spread = distribution(values)
    if spread.median >= ALIKE_MEDIAN:
        return GateAdvice(None, sum(value > spread.median for value in values), len(values))
    gate = min(math.ceil(spread.p90 * 100) / 100, 0.99)
    held = sum(value > gate for value in values)
    return GateAdvice(gate, held, len(values))


def percent(share: float) -> str:
    """A similarity as people read it: 0.742 -> '74%'."""
    return f"{math.floor(share * 100 + 0.5):.0f}%"


def held_back(similar: Iterable[Similar], threshold: float | None) -> list[Similar]:
    """The pages a quality gate at ``threshold`` holds back: more similar than it to a sibling."""
    if threshold is None:
        return []
    return [page for page in similar if page.similarity > threshold]


# -- other findings ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem that does not stop the site, with its fix: ``message`` names the file and line where known."""

    kind: str  # long-title | long-description | no-coordinates | far-office | no-towns | slug-changed
    subject: str  # the page path, the town or the treatment it is about
    message: str


TITLE_LIMIT = 60
DESCRIPTION_LIMIT = 160
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)
_DESCRIPTION = re.compile(r'<meta name="description" content="([^"]*)"')


def head_texts(page_html: str) -> tuple[str, str]:
    """(title, meta description) of a rendered page, as a visitor reads them (entities decoded)."""
    title = _TITLE.search(page_html)
    description = _DESCRIPTION.search(page_html)
    return (html.unescape(title.group(1)).strip() if title else "",
            html.unescape(description.group(1)).strip() if description else "")


def length_findings(path: str, title: str, description: str) -> list[Finding]:
    found = []
    if len(title) > TITLE_LIMIT:
        found.append(Finding("long-title", path, f"{path}: title is {len(title)} characters, over {TITLE_LIMIT}, so "
                             f"search results cut it ('{title}'); shorten the treatment's name in site.toml (the "
                             "practice's name is already left out of a title that would not fit)"))
    if len(description) > DESCRIPTION_LIMIT:
        found.append(Finding("long-description", path, f"{path}: description is {len(description)} characters, over "
                             f"{DESCRIPTION_LIMIT}; shorten the treatment's description in site.toml"))
    return found


@dataclass(frozen=True, slots=True)
class TownFacts:
    """A row of locations.csv, as the findings need it."""

    key: str  # identity across edits: town and state, case-folded
    place: str
    slug: str
    aliases: tuple[str, ...]
    line: int
    coordinates: bool
    office: str  # the serving office's name
    office_miles: int | None
    fill_note: str = ""  # what the ZIP code data could not fill, and what to give


def town_key(town: str, state: str) -> str:
    return f"{' '.join(town.casefold().split())}|{state.upper()}"


def town_findings(towns: Iterable[TownFacts], locations_file: str, max_office_miles: float,
                  allow_far_towns: bool = False) -> list[Finding]:
    found = []
    for town in towns:
        where = f"{locations_file}:{town.line}"
        if not town.coordinates:
            found.append(Finding("no-coordinates", town.place, f"{where}: {town.place} has no latitude and longitude, so "
                                 "its pages show no distance and no nearby towns (add them in decimal degrees)"))
        elif town.office_miles is not None and town.office_miles > max_office_miles and not allow_far_towns:
            found.append(Finding("far-office", town.place, f"{where}: {town.place} is served by the {town.office}, "
                                 f"{town.office_miles:,} miles away (over max_office_miles = {max_office_miles:g} in "
                                 "site.toml's [quality]), so its pages are held back (noindex, not in the sitemap); name "
                                 "a closer office in its 'office' column, raise max_office_miles, set allow_far_towns "
                                 "= true if the practice does see its patients, or remove the town"))
        if town.fill_note:
            found.append(Finding("fill-note", town.place, f"{where}: column 'county': {town.place}: {town.fill_note} "
                                 "(the ZIP code data cannot say which)"))
    return found


def unused_question_findings(unused: Iterable[tuple[int, str, str]], faqs_file: str) -> list[Finding]:
    """Local questions (line, question, where they were meant to go) that no page shows."""
    return [Finding("question-unused", question, f"{faqs_file}:{line}: '{question}' is shown on no page: {where} (fix "
                    "it, or remove the row)") for line, question, where in unused]


def empty_treatment_findings(empty: Iterable[tuple[str, int | None]], site_file: str) -> list[Finding]:
    """Treatments (slug, line in site.toml) that no town offers."""
    return [Finding("no-towns", slug, f"{site_file}:{line}: treatment '{slug}' has no towns, so its hub is empty; list "
                    "it in some towns' 'treatments' column in locations.csv, or leave that column empty for all "
                    "treatments" if line else f"{site_file}: treatment '{slug}' has no towns")
            for slug, line in empty]


def slug_findings(towns: Iterable[TownFacts], previous: Mapping[str, Sequence[str]], locations_file: str,
                  record_file: str) -> list[Finding]:
    """Towns whose slug differs from one a previous check saw, with no alias keeping the old URL alive."""
    found = []
    for town in towns:
        for old in previous.get(town.key, ()):
            if old != town.slug and old not in town.aliases:
                found.append(Finding("slug-changed", town.place, f"{locations_file}:{town.line}: column 'aliases': "
                                     f"{town.place} moved from '{old}' to '{town.slug}' since an earlier check; add "
                                     f"'{old}' to its aliases so old links answer 301 (if the old page was never "
                                     f"published, delete {record_file} instead)"))
    return found


def slug_record(towns: Iterable[TownFacts], previous: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The next record: every slug each town has had, so a missing alias is reported until it is added."""
    record = {key: list(slugs) for key, slugs in previous.items()}
    for town in towns:
        slugs = record.setdefault(town.key, [])
        if town.slug not in slugs:
            slugs.append(town.slug)
    return dict(sorted(record.items()))
