"""A small HTML reader for tests: the stdlib parser, collecting what assertions need."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.texts: dict[str, list[str]] = {}
        self._open: list[str] = []
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))
        if tag in ("title", "h1", "h2", "h3", "a", "script", "li", "p", "td", "th", "dd", "dt", "button", "label"):
            self._open.append(tag)
            self.texts.setdefault(tag, [])
            self._text.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()
            self.texts[tag].append(" ".join(self._text.pop().split()))

    def handle_data(self, data: str) -> None:
        for index in range(len(self._text)):
            self._text[index] += data

    def all(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [found for name, found in self.tags if name == tag and all(found.get(k) == v for k, v in attrs.items())]

    def meta(self, key: str) -> str:
        for attrs in self.all("meta"):
            if attrs.get("name") == key or attrs.get("property") == key:
                return attrs["content"]
        raise KeyError(key)

    def links(self) -> list[str]:
        return [attrs["href"] for attrs in self.all("a") if "href" in attrs]

    def text_of(self, tag: str) -> list[str]:
        return self.texts.get(tag, [])
