"""Generate the WhatsApp export fixtures of the chat parser, with their ground truth.

Four group chats of a few weeks each, in English (friends planning a trip) and German (a club
planning its summer party), exported by Android and by iOS. The edge cases the parser must
handle are sprinkled in, and so is content whose right explanation is known: eight decisions (a
question, agreement, the decision) and five questions put to one person who never answers them,
each with the ids of its messages in the sidecar. The edge cases: multi-line messages, system
lines (encryption notice, group created, added, joined by link, left, subject and icon changed),
media, deleted messages, an emoji in a name, a phone number as a name, a name holding ": " and
one holding a comma. Each chat comes with a JSON sidecar of what a correct parser reads (counts,
participants, sampled messages), computed here from the generated messages, never by the parser.
Seeded: the same Faker version writes the same bytes.

    .venv/bin/python scripts/make_chat_fixtures.py     # writes tests/tasks/fixtures/whatsapp_*
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faker import Faker

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "tasks" / "fixtures"
COUNT = 2100
LRM, NNBSP, LQ, RQ = "\u200e", "\u202f", "\u201e", "\u201c"
SAMPLE_EVERY = 97


@dataclass(frozen=True)
class Style:
    lang: str
    ios: bool
    seed: int
    start: dt.datetime


STYLES = {
    "android_en": Style("en", False, 101, dt.datetime(2024, 3, 4, 18, 12)),
    "android_de": Style("de", False, 202, dt.datetime(2024, 5, 6, 19, 40)),
    "ios_en": Style("en", True, 303, dt.datetime(2024, 9, 2, 8, 3, 11)),
    "ios_de": Style("de", True, 404, dt.datetime(2025, 1, 13, 20, 15, 42)),
}


@dataclass(frozen=True)
class Msg:
    time: dt.datetime
    author: str | None
    text: str
    kind: str = "text"
    label: str = ""
    """The group's name, which iOS writes as the author of system lines."""


