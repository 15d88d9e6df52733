"""Find a participant's signature block and read the contact details in it. Pure: no I/O.

The block is what follows a ``-- `` delimiter, a valediction ("Best regards", "Mit
freundlichen Grüßen", "Cordialement" …), the author's name, or else a trailing paragraph that
carries contact details. Mobile-client lines ("Sent from my iPhone") and legal disclaimers are
cut first. Phones go through libphonenumber (region: the sender's country TLD, then the
tenant's default), e-mail addresses through email-validator, names through nameparser, and
social profiles through ``providers.handles`` (the discovery canonicaliser will replace it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from nameparser import HumanName

from socialcrm.providers.handles import InvalidHandle, canonical_url, parse_handle
from socialcrm.providers.registry import ALIASES, PROVIDERS

# Every bound below keeps the work linear in the message: a mail is anyone's input, and one
# 400 KB "Tel:" line used to cost minutes of CPU. A signature line is short (the corpus' longest
# is 164 characters), so a longer one is cut: past that it is prose, a table dump or an attack.
MAX_BLOCK_LINES = 16
MAX_LINE_CHARS = 500
MAX_BLOCK_CHARS = 2_000
MAX_VALUES = 10  # phones, emails, websites or profiles one signature may offer
_LABEL_WINDOW = 40  # a phone label ("Tel.:", "Handy") sits within this many characters


@dataclass(frozen=True, slots=True)
class Phone:
    number: str  # E.164
    display: str  # international format
    type: str  # mobile | fax | home | business | the tenant's default


@dataclass(frozen=True, slots=True)
class Profile:
    network: str
    handle: str
    url: str


@dataclass(slots=True)
class SignatureFields:
    name: str = ""
    title: str = ""
    company: str = ""
    phones: list[Phone] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    websites: list[str] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)
    block: str = ""

    def is_empty(self) -> bool:
        return not (
            self.name
            or self.title
            or self.company
            or self.phones
            or self.emails
            or self.websites
            or self.profiles
        )


# --- vocabulary -------------------------------------------------------------------------------

_NOISE = re.compile(
    r"^\s*(sent from my|sent from (mail|outlook|yahoo)|sent with |get outlook for|"
    r"envoy[ée] de (mon|ma)|envoy[ée] depuis|von meinem .* gesendet|gesendet von|"
    r"enviado desde|enviado do meu|inviato da|verzonden vanaf|verstuurd vanaf|"
    r"wys[łl]ane z|skickat fr[åa]n|download outlook)",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"(confidential|intended (solely )?(only )?for|intended recipient|privileged|disclaimer|"
    r"if you (have )?receive[d]? this|vertraulich|nicht der (richtige|beabsichtigte) "
    r"empf[äa]nger|diese e-?mail (enth[äa]lt|ist)|confidentiel|destinataire|ce (message|courriel)|"
    r"riservat|destinatario|confidencial|este (mensaje|correo)|vertrouwelijk|please consider the "
    r"environment|think before you print|bitte denken sie an die umwelt|"
    r"sitz der gesellschaft|registergericht|amtsgericht|handelsregister|registered (office|in "
    r"england)|company (registration|number)|rcs |siret|ust-?id|vat (no|number|reg)|"
    r"unsubscribe|abmelden|se d[ée]sinscrire|darse de baja)",
    re.IGNORECASE,
)
_VALEDICTION = re.compile(
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

# Labels in front of phone numbers, grouped by the communication type they mean.
_PHONE_LABELS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "mobile",
        re.compile(
            r"(mobile|mobil|mob|cell|cellular|handy|portable|port|móvil|movil|celular|"
            r"cellulare|cell\.|gsm|m)\b",
            re.IGNORECASE,
        ),
    ),
    ("fax", re.compile(r"(fax|telefax|télécopie|f)\b", re.IGNORECASE)),
    ("home", re.compile(r"(home|privat|domicile)\b", re.IGNORECASE)),
    (
        "business",
        re.compile(
            r"(tel|tél|tele|phone|telephone|téléphone|telefon|teléfono|telefono|telefone|"
            r"office|direct|direkt|durchwahl|work|fon|ph|t|p|o|d|b|w)\b",
            re.IGNORECASE,
        ),
    ),
)
_PHONE_CANDIDATE = re.compile(r"(?<![\w@/.])(?:\+|00|\()?\d[\d \t().\-/\u00a0]{5,24}\d(?![\w@])")
_EXTENSION = re.compile(r"^\s*(ext\.?|x|extension|durchwahl|poste)\s*\d{1,6}", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+\-])[A-Za-z0-9][A-Za-z0-9._%+\-']*@[A-Za-z0-9.\-]+\.[A-Za-z]{2,24}")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>()|,;\"'\[\]{}]+", re.IGNORECASE)
_BARE_DOMAIN = re.compile(
    r"(?<![\w@.\-/])(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,12}(?:/[^\s<>()|,;]*)?"
    r"(?![\w@\-])",
    re.IGNORECASE,
)
_WEB_LABEL = re.compile(r"^\s*(web|website|site|internet|homepage|url|w|www)\s*[:.]", re.I)
# A label naming a network ("Twitter: @ada", "IG - ada"): its names and aliases (the adapters').
_LABEL_NETWORK = {name: name for name in PROVIDERS} | dict(ALIASES)
_SOCIAL_LABEL = re.compile(
    r"(?<![\w])(?P<label>"
    + "|".join(sorted(map(re.escape, _LABEL_NETWORK), key=len, reverse=True))
    + r")\s*[:\-]\s*(?P<value>\S+)",
    re.IGNORECASE,
)
_FEDI_HANDLE = re.compile(r"(?<![\w@])@[a-z0-9_]{1,30}@[a-z0-9.\-]+\.[a-z]{2,}", re.IGNORECASE)
_BSKY_HANDLE = re.compile(r"(?<![\w@])@[a-z0-9.\-]+\.bsky\.social\b", re.IGNORECASE)
_SEPARATORS = re.compile(r"\s*(?:\||•|·|\u2022|\t|\s{3,}|\s[\u2013\u2014]\s)\s*")
_SOCIAL_HOSTS = (
    "x.com",
    "twitter.com",
    "linkedin.com",
    "facebook.com",
    "fb.com",
    "instagram.com",
    "tiktok.com",
    "youtube.com",
    "bsky.app",
    "youtu.be",
    "t.co",
)
# Country-code TLDs whose numbering plan we trust to read national numbers of the sender.
_TLD_REGION = {
    "de": "DE", "at": "AT", "ch": "CH", "fr": "FR", "be": "BE", "lu": "LU", "nl": "NL",
    "es": "ES", "pt": "PT", "it": "IT", "uk": "GB", "ie": "IE", "pl": "PL", "cz": "CZ",
    "se": "SE", "no": "NO", "dk": "DK", "fi": "FI", "jp": "JP", "br": "BR", "mx": "MX",
    "ar": "AR", "au": "AU", "nz": "NZ", "ca": "CA", "in": "IN", "gr": "GR", "hu": "HU",
}  # fmt: skip


# --- the block --------------------------------------------------------------------------------


def signature_block(text: str, author_name: str = "") -> list[str]:
    """The lines of the signature at the end of ``text`` (empty when there is none)."""
    lines = _clean_lines(text)
    start = _block_start(lines, author_name)
    if start is None:
        return []
    block: list[str] = []
    size = 0
    for line in lines[start : start + MAX_BLOCK_LINES]:
        size += len(line)
        if size > MAX_BLOCK_CHARS:
            break
        block.append(line)
    while block and not block[-1].strip():
        block.pop()
    return block


def _capped(line: str) -> str:
    """The first ``MAX_LINE_CHARS`` of a line, cut at a space so no number is halved."""
    if len(line) <= MAX_LINE_CHARS:
        return line
    cut = line[:MAX_LINE_CHARS]
    space = cut.rfind(" ")
    return cut[:space] if space > MAX_LINE_CHARS // 2 else cut


def _clean_lines(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.split("\n"):
        line = _capped(raw).rstrip().replace("\u00a0", " ").replace("\u200b", "")
        if line.lstrip().startswith(">"):
            continue
        if _NOISE.match(line):
            continue
        lines.append(line)
    # A disclaimer paragraph ends the useful part of the message.
    cut = len(lines)
    paragraph = 0  # where the paragraph of line i starts (kept as we go: no walking back)
    for i, line in enumerate(lines):
        if not line.strip():
            paragraph = i + 1
        elif paragraph > 0 and _DISCLAIMER.search(line):
            cut = paragraph
            break
    lines = lines[:cut]
    while lines and (not lines[-1].strip() or set(lines[-1].strip()) <= set("-_=*~")):
        lines.pop()
    return lines


def _paragraph_start(lines: list[str], index: int) -> int:
    while index > 0 and lines[index - 1].strip():
        index -= 1
    return index


def _block_start(lines: list[str], author_name: str) -> int | None:
    if not lines:
        return None
    window = max(0, len(lines) - 25)
    for i in range(len(lines) - 1, window - 1, -1):
        if lines[i] in ("-- ", "--") or lines[i].strip() == "--":
            return i + 1
    for i in range(len(lines) - 1, window - 1, -1):
        match = _VALEDICTION.match(lines[i])
        if match and len(lines[i]) <= 60:
            rest = match.group("rest").strip()
            if rest and not _looks_like_name(rest):
                continue
            return i if rest else i + 1
    if author_name.split():
        first = author_name.split()[0].casefold()
        full = " ".join(author_name.split()).casefold()
        for i in range(len(lines) - 1, window - 1, -1):
            line = lines[i].strip().casefold()
            if line and (line.startswith(full) or line in (first, first + ".")):
                return i
    return _trailing_contact_paragraph(lines)


def _trailing_contact_paragraph(lines: list[str]) -> int | None:
    end = len(lines)
    start = _paragraph_start(lines, end - 1)
    paragraph = lines[start:end]
    if len(paragraph) > 10 or not any(_has_contact_detail(line) for line in paragraph):
        return None
    if any(len(line) > 90 or not _short_line(line) for line in paragraph):
        return None
    # The name often stands alone in the paragraph just above the details.
    if start >= 2 and not lines[start - 1].strip():
        above = _paragraph_start(lines, start - 2)
        if start - 1 - above <= 3 and _looks_like_name(lines[above].strip()):
            return above
    return start


def _has_contact_detail(line: str) -> bool:
    if _EMAIL.search(line) or _URL.search(line):
        return True
    domain = _BARE_DOMAIN.search(line)
    if domain and _standalone(_standalone_parts(line), domain.group(0)):
        return True
    phone = _PHONE_CANDIDATE.search(line)
    if phone is None:
        return False
    return _label_before(line, phone.start()) is not None or _mostly_phone(line)


def _short_line(line: str) -> bool:
    """A signature line, not a sentence: few words besides its contact details."""
    rest = _EMAIL.sub(" ", _URL.sub(" ", line))
    return len(re.findall(r"[^\W\d_]{2,}", rest)) <= 4 or not _has_contact_detail(line)


# --- fields -----------------------------------------------------------------------------------


def extract_signature(
    text: str,
    *,
    author_name: str = "",
    author_email: str = "",
    region: str = "US",
    default_phone_type: str = "business",
) -> SignatureFields:
    """Everything the signature at the end of ``text`` says about its author."""
    block = signature_block(text, author_name)
    fields = SignatureFields(block="\n".join(block))
    regions = _regions(author_email, region)
    text_lines: list[tuple[int, str]] = []
    for index, line in enumerate(block):
        stripped = line.strip()
        if not stripped:
            continue
        parts = [p.strip() for p in _SEPARATORS.split(stripped) if p.strip()]
        text_parts = [
            part
            for part in parts
            if not _contact_details(part, fields, regions, default_phone_type)
        ]
        if len(text_parts) == len(parts):
            text_lines.append((index, stripped))
        elif text_parts:
            text_lines.append((index, " | ".join(text_parts)))
    _name_title_company(text_lines, fields, author_name, author_email)
    return fields


def _regions(author_email: str, default: str) -> tuple[str, ...]:
    tld = author_email.rpartition(".")[2].lower()
    tld_region = _TLD_REGION.get(tld)
    if tld_region and tld_region != default:
        return (tld_region, default)
    return (default,)


def _contact_details(
    line: str, fields: SignatureFields, regions: tuple[str, ...], default_type: str
) -> bool:
    """Read phones, emails, URLs and handles from one line; True if it held any."""
    found = False
    remainder = line
    for pattern in (_SOCIAL_LABEL, _FEDI_HANDLE, _BSKY_HANDLE):
        kept: list[str] = []
        last = 0
        for match in pattern.finditer(remainder):
            if pattern is _SOCIAL_LABEL:
                network = _LABEL_NETWORK[match.group("label").lower()]
                profile = _profile(match.group("value"), network)
            else:
                profile = _profile(match.group(0), None)
            if profile is not None:
                _add_profile(fields, profile)
                kept += (remainder[last : match.start()], " ")
                last = match.end()
                found = True
        if last:
            remainder = "".join(kept) + remainder[last:]
    for match in _URL.finditer(remainder):
        found |= _add_url(fields, match.group(0))
    without_urls = _URL.sub(" ", remainder)
    for match in _EMAIL.finditer(without_urls):
        email = _valid_email(match.group(0).rstrip("."))
        if email:
            found = True
            if email not in fields.emails and len(fields.emails) < MAX_VALUES:
                fields.emails.append(email)
    without_emails = _EMAIL.sub(" ", without_urls)
    labelled_web = _WEB_LABEL.match(line) is not None
    parts: set[str] | None = None
    for match in _BARE_DOMAIN.finditer(without_emails):
        value = match.group(0)
        if not (labelled_web or "/" in value):
            parts = _standalone_parts(without_emails) if parts is None else parts
            if not _standalone(parts, value):
                continue
        found |= _add_url(fields, value)
    for phone in _phones(without_emails, regions, default_type):
        found = True
        if all(p.number != phone.number for p in fields.phones) and len(fields.phones) < MAX_VALUES:
            fields.phones.append(phone)
    return found or labelled_web


_LEADING_LABEL = re.compile(r"^[^\w]*(?:[\w.\- ]{1,20}:\s*)?")


def _standalone_parts(line: str) -> set[str]:
    """The | parts of a line without their icon or short ``Label:`` (split once per line)."""
    return {_LEADING_LABEL.sub("", p).strip() for p in _SEPARATORS.split(line)}


def _standalone(parts: set[str], value: str) -> bool:
    """A bare domain counts when the line, or one of its | parts, is nothing else."""
    if value[0].isdigit() or "." not in value:
        return False
    return value.strip() in parts


def _valid_email(text: str) -> str:
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return ""
    return str(result.normalized).lower()


def _add_url(fields: SignatureFields, text: str) -> bool:
    url = text.rstrip(".,;:!?)]}>'\"")
    if not url or len(url) > 300:
        return False
    profile = _profile(url, None)
    if profile is not None:
        _add_profile(fields, profile)
        return True
    website = normalise_website(url)
    if not website:
        return False
    host = urlsplit(website).hostname or ""
    if any(host == h or host.endswith("." + h) for h in _SOCIAL_HOSTS):
        return True  # a post or share link: contact-ish, but not a website or profile
    if website not in fields.websites and len(fields.websites) < MAX_VALUES:
        fields.websites.append(website)
    return True


def normalise_website(text: str) -> str:
    """``https://host/path`` with the host lower-cased and no trailing slash; '' if not a URL."""
    value = text.strip()
    if not value.lower().startswith(("http://", "https://")):
        value = "https://" + value
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return ""
    if "." not in host or not re.fullmatch(r"[a-z0-9.\-]+", host):
        return ""
    tld = host.rpartition(".")[2]
    if not tld.isalpha() or len(tld) < 2:
        return ""
    path = parts.path.rstrip("/")
    scheme = parts.scheme.lower()
    return f"{scheme}://{host}{path}" + (f"?{parts.query}" if parts.query else "")


