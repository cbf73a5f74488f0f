"""German vocabulary of the lexicon classifier (moderation.classifiers.lexicon).

Words are written lower case with umlauts folded (ä→ae, ö→oe, ü→ue, ß→ss), as the classifier
folds every text the same way before it looks words up; inflected forms (-e, -en, -er, -s ...)
are derived when the tables are compiled, so each word family needs its base form only.
Weights: toxicity entries 0..1 (how sure one hit alone makes us), sentiment entries -3..3.
Phrases are regular expressions over the folded text, one space between words.
"""

# Patterns stay one per line so each reads (and diffs) as one unit, however long.
# ruff: noqa: E501

from __future__ import annotations

from moderation.classifiers.lexicon_shared import words

# Function words that say "this is German"; chosen to be rare as English words.
STOPWORDS = words("""
    der die das den dem des ein eine einen einem einer eines und oder aber ist sind war waren
    bin bist seid hat haben habe hast hatte nicht kein keine keinen keiner ich du er sie es wir
    ihr mich dich sich uns euch mir dir ihm ihnen mein meine meinen dein deine euer eure unser
    sein seine mit von zu zum zur auf fuer bei nach aus ueber unter vor noch schon auch nur
    sehr wie was wer wo warum wann weil dass wenn ob doch mal jetzt hier dort heute gestern
    morgen immer nie nichts etwas alles viel mehr bitte danke ja nein gibt geht kann koennt
    koennen muss muessen soll wird werden wurde wieder seit bis gegen ohne durch um also dann
    denn sondern weder wirklich einfach gar eigentlich leider hallo moin servus tschuess
    in im am an so also man gerade bin
    """)

SECOND_PERSON = words("du dich dir ihr euch")
COPULAS = words("bist seid bleibst bleibt wirst werdet warst wart")
NEGATORS = words("nicht kein keine keinen keinem keiner keines nie niemals nichts ohne")
# fmt: off
INTENSIFIERS = {
    "sehr": 1.5, "echt": 1.4, "total": 1.5, "voellig": 1.5, "absolut": 1.6, "wirklich": 1.4,
    "richtig": 1.3, "extrem": 1.7, "mega": 1.5, "verdammt": 1.4, "sau": 1.4, "super": 1.3,
    "so": 1.3, "ziemlich": 1.2, "unglaublich": 1.6, "besonders": 1.3, "voll": 1.3, "komplett": 1.5,
    "wahnsinnig": 1.5, "abartig": 1.5, "einfach": 1.1,
}
# fmt: on

# Nouns that name a person as worthless or stupid: an insult whoever they are aimed at.
# fmt: off
INSULT_NOUNS = {
    "idiot": 0.85, "vollidiot": 0.9, "trottel": 0.8, "depp": 0.8, "vollpfosten": 0.85,
    "pfosten": 0.5, "arschloch": 0.95, "arschgeige": 0.9, "arschkriecher": 0.85, "wichser": 0.95,
    "hurensohn": 0.95, "schlampe": 0.9, "fotze": 0.95, "miststueck": 0.9, "drecksau": 0.9,
    "dreckschwein": 0.9, "sau": 0.55, "schwein": 0.5, "penner": 0.8, "versager": 0.8, "spast": 0.9,
    "spasti": 0.9, "mongo": 0.9, "missgeburt": 0.95, "bastard": 0.85, "affe": 0.45, "dummkopf": 0.8,
    "schwachkopf": 0.85, "hohlkopf": 0.85, "holzkopf": 0.75, "dumpfbacke": 0.85, "hohlbirne": 0.85,
    "spatzenhirn": 0.85, "flachzange": 0.85, "knalltuete": 0.75, "witzfigur": 0.75, "lappen": 0.55,
    "lauch": 0.5, "opfer": 0.35, "loser": 0.8, "schwachmat": 0.85, "vollhonk": 0.85, "honk": 0.8,
    "kackbratze": 0.9, "bratze": 0.8, "hackfresse": 0.9, "dreckspack": 0.9, "gesindel": 0.75,
    "pack": 0.3, "kretin": 0.85, "tussi": 0.6, "zicke": 0.6, "heulsuse": 0.65, "schmarotzer": 0.75,
    "drecksack": 0.9, "sackgesicht": 0.9, "pisser": 0.9, "schwanzlutscher": 0.95,
    "evolutionsbremse": 0.85, "nichtsnutz": 0.8, "dulli": 0.7, "bloedmann": 0.8, "dussel": 0.7,
    "simpel": 0.5, "kasper": 0.5, "clown": 0.55, "pappnase": 0.75,
}
# fmt: on