EN: dict[str, list[str]] = {
    "ask": [
        "Has anyone looked at flights to {dest} yet?",
        "Where do we want to stay, near {place} or closer to the old town?",
        "What's the budget per person? I was thinking around {price} euros",
        "Can everyone do {day} the {nth}? {first} said that works for them",
        "Who's booking the Airbnb? The one on {place} is still free",
        "Should we rent a car or just take trains?",
        "Anyone know a good place for dinner on the first night?",
        "What time does everyone land?",
        "Do we need travel insurance for this?",
        "Did anyone hear back from the host?",
    ],
    "reply": [
        "I'm in 👍",
        "Works for me",
        "Sounds good!",
        "Not sure yet, will check with work and let you know by {day}",
        "I can do {time} at the earliest",
        "That's a bit over my budget tbh, could we look for something around {price}?",
        "Yes! Let's do it",
        "haha same",
        "I found one for {price} per night, sending the link: {url}",
        "Agree with {first}",
        "My flight gets in at {time}",
        "Trains are cheaper and we can sleep on the way 😴",
        "Can't wait!! 🎉",
        "Ok, so who still needs to pay?",
        "I'll ask my sister, she went there last year",
        "Sorry, busy day - catching up now",
        "Good point",
        "No strong opinion, happy with whatever the group picks",
    ],
    "decide": [
        "Ok decision: we stay at the place on {place}, {price} each. Booking it tonight",
        "Booked! Confirmation is in my email, I'll forward it",
        "So it's settled: we leave {day} at {time}",
        "Let's go with the flat on {place} then, I'll book it tonight",
        "I paid the deposit, please send me {price} each when you can",
        "Dinner reservation done for {n} people at {time}",
    ],
    "agree": [
        "Works for me",
        "Sounds good!",
        "Yes! Let's do it",
        "I'm in 👍",
        "Agree with {first}",
    ],
    "open": [
        "@{x} did you manage to renew your passport? It expires in June, right?",
        "{x}, are you bringing the portable charger for the car?",
        "{x} could you check whether the cathedral tour runs on Mondays?",
        "@{x} have you asked your boss about taking the Friday off?",
        "{x}, do you still have the spare key from the landlady?",
    ],
    "aside": ["Sorry, busy day - catching up now", "Can't wait!! 🎉", "haha"],
    "multi": [
        "Packing list so far:\n- passport\n- adapter\n- sunscreen\n- good shoes",
        "Plan for {day}:\n{time} breakfast\nthen the castle\n\nevening: {place} for dinner",
        "Quick summary:\nflights booked\napartment booked\nstill open: car and dinner",
        "Sorry for the long message\nbut I think we should decide today\notherwise prices go up",
    ],
}
DE: dict[str, list[str]] = {
    "ask": [
        "Wer kann beim Aufbau am {day} helfen?",
        "Brauchen wir noch einen zweiten Grill?",
        "Was machen wir, wenn es regnet? Zelt leihen?",
        "Hat jemand die Nummer vom Getränkehandel in {dest}?",
        "Wie viele Leute kommen ungefähr? Ich muss die Bänke bestellen",
        "Wer übernimmt die Kasse am Abend?",
        "Macht {first} wieder den Kuchenstand?",
        "Welche Band fragen wir an? Die aus {dest} war letztes Jahr super",
        "Bis wann müssen die Plakate fertig sein?",
        "Hat schon jemand mit der Gemeinde wegen der Genehmigung gesprochen?",
    ],
    "reply": [
        "Bin dabei 👍",
        "Passt!",
        "Klingt gut",
        "Ich kann erst ab {time}, vorher muss ich arbeiten",
        "Das kostet doch bestimmt {price} Euro, oder?",
        "Ja, mach ich",
        "Kann ich fragen, sag dir bis {day} Bescheid",
        "Stimme {first} zu",
        "Hier der Link: {url}",
        "Mein Schwager hat einen Anhänger, den können wir nehmen",
        "Super, danke dir! 🙏",
        "Wer hat noch Biertischgarnituren?",
        "haha ja 😂",
        "Sorry, war unterwegs. Lese gerade nach",
        "Gute Idee",
        "Mir ist beides recht",
    ],
    "decide": [
        "Also abgemacht: Aufbau am {day} um {time}, Treffpunkt {place}",
        "Hab die Bänke bestellt, {n} Garnituren für {price} Euro",
        "Die Band hat zugesagt! 🎸",
        "Zelt ist reserviert, Abholung {day} um {time}",
        "Dann machen wir es so: Kuchenstand am {day} ab {time}",
        "Getränke sind bestellt, Lieferung {day} früh",
    ],
    "agree": ["Passt!", "Klingt gut", "Bin dabei 👍", "Gute Idee", "Stimme {first} zu"],
    "open": [
        "@{x} hast du beim Ordnungsamt wegen der Straßensperrung angerufen?",
        "{x}, bringst du den Stromverteiler vom Sportheim mit?",
        "{x} kannst du klären, ob die Feuerwehr uns Festzeltgarnituren leiht?",
        "@{x} hat sich der Metzger wegen der Rostbratwürste gemeldet?",
        "{x}, hast du noch den Schlüssel für den Geräteschuppen?",
    ],
    "aside": ["Sorry, war unterwegs. Lese gerade nach", "Super, danke dir! 🙏", "haha ja 😂"],
    "multi": [
        "Einkaufsliste:\n- Würstchen\n- Brötchen\n- Senf und Ketchup\n- Kohle",
        "Helferliste {day}:\n{time} Aufbau\nab 14 Uhr Kuchenstand\n\nabends Kasse: {first}",
        "Kurzer Stand:\nBand fix\nZelt fix\noffen: Kühlwagen und Plakate",
        "Sorry für den langen Text\naber wir müssen heute entscheiden\nsonst ist das Zelt weg",
    ],
}
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "media_android": "<Media omitted>",
        "attached": "<attached: {n:08d}-PHOTO-{t:%Y-%m-%d-%H-%M-%S}.jpg>",
        "deleted": "This message was deleted",
        "you_deleted": "You deleted this message",
        "encrypted": "Messages and calls are end-to-end encrypted. No one outside of this chat,"
        " not even WhatsApp, can read or listen to them.",
        "tap": " Tap to learn more.",
        "created": '{who} created group "{group}"',
        "added": "{who} added {whom}",
        "joined": "{who} joined using this group's invite link",
        "left": "{who} left",
        "subject": '{who} changed the subject from "{old}" to "{new}"',
        "icon": "{who} changed this group's icon",
        "group": "{dest} trip ✈️",
    },
    "de": {
        "media_android": "<Medien ausgeschlossen>",
        "attached": "<Anhang: {n:08d}-PHOTO-{t:%Y-%m-%d-%H-%M-%S}.jpg>",
        "deleted": "Diese Nachricht wurde gelöscht",
        "you_deleted": "Du hast diese Nachricht gelöscht",
        "encrypted": "Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand außerhalb"
        " dieses Chats kann sie lesen oder anhören, nicht einmal WhatsApp.",
        "tap": " Tippe, um mehr zu erfahren.",
        "created": f"{{who}} hat die Gruppe {LQ}{{group}}{RQ} erstellt",
        "added": "{who} hat {whom} hinzugefügt",
        "joined": "{who} ist über den Einladungslink dieser Gruppe beigetreten",
        "left": "{who} hat die Gruppe verlassen",
        "subject": f"{{who}} hat den Betreff von {LQ}{{old}}{RQ} zu {LQ}{{new}}{RQ} geändert",
        "icon": "{who} hat das Gruppenbild geändert",
        "group": "Sommerfest TSV {dest} 🎉",
    },
}
# Faker's day_of_week() draws a date up to *now*, so its answer changes from day to day.
WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "de": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
}

