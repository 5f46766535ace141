"""What a browser would send for a form as drawn: every named input, textarea, select and checked box."""

from __future__ import annotations

from html.parser import HTMLParser

from django.http import QueryDict


class _Fields(HTMLParser):
    def __init__(self, within: str | None):
        super().__init__(convert_charrefs=True)
        self.within, self.depth, self.inside = within, 0, within is None
        self.pairs: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._text = ""
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.within is not None:
            if self.inside and tag == "div":
                self.depth += 1
            elif not self.inside and a.get("id") == self.within:
                self.inside, self.depth = True, 1
                return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.pairs.append((name, a.get("value", "on")))
            elif kind not in ("submit", "button"):
                self.pairs.append((name, a.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""
        elif tag == "select" and name:
            self._select, self._options = name, []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            text = self._text[1:] if self._text.startswith("\n") else self._text
            self.pairs.append((self._textarea, text))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = [v for v, selected in self._options if selected] or [v for v, _ in self._options[:1]]
            self.pairs += [(self._select, v) for v in chosen]
            self._select = None
        elif tag == "div" and self.within is not None and self.inside:
            self.depth -= 1
            if self.depth == 0:
                self.inside = False


def form_data(html: str, within: str | None = None) -> QueryDict:
    """The fields of ``html`` (only inside the element with id ``within``, a div, when given)."""
    parser = _Fields(within)
    parser.feed(html)
    data = QueryDict(mutable=True)
    for name, value in parser.pairs:
        data.appendlist(name, value)
    return data
