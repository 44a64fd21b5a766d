"""The English and German phrases the chat rules (`chat_rules`) look for: decisions, agreement,
disagreement, proposals, answers and greetings, as compiled patterns.

Kept apart from the rules so that the word lists can grow without touching the logic, and so
that an ablation can switch a signal off by name.
"""

from __future__ import annotations

import re


def _any(*phrases: str) -> re.Pattern[str]:
    """Phrases matched as whole words (a phrase may hold its own regex)."""
    return re.compile(r"(?<![\w])(?:" + "|".join(phrases) + r")(?![\w])", re.IGNORECASE)


DECIDED = _any(
    # a decision said as such, in English ...
    r"decided",
    r"decision",
    r"settled",
    r"final(?:ly)?:",
    r"(?:let'?s|we'?ll|we will|we) (?:go|stick) with",
    r"we'?re (?:going with|going for|staying with|staying)",
    r"we'?ll stay",
    r"done deal",
    r"the plan is",
    r"change of plan",
    r"new plan",
    r"(?:is|are|been) (?:moved|changed) to",
    r"\w+ it is",
    r"\w+ wins",
    r"(?:reservation|booking|order|payment) (?:is )?(?:done|made|confirmed)",
    # ... and in German
    r"abgemacht",
    r"entschieden",
    r"beschlossen",
    r"steht(?: es)?(?: jetzt)? fest",
    r"fest steht",
    r"(?:dann )?machen wir(?: das| es)? so",
    r"so machen wir(?:'s| es)",
    r"es bleibt bei",
    r"bleibt es bei",
    r"(?:haben uns |uns )?geeinigt",
    r"einigen wir uns",
    r"planänderung",
    r"neuer plan",
    r"verschoben auf",
    r"ist (?:am|jetzt am) \w+",
)
DONE = _any(
    # something made final: a decision when a plan ("we", "wir", "so", "dann") is in the words
    r"book(?:ed|ing)",
    r"confirmed",
    r"reserv(?:ed|ing)",
    r"order(?:ed|ing)",
    r"paid",
    r"pays?",
    r"signed up",
    r"cancell?ed",
    r"instead",
    r"i'?ll (?:book|order|reserve|enter|sign|buy|pay|put)",
    r"ich (?:buche|bestelle|reserviere|melde|überweise|kaufe|storniere)",
    r"gebucht",
    r"reserviert",
    r"bestellt",
    r"zugesagt",
    r"bestätigt",
    r"storniert",
    r"überwiesen",
    r"stattdessen",
    r"wir nehmen",
    r"nehmen wir",
    r"ist fix",
)
PLAN = _any(
    r"we",
    r"we'?re",
    r"we'?ll",
    r"us",
    r"our",
    r"so",
    r"ok",
    r"okay",
    r"right",
    r"then",
    r"great",
    r"wir",
    r"uns",
    r"also",
    r"dann",
    r"gut",
    r"gute idee",
    r"prima",
    r"genau",
)
DONE_SAID = re.compile(
    r"^\W*(?:booked|ordered|paid|reserved|confirmed|gebucht|bestellt|bezahlt|reserviert)\b|"
    r"\b(?:i'?ve|i have|we'?ve|we have|ich hab|hab|habe|wir haben)\b.{0,40}\b"
    r"(?:booked|ordered|paid|reserved|gebucht|bestellt|bezahlt|reserviert|überwiesen)\b|"
    r"\b(?:ist|sind|hat|haben)\b.{0,30}\b(?:gebucht|bestellt|reserviert|zugesagt|bestätigt)\b",
    re.IGNORECASE,
)
"""Something made final, said as done: "Booked!", "I've paid", "Zelt ist reserviert"."""
NOT_DONE = _any(
    r"not",
    r"nicht",
    r"kein\w*",
    r"\w+n'?t",
    r"need",
    r"should",
    r"must",
    r"müssen",
    r"sollten",
    r"sollen",
    r"if",
    r"wenn",
    r"falls",
)
"""A "booked" that is not one: "not booked yet", "we need it booked", "if we book"."""
PROMISE = _any(
    r"will do",
    r"i'?ll (?:ask|check|text|call|see|look|find out|let you know|chase|try|message|email|ring|"
    r"ping|write)",
    r"let me (?:check|ask|see)",
    r"on it",
    r"mach(?:e)? ich",
    r"ich (?:frag|schau|kümmere|melde|kläre|ruf)\w*",
    r"schaue? ich",
    r"kümmere mich",
    r"sag (?:dir|euch) bescheid",
)
DEFER = _any(
    r"hm+",
    r"let'?s see",
    r"not sure",
    r"no idea",
    r"dunno",
    r"might",
    r"maybe",
    r"we need to think",
    r"don'?t know",
    r"busy",
    r"can'?t",
    r"keine ahnung",
    r"mal sehen",
    r"mal schauen",
    r"schwierig",
    r"eng",
    r"leider",
    r"weiß (?:ich )?nicht",
    r"überlegen",
    r"vielleicht",
    r"geht nicht",
    r"kann nicht",
    r"abwarten",
    r"still (?:asking|waiting|no)",
    r"no reply",
    r"noch keine antwort",
    r"warte noch",
)
AGREE = _any(
    r"works for me",
    r"sounds good",
    r"sounds great",
    r"agree[ds]?",
    r"i'?m in",
    r"count me in",
    r"\+1",
    r"fine (?:by|with) me",
    r"fine",
    r"(?:is|are|'s) (?:fine|good|great|perfect)",
    r"great shout",
    r"i can live with (?:that|it)",
    r"perfect",
    r"let'?s do (?:it|that|this)",
    r"yes+",
    r"yep",
    r"yeah",
    r"sure",
    r"ok(?:ay)?",
    r"great",
    r"good idea",
    r"deal",
    r"same",
    r"me too",
    r"passt",
    r"bin dabei",
    r"dabei",
    r"einverstanden",
    r"klingt gut",
    r"gute idee",
    r"ja+",
    r"jo",
    r"jep",
    r"genau",
    r"stimme\b.*\bzu",
    r"machen wir",
    r"super",
    r"prima",
    r"perfekt",
    r"gerne",
    r"klar",
    r"ich auch",
)
AGREE_EMOJI = re.compile("[\U0001f44d\U0001f44c\u2705\U0001f64c]")
DISAGREE = _any(
    r"no+",
    r"nope",
    r"not sure",
    r"rather",
    r"i'?d prefer",
    r"i prefer",
    r"don'?t (?:think|like|want)",
    r"can'?t",
    r"won'?t",
    r"too (?:expensive|far|late|early)",
    r"nein",
    r"nee",
    r"lieber",
    r"eher nicht",
    r"kann nicht",
    r"geht nicht",
    r"zu teuer",
    r"zu weit",
    r"doch nicht",
    r"bin dagegen",
    r"weiß nicht",
)
PROPOSAL = _any(
    r"how about",
    r"what about",
    r"let'?s",
    r"shall we",
    r"should we",
    r"i suggest",
    r"i propose",
    r"proposal",
    r"why don'?t we",
    r"we could",
    r"vorschlag",
    r"wie wäre es",
    r"wie wär'?s",
    r"lass(?:t)? uns",
    r"sollen wir",
    r"wollen wir",
    r"ich schlage vor",
    r"wir könnten",
    r"was haltet ihr",
)
ANSWER_START = re.compile(
    r"^\W*(?:yes|yeah|yep|no|nope|sure|of course|not yet|i think|i guess|probably|maybe|done|"
    r"i'?ll|i will|i can|i have|i did|i do|we have|it'?s|it is|they|he|she|just|already|"
    r"ja|jo|nein|nee|klar|doch|leider|noch nicht|ich glaube|ich denke|wahrscheinlich|"
    r"vielleicht|erledigt|mach ich|ich kann|ich habe|ich hab|hab|habe|ist|sind|er|sie|schon|"
    r"bereits|\d)",
    re.IGNORECASE,
)
TAG_QUESTION = re.compile(
    r"(?:,\s*(?:oder|ne|gell|gelle|nicht wahr|right|isn'?t it|no|yes|ok|okay)\s*\?+|"
    r"^\W*(?:really|seriously|what|why not|echt|wirklich|was|wieso nicht|ernsthaft|ne|oder)\W*$)",
    re.IGNORECASE,
)
GREETING = re.compile(
    r"^\W*(?:hi|hello|hey|hiya|good (?:morning|evening|night)|morning|hallo|moin|servus|"
    r"grüß gott|guten (?:morgen|abend|tag)|na ihr|huhu|tach)\b",
    re.IGNORECASE,
)
ADDRESS = re.compile(
    r"(?:^|[.!?]\s+)(?:herr\s+|frau\s+)?([^\W\d_]{2,})"
    r"(?:[,:]|\s+(?:\w+\s+){0,2}?(?:you|you'?re|your|du|dir|dich)\b)",
    re.IGNORECASE,
)
"""A sentence's first word, when it may be the name of the one asked: "Dan, ...", "Steve are
you ...", "Stefan, hast du ..." (but not "Keith said ...")."""
FOR_WHOM = re.compile(
    r"(?:question (?:for|to)|frage an)\s+(?:herr\s+|frau\s+)?([^\W\d_]{2,})", re.IGNORECASE
)
WHO = _any(
    r"who(?:'?s| is| will| can| could| does| takes| brings)? ?"
    r"(?:bring|tak|do|collect|driv|pick|mak|handl|organi[sz]|sort|book|buy|get|cook|bak)\w*",
    r"who(?:'?ll| will| can| could)",
    r"(?:anyone|anybody|someone|somebody) (?:can|could|free|able|up for)",
    r"wer (?:kann|könnte|macht|übernimmt|nimmt|bringt|holt|fährt|hat (?:lust|zeit))",
    r"(?:kann|könnte|hat) (?:mal )?jemand",
)
"""A question that asks for someone to do something, answered only by a volunteer."""
VOLUNTEER = _any(
    r"i can",
    r"i could",
    r"i'?ll",
    r"i will",
    r"i'?m happy to",
    r"ich (?:kann|könnte|mach\w*|übernehme|bringe|nehme|hole)",
    r"(?:mach\w*|übernehme|bringe|nehme|hole) ich",
)
BARE_VOLUNTEER = re.compile(
    r"^\W*(?:me|i can|i'?ll do it|i will|ich|ich kann|mach ich|ich mach(?:e)? (?:das|es))\W*$",
    re.IGNORECASE,
)
"""A volunteer that needs no subject: "me!", "I'll do it", "mach ich"."""
MENTION = re.compile(r"@(\w[\w.\-]*)")
URL = re.compile(r"https?://\S+|www\.\S+")
WORD = re.compile(r"[a-zäöüß]{3,}")
_STOPWORDS = (
    "the and you for are was but not all any can had her his one our out who how why yes now "
    "get got let see way too off own say she use may did has him its new old day lol haha "
    "und der die das ist ich wir ihr sie ein mit auf für den dem des von zum zur was wer wie "
    "hab hat bin bis mir dir uns man mal nur gut nein oder aber auch dann doch gibt kann "
    "january february march april june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday week weekend tonight "
    "januar februar märz juni juli oktober dezember montag dienstag mittwoch donnerstag "
    "freitag samstag sonntag abend morgen uhr "
    "about after again also anyone anything back been before being both could does doing done "
    "each even every from have here just know like maybe more most much need only other over "
    "really should some still such sure than that their them then there these they thing think "
    "this those through want well were what when where which while will with would your yours "
    "everyone someone somebody guys today tomorrow week time good great please thanks "
    "aber alle alles also auch bitte dann dass dein deine denn dich doch dort eine einen einer "
    "eines euch eure habe haben hast hier heute ihr ihre jemand jetzt kann kannst können mach "
    "machen mal mehr mein meine mich mir morgen muss müssen nach nicht noch oder schon sein "
    "seid sich sind soll sollen sollten über unsere unser viel vielleicht von wann warum "
    "was welche wenn werden wer wie wieder will wir wird wohl woche zeit zum zur danke leute "
    "gerade eigentlich einfach genau gibt ganz okay"
)
STOPWORDS = frozenset(_STOPWORDS.split())
EVERYONE = {"en": "everyone", "de": "alle"}
