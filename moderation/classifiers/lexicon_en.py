"""English vocabulary of the lexicon classifier (moderation.classifiers.lexicon).

Same conventions as lexicon_de: lower case, plural and verb forms derived where regular (-s, -es),
irregular forms listed; toxicity weights 0..1, sentiment -3..3, phrases are regular expressions
over the folded text (apostrophes removed: "you're" reads "youre", "don't" reads "dont").
"""

# Patterns stay one per line so each reads (and diffs) as one unit, however long.
# ruff: noqa: E501

from __future__ import annotations

from moderation.classifiers.lexicon_shared import words

STOPWORDS = words("""
    the a an and or but is are was were be been being am have has had do does did not no
    i you he she it we they me him her us them my your his its our their this that these those
    of to in on at for with from by about as into over after before under again than then there
    here what who where why when which how if because so just very really also only still yet
    can could would should will shall may might must dont doesnt didnt cant wont isnt arent wasnt
    im ive youre theyre thats whats please thanks thank hello hi hey any some all every much many
    more most get got getting out up down off now today yesterday since until ever never anyone
    """)

SECOND_PERSON = words("you u ya yall youre ur yourself yourselves")
COPULAS = words("are r were is be being youre")
NEGATORS = words(
    "not no never dont doesnt didnt isnt arent wasnt werent cant cannot wont wouldnt nothing "
    "without hardly neither nor"
)
# fmt: off
INTENSIFIERS = {
    "very": 1.5, "fucking": 1.6, "bloody": 1.3, "really": 1.4, "so": 1.3, "extremely": 1.7,
    "absolutely": 1.6, "totally": 1.5, "completely": 1.5, "super": 1.4, "incredibly": 1.6,
    "truly": 1.4, "utterly": 1.6, "such": 1.2, "too": 1.2, "quite": 1.1, "pretty": 1.1,
    "seriously": 1.4, "insanely": 1.5, "damn": 1.3,
}
# fmt: on

# fmt: off
INSULT_NOUNS = {
    "idiot": 0.85, "moron": 0.9, "imbecile": 0.9, "cretin": 0.85, "dumbass": 0.9, "dumbfuck": 0.95,
    "jackass": 0.85, "asshole": 0.95, "arsehole": 0.95, "ass": 0.35, "bitch": 0.85, "cunt": 0.95,
    "dickhead": 0.9, "dick": 0.5, "prick": 0.8, "twat": 0.9, "wanker": 0.9, "tosser": 0.85,
    "bastard": 0.85, "loser": 0.75, "scumbag": 0.9, "douchebag": 0.9, "douche": 0.8, "clown": 0.55,
    "buffoon": 0.75, "nitwit": 0.75, "halfwit": 0.8, "numbskull": 0.8, "dimwit": 0.8,
    "bonehead": 0.75, "knucklehead": 0.7, "pillock": 0.8, "muppet": 0.6, "git": 0.6, "slut": 0.9,
    "whore": 0.9, "motherfucker": 0.95, "fucker": 0.9, "fuckface": 0.95, "shithead": 0.9,
    "piece of shit": 0.9, "retard": 0.9, "freak": 0.5, "creep": 0.55, "pig": 0.45, "swine": 0.55,
    "rat": 0.4, "snake": 0.3, "troll": 0.4, "simpleton": 0.75, "dolt": 0.75, "dunce": 0.7,
    "fool": 0.6, "airhead": 0.75, "nutjob": 0.75, "lowlife": 0.85, "degenerate": 0.8,
    "parasite": 0.6,
}
# fmt: on

# "you are stupid" insults; "a stupid update" criticises.
# fmt: off
TARGETED_EVALUATIVES = {
    "stupid": 0.75, "dumb": 0.75, "idiotic": 0.75, "retarded": 0.85, "brainless": 0.8, "ugly": 0.75,
    "fat": 0.6, "disgusting": 0.7, "pathetic": 0.7, "worthless": 0.8, "trash": 0.75,
    "garbage": 0.75, "scum": 0.9, "filth": 0.8, "filthy": 0.6, "crazy": 0.35, "insane": 0.35,
    "mental": 0.45, "sick": 0.35, "psycho": 0.7, "gross": 0.55, "vile": 0.7, "repulsive": 0.75,
    "braindead": 0.8, "crap": 0.75, "shit": 0.85, "shitty": 0.65, "a joke": 0.5, "clueless": 0.45,
    "embarrassing": 0.45, "useless": 0.5, "spineless": 0.6, "dense": 0.5, "thick": 0.4,
    "ignorant": 0.55,
}
# fmt: on

