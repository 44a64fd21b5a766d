"""Generate the 500-post feeds with planted topics (seeded `random` and Faker), English and
German: `tests/tasks/fixtures/feed_500_en.json` and `feed_500_de.json`.

Each feed is one week of one city: six planted topics of unequal size (120, 90, 70, 50, 35 and
25 posts) and 110 one-off posts on nothing in particular (Faker's sentences), mixed in time.
A topic post is one of the topic's openings with one of its details, so two posts of a topic
need not share a sentence. Every post's `topic` is the ground truth (null for the one-offs):
which planted topic it belongs to. Readers ignore the field; `corral.tasks.quality` scores a
summary's topics by it.

    .venv/bin/python scripts/make_feed_fixtures.py     # writes tests/tasks/fixtures/
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

from faker import Faker

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "tasks" / "fixtures"
SEED = 20240506
SIZES = (120, 90, 70, 50, 35, 25)
ONE_OFFS = 110
AUTHORS = 60
EMOJI = ("👍", "❤️", "😂", "😮", "😢")
# topic: (openings, details, replies); {city} {street} {name} {n} are filled in
TOPICS: dict[str, dict[str, tuple[list[str], list[str], list[str]]]] = {
    "en": {
        "city marathon": (
            [
                "Marathon day in {city}!",
                "Road closures for the marathon:",
                "Marathon update:",
                "Finished the marathon!",
                "Volunteering at the marathon,",
            ],
            [
                "{street} is closed for the runners until 2pm.",
                "my time was {n} minutes, legs gone.",
                "the water station on {street} needs more volunteers.",
                "the trams are diverted around the marathon route.",
                "cheering for {name} at kilometre 30 of the race.",
            ],
            [
                "Congrats on the race!",
                "Which tram lines are diverted?",
                "See you at the finish.",
            ],
        ),
        "new phone launch": (
            [
                "The new phone is out.",
                "Phone launch queue in {city}:",
                "Honest phone review:",
                "Preordered the new phone.",
                "Upgrade question about the new phone:",
            ],
            [
                "battery lasts {n} hours, camera is great.",
                "the price is too high for a phone.",
                "queued at the store on {street} since 5am for the launch.",
                "is it worth upgrading from last year's model?",
                "the screen is brighter, phone feels fast.",
            ],
            [
                "Too expensive for me.",
                "How is the camera at night?",
                "Mine arrived too.",
            ],
        ),
        "local elections": (
            [
                "Election reminder:",
                "Mayoral debate tonight.",
                "Council election news:",
                "Voting on Sunday!",
                "Election turnout:",
            ],
            [
                "polling stations open from 7am to 8pm.",
                "{name} is a candidate for the council.",
                "bring your ID to the polling station.",
                "the candidates debate the {street} tram line.",
                "counting the votes took until midnight.",
            ],
            [
                "Already voted by mail.",
                "Where is my polling station?",
                "Thanks for the reminder.",
            ],
        ),
        "recipe swap": (
            [
                "Recipe of the week:",
                "Baked something new:",
                "Cooking tip:",
                "Dinner tonight:",
            ],
            [
                "lentil soup with lemon, recipe below.",
                "sourdough bread with a proper crust.",
                "pasta sauce gets better with a spoon of cooking water.",
                "{name}'s lemon cake recipe.",
            ],
            [
                "Recipe please!",
                "Looks delicious.",
                "Saving this recipe.",
            ],
        ),
        "lost and found pets": (
            [
                "Lost cat!",
                "Found a dog",
                "Pet alert near {street}:",
                "Missing pet update:",
            ],
            [
                "grey cat with white paws, answers to Milo.",
                "small brown dog, no collar, safe with us.",
                "Milo the cat is home, thanks for sharing.",
                "please check your garden sheds for the cat.",
            ],
            [
                "Shared!",
                "Will keep an eye out for the cat.",
                "So glad the pet is back.",
            ],
        ),
        "heatwave": (
            [
                "Heatwave warning:",
                "Hot day in {city}.",
                "Heat tip:",
                "Still a heatwave:",
            ],
            [
                "{n} degrees expected, drink water.",
                "the outdoor pool on {street} is packed.",
                "public fountains and shade at the library.",
                "sleeping with the fan on all night.",
            ],
            [
                "Stay cool!",
                "Too hot to work.",
                "The pool was full.",
            ],
        ),
    },
    "de": {
        "Stadtmarathon": (
            [
                "Marathontag in {city}!",
                "Straßensperrungen für den Marathon:",
                "Marathon-Update:",
                "Marathon geschafft!",
                "Helfer beim Marathon gesucht,",
            ],
            [
                "die {street} ist bis 14 Uhr für die Läufer gesperrt.",
                "meine Zeit: {n} Minuten, Beine kaputt.",
                "die Wasserstation in der {street} braucht Helfer.",
                "die Straßenbahnen fahren eine Umleitung wegen der Marathonstrecke.",
                "wir feuern {name} bei Kilometer 30 des Laufs an.",
            ],
            [
                "Glückwunsch zum Lauf!",
                "Welche Straßenbahnlinien sind umgeleitet?",
                "Bis zum Ziel!",
            ],
        ),
        "neues Handy": (
            [
                "Das neue Handy ist da.",
                "Schlange beim Handy-Verkaufsstart in {city}:",
                "Ehrlicher Handy-Test:",
                "Neues Handy vorbestellt.",
                "Frage zum neuen Handy:",
            ],
            [
                "der Akku hält {n} Stunden, die Kamera ist super.",
                "der Preis ist zu hoch für ein Handy.",
                "stehe seit 5 Uhr vor dem Laden in der {street} an.",
                "lohnt sich der Wechsel vom Modell vom letzten Jahr?",
                "das Display ist heller, das Handy schnell.",
            ],
            [
                "Zu teuer für mich.",
                "Wie ist die Kamera nachts?",
                "Meins kam auch heute.",
            ],
        ),
        "Kommunalwahl": (
            [
                "Wahl-Erinnerung:",
                "Heute Abend Debatte zur Bürgermeisterwahl.",
                "Neues zur Stadtratswahl:",
                "Am Sonntag wählen gehen!",
                "Wahlbeteiligung:",
            ],
            [
                "die Wahllokale sind von 8 bis 18 Uhr offen.",
                "{name} kandidiert für den Stadtrat.",
                "Personalausweis ins Wahllokal mitbringen.",
                "die Kandidaten streiten über die Straßenbahn in der {street}.",
                "die Auszählung der Stimmen dauerte bis Mitternacht.",
            ],
            [
                "Schon per Briefwahl gewählt.",
                "Wo ist mein Wahllokal?",
                "Danke für die Erinnerung.",
            ],
        ),
        "Rezepte": (
            [
                "Rezept der Woche:",
                "Neues gebacken:",
                "Kochtipp:",
                "Heute zum Abendessen:",
            ],
            [
                "Linsensuppe mit Zitrone, Rezept unten.",
                "Sauerteigbrot mit richtiger Kruste.",
                "Nudelsoße wird besser mit einem Löffel Nudelwasser.",
                "{name}s Zitronenkuchen-Rezept.",
            ],
            [
                "Rezept bitte!",
                "Sieht lecker aus.",
                "Rezept gespeichert.",
            ],
        ),
        "entlaufene Haustiere": (
            [
                "Katze entlaufen!",
                "Hund gefunden",
                "Haustier-Suche an der {street}:",
                "Update zur vermissten Katze:",
            ],
            [
                "graue Katze mit weißen Pfoten, hört auf Milo.",
                "kleiner brauner Hund ohne Halsband, ist bei uns.",
                "Kater Milo ist wieder zu Hause, danke fürs Teilen.",
                "bitte schaut in euren Gartenhäusern nach der Katze.",
            ],
            [
                "Geteilt!",
                "Ich halte die Augen offen.",
                "Schön, dass die Katze wieder da ist.",
            ],
        ),
        "Hitzewelle": (
            [
                "Hitzewarnung:",
                "Heißer Tag in {city}.",
                "Tipp gegen die Hitze:",
                "Immer noch Hitzewelle:",
            ],
            [
                "{n} Grad erwartet, viel Wasser trinken.",
                "das Freibad in der {street} ist voll.",
                "Trinkbrunnen und Schatten an der Bibliothek.",
                "schlafe die ganze Nacht mit Ventilator.",
            ],
            [
                "Bleibt cool!",
                "Zu heiß zum Arbeiten.",
                "Das Freibad war voll.",
            ],
        ),
    },
}
LOCALES = {"en": "en_US", "de": "de_DE"}


def feed(language: str) -> list[dict[str, Any]]:
    """One feed: planted topic posts and one-offs, in time order."""
    rng, fake = random.Random(f"{SEED}-{language}"), Faker(LOCALES[language])
    fake.seed_instance(SEED)
    topics = TOPICS[language]
    labels: list[str | None] = [
        t for t, size in zip(topics, SIZES, strict=True) for _ in range(size)
    ]
    labels += [None] * ONE_OFFS
    rng.shuffle(labels)
    authors = sorted({fake.unique.user_name() for _ in range(AUTHORS)})
    start = dt.datetime(2024, 7, 1, tzinfo=dt.UTC)
    times = sorted(start + dt.timedelta(minutes=rng.randrange(7 * 24 * 60)) for _ in labels)
    city = fake.city()
    posts = []
    for index, (label, time) in enumerate(zip(labels, times, strict=True)):
        if label is None:
            text = fake.sentence(nb_words=rng.randrange(6, 14))
            replies: list[str] = []
        else:
            openings, details, replies = topics[label]
            text = f"{rng.choice(openings)} {rng.choice(details)}"
        text = text.format(
            city=city, street=fake.street_name(), name=fake.first_name(), n=rng.randrange(20, 300)
        )
        posts.append(
            {
                "id": f"{language}{index + 1:03d}",
                "author": rng.choice(authors),
                "time": time.isoformat().replace("+00:00", "Z"),
                "text": text,
                "reactions": {e: rng.randrange(1, 40) for e in rng.sample(EMOJI, 2)},
                "comments": rng.sample(replies, rng.randrange(0, min(3, len(replies) + 1))),
                "topic": label,
            }
        )
    return posts


def write(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for language in TOPICS:
        document = {"posts": feed(language)}
        path = out_dir / f"feed_500_{language}.json"
        path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder to write into")
    write(parser.parse_args().out)


if __name__ == "__main__":
    main()