CHOICES = {
    "en": {
        "dest": ["Lisbon", "Porto", "Edinburgh", "Krakow", "Seville"],
        "media_ios": ["image omitted", "video omitted", "sticker omitted", "audio omitted"],
    },
    "de": {
        "dest": ["Kemnath", "Bamberg", "Lauf", "Erlangen", "Forchheim"],
        "media_ios": ["Bild weggelassen", "Video weggelassen", "Sticker weggelassen"],
    },
}
EMOJI = ["🌸", "🚴", "⚽", "🌻", "🐝"]


class Chat:
    """One group chat being written: its people, clock and messages."""

    def __init__(self, style: Style) -> None:
        self.style, self.rng = style, random.Random(style.seed)
        self.fake = Faker("en_US" if style.lang == "en" else "de_DE")
        self.fake.seed_instance(style.seed)
        self.words, self.templates = WORDS[style.lang], EN if style.lang == "en" else DE
        self.dest = self.rng.choice(CHOICES[style.lang]["dest"])
        self.group = self.words["group"].format(dest=self.dest)
        self.time, self.msgs = style.start, list[Msg]()
        self.people = self._people()
        self.active = self.people[:1] + self.people[2:5] + self.people[6:]
        self.weights = {
            p: w for p, w in zip(self.people, [18, 14, 12, 10, 9, 8, 7, 6, 5], strict=True)
        }

    def _people(self) -> list[str]:
        names: list[str] = []
        while len(names) < 5:
            name = f"{self.fake.first_name()} {self.fake.last_name()}"
            if name not in names and ": " not in name:
                names.append(name)
        phone = (
            f"+1 ({self.rng.randint(201, 989)}) 555-{self.rng.randint(1000, 9999)}"
            if self.style.lang == "en"
            else f"+49 151 {self.rng.randint(10_000_000, 99_999_999)}"
        )
        colon = ("Coach: " if self.style.lang == "en" else "Vorstand: ") + self.fake.first_name()
        emoji = f"{self.fake.first_name()} {self.rng.choice(EMOJI)}"
        comma = f"{self.fake.last_name()}, {self.fake.first_name()}"
        # exporter, colon name (added early), 3 people, phone (joins by link), emoji, comma
        return [names[0], colon, *names[1:4], phone, emoji, comma, names[4]]

    def tick(self, mean_minutes: float) -> dt.datetime:
        self.time += dt.timedelta(seconds=int(self.rng.expovariate(1 / (mean_minutes * 60))))
        if self.time.hour >= 23 or self.time.hour < 7:
            day = self.time.date() + dt.timedelta(days=1 if self.time.hour >= 23 else 0)
            self.time = dt.datetime.combine(day, dt.time(7)) + dt.timedelta(
                seconds=self.rng.randint(0, 3 * 3600)
            )
        return self.time if self.style.ios else self.time.replace(second=0)

    def fill(self, template: str) -> str:
        others = [p.split(" ")[0] for p in self.active if p[0].isalpha() and ": " not in p]
        return template.format(
            dest=self.dest,
            place=self.fake.street_name(),
            price=self.rng.choice([25, 40, 60, 85, 120, 150]),
            day=self.rng.choice(WEEKDAYS[self.style.lang]),
            nth=self.rng.choice(["12th", "14th", "20th", "21st"]),
            first=self.rng.choice(others).rstrip(","),
            time=f"{self.rng.randint(7, 21)}:{self.rng.choice(['00', '15', '30', '45'])}",
            url=self.fake.url(),
            n=self.rng.randint(6, 40),
        )

    def system(self, key: str, **names: str) -> None:
        text = self.words[key].format(group=self.group, **names)
        self.msgs.append(Msg(self.tick(2), None, text, "system", self.group))

    def say(self, author: str, mean_minutes: float, key: str = "reply") -> None:
        roll = self.rng.random()
        if roll < 0.05:
            self.msgs.append(Msg(self.tick(mean_minutes), author, self._media(), "media"))
        elif roll < 0.065:
            mine = author == self.people[0]
            text = self.words["you_deleted" if mine else "deleted"] + (
                "." if self.style.ios else ""
            )
            self.msgs.append(Msg(self.tick(mean_minutes), author, text, "deleted"))
        else:
            key = "multi" if roll > 0.96 else key
            text = self.fill(self.rng.choice(self.templates[key]))
            self.msgs.append(Msg(self.tick(mean_minutes), author, text))

    def _media(self) -> str:
        if not self.style.ios:
            return self.words["media_android"]
        if self.rng.random() < 0.3:
            return self.words["attached"].format(n=len(self.msgs), t=self.time)
        return self.rng.choice(CHOICES[self.style.lang]["media_ios"])

    def speaker(self, exclude: str | None = None) -> str:
        people = [p for p in self.active if p != exclude]
        return self.rng.choices(people, [self.weights[p] for p in people])[0]

    def thread(self) -> None:
        last = self.speaker()
        self.say(last, 90, "ask")
        for _ in range(self.rng.randint(2, 9)):
            last = self.speaker(exclude=last)  # nobody answers themselves
            self.say(last, 4)

    def decision(self) -> dict[str, Any]:
        """A planted decision: a question, two or three agreeing replies, then the decision."""
        asker = self.speaker()
        self.msgs.append(
            Msg(self.tick(90), asker, self.fill(self.rng.choice(self.templates["ask"])))
        )
        ids, last = [len(self.msgs)], asker
        for _ in range(self.rng.randint(2, 3)):
            last = self.speaker(exclude=last)
            text = self.fill(self.rng.choice(self.templates["agree"]))
            self.msgs.append(Msg(self.tick(4), last, text))
        text = self.fill(self.rng.choice(self.templates["decide"]))
        self.msgs.append(Msg(self.tick(6), self.speaker(exclude=last), text))
        return {"text": text, "message_ids": [len(self.msgs), *ids], "superseded": False}

    def open_question(self, number: int) -> dict[str, Any]:
        """A planted open question put to one person, who never answers it."""
        people = [p for p in self.active if p[0].isalpha() and ": " not in p]
        asked = self.rng.choice(people)
        asker = self.speaker(exclude=asked)
        template = self.templates["open"][number % len(self.templates["open"])]
        text = template.replace("{x}", asked.split(" ")[0].rstrip(","))
        self.msgs.append(Msg(self.tick(90), asker, text))
        ids = [len(self.msgs)]
        for _ in range(2):
            aside = self.rng.choice(self.templates["aside"])
            self.msgs.append(Msg(self.tick(20), self._bystander(asker, asked), aside))
        return {"text": text, "message_ids": ids, "waiting_on": asked}

    def _bystander(self, *not_them: str) -> str:
        people = [p for p in self.active if p not in not_them]
        return self.rng.choices(people, [self.weights[p] for p in people])[0]