# Heads that make an insult of any German compound ("Oberidiot", "Riesenarschloch").
# fmt: off
INSULT_HEADS = {
    "idiot": 0.85, "trottel": 0.8, "depp": 0.8, "arschloch": 0.95, "wichser": 0.95, "versager": 0.8,
    "schwachkopf": 0.85, "hurensohn": 0.95, "pfosten": 0.8, "honk": 0.8, "penner": 0.75,
    "schlampe": 0.9,
}
# fmt: on
# Heads that insult only after an abusive prefix ("Dummkopf" but not "Duschkopf").
# fmt: off
RESTRICTED_HEADS = {
    "kopf": 0.8, "birne": 0.8, "hirn": 0.8, "sack": 0.85, "schwein": 0.85, "sau": 0.85,
    "stueck": 0.85, "gesicht": 0.85, "fresse": 0.85, "backe": 0.8, "bratze": 0.85, "affe": 0.8,
    "lappen": 0.75, "nase": 0.7, "kuh": 0.8, "ziege": 0.8, "hund": 0.8, "zwerg": 0.75,
}
# fmt: on
ABUSIVE_PREFIXES = words("""
    dumm dummbatz hohl holz schwach dreck drecks mist kack scheiss voll ober riesen spatzen
    blöd bloed doof bekloppt spacko spack schaf arsch affen sack pisse piss flach kotz
    """)

# Words that insult a person but only describe a thing ("du bist dumm" / "dumme Idee").
# fmt: off
TARGETED_EVALUATIVES = {
    "dumm": 0.75, "bloed": 0.7, "doof": 0.65, "bescheuert": 0.75, "bekloppt": 0.75,
    "behindert": 0.85, "gestoert": 0.7, "geisteskrank": 0.8, "krank": 0.5, "hirnlos": 0.8,
    "hirnverbrannt": 0.8, "hohl": 0.65, "haesslich": 0.75, "fett": 0.65, "widerlich": 0.7,
    "ekelhaft": 0.7, "abstossend": 0.7, "erbaermlich": 0.7, "armselig": 0.65, "wertlos": 0.75,
    "abschaum": 0.9, "muell": 0.75, "mist": 0.7, "dreck": 0.75, "scheisse": 0.8, "peinlich": 0.45,
    "verblödet": 0.8, "verbloedet": 0.8, "unterbelichtet": 0.75, "minderbemittelt": 0.75,
    "schwachsinnig": 0.75, "geistig": 0.3, "dreckig": 0.6, "assi": 0.8, "asozial": 0.7,
    "kaputt": 0.4,
}
# fmt: on

# Profanity: vulgar words whoever they are about (weight: how vulgar).
# fmt: off
PROFANITY = {
    "scheisse": 0.65, "scheiss": 0.65, "scheisser": 0.7, "kacke": 0.55, "kack": 0.55, "mist": 0.25,
    "mistding": 0.35, "verdammt": 0.3, "verdammte": 0.3, "verflucht": 0.3, "verfickt": 0.85,
    "verfickte": 0.85, "fick": 0.85, "ficken": 0.85, "fickt": 0.85, "gefickt": 0.85, "arsch": 0.6,
    "arschloch": 0.7, "pisse": 0.6, "fotze": 0.85, "wichser": 0.75, "hure": 0.75, "schlampe": 0.6,
    "fresse": 0.6, "scheissegal": 0.55, "beschissen": 0.6, "bescheissen": 0.4, "angeschissen": 0.6,
    "verarscht": 0.35, "verarschen": 0.35, "verarsche": 0.35, "kotzen": 0.4, "ankotzen": 0.5,
    "kotzt": 0.45, "titten": 0.7, "schwanz": 0.4, "drecks": 0.55, "drecksladen": 0.6,
    "dreckding": 0.55,
}
# fmt: on
# Prefixes that make any compound vulgar ("Drecksladen", "Scheißfirma", "Kackservice").
PROFANE_PREFIXES = {"drecks": 0.55, "scheiss": 0.65, "kack": 0.55, "fick": 0.85, "pisse": 0.6}