def website_key(url: str) -> str:
    """What makes two website values the same: no scheme, no ``www.``, no trailing slash."""
    value = url.strip().lower()
    value = re.sub(r"^https?://", "", value).removeprefix("www.")
    return value.rstrip("/")


def _profile(text: str, network: str | None) -> Profile | None:
    value = text.strip().rstrip(".,;:)")
    if network == "mastodon" and value.count("@") == 1 and not value.startswith("@"):
        value = "@" + value
    try:
        parsed = parse_handle(value, network)
    except InvalidHandle:
        return None
    if parsed is None:
        return None
    handle = parsed.handle
    if parsed.instance:
        handle = f"{parsed.handle}@{parsed.instance}"
    if parsed.kind and parsed.network.value == "linkedin" and parsed.kind != "in":
        handle = f"{parsed.kind}/{parsed.handle}"
    return Profile(network=parsed.network.value, handle=handle, url=canonical_url(parsed))


def _add_profile(fields: SignatureFields, profile: Profile) -> None:
    if all(p.url != profile.url for p in fields.profiles) and len(fields.profiles) < MAX_VALUES:
        fields.profiles.append(profile)


def _phones(line: str, regions: tuple[str, ...], default_type: str) -> list[Phone]:
    phones: list[Phone] = []
    mostly_phone = _mostly_phone(line)
    for match in _PHONE_CANDIDATE.finditer(line):
        candidate = match.group(0).strip()
        digits = sum(ch.isdigit() for ch in candidate)
        if digits < 7 or digits > 17:
            continue
        label = _label_before(line, match.start()) or _label_after(line, match.end())
        if label is None and not mostly_phone:
            continue
        number = _parse_phone(candidate, regions)
        if number is None:
            continue
        phone_type = label or default_type
        phones.append(
            Phone(
                number=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                display=phonenumbers.format_number(
                    number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
                ),
                type=phone_type,
            )
        )
    return phones