# fmt: off
PROFANITY = {
    "fuck": 0.85, "fucks": 0.85, "fucking": 0.8, "fuckin": 0.8, "fucked": 0.8, "fucker": 0.85,
    "fuckers": 0.85, "motherfucker": 0.9, "motherfucking": 0.9, "fck": 0.75, "fk": 0.6, "fkn": 0.7,
    "fcking": 0.75, "wtf": 0.35, "stfu": 0.8, "shit": 0.65, "shitty": 0.6, "shite": 0.6,
    "bullshit": 0.65, "horseshit": 0.65, "shitshow": 0.6, "crap": 0.25, "crappy": 0.25,
    "damn": 0.25, "damned": 0.25, "goddamn": 0.45, "goddamned": 0.45, "bloody": 0.2, "piss": 0.45,
    "pissed": 0.35, "asshole": 0.7, "arse": 0.45, "ass": 0.4, "bitch": 0.6, "bitching": 0.5,
    "cunt": 0.9, "dick": 0.5, "cock": 0.6, "twat": 0.7, "wank": 0.6, "bollocks": 0.45,
    "bugger": 0.35, "sucks": 0.25, "suck": 0.2, "screwed": 0.2, "jesus christ": 0.15,
    "frigging": 0.25, "freaking": 0.15,
}
# fmt: on

# fmt: off
HATE_SLURS = {
    "nigger": 0.98, "nigga": 0.9, "faggot": 0.95, "fag": 0.8, "kike": 0.95, "spic": 0.9,
    "chink": 0.9, "wetback": 0.95, "raghead": 0.95, "towelhead": 0.95, "tranny": 0.85, "gook": 0.9,
    "paki": 0.85, "beaner": 0.9, "coon": 0.8, "dyke": 0.75, "subhuman": 0.95, "untermensch": 0.95,
    "sandnigger": 0.98, "gypsies": 0.4, "muzzie": 0.9, "shemale": 0.75,
}
# fmt: on
GROUPS = words("""
    immigrants immigrant migrants refugees refugee foreigners muslims muslim jews jew blacks
    gays gay lesbians trans transgender women feminists arabs mexicans asians chinese
    africans gypsies roma homosexuals christians catholics indians pakistanis poles
    """)
DEHUMANISING = words("""
    animals vermin rats parasites cockroaches roaches subhuman scum filth disease plague
    savages apes monkeys insects leeches cancer garbage trash pests infestation
    """)
HATE_PHRASES = [
    (r"\bgo back to (?:your|their) (?:own )?(?:country|countries|shithole|jungle|desert)\b", 0.85),
    (r"\bsend (?:them|these people|all of them|em) back\b", 0.6),
    (
        r"\bshould (?:all )?be (?:deported|gassed|exterminated|wiped out|sterilized|sterilised|shot|hanged)\b",
        0.85,
    ),
    (
        r"\b(?:gas|exterminate|wipe out|deport) (?:all )?(?:the |those |these )?(?:jews|muslims|immigrants|refugees|gays|blacks|foreigners)\b",
        0.95,
    ),
    (
        r"\b(?:death|die) to (?:all )?(?:the )?(?:jews|muslims|immigrants|refugees|gays|blacks|foreigners|christians|arabs)\b",
        0.95,
    ),
    (r"\bwhite power\b|\bheil hitler\b|\bsieg heil\b|\b1488\b", 0.9),
    (
        r"\b(?:jews|muslims|immigrants|blacks|gays|foreigners|refugees) (?:are ruining|destroy|are destroying|are invading|ruin)\b",
        0.75,
    ),
]