# Group nouns and slurs, for hate: a slur alone, or a group called vermin.
# fmt: off
HATE_SLURS = {
    "kanake": 0.95, "kanacke": 0.95, "neger": 0.95, "negerin": 0.95, "zigeuner": 0.85,
    "schwuchtel": 0.95, "judensau": 0.98, "kameltreiber": 0.9, "kopftuchmaedchen": 0.85,
    "musel": 0.9, "moslemschwein": 0.98, "schlitzauge": 0.95, "fidschi": 0.85, "bimbo": 0.9,
    "untermensch": 0.95, "transe": 0.8, "asylant": 0.6, "asylanten": 0.6, "volksverraeter": 0.6,
    "kinderficker": 0.9,
}
# fmt: on
GROUPS = words("""
    auslaender auslander ossis wessis fluechtlinge fluechtling migranten migrant muslime moslems muslim juden jude
    tuerken tuerke araber afrikaner schwarze schwule lesben homos transen trans frauen weiber
    behinderte polen rumaenen roma sinti asylbewerber zuwanderer kopftuchtraeger islamisten
    asiaten chinesen russen ukrainer syrer afghanen nordafrikaner orientalen
    """)
DEHUMANISING = words("""
    tiere viecher ratten parasiten ungeziefer abschaum dreck pack gesindel untermenschen
    kakerlaken pest seuche krankheit plage schmarotzer vieh schaedlinge muell
    """)
HATE_PHRASES = [
    (r"\b(?:auslaender|fluechtlinge|kanaken|juden|muslime|moslems|tuerken|asylanten) raus\b", 0.9),
    (r"\b(?:vergasen|vergast|ausrotten|ausgerottet)\b", 0.85),
    (
        r"\bgeh(?:t|en)? (?:zurueck )?(?:in|nach) (?:dein|euer|ihr) (?:eigenes )?(?:land|heimatland)\b",
        0.8,
    ),
    (r"\bzurueck (?:in|nach) (?:dein|euer) (?:eigenes )?(?:land|heimatland)\b", 0.75),
    (
        r"\b(?:gehoeren|gehoert|sollte man|muss man|muesste man) (?:alle |die |euch |sie )?(?:abgeschoben|vergast|erschossen|aufgehaengt|ausgerottet|weggesperrt)\b",
        0.85,
    ),
    (
        r"\bscheiss (?:auslaender|juden|muslime|moslems|tuerken|schwule|kanaken|fluechtlinge|zigeuner|polen|russen)\b",
        0.9,
    ),
]

# Threats and calls for violence, as phrases.
THREAT_PHRASES = [
    (
        r"\b(?:ich|wir) weiss?e? (?:genau )?wo (?:du|ihr|sie|dein|euer) (?:\w+ )?(?:wohnst|wohnt|wohnen|lebst|lebt|haus|laden|buero|filiale)",
        0.9,
    ),
    (
        r"\b(?:ich|wir) (?:finde|finden|kriege|kriegen|krieg|erwische|erwischen|hole|holen|krieg) (?:dich|euch)\b",
        0.8,
    ),
    (r"\b(?:ich|wir) (?:bring|bringe|bringen) (?:dich|euch|sie|den|die) (?:\w+ ){0,3}um\b", 0.95),
    (
        r"\bumbringen\b|\bumlegen\b|\babstechen\b|\babknallen\b|\bkaltmachen\b|\baufschlitzen\b|\babmurksen\b",
        0.7,
    ),
    (r"\b(?:abfackeln|anzuenden|anzünden|in die luft (?:jagen|sprengen))\b", 0.8),
    (r"\b(?:zuende|zuenden|fackle|fackel|fackeln) (?:\w+ ){0,3}(?:an|ab)\b", 0.75),
    (
        r"\b(?:das|des) (?:wirst|werdet) (?:du|ihr) (?:noch )?bereuen\b|\b(?:du|ihr) (?:wirst|werdet) (?:das |es )?(?:noch )?bereuen\b",
        0.85,
    ),
    (r"\bpass(?:t)? (?:bloss|lieber|nur|mal) auf\b", 0.6),
    (
        r"\b(?:ich|wir) (?:mach|mache|machen) (?:dich|euch) (?:\w+ )?(?:fertig|kalt|platt|alle)\b",
        0.85,
    ),
    (
        r"\b(?:ich|wir) (?:schlag|schlage|schlagen|hau|haue|hauen|box|boxe|pruegel|pruegle|pruegeln|stech|steche) (?:dich|euch|dir|dein|deine|euer|eure)\b",
        0.85,
    ),
    (r"\b(?:ich|wir) (?:komme|kommen|komm) (?:\w+ ){0,3}vorbei und\b", 0.6),
    (
        r"\b(?:du|ihr) (?:bist|seid) (?:so )?(?:gut wie )?tot\b|\b(?:du|ihr) (?:bist|seid) (?:als naechste[rs]? )?dran\b",
        0.85,
    ),
    (r"\bwarte (?:nur|ab)(?:,)? (?:bis|wenn) (?:ich|wir)\b", 0.7),
    (r"\bwir sehen uns (?:noch|bald)\b(?! im laden| in der filiale)", 0.45),
    (
        r"\b(?:man sollte|sollte man|gehoert|gehoeren) (?:euch|dich|den|die|ihn|sie) (?:\w+ ){0,2}(?:erschiessen|erschossen|aufhaengen|aufgehaengt|verpruegeln|abstechen|umbringen|anzuenden)\b",
        0.9,
    ),
    (
        r"\b(?:ich|wir) (?:werde|werden) (?:dich|euch|dir|dein|deine|euer) (?:\w+ ){0,3}(?:zerstoeren|ruinieren|kaputt machen|fertig machen|vernichten|weh tun)\b",
        0.8,
    ),
    (
        r"\bbombe (?:in|vor|unter) (?:eurer?|deine[rm]?|der|die|den)\b|\b(?:bombe|sprengsatz) (?:legen|zuenden|hochgehen)\b",
        0.9,
    ),
    (
        r"\b(?:geh|gehe|geht) sterben\b|\bhoffentlich (?:stirbst|sterbt|verreckst|verreckt)\b|\bverreck(?:e|t)?\b",
        0.75,
    ),
    (r"\bbring dich um\b|\bhaeng dich auf\b", 0.9),
    (r"\bkugel (?:in|durch) (?:den|deinen|euren) kopf\b", 0.9),
    (r"\bihr (?:werdet|wirst) (?:schon )?sehen,? was (?:passiert|ihr davon habt)\b", 0.7),
    (r"\bdas (?:hat|wird) (?:noch )?(?:folgen|konsequenzen) (?:fuer dich|fuer euch)\b", 0.45),
]

