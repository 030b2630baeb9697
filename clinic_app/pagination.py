"""One way to page a QuerySet: count, clamp the page number, skip/limit."""
from dataclasses import dataclass


@dataclass
class Page:
    """One page of results: items, number (1-based), pages, total."""

    items: list
    number: int
    pages: int
    total: int


def paginate(qs, page, per_page):
    """The `page`-th page (clamped to 1..pages) of the ordered QuerySet `qs`."""
    total = qs.count()
    pages = max(1, -(-total // per_page))
    number = min(max(1, page), pages)
    return Page(list(qs.skip((number - 1) * per_page).limit(per_page)), number, pages, total)