def _mostly_phone(line: str) -> bool:
    """Unlabelled numbers count only when they are (nearly) the whole line or | part: at most
    three letters besides them (a number candidate has no letters of its own)."""
    return sum(ch.isalpha() for ch in line) <= 3


_LABEL_BOUNDARY = re.compile(r"\s*(?:\||•|·|,|;|\t|\s{3,})\s*|\d")


def _label_before(line: str, position: int) -> str | None:
    """The type of the label right in front of ``position`` (``Tel.:``, ``M``, ``Handy``).
    Only the last ``_LABEL_WINDOW`` characters are read: a label is short, and re-reading the
    whole prefix for every number on a line made a long line quadratic."""
    before = line[max(0, position - _LABEL_WINDOW) : position]
    tail = _LABEL_BOUNDARY.split(before)[-1].strip()
    tail = tail.rstrip(":.-\u2013) ").strip()
    if not tail or len(tail) > 24:
        return None
    tail = tail.split()[-1] if " " in tail and len(tail.split()[-1]) > 2 else tail
    tail = re.sub(r"[:.\-(]+$", "", tail).strip()
    for phone_type, pattern in _PHONE_LABELS:
        if pattern.fullmatch(tail) or pattern.fullmatch(tail.split()[0] if tail else ""):
            return phone_type
    return None