# Insults that are phrases rather than words.
INSULT_PHRASES = [
    (r"\bhalt(?:s|et|'s)? (?:die|deine|eure|das|dein|euer) (?:fresse|schnauze|maul|klappe)\b", 0.8),
    (r"\bhalt(?:s|et)? maul\b|\bfresse halten\b|\bmaul halten\b", 0.8),
    (r"\bfick (?:dich|euch|deine mutter|dich ins knie)\b|\bfickt euch\b", 0.95),
    (r"\bverpiss (?:dich|euch)\b|\bverpisst euch\b", 0.85),
    (r"\bgeh (?:doch )?(?:kacken|scheissen)\b", 0.75),
    (r"\b(?:du|ihr) (?:kannst|koennt) mich mal\b|\bleck mich\b", 0.75),
    (
        r"\bdu (?:dumme|bloede|doofe|fette|haessliche|hohle|bekloppte|kranke) (?:kuh|sau|ziege|nuss|schlampe|tussi|fotze|ratte|sau|missgeburt|kartoffel)\b",
        0.9,
    ),
    (r"\b(?:hurensoehne|hurenkinder)\b", 0.95),
    (r"\bdeine mutter\b(?! hat bestellt| hat angerufen)", 0.4),
    (r"\b(?:stueck|haufen) (?:scheisse|dreck|mist|muell)\b", 0.6),
    (r"\bdu (?:bist|warst) (?:ein )?(?:witz|lachnummer|schande)\b", 0.55),
    (
        r"\bnicht (?:alle|mehr alle) tassen im schrank\b|\bnicht ganz dicht\b|\beinen an der waffel\b",
        0.6,
    ),
]

# Accusations against a company ("Betrüger", "Abzocke"): criticism, not an insult.
ACCUSATIONS = words("""
    betrueger betrug abzocke abzocker abzockerei luegner dieb diebe diebstahl
    verbrecher kriminell kriminelle halsabschneider wucher scharlatane
    """)