def _opening(chat: Chat) -> None:
    owner = chat.people[0]
    notice = chat.words["encrypted"] + ("" if chat.style.ios else chat.words["tap"])
    chat.msgs.append(Msg(chat.tick(0.1), None, notice, "system", chat.group))
    chat.system("created", who=owner)
    for person in chat.active[1:]:
        chat.system("added", who=owner, whom=person)


def _events(chat: Chat, done: float) -> None:
    """The membership changes, each at its point of the conversation."""
    owner, colon, phone, leaver = chat.people[0], chat.people[1], chat.people[5], chat.people[4]
    if colon not in chat.active and done > 0.05:
        chat.active.append(colon)
        chat.system("added", who=owner, whom=colon)
    if phone not in chat.active and done > 0.15:
        chat.active.append(phone)
        chat.system("joined", who=phone)
    if leaver in chat.active and done > 0.85:
        chat.active.remove(leaver)
        chat.system("left", who=leaver)
    if f"{chat.dest} 2.0" not in chat.group and done > 0.5:
        old, chat.group = chat.group, chat.group.replace(chat.dest, f"{chat.dest} 2.0")
        chat.system("subject", who=colon, old=old, new=chat.group)
        chat.system("icon", who=colon)


DECISIONS_AT = (0.06, 0.17, 0.29, 0.41, 0.53, 0.66, 0.78, 0.9)
QUESTIONS_AT = (0.24, 0.47, 0.7, 0.86, 0.95)


