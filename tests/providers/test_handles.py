"""Handles and profile URLs of every network → one ParsedHandle → one canonical URL."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from socialcrm.providers.handles import (
    InvalidHandle,
    Network,
    ParsedHandle,
    canonical_profile_url,
    canonical_url,
    make_handle,
    parse_handle,
)

PLC = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
UC = "UCabcdefghijklmnopqrstuv"

# (input, network hint, canonical URL expected)
PROFILES = [
    # X
    ("https://x.com/ada", None, "https://x.com/ada"),
    ("https://twitter.com/Ada_L?ref_src=twsrc%5Egoogle", None, "https://x.com/ada_l"),
    ("http://www.twitter.com/ada/", None, "https://x.com/ada"),
    ("https://mobile.twitter.com/ada#top", None, "https://x.com/ada"),
    ("twitter.com/ada/media", None, "https://x.com/ada"),
    ("https://x.com/ada/with_replies", None, "https://x.com/ada"),
    ("https://x.com/@ada", None, "https://x.com/ada"),
    ("@Ada", "x", "https://x.com/ada"),
    ("ada_lovelace_15", "x", "https://x.com/ada_lovelace_15"),
    ("https://x.com/ada?lang=en", "x", "https://x.com/ada"),
    # Mastodon
    ("@ada@mastodon.social", None, "https://mastodon.social/@ada"),
    ("@Ada@Mastodon.Social", None, "https://mastodon.social/@ada"),
    ("ada@mastodon.social", "mastodon", "https://mastodon.social/@ada"),
    ("@ada@mastodon.social", "mastodon", "https://mastodon.social/@ada"),
    ("https://mastodon.social/@ada", None, "https://mastodon.social/@ada"),
    ("https://mastodon.social/@ada/", None, "https://mastodon.social/@ada"),
    ("https://mastodon.social/@ada/with_replies", None, "https://mastodon.social/@ada"),
    ("https://fosstodon.org/@ada@hachyderm.io", None, "https://hachyderm.io/@ada"),
    ("https://mastodon.social/users/ada", "mastodon", "https://mastodon.social/@ada"),
    ("https://mastodon.social/@ada?utm_source=x", "mastodon", "https://mastodon.social/@ada"),
    # Bluesky
    ("https://bsky.app/profile/ada.bsky.social", None, "https://bsky.app/profile/ada.bsky.social"),
    ("https://bsky.app/profile/Ada.BSKY.social/", None, "https://bsky.app/profile/ada.bsky.social"),
    (
        "bsky.app/profile/ada.example.com/followers",
        None,
        "https://bsky.app/profile/ada.example.com",
    ),
    (f"https://bsky.app/profile/{PLC}", None, f"https://bsky.app/profile/{PLC}"),
    (PLC, None, f"https://bsky.app/profile/{PLC}"),
    ("did:web:ada.example.com", None, "https://bsky.app/profile/did:web:ada.example.com"),
    ("@ada.bsky.social", None, "https://bsky.app/profile/ada.bsky.social"),
    ("ada.bsky.social", None, "https://bsky.app/profile/ada.bsky.social"),
    ("ada.example.com", "bluesky", "https://bsky.app/profile/ada.example.com"),
    ("@Ada.Example.com", "bluesky", "https://bsky.app/profile/ada.example.com"),
    # Facebook
    ("https://www.facebook.com/ada.lovelace", None, "https://www.facebook.com/ada.lovelace"),
    (
        "https://m.facebook.com/Ada.Lovelace?ref=bookmarks",
        None,
        "https://www.facebook.com/ada.lovelace",
    ),
    ("https://web.facebook.com/ada.lovelace/", None, "https://www.facebook.com/ada.lovelace"),
    ("fb.com/ada.lovelace/photos", None, "https://www.facebook.com/ada.lovelace"),
    ("https://www.facebook.com/ada.lovelace/about", None, "https://www.facebook.com/ada.lovelace"),
    ("https://de-de.facebook.com/analytical-ltd", None, "https://www.facebook.com/analytical-ltd"),
    (
        "https://www.facebook.com/profile.php?id=100012345678&sk=photos",
        None,
        "https://www.facebook.com/profile.php?id=100012345678",
    ),
    (
        "https://m.facebook.com/profile.php?id=4",
        "facebook",
        "https://www.facebook.com/profile.php?id=4",
    ),
    (
        "https://www.facebook.com/people/Ada-Lovelace/100064123456/",
        None,
        "https://www.facebook.com/profile.php?id=100064123456",
    ),
    ("zuck", "facebook", "https://www.facebook.com/zuck"),
    ("100012345678", "facebook", "https://www.facebook.com/profile.php?id=100012345678"),
    # Instagram
    ("https://www.instagram.com/ada.lovelace/", None, "https://www.instagram.com/ada.lovelace"),
    ("https://instagram.com/Ada_L?hl=en&igsh=abc", None, "https://www.instagram.com/ada_l"),
    ("instagram.com/ada.lovelace/tagged/", None, "https://www.instagram.com/ada.lovelace"),
    ("@ada.lovelace", "instagram", "https://www.instagram.com/ada.lovelace"),
    # LinkedIn
    ("https://www.linkedin.com/in/ada-lovelace", None, "https://www.linkedin.com/in/ada-lovelace"),
    (
        "https://uk.linkedin.com/in/Ada-Lovelace-1815/",
        None,
        "https://www.linkedin.com/in/ada-lovelace-1815",
    ),
    (
        "https://www.linkedin.com/in/ada-lovelace/de",
        None,
        "https://www.linkedin.com/in/ada-lovelace",
    ),
    (
        "https://www.linkedin.com/in/ada-lovelace/?originalSubdomain=uk&locale=en_US",
        None,
        "https://www.linkedin.com/in/ada-lovelace",
    ),
    (
        "https://www.linkedin.com/in/ada-lovelace/recent-activity/all/",
        None,
        "https://www.linkedin.com/in/ada-lovelace",
    ),
    (
        "linkedin.com/company/analytical-ltd/about/",
        None,
        "https://www.linkedin.com/company/analytical-ltd",
    ),
    (
        "https://www.linkedin.com/school/cambridge/",
        None,
        "https://www.linkedin.com/school/cambridge",
    ),
    (
        "https://www.linkedin.com/showcase/engine-labs",
        None,
        "https://www.linkedin.com/showcase/engine-labs",
    ),
    (
        "https://www.linkedin.com/in/%E5%BC%A0%E4%BC%9F",
        None,
        "https://www.linkedin.com/in/%E5%BC%A0%E4%BC%9F",
    ),
    ("ada-lovelace", "linkedin", "https://www.linkedin.com/in/ada-lovelace"),
    ("company/analytical-ltd", "linkedin", "https://www.linkedin.com/company/analytical-ltd"),
    # TikTok
    ("https://www.tiktok.com/@ada.lovelace", None, "https://www.tiktok.com/@ada.lovelace"),
    ("https://m.tiktok.com/@Ada_L?lang=en&is_from_webapp=1", None, "https://www.tiktok.com/@ada_l"),
    ("@ada_l", "tiktok", "https://www.tiktok.com/@ada_l"),
    # YouTube
    ("https://www.youtube.com/@AdaLovelace", None, "https://www.youtube.com/@adalovelace"),
    ("https://m.youtube.com/@ada.lovelace/videos", None, "https://www.youtube.com/@ada.lovelace"),
    (f"https://youtube.com/channel/{UC}", None, f"https://www.youtube.com/channel/{UC}"),
    (
        f"https://www.youtube.com/channel/{UC}/featured",
        None,
        f"https://www.youtube.com/channel/{UC}",
    ),
    ("https://www.youtube.com/c/AdaLovelace", None, "https://www.youtube.com/c/adalovelace"),
    (
        "https://www.youtube.com/user/adalovelace1815",
        None,
        "https://www.youtube.com/user/adalovelace1815",
    ),
    ("https://www.youtube.com/AdaLovelace", None, "https://www.youtube.com/c/adalovelace"),
    ("@adalovelace", "youtube", "https://www.youtube.com/@adalovelace"),
    (UC, "youtube", f"https://www.youtube.com/channel/{UC}"),
]

NOT_PROFILES = [
    ("https://x.com/intent/user?screen_name=ada", None),
    ("https://twitter.com/intent/tweet?text=hi", None),
    ("https://twitter.com/share?url=x", None),
    ("https://x.com/ada/status/1234567890", None),
    ("https://x.com/ada/status/1234567890/photo/1", None),
    ("https://x.com/hashtag/engine", None),
    ("https://x.com/search?q=ada", None),
    ("https://x.com/i/web/status/1", None),
    ("https://x.com/home", None),
    ("https://x.com/", None),
    ("https://mastodon.social/@ada/113001", None),
    ("https://mastodon.social/tags/engine", None),
    ("https://mastodon.social/users/ada", None),  # only with the mastodon hint
    ("https://mastodon.social/about", None),
    ("https://medium.com/@ada", None),
    ("https://bsky.app/profile/ada.bsky.social/post/3kabc", None),
    ("https://bsky.app/search?q=ada", None),
    ("https://bsky.app/", None),
    ("at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3k", None),
    ("https://www.facebook.com/sharer/sharer.php?u=https://ada.example.com", None),
    ("https://www.facebook.com/sharer.php?u=x", None),
    ("https://www.facebook.com/ada.lovelace/posts/123456", None),
    ("https://www.facebook.com/ada.lovelace/photos/a.1/2/", None),
    ("https://www.facebook.com/groups/engines", None),
    ("https://www.facebook.com/hashtag/engine", None),
    ("https://www.facebook.com/profile.php", None),
    ("https://www.facebook.com/watch/?v=1", None),
    ("https://www.facebook.com/photo.php?fbid=1", None),
    ("https://www.instagram.com/p/CODE123/", None),
    ("https://www.instagram.com/reel/CODE123/", None),
    ("https://www.instagram.com/explore/tags/engine/", None),
    ("https://www.instagram.com/ada.lovelace/p/CODE123/", None),
    ("https://www.instagram.com/stories/ada.lovelace/1/", None),
    ("https://www.linkedin.com/feed/update/urn:li:activity:1/", None),
    ("https://www.linkedin.com/posts/ada-lovelace_engine-activity-1", None),
    ("https://www.linkedin.com/shareArticle?url=x", None),
    ("https://www.linkedin.com/in/", None),
    ("https://www.tiktok.com/@ada/video/7200000000000000000", None),
    ("https://www.tiktok.com/tag/engine", None),
    ("https://vm.tiktok.com/ZMabc/", None),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", None),
    ("https://youtu.be/dQw4w9WgXcQ", None),
    ("https://www.youtube.com/shorts/abc", None),
    ("https://www.youtube.com/results?search_query=ada", None),
    ("https://www.youtube.com/@ada/search?query=x", None),
    ("https://www.youtube.com/playlist?list=PL1", None),
    ("https://www.youtube.com/trending", None),
    ("https://www.youtube.com/music", None),
    ("https://ada.example.com/about", None),
    ("mailto:ada@example.com", None),
    ("ftp://x.com/ada", None),
    # a URL of another network than the hint
    ("https://x.com/ada", "instagram"),
    ("https://mastodon.social/@ada", "x"),
]

INVALID = [
    ("", None, "empty"),
    ("   ", "x", "empty"),
    ("ada", None, "cannot tell"),
    ("@ada", None, "cannot tell"),
    ("ada@example.com", None, "cannot tell"),
    ("ada", "myspace", "unknown network"),
    ("way_too_long_handle_1", "x", "1-15"),
    ("ada-l", "x", "1-15"),
    ("https://x.com/ada-lovelace", None, "1-15"),
    ("search", "x", "reserved"),
    ("ada", "mastodon", "instance"),
    ("ada@localhost", "mastodon", "instance"),
    ("ada@x.com", "mastodon", "instance"),
    ("a-da@mastodon.social", "mastodon", "username"),
    ("not a domain", "bluesky", "domain"),
    ("did:plc:short", None, "did:plc"),
    ("did:key:z6Mk", "bluesky", "did:plc"),
    (".ada", "instagram", "Instagram"),
    ("ada..l", "instagram", "Instagram"),
    ("ada.", "instagram", "Instagram"),
    ("a" * 31, "instagram", "Instagram"),
    ("explore", "instagram", "reserved"),
    ("a", "tiktok", "2-24"),
    ("a" * 25, "tiktok", "2-24"),
    ("ada.", "tiktok", "2-24"),
    ("ab", "youtube", "3-30"),
    ("@ad!", "youtube", "3-30"),
    ("https://www.youtube.com/channel/notachannel", None, "UC"),
    ("x", "linkedin", "2-100"),
    ("group/ada", "linkedin", "kind"),
    ("sharer.php", "facebook", "reserved"),
    ("a b", "facebook", "2-50"),
]


@pytest.mark.parametrize(("text", "network", "expected"), PROFILES)
def test_profile_urls_and_handles_canonicalise(
    text: str, network: str | None, expected: str
) -> None:
    assert canonical_profile_url(text, network) == expected


@pytest.mark.parametrize(("text", "network"), NOT_PROFILES)
def test_non_profile_urls_are_none(text: str, network: str | None) -> None:
    assert parse_handle(text, network) is None


@pytest.mark.parametrize(("text", "network", "message"), INVALID)
def test_bad_input_raises_invalid_handle_with_reason(
    text: str, network: str | None, message: str
) -> None:
    with pytest.raises(InvalidHandle, match=message):
        parse_handle(text, network)


def test_invalid_handle_is_a_value_error() -> None:
    assert issubclass(InvalidHandle, ValueError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "https://www.facebook.com/profile.php?id=42",
            ParsedHandle(Network.FACEBOOK, "42", kind="id", user_id="42"),
        ),
        (
            f"https://www.youtube.com/channel/{UC}",
            ParsedHandle(Network.YOUTUBE, UC, kind="channel", user_id=UC),
        ),
        (PLC, ParsedHandle(Network.BLUESKY, PLC, kind="did", user_id=PLC)),
        (
            "https://bsky.app/profile/ada.bsky.social",
            ParsedHandle(Network.BLUESKY, "ada.bsky.social", kind="handle"),
        ),
        (
            "https://hachyderm.io/@Ada",
            ParsedHandle(Network.MASTODON, "ada", instance="hachyderm.io"),
        ),
        (
            "https://www.linkedin.com/company/acme/jobs",
            ParsedHandle(Network.LINKEDIN, "acme", kind="company"),
        ),
        ("https://x.com/Ada", ParsedHandle(Network.X, "ada")),
    ],
)
def test_parsed_fields(text: str, expected: ParsedHandle) -> None:
    assert parse_handle(text) == expected


def test_network_compares_as_its_name() -> None:
    parsed = parse_handle("@ada", "x")
    assert parsed is not None
    assert parsed.network == "x"


def test_youtube_channel_ids_keep_their_case() -> None:
    mixed = "UCAbCdEfGhIjKlMnOpQrStUv"
    parsed = parse_handle(f"https://www.youtube.com/channel/{mixed}")
    assert parsed is not None
    assert parsed.handle == mixed


# --- properties -------------------------------------------------------------------------------

_ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_label = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
_tld = st.sampled_from(["social", "org", "io", "com", "example", "xn--p1ai"])
_domain = st.builds(
    lambda labels, tld: ".".join([*labels, tld]), st.lists(_label, min_size=1, max_size=3), _tld
)


def _valid(network: str, handle: str, **kw: str | None) -> ParsedHandle:
    try:
        return make_handle(network, handle, **kw)
    except InvalidHandle:
        assume(False)
        raise


handles = st.one_of(
    st.builds(_valid, st.just("x"), st.text(_ASCII + "_", min_size=1, max_size=15)),
    st.builds(
        lambda user, host: _valid("mastodon", f"{user}@{host}"),
        st.text(_ASCII + "_", min_size=1, max_size=30),
        _domain,
    ),
    st.builds(_valid, st.just("bluesky"), _domain),
    st.builds(
        _valid,
        st.just("bluesky"),
        st.text("abcdefghijklmnopqrstuvwxyz234567", min_size=24, max_size=24).map(
            lambda s: f"did:plc:{s}"
        ),
    ),
    st.builds(_valid, st.just("bluesky"), _domain.map(lambda d: f"did:web:{d}")),
    st.builds(_valid, st.just("facebook"), st.text(_ASCII + ".-", min_size=2, max_size=50)),
    st.builds(
        lambda digits: _valid("facebook", digits, kind="id"),
        st.text("0123456789", min_size=1, max_size=20),
    ),
    st.builds(_valid, st.just("instagram"), st.text(_ASCII + "._", min_size=1, max_size=30)),
    st.builds(
        lambda kind, slug: _valid("linkedin", slug, kind=kind),
        st.sampled_from(["in", "company", "school", "showcase"]),
        st.text(
            st.characters(categories=["Ll", "Lu", "Nd"], codec="utf-8") | st.just("-"),
            min_size=2,
            max_size=40,
        ),
    ),
    st.builds(_valid, st.just("tiktok"), st.text(_ASCII + "._", min_size=2, max_size=24)),
    st.builds(
        lambda kind, name: _valid("youtube", name, kind=kind),
        st.sampled_from(["handle", "c", "user"]),
        st.text(_ASCII + "._-", min_size=1, max_size=30),
    ),
    st.builds(
        lambda rest: _valid("youtube", "UC" + rest, kind="channel"),
        st.text(_ASCII + "_-", min_size=22, max_size=22),
    ),
)


@given(handles)
def test_canonical_url_round_trips(parsed: ParsedHandle) -> None:
    assert parse_handle(canonical_url(parsed)) == parsed


@given(handles)
def test_canonical_url_round_trips_with_the_network_hint(parsed: ParsedHandle) -> None:
    assert parse_handle(canonical_url(parsed), parsed.network) == parsed


@given(handles, st.sampled_from(["?utm_source=a&ref=b", "#section", "/", "?hl=en#x"]))
def test_tracking_params_fragments_and_slashes_do_not_matter(
    parsed: ParsedHandle, suffix: str
) -> None:
    url = canonical_url(parsed)
    if "?" in url:  # profile.php?id=N keeps its query
        suffix = suffix.replace("?", "&").replace("/", "")
    assert parse_handle(url + suffix) == parsed


@given(handles)
def test_make_handle_is_idempotent(parsed: ParsedHandle) -> None:
    again = make_handle(
        parsed.network,
        f"{parsed.handle}@{parsed.instance}" if parsed.instance else parsed.handle,
        kind=parsed.kind,
    )
    assert again == parsed


@given(st.text(max_size=60), st.sampled_from([None, *[n.value for n in Network]]))
def test_parse_never_fails_with_anything_but_invalid_handle(text: str, network: str | None) -> None:
    try:
        parsed = parse_handle(text, network)
    except InvalidHandle:
        return
    if parsed is not None:
        assert parse_handle(canonical_url(parsed)) == parsed