THREAT_PHRASES = [
    (
        r"\bi know where (?:you|u|ur|your \w+) (?:live|lives|work|works|are|sleep)\b|\bi know where you(?:r)? (?:family|kids|house)\b",
        0.9,
    ),
    (
        r"\b(?:i|we)(?:ll| will| am going to|m going to|m gonna| gonna| are going to| are gonna) (?:\w+ ){0,2}(?:kill|murder|stab|shoot|hurt|beat|punch|strangle|choke|destroy|end|hunt|find|get|smash|break|burn|rape|slap|gut|bury|ruin|come for|visit) (?:you|u|ya|yall|your|ur|all of you|every one of you|him|her|them)\b",
        0.85,
    ),
    (
        r"\b(?:kill|murder|stab|shoot|strangle|choke|rape|behead|hang|burn) (?:you|u|ya|yall|all of you|your family|your kids)\b",
        0.85,
    ),
    (
        r"\b(?:youll|you will|youre gonna|you are going to|you re going to|youre going to) (?:\w+ )?regret\b",
        0.85,
    ),
    (r"\b(?:youll|you will) pay for (?:this|that|it)\b|\bmake (?:you|u) pay\b", 0.75),
    (r"\bwatch your back\b|\bwatch your step\b|\bsleep with one eye open\b", 0.8),
    (
        r"\b(?:youre|you are|ur|u r|you re) (?:so |gonna be |going to be )?dead\b(?! right| on point| wrong)",
        0.8,
    ),
    (r"\b(?:im|i am|were|we are) coming (?:for|after) (?:you|u|ya|yall|your)\b", 0.85),
    (r"\bwont see (?:it|me|us) coming\b", 0.75),
    (
        r"\bburn (?:down )?(?:your|the|ur) (?:store|shop|office|house|building|place|headquarters)(?: down)?\b",
        0.85,
    ),
    (
        r"\b(?:bomb|blow up) (?:your|the|ur) (?:store|shop|office|house|building|headquarters|hq)\b",
        0.9,
    ),
    (
        r"\bkill (?:yourself|urself|yourselves)\b|\bkys\b|\bgo (?:and )?die\b|\bhope (?:you|u|ya) (?:\w+ )?die\b|\bdie in a fire\b|\bdrink bleach\b",
        0.85,
    ),
    (
        r"\b(?:someone|somebody) (?:should|needs to|ought to) (?:\w+ )?(?:shoot|kill|stab|hang|beat|punch) (?:you|u|him|her|them|the ceo|your)\b",
        0.85,
    ),
    (
        r"\bi(?:ll| will) (?:break|smash) (?:your|ur) (?:legs|face|neck|jaw|skull|teeth|nose|windows)\b",
        0.9,
    ),
    (r"\bi(?:ll| will) make (?:your|ur) life (?:a )?(?:hell|miserable|living hell)\b", 0.8),
    (r"\b(?:just )?wait (?:until|till|til) i (?:find|get|see|catch)\b", 0.7),
    (r"\bwe(?:ll| will) see (?:about that|what happens)\b", 0.4),
    (r"\bdeserve(?:s)? (?:to die|to be shot|a bullet|to get hurt)\b", 0.85),
    (r"\bbullet (?:in|through) (?:your|ur) (?:head|skull|brain)\b", 0.9),
    (r"\bcount your days\b|\byour days are numbered\b|\bwatch what happens\b", 0.75),
]

