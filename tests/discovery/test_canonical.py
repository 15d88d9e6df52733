"""Canonical profile URLs: table tests over the link forms found on real websites."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialcrm.discovery.canonical import canonical_profile
from socialcrm.providers.handles import canonical_profile_url

PROFILES = [
    # facebook
    (
        "https://www.facebook.com/AcmeBakery?ref=ts&fref=ts",
        "facebook",
        "https://www.facebook.com/acmebakery",
    ),
    ("http://m.facebook.com/acme.bakery/about", "facebook", "https://www.facebook.com/acme.bakery"),
    (
        "https://de-de.facebook.com/SchreinereiHuber/",
        "facebook",
        "https://www.facebook.com/schreinereihuber",
    ),
    ("https://www.facebook.com/pg/acme/posts/", "facebook", "https://www.facebook.com/acme"),
    (
        "https://www.facebook.com/pages/Acme-Bakery/123456789",
        "facebook",
        "https://www.facebook.com/profile.php?id=123456789",
    ),
    (
        "https://www.facebook.com/profile.php?id=100012345&sk=about",
        "facebook",
        "https://www.facebook.com/profile.php?id=100012345",
    ),
    (
        "https://www.facebook.com/people/Green-Thumb/100089123456789/",
        "facebook",
        "https://www.facebook.com/profile.php?id=100089123456789",
    ),
    (
        "https://www.facebook.com/plugins/page.php?href=https%3A%2F%2Fwww.facebook.com%2Facme&tabs=timeline",
        "facebook",
        "https://www.facebook.com/acme",
    ),
    (
        "https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.instagram.com%2Facme%2F&h=AT0",
        "instagram",
        "https://www.instagram.com/acme",
    ),
    ("https://fb.me/acmebakery", "facebook", "https://www.facebook.com/acmebakery"),
    # instagram
    ("//instagram.com/acme/", "instagram", "https://www.instagram.com/acme"),
    ("instagram.com/acme", "instagram", "https://www.instagram.com/acme"),
    ("https://www.instagram.com/acme.co/?hl=de", "instagram", "https://www.instagram.com/acme.co"),
    ("https://www.instagram.com/_u/acme", "instagram", "https://www.instagram.com/acme"),
    (
        "https://www.instagram.com/thegullinn.stives?igsh=MTV2bm5xZ2h5dGt4Zw==",
        "instagram",
        "https://www.instagram.com/thegullinn.stives",
    ),
    ("http://instagr.am/acme", "instagram", "https://www.instagram.com/acme"),
    # linkedin
    (
        "https://www.linkedin.com/company/acme-gmbh/?trk=x",
        "linkedin",
        "https://www.linkedin.com/company/acme-gmbh",
    ),
    (
        "https://de.linkedin.com/company/acme-gmbh/de",
        "linkedin",
        "https://www.linkedin.com/company/acme-gmbh",
    ),
    (
        "https://www.linkedin.com/company/acme/about/",
        "linkedin",
        "https://www.linkedin.com/company/acme",
    ),
    (
        "https://uk.linkedin.com/in/jane-doe-123",
        "linkedin",
        "https://www.linkedin.com/in/jane-doe-123",
    ),
    (
        "https://www.linkedin.com/school/westbrook-college/",
        "linkedin",
        "https://www.linkedin.com/school/westbrook-college",
    ),
    (
        "https://www.linkedin.com/showcase/acme-labs/",
        "linkedin",
        "https://www.linkedin.com/showcase/acme-labs",
    ),
    # x / twitter
    ("https://twitter.com/#!/acme", "x", "https://x.com/acme"),
    ("http://mobile.twitter.com/AcmeCo?lang=en", "x", "https://x.com/acmeco"),
    ("https://x.com/AcmeCo", "x", "https://x.com/acmeco"),
    ("https://twitter.com/intent/follow?screen_name=AcmeCo", "x", "https://x.com/acmeco"),
    ("https://twitter.com/intent/user?screen_name=acme", "x", "https://x.com/acme"),
    ("https://twitter.com/acme/media", "x", "https://x.com/acme"),
    # tiktok
    ("https://www.tiktok.com/@acme.co?lang=en", "tiktok", "https://www.tiktok.com/@acme.co"),
    ("https://m.tiktok.com/@acme", "tiktok", "https://www.tiktok.com/@acme"),
    # youtube
    (
        "https://www.youtube.com/subscription_center?add_user=acmeco",
        "youtube",
        "https://www.youtube.com/user/acmeco",
    ),
    (
        "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv/videos",
        "youtube",
        "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv",
    ),
    ("https://youtube.com/@AcmeCo/featured", "youtube", "https://www.youtube.com/@acmeco"),
    ("https://m.youtube.com/c/AcmeCo", "youtube", "https://www.youtube.com/c/acmeco"),
    (
        "http://www.youtube.com/user/KettleCreekFly?feature=mhum",
        "youtube",
        "https://www.youtube.com/user/kettlecreekfly",
    ),
    ("https://www.youtube.com/acmeco", "youtube", "https://www.youtube.com/c/acmeco"),
    # extras
    ("https://www.threads.net/@acme", "threads", "https://www.threads.com/@acme"),
    ("https://github.com/acme", "github", "https://github.com/acme"),
    ("https://github.com/orgs/acme/repositories", "github", "https://github.com/acme"),
    ("https://fr.pinterest.com/acmeco/", "pinterest", "https://www.pinterest.com/acmeco"),
    (
        "https://www.pinterest.co.uk/acmeco/_created/",
        "pinterest",
        "https://www.pinterest.com/acmeco",
    ),
    ("https://bsky.app/profile/acme.com", "bluesky", "https://bsky.app/profile/acme.com"),
    ("https://mastodon.social/@acme", "mastodon", "https://mastodon.social/@acme"),
    # wrapped
    ("https://acme.com/out?url=https%3A%2F%2Ftwitter.com%2Facme", "x", "https://x.com/acme"),
    (
        "https://www.google.com/url?q=https://www.tiktok.com/@acme&sa=D",
        "tiktok",
        "https://www.tiktok.com/@acme",
    ),
    (
        "https://track.example/c?redirect=https%253A%252F%252Fwww.youtube.com%252F%2540Acme",
        "youtube",
        "https://www.youtube.com/@acme",
    ),
    (
        "https://www.linkedin.com/redir/redirect?url=https%3A%2F%2Fwww.instagram.com%2Facme",
        "instagram",
        "https://www.instagram.com/acme",
    ),
]

NOT_PROFILES = [
    "https://www.facebook.com/sharer/sharer.php?u=https://acme.com",
    "https://www.facebook.com/dialog/share?app_id=1&href=https%3A%2F%2Facme.com",
    "https://www.facebook.com/tr?id=123&ev=PageView&noscript=1",
    "https://www.facebook.com/plugins/like.php?href=https%3A%2F%2Facme.com%2Fshop",
    "https://www.facebook.com/groups/123456/",
    "https://www.facebook.com/events/987/",
    "https://twitter.com/intent/tweet?text=hi&url=https%3A%2F%2Facme.com",
    "https://x.com/intent/post?url=https%3A%2F%2Facme.com",
    "https://twitter.com/share",
    "https://twitter.com/hashtag/DataConf?src=hash",
    "https://twitter.com/acme/status/1780000000000000000",
    "https://www.linkedin.com/shareArticle?mini=true&url=https%3A%2F%2Facme.com",
    "https://www.linkedin.com/sharing/share-offsite/?url=https%3A%2F%2Facme.com",
    "https://www.instagram.com/p/C5xyzABCdef/",
    "https://www.instagram.com/reel/C5xyz/",
    "https://www.instagram.com/",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://www.youtube.com/embed/abc123XYZ",
    "https://youtu.be/dQw4w9WgXcQ",
    # YouTube's own pages, not legacy custom URLs (youtube.com/name is /c/name)
    "https://www.youtube.com/trending",
    "https://www.youtube.com/music",
    "https://www.youtube.com/gaming",
    "https://www.youtube.com/news",
    "https://www.youtube.com/feed/trending",
    "https://m.youtube.com/premium",
    "https://www.tiktok.com/@acme/video/7300000000000000000",
    "https://pinterest.com/pin/create/button/?url=https%3A%2F%2Facme.com",
    "https://github.com/django/django",
    "https://github.com/features",
    "https://example.social/@acme",
    "https://medium.com/@acme",
    "https://www.yelp.com/biz/acme-bakery",
    "https://www.tripadvisor.com/Restaurant_Review-g1-d2-Reviews-Acme.html",
    "mailto:hello@acme.com",
    "tel:+15550100",
    "javascript:void(0)",
    "/contact",
    "#",
    "",
    "https://facebook.com/" + "a" * 3000,
]


@pytest.mark.parametrize(("url", "network", "canonical"), PROFILES)
def test_profile_links_become_their_canonical_url(url: str, network: str, canonical: str) -> None:
    assert canonical_profile(url) == (network, canonical)


@pytest.mark.parametrize("url", NOT_PROFILES)
def test_links_that_are_not_a_profile_are_discarded(url: str) -> None:
    assert canonical_profile(url) is None


def test_any_fediverse_host_counts_when_the_page_marks_it_rel_me() -> None:
    url = "https://social.openorchard.org/@foundation"
    assert canonical_profile(url) is None
    assert canonical_profile(url, fediverse=True) == ("mastodon", url)


@pytest.mark.parametrize(("url", "network", "canonical"), PROFILES)
def test_agrees_with_the_handles_module_on_its_networks(
    url: str, network: str, canonical: str
) -> None:
    if network in {"threads", "github", "pinterest"}:
        return
    assert canonical_profile_url(canonical) == canonical  # a canonical URL is a fixed point


@given(st.text(max_size=300))
def test_never_raises_on_arbitrary_text(text: str) -> None:
    result = canonical_profile(text)
    assert result is None or result[1].startswith("https://")


@given(st.sampled_from([p[0] for p in PROFILES]), st.sampled_from(["", "#top", "?utm_source=x"]))
def test_canonical_is_stable_under_tracking_noise(url: str, noise: str) -> None:
    first = canonical_profile(url)
    assert first is not None
    if "?" in url and noise.startswith("?"):
        noise = "&" + noise[1:]
    again = canonical_profile(url + noise)
    assert again == first
    assert canonical_profile(first[1]) == first
