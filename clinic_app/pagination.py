"""One way to page a list: `paginate()` -> `Page`, the `pager` macro, and `page_url()`.

A page costs O(page): it reads one row more than it shows to learn whether
there is a next page, and counts the whole list only when asked to
(`count=True`, for lists where a person needs the exact total) or when the
requested page lies beyond the end (a stale link; it is clamped to the last).
"""
from dataclasses import dataclass

from flask import request, url_for

# A page number past this is refused as absurd (skip() must stay a small integer).
MAX_PAGE = 100_000


@dataclass
class Page:
    """One page of a list: `items`, 1-based `number`, and whether a next page exists.

    `total` is the exact count only when the list was counted (`paginate(..., count=True)`);
    `known_total` is also exact on the last page, where it costs nothing.
    """

    items: list
    number: int
    per_page: int
    has_next: bool
    total: int | None = None

    @property
    def has_prev(self):
        return self.number > 1

    @property
    def first(self):
        """1-based position of the first item shown (0 on an empty page)."""
        return (self.number - 1) * self.per_page + 1 if self.items else 0

    @property
    def last(self):
        return (self.number - 1) * self.per_page + len(self.items)

    @property
    def known_total(self):
        if self.total is not None:
            return self.total
        return None if self.has_next else self.last

    @property
    def pages(self):
        """Number of pages, when the total is known; else None."""
        total = self.known_total
        return None if total is None else max(1, -(-total // self.per_page))


def _rows(source, offset, limit):
    if hasattr(source, "skip"):  # a QuerySet
        return list(source.skip(offset).limit(limit))
    return list(source[offset:offset + limit])  # anything sliceable (a list, a Redis registry view)


def _count(source):
    return len(source) if isinstance(source, (list, tuple)) else source.count()


def paginate(source, page, per_page, count=False):
    """The `page`-th page of the ordered `source`: a QuerySet, or anything with slicing and count().

    Reads `per_page + 1` rows; with `count=True` also counts the whole list (for `total`).
    A page past the end is clamped to the last page (counted then, once).
    """
    number = min(max(1, int(page or 1)), MAX_PAGE)
    total = _count(source) if count else None
    if total is not None:
        number = min(number, max(1, -(-total // per_page)))
    rows = _rows(source, (number - 1) * per_page, per_page + 1)
    if not rows and number > 1:  # beyond the end (a stale or hand-typed link): show the last page
        if total is None:
            total = _count(source)
        number = max(1, -(-total // per_page))
        rows = _rows(source, (number - 1) * per_page, per_page + 1)
        total = total if count else None
    return Page(rows[:per_page], number, per_page, len(rows) > per_page, total)


def page_url(number):
    """This request's URL with the same query string and another page number (for pagers)."""
    return url_for(request.endpoint, **{**(request.view_args or {}), **request.args.to_dict(), "page": number})