INSULT_PHRASES = [
    (r"\bfuck (?:you|u|ya|yall|off|yourself|yourselves|your \w+)\b|\bf you\b|\bscrew you\b", 0.9),
    (r"\bshut (?:the fuck |the hell |your (?:mouth|face|trap) )?up\b", 0.6),
    (
        r"\bgo to hell\b|\brot in hell\b|\beat shit\b|\bsuck my (?:dick|balls|cock)\b|\bup yours\b",
        0.8,
    ),
    (r"\bpiece of (?:shit|crap|garbage|trash|filth)\b", 0.6),
    (r"\bson of a bitch\b|\bsons of bitches\b", 0.9),
    (
        r"\byou (?:stupid|dumb|ugly|fat|pathetic|worthless|filthy|brainless|useless) (?:\w+ )?(?:cow|pig|bitch|idiot|moron|fool|clown|people|loser|prick|twat|cunt|asshole|bastard|rat|piece|freak|troll|f\w*)\b",
        0.9,
    ),
    (
        r"\bwhat an? (?:absolute |complete |total |utter )?(?:idiot|moron|loser|clown|joke of a person|tool)\b",
        0.85,
    ),
    (r"\b(?:get a brain|get a life|grow a brain|nobody asked you|no one asked you)\b", 0.55),
    (r"\byour mom(?:ma)?\b(?! (?:ordered|bought|called|asked))", 0.35),
    (
        r"\b(?:youre|you are|ur|you re) (?:a |an |such a |such an )?(?:disgrace|embarrassment|joke|waste of space|waste of oxygen|waste of air|nobody)\b",
        0.6,
    ),
    (r"\bshove it up your (?:ass|arse)\b|\bkiss my (?:ass|arse)\b", 0.8),
    (r"\b(?:brain|braincell|brain cell)s? of a (?:goldfish|potato|rock|peanut)\b", 0.7),
]

ACCUSATIONS = words("""
    scam scams scammer scammers scamming fraud frauds fraudulent fraudsters liars liar thieves
    thief crooks crooked criminals rip ripoff robbery theft cheaters cheating
    """)

