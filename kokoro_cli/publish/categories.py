"""Apple Podcasts categories: the list a feed's ``itunes:category`` must come from, and the
parser that turns what a user typed ("Arts/Books", "books", "Kids & Family") into a pair.

Apple's list (podcasters.apple.com/support/1691-apple-podcasts-categories, the 2019 list still
in force): a category, or a category and one of its subcategories. A feed without a category
is refused by Apple Podcasts Connect, so a feed gets :data:`DEFAULT_CATEGORY` when none is set.
"""

from __future__ import annotations

import difflib

from kokoro_cli.errors import UsageError

__all__ = ["CATEGORIES", "DEFAULT_CATEGORY", "Category", "parse_category"]

Category = tuple[str, "str | None"]  # (category, subcategory or None)

CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": ("Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"),
    "Business": ("Careers", "Entrepreneurship", "Investing", "Management", "Marketing",
                 "Non-Profit"),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": ("Alternative Health", "Fitness", "Medicine", "Mental Health",
                         "Nutrition", "Sexuality"),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": ("Animation & Manga", "Automotive", "Aviation", "Crafts", "Games", "Hobbies",
                "Home & Garden", "Video Games"),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": ("Business News", "Daily News", "Entertainment News", "News Commentary", "Politics",
             "Sports News", "Tech News"),
    "Religion & Spirituality": ("Buddhism", "Christianity", "Hinduism", "Islam", "Judaism",
                                "Religion", "Spirituality"),
    "Science": ("Astronomy", "Chemistry", "Earth Sciences", "Life Sciences", "Mathematics",
                "Natural Sciences", "Nature", "Physics", "Social Sciences"),
    "Society & Culture": ("Documentary", "Personal Journals", "Philosophy", "Places & Travel",
                          "Relationships"),
    "Sports": ("Baseball", "Basketball", "Cricket", "Fantasy Sports", "Football", "Golf",
               "Hockey", "Rugby", "Running", "Soccer", "Swimming", "Tennis", "Volleyball",
               "Wilderness", "Wrestling"),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews",
                  "TV Reviews"),
}  # fmt: skip
# Narrated books: what this tool makes unless told otherwise.
DEFAULT_CATEGORY: Category = ("Arts", "Books")

# Every accepted spelling, folded: "arts", "arts/books", and a subcategory alone ("books").
_NAMES: dict[str, Category] = {}
for _category, _subs in CATEGORIES.items():
    _NAMES[_category.casefold()] = (_category, None)
    for _sub in _subs:
        _NAMES[f"{_category}/{_sub}".casefold()] = (_category, _sub)
        _NAMES.setdefault(_sub.casefold(), (_category, _sub))


def parse_category(text: str, what: str = "--category") -> Category:
    """``"Arts/Books"``, ``"Arts > Books"``, ``"books"`` or ``"Technology"`` as Apple's
    (category, subcategory); a UsageError naming the nearest categories for anything else."""
    parts = [p.strip() for p in text.replace(">", "/").split("/")]
    key = "/".join(" ".join(p.split()) for p in parts if p).casefold()
    if key in _NAMES:
        return _NAMES[key]
    near = difflib.get_close_matches(key, list(_NAMES), n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(_spelled(_NAMES[n]) for n in near)}? " if near else ""
    raise UsageError(f"{what} {text!r} is not an Apple Podcasts category: {hint}give CATEGORY "
                     "or CATEGORY/SUBCATEGORY from Apple's list, such as 'Arts/Books', "
                     "'News/Daily News' or 'Technology'")


def _spelled(category: Category) -> str:
    return f"'{category[0]}/{category[1]}'" if category[1] else f"'{category[0]}'"