def _label_after(line: str, position: int) -> str | None:
    """US-style trailing labels: ``(646) 555-0177 office | (917) 555-0162 mobile``."""
    after = _LABEL_BOUNDARY.split(line[position : position + _LABEL_WINDOW], maxsplit=1)[0]
    word = after.strip(" ()[]:.-").lower()
    if not word or " " in word or len(word) > 12:
        return None
    for phone_type, pattern in _PHONE_LABELS:
        if len(word) > 1 and pattern.fullmatch(word):
            return phone_type
    return None


@lru_cache(maxsize=4096)
def _parse_phone_cached(candidate: str, region: str) -> phonenumbers.PhoneNumber | None:
    text = re.sub(r"\(0\)", " ", candidate)
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _parse_phone(candidate: str, regions: tuple[str, ...]) -> phonenumbers.PhoneNumber | None:
    for region in regions:
        number = _parse_phone_cached(candidate, region)
        if number is not None:
            return number
        if candidate.lstrip("(").startswith(("+", "00")):
            return None
    return None


# --- name, title, company ---------------------------------------------------------------------


def _looks_like_name(text: str) -> bool:
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


def _name_title_company(
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
        head = _SEPARATORS.split(line)[0]
        head = re.split(r",\s+(?=[^\W\d_])", head)[0]
        valediction = _VALEDICTION.match(head)
        if valediction and valediction.group("rest"):
            head = valediction.group("rest")
        if _looks_like_name(head):
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
        fields.name = format_name(author_name) if _looks_like_name(author_name) else ""
    candidates = lines[name_at + 1 : name_at + 4]
    _title_and_company(candidates, fields, author_email)


def _complete_from_header(first: str, author_name: str) -> str:
    full = format_name(author_name) if _looks_like_name(author_name) else ""
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
        for piece in _SEPARATORS.split(line):
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