# Sentiment: -3..3, as in the English table; words only, emojis are shared.
# fmt: off
SENTIMENT = {
    # positive
    "gut": 1.8, "super": 2.0, "toll": 2.2, "klasse": 2.0, "prima": 2.0, "spitze": 2.3, "top": 2.0,
    "perfekt": 2.5, "grossartig": 2.8, "hervorragend": 2.8, "ausgezeichnet": 2.8, "wunderbar": 2.6,
    "wunderschoen": 2.6, "schoen": 1.8, "schnell": 1.0, "freundlich": 1.8, "hilfreich": 1.9,
    "zufrieden": 2.0, "begeistert": 2.6, "geil": 2.0, "genial": 2.6, "mega": 1.2, "danke": 1.6,
    "dankeschoen": 2.0, "vielen dank": 2.0, "lieben": 2.4, "liebe": 2.0, "liebt": 2.2,
    "empfehlen": 1.8, "empfehlenswert": 2.2, "freue": 1.8, "freuen": 1.8, "froh": 1.8,
    "gluecklich": 2.2, "lecker": 2.0, "bequem": 1.5, "zuverlaessig": 1.8, "kompetent": 1.8,
    "unkompliziert": 1.6, "problemlos": 1.6, "reibungslos": 1.6, "klappt": 1.2, "geklappt": 1.3,
    "funktioniert": 1.0, "passt": 1.0, "beste": 2.4, "besten": 2.4, "bester": 2.4, "lob": 2.0,
    "bravo": 2.2, "wow": 1.8, "fantastisch": 2.8, "traumhaft": 2.6, "herrlich": 2.4,
    "wahnsinn": 1.5, "krass": 0.8, "cool": 1.6, "nett": 1.6, "hilfsbereit": 2.0, "kulant": 1.8,
    "souveraen": 1.6, "tip": 0.6, "lieblings": 1.8, "gerne": 1.2, "gern": 1.0, "respekt": 1.6,
    "gelungen": 2.0, "ueberzeugt": 1.8, "ueberragend": 2.8, "endlich": 0.4, "stark": 1.4,
    "qualitaet": 0.2, "weiter so": 2.0, "empfehle": 1.8, "angenehm": 1.6, "fair": 1.4,
    # negative
    "schlecht": -2.0, "schlechter": -2.0, "schlechteste": -2.8, "mies": -2.2, "miserabel": -2.8,
    "furchtbar": -2.6, "schrecklich": -2.6, "katastrophe": -2.8, "katastrophal": -2.8,
    "enttaeuscht": -2.2, "enttaeuschend": -2.2, "enttaeuschung": -2.2, "aergerlich": -2.0,
    "aergere": -1.8, "aerger": -1.6, "sauer": -1.6, "wuetend": -2.4, "unverschaemt": -2.6,
    "unverschaemtheit": -2.6, "frechheit": -2.6, "inakzeptabel": -2.6, "unmoeglich": -2.0,
    "unzumutbar": -2.6, "langsam": -1.2, "kaputt": -1.8, "defekt": -1.8, "beschaedigt": -1.8,
    "fehlerhaft": -1.8, "fehler": -1.2, "problem": -1.2, "probleme": -1.2, "stoerung": -1.4,
    "warte": -0.8, "warten": -0.8, "wartezeit": -1.0, "ignoriert": -2.0, "ignoriere": -1.6,
    "unfaehig": -2.4, "inkompetent": -2.4, "nutzlos": -2.2, "sinnlos": -1.8, "unbrauchbar": -2.4,
    "peinlich": -2.0, "laecherlich": -2.2, "traurig": -1.8, "schade": -1.4, "leider": -1.0,
    "nervig": -1.8, "nervt": -1.8, "genervt": -2.0, "frustrierend": -2.2, "frustriert": -2.2,
    "abzocke": -2.6, "betrug": -2.6, "betrueger": -2.6, "verarsche": -2.4, "verarscht": -2.4,
    "mist": -1.8, "muell": -2.2, "schrott": -2.4, "scheisse": -1.4, "scheiss": -1.8,
    "beschissen": -2.6, "hass": -2.6, "hasse": -2.6, "grauenhaft": -2.8, "grottig": -2.6,
    "grottenschlecht": -2.8, "zumutung": -2.4, "reklamation": -1.0, "beschwerde": -1.4,
    "storniert": -0.8, "verspaetet": -1.4, "verspaetung": -1.4, "verloren": -1.4, "falsch": -1.2,
    "teuer": -1.2, "ueberteuert": -2.0, "ausgeblichen": -1.6, "unfreundlich": -2.2,
    "respektlos": -2.2, "dreist": -2.2, "nie wieder": -2.4, "niemals wieder": -2.6, "schlimm": -2.0,
    "schlimmer": -2.0, "schlimmste": -2.6, "fehlt": -1.0, "fehlen": -1.0, "umstaendlich": -1.4,
    "kompliziert": -1.0, "verwirrend": -1.2, "dumm": -1.8, "bloed": -1.8, "doof": -1.6,
    "bescheuert": -2.2, "hirnlos": -2.2, "ekelhaft": -2.6, "widerlich": -2.6, "idiot": -2.6,
    "tot": -1.6, "drohung": -1.6, "schande": -2.4, "unterirdisch": -2.6, "bodenlos": -2.4,
    "hoffnungslos": -2.2, "chaos": -2.0, "chaotisch": -2.0, "stuerzt": -1.6, "abgestuerzt": -1.8,
    "absturz": -1.6, "haengt": -1.0, "zerkratzt": -1.6, "gerissen": -1.4, "kaputtgegangen": -1.8,
    "erstattung": -0.3, "rueckerstattung": -0.3, "zurueckgeschickt": -0.6, "verzweifelt": -2.2,
    "zornig": -2.2, "kuendige": -0.8, "kuendigen": -0.8, "gekuendigt": -1.6, "noch immer": -0.8,
    "immer noch": -0.8, "keine antwort": -1.8, "nicht erreichbar": -1.8, "dauerbesetzt": -1.8,
    "ueberfordert": -1.8, "unzuverlaessig": -2.2, "mangelhaft": -2.2, "ungenuegend": -2.4,
    "wucher": -2.2, "abgezockt": -2.6, "eklig": -2.4, "versagt": -2.2, "funktioniert nicht": -2.0,
    "geht nicht": -1.2, "klappt nicht": -1.8, "verschlechtert": -1.8, "stinksauer": -2.8,
    "unfassbar": -1.6, "skandal": -2.6, "skandaloes": -2.6, "geschmacklos": -2.4,
    "heuchlerisch": -2.4, "einseitig": -1.8, "unprofessionell": -2.4, "schaemt euch": -2.6,
    "ruiniert": -2.2, "ruinieren": -2.2, "unspielbar": -2.4, "angelogen": -2.6, "luegt": -2.4,
    "luegen": -2.2, "gelogen": -2.4, "schmarrn": -2.0, "zerstoert": -2.2, "tolle wurst": -2.4,
    "ernsthaft": -0.8, "mir reichts": -2.6, "anwalt": -1.4, "klage": -1.6,
    "verbraucherzentrale": -1.4, "beschweren": -1.4, "wo bleibt": -1.2, "nie bestellt": -1.8,
    "abgebucht": -0.6, "gestiegen": -1.2, "danke fuer nichts": -3.6, "danke fuer nix": -3.6,
    "danke im voraus": -1.4, "gefaelligkeitsveranstaltung": -2.2, "hammer": 1.6, "chapeau": 2.4,
    "puenktlich": 1.4, "kann mich nicht beschweren": 2.6, "geflogen": -0.6, "stimmt": 0.6,
    "schwach": -1.4, "dreck": -2.2, "lahm": -1.8, "hauptsache": -0.6,
}
# fmt: on