def generate(name: str, count: int = COUNT) -> tuple[list[Msg], dict[str, list[Any]]]:
    """The messages of one chat, as a correct parser reads them, and what was planted in it:
    decisions and open questions (with the ids of the messages that make them)."""
    chat = Chat(STYLES[name])
    _opening(chat)
    plan = sorted([(at, "decision") for at in DECISIONS_AT] + [(at, "open") for at in QUESTIONS_AT])
    planted: dict[str, list[Any]] = {"decisions": [], "open_questions": []}
    while len(chat.msgs) < count:
        done = len(chat.msgs) / count
        _events(chat, done)
        if plan and done >= plan[0][0]:
            if plan.pop(0)[1] == "decision":
                planted["decisions"].append(chat.decision())
            else:
                planted["open_questions"].append(chat.open_question(len(plan)))
        else:
            chat.thread()
    return chat.msgs, planted


def _header(style: Style, time: dt.datetime) -> str:
    hour = f"{(time.hour - 1) % 12 + 1}:{time:%M}"
    ampm = "AM" if time.hour < 12 else "PM"
    if style.ios and style.lang == "en":
        return f"[{time.month}/{time.day}/{time:%y}, {hour}:{time:%S} {ampm}] "
    if style.ios:
        return f"[{time:%d.%m.%Y, %H:%M:%S}] "
    if style.lang == "en":
        return f"{time.month}/{time.day}/{time:%y}, {hour}{NNBSP}{ampm} - "
    return f"{time:%d.%m.%y, %H:%M} - "


def render(name: str, msgs: list[Msg]) -> str:
    """The export as WhatsApp writes it (iOS marks system lines, media and deletions)."""
    style, out = STYLES[name], []
    for index, msg in enumerate(msgs):
        header = _header(style, msg.time)
        if msg.kind == "system" and not style.ios:
            out.append(f"{header}{msg.text}")
        elif msg.kind == "system":
            lead = "" if index == 0 else LRM
            out.append(f"{lead}{header}{msg.label}: {LRM}{msg.text}")
        elif style.ios and msg.kind != "text":
            out.append(f"{LRM}{header}{msg.author}: {LRM}{msg.text}")
        else:
            out.append(f"{header}{msg.author}: {msg.text}")
    return "\n".join(out) + "\n"


def truth(name: str, msgs: list[Msg], planted: dict[str, list[Any]]) -> dict[str, Any]:
    """What a correct parser reads from the export of `msgs`."""
    style = STYLES[name]
    counts = Counter(m.author for m in msgs if m.kind != "system" and m.author)
    samples = [(i, m) for i, m in enumerate(msgs, start=1) if i % SAMPLE_EVERY == 1]
    return {
        "file": f"whatsapp_{name}.txt",
        "platform": "ios" if style.ios else "android",
        "language": style.lang,
        "messages": len(msgs),
        "participants": sorted(counts.items(), key=lambda item: (-item[1], item[0])),
        "multiline": sum(1 for m in msgs if "\n" in m.text),
        "kinds": dict(sorted(Counter(m.kind for m in msgs).items())),
        "first_time": msgs[0].time.isoformat(),
        "last_time": msgs[-1].time.isoformat(),
        "samples": [
            {
                "id": i,
                "time": m.time.isoformat(),
                "author": m.author,
                "text": m.text,
                "kind": m.kind,
            }
            for i, m in samples
        ],
        **planted,
    }


def build(name: str) -> tuple[str, str]:
    """The export's text and its ground truth as JSON text."""
    msgs, planted = generate(name)
    text = json.dumps(truth(name, msgs, planted), ensure_ascii=False, indent=1) + "\n"
    return render(name, msgs), text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in STYLES:
        export, ground_truth = build(name)
        (args.out / f"whatsapp_{name}.txt").write_text(export, encoding="utf-8")
        (args.out / f"whatsapp_{name}.json").write_text(ground_truth, encoding="utf-8")


if __name__ == "__main__":
    main()