# fmt: off
SENTIMENT = {
    # positive
    "good": 1.9, "great": 2.4, "excellent": 2.8, "amazing": 2.8, "awesome": 2.8, "fantastic": 2.8,
    "wonderful": 2.7, "brilliant": 2.7, "perfect": 2.6, "love": 2.4, "loved": 2.4, "loving": 2.2,
    "loves": 2.4, "like": 0.8, "liked": 1.2, "nice": 1.8, "cool": 1.5, "happy": 2.2, "glad": 2.0,
    "pleased": 2.0, "satisfied": 2.0, "thanks": 1.6, "thank": 1.6, "thx": 1.4, "helpful": 2.0,
    "friendly": 1.8, "fast": 1.0, "quick": 1.0, "quickly": 0.8, "best": 2.4, "beautiful": 2.5,
    "gorgeous": 2.6, "lovely": 2.4, "recommend": 1.8, "recommended": 1.8, "superb": 2.8,
    "outstanding": 2.8, "impressive": 2.3, "impressed": 2.3, "enjoy": 2.0, "enjoyed": 2.0,
    "fun": 1.8, "delicious": 2.4, "reliable": 1.8, "smooth": 1.6, "easy": 1.2, "works": 0.8,
    "worked": 1.0, "fixed": 1.0, "solved": 1.4, "kind": 1.6, "sweet": 1.6, "fab": 2.2,
    "fabulous": 2.6, "stunning": 2.6, "incredible": 2.4, "wow": 1.8, "yay": 2.0, "bravo": 2.2,
    "kudos": 2.2, "legend": 2.0, "legendary": 2.2, "top": 1.4, "favourite": 2.0, "favorite": 2.0,
    "grateful": 2.2, "appreciate": 2.0, "appreciated": 2.0, "excited": 2.2, "exciting": 2.0,
    "comfortable": 1.6, "well": 0.6, "fine": 0.8, "keep it up": 2.0, "well done": 2.4,
    "thank you": 2.0, "nailed it": 2.4, "killed it": 2.4, "killing it": 2.4, "goat": 1.4,
    "lit": 1.4, "dope": 1.8, "epic": 2.0, "stellar": 2.4, "flawless": 2.6, "courteous": 1.8,
    "polite": 1.6, "professional": 1.4, "worth": 1.2,
    # negative
    "bad": -2.0, "terrible": -2.8, "awful": -2.8, "horrible": -2.8, "horrendous": -2.8,
    "worst": -3.0, "worse": -2.2, "poor": -2.0, "poorly": -2.0, "disappointed": -2.2,
    "disappointing": -2.2, "disappointment": -2.2, "angry": -2.4, "furious": -2.8, "upset": -2.0,
    "annoyed": -2.0, "annoying": -2.0, "frustrated": -2.2, "frustrating": -2.2, "hate": -2.7,
    "hated": -2.6, "hates": -2.6, "unacceptable": -2.6, "ridiculous": -2.2, "outrageous": -2.6,
    "broken": -2.0, "broke": -1.8, "breaks": -1.6, "crash": -1.6, "crashes": -1.8, "crashed": -1.8,
    "crashing": -1.8, "bug": -1.2, "buggy": -2.0, "bugs": -1.2, "slow": -1.4, "late": -1.2,
    "delayed": -1.4, "delay": -1.2, "missing": -1.4, "lost": -1.4, "damaged": -1.8,
    "defective": -1.8, "faulty": -1.8, "wrong": -1.4, "error": -1.2, "errors": -1.2,
    "problem": -1.2, "problems": -1.2, "issue": -0.8, "issues": -0.8, "fail": -2.0, "failed": -2.0,
    "fails": -2.0, "failure": -2.2, "useless": -2.4, "incompetent": -2.6, "pathetic": -2.6,
    "joke": -1.2, "disgrace": -2.6, "shameful": -2.6, "shame": -2.0, "scam": -2.6, "fraud": -2.6,
    "ripoff": -2.6, "overpriced": -2.0, "expensive": -1.0, "rude": -2.4, "unhelpful": -2.2,
    "ignored": -2.0, "ignores": -2.0, "ignoring": -2.0, "waiting": -0.8, "waited": -1.0,
    "wait": -0.6, "still": -0.3, "sad": -2.0, "sucks": -2.2, "crap": -1.6, "crappy": -2.4,
    "shit": -1.4, "shitty": -2.6, "garbage": -2.4, "trash": -2.4, "junk": -2.2, "stupid": -2.0,
    "dumb": -2.0, "disgusting": -2.8, "nightmare": -2.6, "mess": -2.0, "chaos": -2.0, "hell": -1.6,
    "never again": -2.6, "refund": -0.4, "complaint": -1.4, "complain": -1.4, "cancel": -0.8,
    "cancelled": -1.2, "canceled": -1.2, "unsubscribe": -1.2, "worthless": -2.6, "misleading": -2.2,
    "lied": -2.4, "lies": -2.2, "confusing": -1.4, "complicated": -1.0, "nobody": -0.8,
    "unreliable": -2.2, "sick of": -2.4, "fed up": -2.4, "tired of": -2.0, "no response": -2.0,
    "no answer": -1.8, "no reply": -1.8, "doesnt work": -2.0, "not working": -2.0,
    "dont work": -2.0, "stopped working": -2.2, "fuck": -1.0, "wtf": -1.6, "idiot": -2.6,
    "moron": -2.6, "dead": -1.4, "threat": -1.6, "ugly": -2.4, "dirty": -1.8, "cold": -0.6,
    "scratched": -1.6, "tore": -1.4, "torn": -1.6, "ruined": -2.4, "ruin": -2.2,
    "awful service": -3.0, "inexcusable": -2.6, "unprofessional": -2.4, "disrespectful": -2.4,
    "lousy": -2.4, "fuming": -2.6, "shambles": -2.6, "disaster": -2.6, "rip off": -2.4,
    "ripped off": -2.4, "unbelievable": -1.6, "embarrassing": -2.0, "insult": -2.0,
    "insulting": -2.2, "theft": -2.2, "robbery": -2.2, "hazard": -1.6, "unplayable": -2.4,
    "seriously": -0.8, "lawyer": -1.4, "thanks for nothing": -3.6, "reporting you": -2.0,
    "ombudsman": -1.4, "ofcom": -1.2, "stuck": -1.2, "never ordered": -1.8, "charged": -0.6,
    "gone up": -1.2, "tone deaf": -2.2, "hypocritical": -2.4, "biased": -2.0, "one sided": -1.8,
    "lying": -2.4, "thanks in advance": -1.4, "slaps": 2.0, "wicked": 1.2, "cant complain": 2.4,
    "fuck yeah": 3.0, "holy shit": 1.0, "holy crap": 1.0, "respect": 1.8, "balanced": 1.2,
    "factual": 0.8, "finally": 0.6, "mediocre": -1.6, "meh": -1.0, "ugh": -1.6, "sigh": -1.0,
    "anyone home": -1.2,
}
# fmt: on

