"""A signature's name (nameparser), job title and company, from its text lines and the sender's
header and domain; the vocabulary (title words, company suffixes, valedictions) is here.
Pure: no I/O.
"""

from __future__ import annotations

import re

from nameparser import HumanName

from socialcrm.signatures.fields import SignatureFields
from socialcrm.signatures.links import SEPARATORS

VALEDICTION = re.compile(
    r"^\s*(best( regards| wishes)?|kind(est)? regards|warm(est)? regards|regards|many thanks|"
    r"thanks( again| a lot| so much)?|thank you( very much)?|cheers|all the best|sincerely|"
    r"yours( sincerely| truly)?|respectfully|talk soon|speak soon|br|"
    r"mit freundlichen gr[üu](ß|ss)en|freundliche gr[üu](ß|ss)e|viele gr[üu](ß|ss)e|"
    r"beste gr[üu](ß|ss)e|liebe gr[üu](ß|ss)e|sch[öo]ne gr[üu](ß|ss)e|herzliche gr[üu](ß|ss)e|"
    r"gr[üu](ß|ss)e|lg|vg|mfg|danke|vielen dank|"
    r"cordialement|bien [àa] (vous|toi)|bien cordialement|salutations|meilleures salutations|"
    r"bonne (journ[ée]e|soir[ée]e)|merci( beaucoup)?|amiti[ée]s|"
    r"saludos( cordiales)?|un saludo|atentamente|gracias|muchas gracias|"
    r"cordiali saluti|distinti saluti|saluti|un saluto|grazie( mille)?|"
    r"met vriendelijke groet(en)?|vriendelijke groet(en)?|groeten|hartelijke groet(en)?|"
    r"atenciosamente|abra[çc]os|obrigad[oa]|cumprimentos|"
    r"pozdrawiam|z powa[żz]aniem|med v[äa]nlig h[äa]lsning|vh|mvh|med venlig hilsen|"
    r"ystävällisin terveisin|terveisin)\b[\s,.!:;\-\u2013]*(?P<rest>.*)$",
    re.IGNORECASE,
)
_TITLE_WORDS = frozenset(
    [
        "ceo",
        "cto",
        "cfo",
        "coo",
        "cmo",
        "cio",
        "cso",
        "cpo",
        "vp",
        "svp",
        "evp",
        "avp",
        "president",
        "founder",
        "co-founder",
        "cofounder",
        "owner",
        "partner",
        "director",
        "head",
        "manager",
        "lead",
        "engineer",
        "developer",
        "architect",
        "consultant",
        "analyst",
        "specialist",
        "coordinator",
        "officer",
        "executive",
        "representative",
        "assistant",
        "associate",
        "administrator",
        "designer",
        "scientist",
        "researcher",
        "professor",
        "advisor",
        "adviser",
        "accountant",
        "recruiter",
        "editor",
        "producer",
        "chief",
        "principal",
        "counsel",
        "attorney",
        "lawyer",
        "secretary",
        "treasurer",
        "chair",
        "chairman",
        "chairwoman",
        "intern",
        "strategist",
        "planner",
        "buyer",
        "purchaser",
        "technician",
        "nurse",
        "physician",
        "doctor",
        "journalist",
        "creator",
        "sales",
        "marketing",
        "support",
        "success",
        "operations",
        "procurement",
        "geschäftsführer",
        "geschäftsführerin",
        "geschaeftsfuehrer",
        "leiter",
        "leiterin",
        "vertriebsleiter",
        "vertriebsleiterin",
        "referent",
        "referentin",
        "berater",
        "beraterin",
        "entwickler",
        "entwicklerin",
        "vorstand",
        "prokurist",
        "prokuristin",
        "sachbearbeiter",
        "sachbearbeiterin",
        "projektleiter",
        "projektleiterin",
        "inhaber",
        "inhaberin",
        "einkäufer",
        "einkäuferin",
        "vertrieb",
        "einkauf",
        "kundenbetreuer",
        "kundenbetreuerin",
        "assistentin",
        "teamleiter",
        "teamleiterin",
        "abteilungsleiter",
        "abteilungsleiterin",
        "directeur",
        "directrice",
        "responsable",
        "chargé",
        "chargée",
        "ingénieur",
        "ingénieure",
        "gérant",
        "gérante",
        "commercial",
        "commerciale",
        "chef",
        "président",
        "présidente",
        "conseiller",
        "conseillère",
        "fondateur",
        "fondatrice",
        "acheteur",
        "acheteuse",
        "associé",
        "associée",
        "directora",
        "gerente",
        "jefe",
        "jefa",
        "ingeniero",
        "ingeniera",
        "comercial",
        "fundador",
        "fundadora",
        "asesor",
        "asesora",
        "direttore",
        "direttrice",
        "responsabile",
        "ingegnere",
        "amministratore",
        "consulente",
        "commerciale",
        "titolare",
        "medewerker",
        "adviseur",
        "eigenaar",
        "directeur",
        "oprichter",
        "accountmanager",
        "diretor",
        "diretora",
        "coordenador",
        "coordenadora",
        "gerente",
        "kierownik",
        "dyrektor",
        "specjalista",
        "prezes",
    ]
)
_COMPANY_SUFFIX = re.compile(
    r"(?<![\w.])(s\.a\. de c\.v\.|sp\. z o\.o\.|gmbh|ag|kg|kgaa|ug|gbr|ohg|e\.\s?v\.|"
    r"ltd\.?|limited|"
    r"llc|l\.l\.c\.|inc\.?|"
    r"incorporated|corp\.?|corporation|co\.|plc|llp|pty|s\.a\.|sa|s\.l\.|sl|sarl|s\.a\.r\.l\.|"
    r"sas|s\.a\.s\.|b\.v\.|bv|n\.v\.|nv|s\.r\.l\.|srl|s\.p\.a\.|spa|oy|ab|as|a/s|aps|"
    r"k\.k\.|ltda\.?|group|gruppe|groupe|holding|holdings|"
    r"technologies|solutions|labs|studios?|agency|consulting|partners|systems|software|"
    r"logistics|logistik|industries|ventures|capital|media|foods|bank)\W*$",
    re.IGNORECASE,
)
# Compound job titles (German, Nordic, Dutch) end in one of these.
_TITLE_ENDINGS = (
    "leiter", "leiterin", "chef", "führer", "führerin", "manager", "direktor", "direktorin",
    "ansvarlig", "leider", "berater", "beraterin", "referent", "referentin", "assistent",
    "assistentin", "entwickler", "entwicklerin", "ingenieur", "ingenieurin", "officer",
    "engineer", "director", "consultant", "specialist", "designer", "designerin", "spezialist",
    "spezialistin", "kaufmann", "kauffrau", "anwalt", "anwältin", "vorstand", "koordinator",
    "koordinatorin", "medewerker", "adviseur", "sjef", "chefin",
)  # fmt: skip
_NOT_NAMES = frozenset(
    [
        "the",
        "team",
        "support",
        "service",
        "services",
        "department",
        "customer",
        "customers",
        "office",
        "sales",
        "info",
        "hello",
        "dear",
        "hi",
        "hallo",
        "bonjour",
        "hola",
        "ciao",
        "thanks",
        "danke",
        "merci",
        "gracias",
        "grazie",
    ]
)
_NAME_PARTICLES = frozenset(
    [
        "von",
        "van",
        "der",
        "den",
        "de",
        "del",
        "della",
        "di",
        "da",
        "du",
        "la",
        "le",
        "bin",
        "ten",
        "ter",
        "dos",
        "das",
        "do",
        "y",
        "zu",
    ]
)
_HONORIFICS = re.compile(
    r"^(dr|prof|mr|mrs|ms|mx|herr|frau|mme|m|sr|sra|dott|ing|dipl)\.?(-\w+\.?)?\s+",
    re.IGNORECASE,
)


