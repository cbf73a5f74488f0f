"""Vocabulary of the lexicon classifier that belongs to no one language: emojis, spam, and the
harmless phrases that look violent or vulgar ("killer feature", "mörderisch gut").

Phrases are regular expressions over the folded text (lower case, umlauts folded, apostrophes
dropped, one space between words, no punctuation); see moderation.classifiers.lexicon.
"""

# Patterns stay one per line so each reads (and diffs) as one unit, however long.
# ruff: noqa: E501

from __future__ import annotations


def words(text: str) -> frozenset[str]:
    """A set of words written as one string, as word lists are easiest to read and edit."""
    return frozenset(text.split())


# fmt: off
EMOJI_SENTIMENT = {
    "😡": -2.6, "🤬": -2.8, "😠": -2.2, "😤": -1.8, "😢": -1.8, "😭": -1.4, "👎": -2.0, "💩": -1.8,
    "🙄": -1.5, "😒": -1.5, "😞": -1.8, "😔": -1.5, "😩": -1.7, "😫": -1.7, "🤮": -2.4, "🤢": -2.0,
    "😑": -0.8, "💔": -1.8, "🖕": -2.6, "😖": -1.6, "😣": -1.4, "😾": -1.6, "🤦": -1.4, "😓": -1.2,
    "😰": -1.4, "😱": -0.8, "☹": -1.8, "🙁": -1.4, "👍": 1.8, "❤": 2.4, "😍": 2.6, "🥰": 2.6, "😊": 2.0,
    "🙂": 1.2, "😀": 1.8, "😃": 2.0, "😄": 2.0, "😁": 2.0, "😂": 0.8, "🤣": 0.8, "🔥": 1.6, "💯": 1.8,
    "👏": 2.0, "🙏": 1.2, "💪": 1.6, "✨": 1.2, "🎉": 2.0, "🥳": 2.2, "😎": 1.4, "💕": 2.2, "💖": 2.2,
    "💙": 2.0, "💚": 2.0, "💛": 2.0, "🧡": 2.0, "💜": 2.0, "🤩": 2.6, "⭐": 1.4, "🌟": 1.6, "👌": 1.6,
    "😘": 2.0, "☺": 1.8, "🤗": 2.0, "💗": 2.2, "😻": 2.2, "🙌": 2.0, "💐": 1.6, "🎊": 2.0, "🏆": 1.8,
    "🥇": 1.8, "😇": 1.6, "😋": 1.8, "💓": 2.2, "💞": 2.2, "🤍": 2.0, "🖤": 1.0,
}
# fmt: on
# An emoji that insults on its own.
EMOJI_TOXICITY = {"🖕": ("insult", 0.65)}