PERSON_NOUNS = words("""
    moderator moderators mod mods presenter presenters host hosts reporter reporters journalist
    journalists ceo ceos manager managers boss staff agent agents employee employees rep reps guy
    guys person people man woman men women dude lady bloke girl boy developer developers devs dev
    conductor conductors driver drivers admin admins teller cashier clerk operator operators
    intern interns human humans being individual creature idiots
    """)
THIRD_PERSON_COPULAS = words("is are was were hes shes theyre")
TARGETED_EVALUATIVES.update(
    {
        "dumber": 0.75, "dumbest": 0.85, "stupider": 0.75, "stupidest": 0.85, "talentless": 0.6,
        "spineless": 0.65, "thick": 0.55, "clueless": 0.55, "gutless": 0.6, "witless": 0.75,
        "moronic": 0.75, "ugliest": 0.8, "overpaid": 0.3,
    }
)  # fmt: skip
INSULT_NOUNS.update(
    {
        "donkey": 0.5, "jerk": 0.7, "numpty": 0.7, "snowflake": 0.55, "worm": 0.5, "coward": 0.6,
        "hack": 0.4, "monkey": 0.45, "monkeys": 0.5, "potato": 0.1, "wanker": 0.9, "plonker": 0.7,
        "prat": 0.7, "berk": 0.65, "doofus": 0.75, "dingus": 0.6, "dipshit": 0.9, "dumbo": 0.7,
        "twit": 0.7, "nonce": 0.85, "tool": 0.2, "sheep": 0.2, "karen": 0.45, "incel": 0.7,
        "weirdo": 0.55, "peasant": 0.5, "gremlin": 0.45, "goblin": 0.3,
    }
)  # fmt: skip
INSULT_PHRASES += [
    (
        r"\b(?:two|2|three|3) (?:brain ?cells|braincells|functioning brain cells)\b|\bnothing between (?:your|his|her|their) ears\b",
        0.6,
    ),
    (
        r"\bjoke of an? (?:human being|human|person|man|woman|moderator|presenter|reporter|ceo)\b",
        0.7,
    ),
    (
        r"\bwhat an? (?:\w+ )?(?:pathetic|useless|stupid|dumb|sad|ugly) (?:little )?(?:\w+ )?(?:man|woman|person|worm|creature|loser|clown)\b",
        0.8,
    ),
    (r"\b(?:too|so) (?:dumb|stupid|thick|dense) to\b", 0.65),
    (r"\b(?:go )?cry (?:to|me) (?:your|a) (?:manager|mommy|mummy|mum|mom|river)\b", 0.5),
    (
        r"\bbunch of (?:\w+ )?(?:clowns|monkeys|idiots|morons|muppets|donkeys|amateurs|losers|chimps)\b",
        0.7,
    ),
    (r"\byou look like (?:a |an )?\w+\b", 0.35),
]
THREAT_PHRASES += [
    (
        r"\bi know where (?:your|ur|the|you|his|her) (?:\w+ ){0,2}(?:is|are|lives|live|works|parks|sleeps)\b",
        0.75,
    ),
    (
        r"\bi (?:have|got|know) (?:your|ur|his|her) (?:home )?(?:address|plate|number plate|registration)\b",
        0.75,
    ),
    (r"\bsee you soon\b|\bsee you around\b", 0.4),
    (
        r"\b(?:come|coming) (?:down )?(?:there|round|over) and (?:\w+ ){0,2}(?:smash|break|wreck|trash|hurt|sort)\b",
        0.8,
    ),
    (
        r"\b(?:smash|wreck|trash) (?:every|all|your|the) (?:\w+ )?(?:window|windows|shop|store|office|car|face)\b",
        0.75,
    ),
    (
        r"\b(?:fist|punch|knife|bullet|brick) (?:to|in|through) (?:the|your|his|her) (?:face|head|window|gut|chest)\b",
        0.8,
    ),
    (
        r"\b(?:hope|hoping|wish|pray) (?:that )?(?:\w+ ){0,4}(?:gets? (?:hit|run over|killed|shot|stabbed|hurt|cancer)|dies|die|rot|rots|burns|burn|crash and die)\b",
        0.8,
    ),
    (
        r"\b(?:ill|i will|im going to|im gonna|i swear ill) (?:make sure )?(?:you|u|they|he|she) (?:never|dont|wont) (?:\w+ ){0,2}(?:again|walk|work)\b",
        0.6,
    ),
    (r"\bi know people\b", 0.45),
    (
        r"\b(?:someone|somebody|someones|somebodys|people) (?:is |are )?(?:getting|gets|get|going to get|gonna get) (?:hurt|shot|stabbed|killed|beaten)\b",
        0.8,
    ),
    (
        r"\bput (?:you|u|him|her|them) in (?:the )?(?:hospital|ground|grave|a coffin|a wheelchair)\b",
        0.9,
    ),
    (r"\bdeserves? (?:a |to get )?(?:bomb|bullet|beating|bombing|to burn|a slap)\b", 0.8),
    (r"\bsettle (?:this|it) (?:outside|in person|the old fashioned way)\b", 0.7),
    (
        r"\b(?:im|i am|ill be|i will be|were|well be) (?:outside|at|waiting (?:at|outside|for you at)) (?:your|ur) (?:office|house|home|door|store|shop|branch|studio|car)\b",
        0.7,
    ),
    (
        r"\b(?:check|look) under (?:your|her|his|their) car\b|\bwalk (?:\w+ ){0,4}alone\b|\bshouldnt (?:\w+ ){0,3}alone\b",
        0.75,
    ),
    (r"\b(?:get|gets|getting) whats coming\b|\bwhats coming to (?:you|u|them|him|her)\b", 0.75),
    (
        r"\bhow (?:brave|tough|hard|big|funny|smart) (?:you are|youll be|you will be) when\b|\bwhen im at your door\b|\bat your (?:front )?door\b",
        0.6,
    ),
    (r"\bgonna (?:regret|pay)\b|\bwill regret (?:it|this|that)\b", 0.7),
]
PROFANITY.update(
    {
        "damn": 0.55, "damned": 0.55, "dammit": 0.55, "goddamn": 0.6, "goddammit": 0.6,
        "goddamned": 0.6, "crap": 0.55, "crappy": 0.5, "bloody": 0.5, "piss": 0.55,
        "pissed": 0.5, "ass": 0.5, "arse": 0.5, "bollocks": 0.55, "bugger": 0.5, "frigging": 0.45,
        "feck": 0.55, "shitty": 0.65, "shite": 0.6,
    }
)  # fmt: skip
PROFANITY_PHRASES = [
    (r"\b(?:what|where|who|why|how) the (?:hell|heck|fuck|f)\b|\bthe hell\b", 0.55),
    (
        r"\bhell (?:no|yeah|yes)\b|\bbloody hell\b|\bholy (?:crap|shit|hell|fuck|cow)\b|\bgo to hell\b",
        0.55,
    ),
    (r"\bpiss ?poor\b|\bpissing (?:down|me off)\b|\bpisses me off\b", 0.55),
    (r"\bass[ -]?(?:freezing|kicking|backwards)\b|\bpain in the (?:ass|arse)\b", 0.55),
    (r"\bload of (?:crap|shit|bollocks|rubbish)\b", 0.55),
]
HATE_GROUP_PHRASES = [
    r"\b(?:old|black|trans|disabled|gay|chinese|asian|indian|jewish|muslim|brown) (?:people|folk|folks|women|men|guys)\b",
    r"\bthose people\b",
]
HATE_PREDICATES = [
    r"out",
    r"deport\w*",
    r"send (?:\w+ )?back|go back|back where",
    r"dont belong|do not belong",
    r"shouldnt be (?:allowed|working|hired)|should not be allowed",
    r"kitchen",
    r"controls?",
    r"cant be trusted|cant (?:drive|work|think|read|understand|speak)",
    r"typical",
    r"dirty|filthy",
    r"criminals|rapists|thieves|stealing|steal",
    r"lazy",
    r"mentally ill|sick in the head",
    r"useless",
    r"nothing but",
    r"stop hiring",
    r"invasion|invading|replacement",
    r"disgusting|vermin|animals",
    r"are all",
    r"ruining|ruin",
]
