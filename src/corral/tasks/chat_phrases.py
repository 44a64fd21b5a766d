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
    # English: a decision said as such, or something made final (booked, paid, confirmed)
    r"decided",
    r"decision",
    r"(?:it'?s|that'?s|so it'?s) settled",
    r"settled",
    r"final(?:ly)?:",
    r"(?:let'?s|we'?ll|we will|we) (?:go|stick) with",
    r"going with",
    r"we'?re going (?:with|for)",
    r"agreed",
    r"booked",
    r"confirmed",
    r"reserved",
    r"done deal",
    r"deal",
    r"the plan is",
    r"plan is",
    r"we'?ll (?:do|take|meet|leave|go)",
    r"we (?:meet|leave|go) (?:at|on)",
    r"fixed",
    r"locked in",
    r"ordered",
    r"paid",
    r"signed up",
    r"count(?:ing)? on",
    r"change of plan",
    r"new plan",
    r"moved (?:it )?to",
    r"instead",
    # German: beschlossen, abgemacht, gebucht, und was eine Einigung verkündet
    r"abgemacht",
    r"entschieden",
    r"beschlossen",
    r"steht(?: jetzt)? fest",
    r"fest steht",
    r"(?:dann )?machen wir(?: das)? so",
    r"so machen wir(?:'s| es)",
    r"gebucht",
    r"reserviert",
    r"bestellt",
    r"zugesagt",
    r"bestätigt",
    r"wir nehmen",
    r"nehmen wir",
    r"es bleibt bei",
    r"bleibt es bei",
    r"(?:haben uns |uns )?geeinigt",
    r"einigen wir uns",
    r"fix",
    r"ist fix",
    r"bezahlt",
    r"überwiesen",
    r"planänderung",
    r"neuer plan",
    r"verschoben auf",
    r"stattdessen",
    r"treffen uns",
    r"wir treffen",
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
MENTION = re.compile(r"@(\w[\w.\-]*)")
URL = re.compile(r"https?://\S+|www\.\S+")
WORD = re.compile(r"[a-zäöüß]{4,}")
STOPWORDS = frozenset(
    # short function words are dropped by length already; these are the longer ones
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
    "gerade eigentlich einfach genau gibt ganz okay".split()
)
EVERYONE = {"en": "everyone", "de": "alle"}