# Known spam, German and English. (pattern, weight, label)
SPAM_PHRASES = [
    (
        r"\b(?:check|checkt|schau|schaut|guck|guckt|besuch|besucht|visit) (?:out |mal |doch mal |auch mal |doch |auch )?(?:auf |bei |in )?(?:my|meine|meinem|meinen|meiner) (?:profile|profil|page|seite|bio|channel|kanal|account|insta|story|stories|feed|shop|link|website)\b",
        0.7,
        "check my profile",
    ),
    (r"\b(?:link|links) (?:is )?in (?:my |meiner |der )?bio\b", 0.7, "link in bio"),
    (
        r"\bdm (?:me |us )?(?:for|fuer) (?:a |an )?(?:promo|promotion|collab|collaboration|shoutout|shout out|business|kooperation|werbung|feature|infos?|details|more)\b",
        0.8,
        "dm for promo",
    ),
    (
        r"\b(?:send|sende|schick|schicke) (?:it|us|mir|uns) (?:a )?(?:dm|pn|nachricht) (?:for|fuer|to get|um) (?:promo|promotion|feature|werbung)\b",
        0.8,
        "dm for promo",
    ),
    (
        r"\bpromote (?:it|this|your (?:page|account|business|brand|music|channel))\b|\bpromotion (?:on|at) @",
        0.7,
        "promotion offer",
    ),
    (
        r"\bfollow ?(?:for|4) ?follow\b|\bf4f\b|\bl4l\b|\blike ?(?:for|4) ?like\b|\bsub ?(?:for|4) ?sub\b|\bfollow ?back\b|\bfolge? ?(?:fuer|4) ?folge\b|\bfolg\w* (?:ich |dir |euch )*zurueck\b",
        0.75,
        "follow for follow",
    ),
    (r"\b(?:folgt|folg|follow) (?:mir|me|us|uns) (?:und|and|for|fuer)\b", 0.45, "follow me"),
    (
        r"\b(?:verdiene|verdienen|verdienst|verdient|earn|earned|earning|make|made|making) (?:bis zu |up to |ueber |over )?(?:dollar |euro |usd )?(?:\d[\d.,]* ?(?:euro|eur|dollar|usd|k)?|\$ ?\d+|\d+ ?\$) (?:am|pro|im|in der|a|per|each|every|in a|in one) (?:tag|woche|monat|stunde|day|week|month|hour)\b",
        0.9,
        "earn money fast",
    ),
    (
        r"\b(?:geld verdienen|money online|von zu ?hause aus|von zuhause|from home|work from home|home office job|nebenverdienst|nebeneinkommen|passives einkommen|passive income|side hustle|extra income)\b",
        0.55,
        "income offer",
    ),
    (
        r"\b(?:crypto|krypto|bitcoin|btc|ethereum|forex|nft|nfts|binary options|trading signals|trading signale|altcoin|memecoin)\b",
        0.55,
        "crypto",
    ),
    (
        r"\b(?:invest|investiere|investieren|investment|investition)\w* (?:\w+ ){0,3}(?:opportunity|platform|plattform|chance|rendite|returns|profit|gewinn)\b",
        0.65,
        "investment offer",
    ),
    (
        r"\b(?:gratis|kostenlos|kostenlose|kostenloses|kostenlosen|free) (?:iphones?|ipads?|playstation|ps5|gift ?cards?|geschenkkarten?|gutscheine?|follower|followers|likes|money|geld|samples?|proben|v ?bucks|robux|coins|skins|tickets|bahntickets|train tickets|flights|fluege)\b",
        0.8,
        "free gift",
    ),
    (
        r"\b(?:giving away|verschenke|verschenken|verlose|verlosen) (?:\w+ ){0,2}(?:gift ?cards?|gutscheine?|iphones?|geld|money|cash)\b",
        0.6,
        "giveaway",
    ),
    (
        r"\b(?:quick|fast|easy|schnelles|schnelle|leichtes|einfaches) (?:cash|money|geld|kohle)\b",
        0.6,
        "easy money",
    ),
    (
        r"\b(?:brand ambassadors?|markenbotschafter\w*|influencer gesucht|looking for (?:models|influencers|ambassadors))\b",
        0.6,
        "ambassador offer",
    ),
    (
        r"\b(?:follower|followers|likes|abonnenten|views|klicks) (?:\w+ )?(?:kaufen|buy)\b",
        0.8,
        "buy followers",
    ),
    (
        r"\b(?:konto|bankkonto|account|paket|package|parcel|karte|card)\b(?: \w+){0,6} (?:gesperrt|suspended|locked|blocked|nicht zugestellt|could not be delivered|not be delivered|eingeschraenkt|deaktiviert)\b",
        0.4,
        "phishing",
    ),
    (
        r"\b(?:bestaetigen|bestaetige|verify|confirm|entsperren|reactivate|reaktivieren|unlock) (?:sie |you )?(?:\w+ ){0,3}(?:hier|here|daten|details|now|jetzt|es|it)\b",
        0.5,
        "phishing",
    ),
    (
        r"\b(?:einsam|lonely|hallo suesser|hi dear|hey handsome|hello dear|hi sweetie|hey suesser)\b",
        0.4,
        "dating bait",
    ),
    (
        r"\b(?:schreib|schreibt) (?:mir|uns) (?:privat|per dm|eine dm|per pn)\b|\bmessage me privately\b|\bschreib uns per dm\b",
        0.45,
        "dm me",
    ),
    (
        r"\b\d+ ?(?:prozent|percent) (?:off|rabatt|reduziert)\b|\btoday only\b|\bnur noch heute\b",
        0.45,
        "discount",
    ),
    (
        r"\b(?:du hast|sie haben|you have|youve|you) (?:\w+ )?(?:gewonnen|won|been selected|been chosen|wurden ausgewaehlt)\b",
        0.7,
        "you have won",
    ),
    (
        r"\bclaim (?:your|ur) (?:prize|reward|gift|bonus)\b|\bgewinn (?:abholen|einloesen|sichern)\b|\bpreis abholen\b",
        0.8,
        "claim your prize",
    ),
    (
        r"\bclick (?:the |this |my |on the )?link\b|\bklick(?:e|t)? (?:auf )?(?:den |diesen |meinen )?link\b",
        0.6,
        "click the link",
    ),
    (
        r"\b(?:limited offer|act now|only today|nur heute|begrenztes angebot|jetzt zugreifen|100 (?:free|gratis|guaranteed|garantiert)|risk ?free|risikofrei)\b",
        0.5,
        "urgency",
    ),
    (
        r"\b(?:buy|kauf|kaufe|cheap|billige?) (?:followers|follower|likes|views|abonnenten|subscribers)\b|\b(?:grow|boost|push) (?:your|ur|deinen?) (?:account|page|followers|instagram|insta|kanal|channel|reichweite)\b",
        0.8,
        "buy followers",
    ),
    (
        r"\b(?:onlyfans|only fans|sexy singles|hot singles|heisse singles|hot girls|geile girls|sex ?dates?|camgirl|nudes|18\+ content|xxx)\b",
        0.85,
        "adult spam",
    ),
    (
        r"\b(?:viagra|cialis|casino|sportwetten|online casino|bonus code|freispiele|free spins|slot machine|lottery|lotto gewinn)\b",
        0.75,
        "casino or pills",
    ),
    (
        r"\b(?:schreib|schreibt|schreiben sie) mir (?:eine )?(?:pn|dm|privat|direktnachricht)\b|\b(?:dm|message|text|inbox) me\b|\bcontact me (?:for|on|at|via)\b",
        0.45,
        "dm me",
    ),
    (
        r"\b(?:weight loss|abnehmen ohne|lose \d+ ?(?:kg|lbs|pounds)|\d+ ?kg (?:in|weniger in) \d+ (?:tagen|wochen|days|weeks)|fat burner|fettverbrenn\w*)\b",
        0.7,
        "diet spam",
    ),
    (
        r"\b(?:hacked|gehackt)\b(?:\s+\w+){0,4}\s+(?:recover|zurueck|wiederherstell\w*|account)|\b(?:recover|wiederherstellen) (?:your|deinen?) (?:account|konto|instagram)\b",
        0.6,
        "account recovery",
    ),
    (
        r"\b(?:binaere optionen|finanzielle freiheit|financial freedom|be your own boss|sei dein eigener chef|mlm)\b",
        0.7,
        "income offer",
    ),
    (
        r"\b(?:nice|great|cool|love|amazing) (?:post|pic|photo|content)\b(?:\s+\w+){0,3}\s+(?:check|visit|follow|dm)\b",
        0.7,
        "compliment and follow",
    ),
]

