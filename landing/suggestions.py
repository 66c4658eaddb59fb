"""The 404 page's closest towns: an index of town slugs, built once per snapshot, asked in bounded time.

Comparing what was asked with every slug (difflib did, per request) costs tens of milliseconds at 25,000
towns, and seconds for some questions: a crawler's or an attacker's stream of made-up URLs would take the
site down. Instead the slugs sharing a trigram with the question are found from an inverted index (the
rarest trigrams first, reading at most POSTINGS_BUDGET postings), and only those are ranked, by
RapidFuzz's ratio: difflib's measure (2 x matching characters / total length), exact (difflib's is a
heuristic that can miss matches) and in C++. A library for the ranking rather than our own edit distance;
the index keeps the work per question independent of the number of towns.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable
from operator import itemgetter

from rapidfuzz import fuzz, process

MAX_ASKED = 100  # characters of a question looked at: no town slug is longer
POSTINGS_BUDGET = 2000  # postings read per question: bounds its cost whatever the site and the question
CUTOFF = 50.0  # the least similarity suggested (0-100): difflib's cutoff of 0.5, as before


def trigrams(text: str) -> set[str]:
    """The three-character pieces of ``text`` with its ends marked (so that one or two characters have some)."""
    padded = f"^{text}$"
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


class SlugIndex:
    """Which slugs contain each trigram, to find the slugs closest to a question without reading them all."""

    def __init__(self, slugs: Iterable[str]) -> None:
        self.slugs = list(dict.fromkeys(slugs))
        postings: defaultdict[str, list[int]] = defaultdict(list)
        for number, slug in enumerate(self.slugs):
            for gram in trigrams(slug):
                postings[gram].append(number)
        # Flat arrays: 4 bytes a posting, about 1.4 MB for 25,000 slugs.
        self.postings = {gram: array("I", numbers) for gram, numbers in postings.items()}

    def closest(self, asked: str, n: int) -> list[str]:
        """Up to ``n`` slugs most similar to ``asked`` (at least CUTOFF), most similar first."""
        asked = asked[:MAX_ASKED]
        if not asked:
            return []
        lists = sorted((found for gram in trigrams(asked) if (found := self.postings.get(gram)) is not None), key=len)
        numbers: set[int] = set()
        budget = POSTINGS_BUDGET
        for found in lists:
            if len(found) > budget:
                if numbers:
                    break  # the rest are commoner still: they would say little and cost much
                found = found[:budget]
            numbers.update(found)
            budget -= len(found)
        # Every slug found is ranked exactly: at ~0.1 us a comparison, cheaper than choosing which to rank.
        if not numbers:
            return []
        found = itemgetter(*numbers)(self.slugs)  # a tuple, or one slug alone
        ranked = process.extract(asked, found if len(numbers) > 1 else (found,), scorer=fuzz.ratio, limit=n,
                                 score_cutoff=CUTOFF)
        return [slug for slug, _, _ in ranked]