def looks_like_name(text: str) -> bool:
    value = _HONORIFICS.sub("", text.strip().rstrip(",.")).strip()
    value = re.sub(
        r",?\s*(ph\.?d\.?|mba|m\.?d\.?|jr\.?|sr\.?|msc|b\.?sc|dipl\.[\w.\-]*)$",
        "",
        value,
        flags=re.I,
    )
    tokens = value.split()
    if not 1 <= len(tokens) <= 5 or any(ch.isdigit() for ch in value) or "@" in value:
        return False
    if _is_title(value) or _COMPANY_SUFFIX.search(value) or _NOT_NAMES & set(value.lower().split()):
        return False
    capitals = 0
    for token in tokens:
        if token.lower() in _NAME_PARTICLES:
            continue
        if not re.fullmatch(r"[^\W\d_](?:[^\W\d_]|['\u2019.\-])*", token):
            return False
        if token[0].isupper():
            capitals += 1
        else:
            return False
    return capitals >= 1


def _is_title(text: str) -> bool:
    for word in re.findall(r"[^\W\d_][\w\-]*", text.lower()):
        for piece in word.split("-"):
            if piece in _TITLE_WORDS or (len(piece) > 6 and piece.endswith(_TITLE_ENDINGS)):
                return True
    return False


def format_name(text: str) -> str:
    """``First Middle Last`` (honorifics and degrees dropped); '' unless first and last exist."""
    value = _HONORIFICS.sub("", text.strip()).strip().strip(",")
    name = HumanName(value)
    if value.isupper() or value.islower():
        name.capitalize(force=True)
    parts = [name.first, name.middle, name.last]
    if not name.first or not name.last:
        return ""
    return " ".join(p for p in parts if p)