# People a text can insult by name of their role ("die Moderatorin ist ne hohle Nuss").
PERSON_NOUNS = words("""
    moderator moderatorin moderatoren mitarbeiter mitarbeiterin mitarbeiterinnen typ typen tante
    kerl kerle chef chefin chefs manager managerin praktikant praktikantin praktikanten berater
    beraterin bankberater kundenberater schaffner schaffnerin zugbegleiter zugbegleiterin fahrer
    fahrerin busfahrer lokfuehrer entwickler entwicklerin programmierer leute menschen mensch
    person personen frau mann kollege kollegin kollegen reporter reporterin journalist
    journalistin sprecher sprecherin agent agentin vorstand vorstaende politiker nuss kuh ziege
    sau nudel bratze gestalt gestalten
    """)
THIRD_PERSON_COPULAS = words("ist sind war waren is bleibt")
# Evaluatives that also insult as compounds: "strunzdoof", "saudumm".
TARGETED_EVALUATIVES.update(
    {
        "duemmer": 0.75, "duemmste": 0.85, "duemmsten": 0.85, "bloeder": 0.7,
        "strunzdoof": 0.8, "strohdoof": 0.8, "saudoof": 0.8, "stockdoof": 0.8, "saudumm": 0.8,
        "strohdumm": 0.8, "grottendumm": 0.8, "gehirnamputiert": 0.85, "hirnamputiert": 0.85,
        "unterbelichtet": 0.75, "talentfrei": 0.6, "widerlicher": 0.7, "hirnlose": 0.8,
        "feige": 0.55, "verlogen": 0.4,
    }
)  # fmt: skip
INSULT_NOUNS.update(
    {
        "analphabet": 0.7, "kellerkind": 0.75, "sesselfurzer": 0.8, "mistkerl": 0.85,
        "pfeife": 0.45, "schleimer": 0.65, "verpissen": 0.6, "vollhorst": 0.85, "horst": 0.4,
        "hampelmann": 0.65, "weichei": 0.7, "warmduscher": 0.65, "luschen": 0.6, "lusche": 0.6,
        "spacko": 0.85, "vollspaten": 0.85, "spaten": 0.4, "pisskopf": 0.9, "mistvieh": 0.8,
        "schnepfe": 0.7, "kackvogel": 0.85, "dödel": 0.7, "doedel": 0.7, "volltrottel": 0.9,
        "arschloecher": 0.95, "hurensoehne": 0.95, "dummkoepfe": 0.8, "schwachkoepfe": 0.85,
        "hohlkoepfe": 0.85, "deppen": 0.8, "hohlraum": 0.3, "feigling": 0.65, "heuchler": 0.45, "drecksack": 0.9, "sackgesicht": 0.9,
    }
)  # fmt: skip
INSULT_PHRASES += [
    (r"\bheul (?:doch|leise|rum)\b|\bgeh (?:heulen|weinen)\b", 0.5),
    (
        r"\b(?:nix|nichts|null) (?:im|in der) (?:kopf|birne|hirn|schaedel|oberstuebchen)\b|\b(?:keine|nur) (?:zwei|2|drei|3) (?:gehirnzellen|hirnzellen)\b",
        0.6,
    ),
    (r"\b(?:zu|so) (?:dumm|bloed|doof|bescheuert|behindert) (?:zum|um zu|fuer) \w+", 0.65),
    (
        r"\bwas (?:fuer|fur) (?:ein |eine |ne |nen )?(?:idiot|trottel|depp|vollpfosten|spast|pfeife|witzfigur|lappen|clown|versager|null)\b",
        0.8,
    ),
    (
        r"\bdu (?:bist|warst) (?:so )?(?:eine |ne )?(?:null|niete|nullnummer|zumutung|peinlichkeit)\b",
        0.7,
    ),
    (
        r"\bgeh (?:mal )?zurueck (?:in die|zur) (?:grundschule|schule|sonderschule)\b|\blern (?:erstmal |mal )?(?:lesen|schreiben|deutsch)\b",
        0.55,
    ),
]
THREAT_PHRASES += [
    (
        r"\b(?:ich|wir) (?:weiss|weiß|weis|kenn|kenne|kennen|wissen) (?:genau |jetzt )?(?:wo|wer) (?:du|ihr|dein|deine|eure?|euer|sie|der|die) (?:\w+ ){0,3}(?:ist|bist|seid|sind|wohnst|wohnt|steht|arbeitet|arbeitest|parkt|wohnen)\b",
        0.75,
    ),
    (
        r"\b(?:ich|wir) (?:kenn|kenne|kennen|hab|habe|haben) (?:deine|eure|ihre|seine) (?:adresse|wohnadresse|anschrift|nummer|kennzeichen)\b",
        0.75,
    ),
    (
        r"\bkann (?:der|die|er|sie|man|sich) (?:sich )?(?:schon mal )?warm anziehen\b|\bzieh dich warm an\b|\bzieht euch warm an\b",
        0.8,
    ),
    (
        r"\b(?:macht|mach) (?:euch|dich) (?:auf|schon mal auf) (?:was|etwas|einiges) gefasst\b|\bblaues wunder erleben\b",
        0.8,
    ),
    (
        r"\b(?:der|die|das|er|sie|ihr|du) (?:wirds|wird es|wirst es|werdet es|wird das) (?:noch )?bereuen\b",
        0.8,
    ),
    (
        r"\b(?:hau|haue|hauen|schlag|schlage|knall|knalle) (?:ich )?(?:\w+ ){0,5}eine? (?:rein|runter|aufs maul)\b|\b(?:fresse|visage|schnauze) polieren\b|\b(?:auf|in) die fresse\b|\baufs maul\b",
        0.8,
    ),
    (
        r"\b(?:brech|breche|brechen) (?:ich |wir )?(?:\w+ ){0,3}(?:die |das |den |alle )?(?:finger|knochen|beine|arme|nase|genick|kiefer|haende)\b",
        0.85,
    ),
    (
        r"\b(?:verpruegeln|verpruegelt|zusammenschlagen|zusammengeschlagen|kaltmachen|abstechen|erschiessen|erstechen|totschlagen|aufknuepfen)\b",
        0.65,
    ),
    (
        r"\b(?:hoffe|hoffentlich|wuensche)\b(?: \w+){0,7} (?:stirbt|stirbst|sterben|verreckt|verreckst|ueberfahren|krebs|draufgeht|abkratzt|verbrennt|verbrennen)\b",
        0.8,
    ),
    (
        r"\ban die wand (?:stellen|gestellt)\b|\bgehoert (?:aufgehaengt|erschossen|verpruegelt)\b",
        0.85,
    ),
    (
        r"\b(?:dann|sonst) (?:knallts|knallt es|kracht es|krachts|passiert (?:was|etwas)|gibts aerger|gibt es aerger|setzt es was|rappelts)\b|\bpassiert (?:was|etwas)\b(?: \w+)? versprochen\b",
        0.75,
    ),
    (
        r"\b(?:stehe|steh|warte|warten|stehen|bin) (?:ich |wir )?(?:\w+ ){0,4}(?:vor (?:eurer|deiner|ihrer|der) (?:zentrale|filiale|tuer|haustuer|wohnung|buero|zentrale)|am bahnsteig auf)\b",
        0.55,
    ),
    (
        r"\b(?:nicht|lieber nicht) (?:mehr )?allein(?:e)? (?:\w+ ){0,3}(?:gehen|rausgehen|heimgehen|nach hause|zum parkplatz|zum auto|rumlaufen)\b",
        0.75,
    ),
    (
        r"\bwenn ich (?:dich|euch|den|die|ihn|sie) (?:\w+ ){0,4}(?:sehe|erwische|treffe|kriege|finde)\b",
        0.55,
    ),
    (r"\b(?:bist|seid) (?:du|ihr) dran\b", 0.8),
    (
        r"\bmit (?:ein paar|meinen|paar|ner gang von) (?:jungs|kumpels|freunden|leuten) (?:vorbei|vorbeikommen|vorbeischauen|besuchen)\b|\bdann reden wir anders\b",
        0.6,
    ),
    (r"\b(?:mach|mache|machen) (?:ich )?(?:dich|euch) (?:\w+ )?kaputt\b", 0.8),
    (
        r"\b(?:die|der|den) (?:\w+ ){0,2}sollte man (?:mal )?(?:\w+ ){0,2}(?:verpruegeln|abstechen|erschiessen|aufhaengen|umbringen|wegsperren)\b",
        0.85,
    ),
]
PROFANITY.update(
    {
        "gottverdammt": 0.6, "gottverdammte": 0.6, "verdammt": 0.55, "verdammte": 0.55,
        "verdammter": 0.55, "verdammtes": 0.55, "himmelherrgott": 0.5, "kruzifix": 0.5,
        "scheissdreck": 0.7, "bullshit": 0.65, "fuck": 0.85, "shit": 0.65, "kackscheisse": 0.75,
        "arschkalt": 0.55, "verflixt": 0.2, "scheisstag": 0.65,
    }
)  # fmt: skip
PROFANITY_PHRASES = [
    (r"\b(?:heilige|heiliger|heiliges) (?:scheisse|kacke|mist|scheiss)\b", 0.7),
    (r"\b(?:leck mich (?:am arsch|doch))\b", 0.7),
    (r"\bam arsch\b|\bim arsch\b|\bam allerwertesten\b", 0.55),
    (r"\bverdammt (?:noch )?(?:mal|nochmal)\b", 0.55),
]
HATE_GROUP_PHRASES = [r"\balte (?:leute|saecke|menschen)\b", r"\bkopftuch\w*\b", r"\bschwulen\w*\b"]
HATE_PREDICATES = [
    r"raus",
    r"rausschmeissen|schmeisst (?:\w+ )?raus|rauswerfen",
    r"abschieben|abgeschoben|remigration",
    r"zurueck (?:wo|woher|in ihr|in ihre|nach hause)",
    r"gehoeren (?:nicht|hier nicht)|gehoert nicht",
    r"(?:nix|nichts) verloren",
    r"kueche",
    r"klauen|klaut|geklaut|stehlen|diebe|diebesbande",
    r"kontrollieren|steuern alles",
    r"typisch",
    r"koennen (?:halt |eh |ja |einfach )?(?:nicht|kein)",
    r"verstehen (?:eh |ja |doch )?kein",
    r"zu (?:nix|nichts) zu gebrauchen",
    r"nur noch",
    r"faul|dreckig|kriminell\w*|vergewaltiger",
    r"nicht (?:auch noch )?zeigen",
    r"widerlich|ekelhaft",
    r"(?:psychisch |geistes)?krank",
    r"nicht arbeiten",
    r"sollte man (?:gar )?nicht",
    r"invasion|ueberfremdung|umvolkung",
    r"pack|gesindel|abschaum|zecken",
]