# Phrases the moderation lexicons must not read as toxic ("killer feature", "sick!"), each with
# the sentiment it stands for once it is taken out of the text (a word of neither list).
BENIGN_PHRASES = [
    (
        r"\bkiller ?(?:feature|features|app|apps|deal|deals|preis|preise|angebot|look|outfit|sound|kombi|combo|track|song|design|product|produkt|qualitaet|quality)\b",
        "xpositive",
    ),
    (
        r"\b(?:moerderisch|toedlich|brutal|verdammt|wahnsinnig|sau|hammer|krass|verboten|unverschaemt|teuflisch) (?:gut|lecker|schoen|geil|stark|billig|guenstig)\b",
        "xpositive",
    ),
    (
        r"\b(?:killed|killing|kill|kills|smashed|smashing|smash|nailed|nail|crushed|crushing|slayed|slaying|slay|rocked|rocking) (?:it|this|that|the game)\b",
        "xpositive",
    ),
    (
        r"\bidiot ?(?:proof|sicher|sichere|sicheres|sicheren)\b|\bidiotensicher\w*\b|\bfool ?proof\b",
        "xneutral",
    ),
    (
        r"\b(?:die|der|eine|ist die|ist der) (?:absolute )?bombe\b(?! (?:in|im|vor|unter|legen|zuenden|hochgehen|gelegt|platziert))|\bthe bomb\b|\bbombe(?:ig|nfest|nstimmung)\w*\b|\bbombastisch\b",
        "xpositive",
    ),
    (r"\bsick (?:(?:as|af) )?(?:design|beat|track|sound|look|shot|shoes|kicks)\b", "xpositive"),
    (r"\b(?:that|this|it) (?:is|was|looks) (?:so )?sick\b", "xpositive"),
    (
        r"\bto die for\b|\bzum (?:sterben|niederknien) (?:schoen|gut)\b|\bdead ?(?:on|right|serious|ass)\b",
        "xpositive",
    ),
    (r"\bshoot (?:me|us) (?:a|an) (?:message|dm|email|e ?mail|line|note)\b", "xneutral"),
    (r"\b(?:photo ?shoot|fotoshooting|shooting)\b", "xneutral"),
    (
        r"\b(?:kill|killed|kills) (?:the|my) (?:battery|akku|mood|vibe|process|app|task|prozess|stimmung)\b",
        "xnegative",
    ),
    (r"\bunter aller (?:sau|kanone)\b|\bsaumaessig\w*\b|\bsauteuer\w*\b", "xnegative"),
    (r"\b(?:hate|hass) (?:speech|rede|kommentare|comments)\b", "xneutral"),
    (r"\b(?:schuss|shot) (?:ins|in the) (?:blaue|dark|knie|foot)\b", "xneutral"),
    (
        r"\b(?:beat|beats|schlagen|schlaegt) (?:the|die|den) (?:price|preis|competition|konkurrenz|record|rekord)\b",
        "xneutral",
    ),
    (
        r"\bwe(?:ll| will) (?:find|get) you (?:a|an|the|some|your)\b|\bi(?:ll| will) (?:find|get) you (?:a|an|the|some)\b",
        "xneutral",
    ),
]