def read_name_title_company(
    text_lines: list[tuple[int, str]],
    fields: SignatureFields,
    author_name: str,
    author_email: str,
) -> None:
    lines = [line for _, line in text_lines][:6]
    name_at = -1
    for i, line in enumerate(lines[:3]):
        line = re.sub(r"\s*\([^)]*\)", "", line).strip()
        lines[i] = line
        head = SEPARATORS.split(line)[0]
        head = re.split(r",\s+(?=[^\W\d_])", head)[0]
        valediction = VALEDICTION.match(head)
        if valediction and valediction.group("rest"):
            head = valediction.group("rest")
        if looks_like_name(head):
            formatted = format_name(head)
            if not formatted and author_name:
                formatted = _complete_from_header(head, author_name)
            if formatted:
                fields.name = formatted
                name_at = i
                rest = line[len(line.split(head, 1)[0]) + len(head) :].strip(" ,|\u2013-·•")
                if rest:
                    lines.insert(i + 1, rest)
                break
    if not fields.name and author_name:
        fields.name = format_name(author_name) if looks_like_name(author_name) else ""
    candidates = lines[name_at + 1 : name_at + 4]
    _title_and_company(candidates, fields, author_email)


def _complete_from_header(first: str, author_name: str) -> str:
    full = format_name(author_name) if looks_like_name(author_name) else ""
    if full and full.split()[0].casefold() == first.strip().rstrip(".").casefold():
        return full
    return ""


_AT_COMPANY = re.compile(r"\s+(?:at|@|bei|chez|en|presso|bij|na|w)\s+(?=[^\W\d_])", re.IGNORECASE)


def _title_and_company(lines: list[str], fields: SignatureFields, author_email: str) -> None:
    parts: list[str] = []
    domain_label = _domain_label(author_email)
    for line in lines:
        if sum(ch.isdigit() for ch in line) >= 3 or len(line) > 80:
            break  # an address or a sentence: the block's text part is over
        for piece in SEPARATORS.split(line):
            piece = piece.strip(" ,;")
            if not piece:
                continue
            pieces = _split_title_company(piece, domain_label)
            parts.extend(p for p in pieces if p)
    kinds: list[str] = []
    for part in parts:
        if not fields.company and (
            _COMPANY_SUFFIX.search(part) or _matches_domain(part, domain_label)
        ):
            fields.company = part
            kinds.append("company")
        elif not fields.title and _is_title(part):
            fields.title = part
            kinds.append("title")
        else:
            kinds.append("unknown")
    # What a title/company pair leaves unclassified: the line before a company is its title
    # ("Disponent | Schäfer Logistik GmbH"), the line after a title its company.
    for i, (part, kind) in enumerate(zip(parts, kinds, strict=True)):
        if kind != "unknown" or not _looks_like_company(part):
            continue
        if not fields.title and "company" in kinds[i + 1 :] and i == 0:
            fields.title = part
        elif not fields.company and not _is_title(part) and "title" in kinds[:i]:
            fields.company = part


def _split_title_company(piece: str, domain: str) -> list[str]:
    at = _AT_COMPANY.split(piece, maxsplit=1)
    if len(at) == 2 and _is_title(at[0]):
        return [at[0].strip(), at[1].strip()]
    if ", " in piece:
        head, _, tail = piece.rpartition(", ")
        only_suffix = _COMPANY_SUFFIX.fullmatch(tail.strip()) is not None
        if not only_suffix and (_COMPANY_SUFFIX.search(tail) or _matches_domain(tail, domain)):
            return [head.strip(), tail.strip()]
    return [piece]


def _looks_like_company(part: str) -> bool:
    words = part.split()
    return 1 <= len(words) <= 5 and part[0].isupper() and not part.endswith((".", "!", "?", ":"))


def _domain_label(email: str) -> str:
    domain = email.rpartition("@")[2].lower()
    labels = domain.split(".")
    if len(labels) >= 3 and labels[-2] in {"co", "com", "org", "net", "ac", "gov"}:
        return labels[-3]
    return labels[-2] if len(labels) >= 2 else ""


def _matches_domain(part: str, label: str) -> bool:
    """``Romero Builders`` for romerobuilds.com, ``Kanzlei Braun & Partner`` for
    kanzlei-braun.de: the squashed name shares most of the domain's label as its prefix."""
    label = re.sub(r"[^a-z0-9]", "", label)
    squashed = re.sub(r"[^a-z0-9]", "", part.lower())
    if len(label) < 3 or not squashed:
        return False
    common = 0
    for a, b in zip(label, squashed, strict=False):
        if a != b:
            break
        common += 1
    return common >= max(4, int(0.75 * len(label))) or squashed == label
