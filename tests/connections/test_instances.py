"""Which server a connection talks to: only Mastodon has instances, and they are https origins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from socialcrm.connections.service import instance_for
from socialcrm.core.errors import ValidationFailed
from socialcrm.core.settings import get_settings


@pytest.fixture
def real_networks() -> Iterator[None]:
    settings = get_settings()
    previous, settings.sandbox_url = settings.sandbox_url, None
    try:
        yield
    finally:
        settings.sandbox_url = previous


@pytest.mark.usefixtures("real_networks")
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("", "https://mastodon.social"),
        ("fosstodon.org", "https://fosstodon.org"),
        ("https://Hachyderm.IO/", "https://hachyderm.io"),
    ],
)
def test_mastodon_instances_become_https_origins(given: str, expected: str) -> None:
    assert instance_for("mastodon", given) == expected


@pytest.mark.usefixtures("real_networks")
@pytest.mark.parametrize(
    "given", ["http://mastodon.social", "https://mastodon.social/@ada", "localhost", "ftp://x.org"]
)
def test_odd_instances_are_refused(given: str) -> None:
    with pytest.raises(ValidationFailed):
        instance_for("mastodon", given)


@pytest.mark.usefixtures("real_networks")
def test_other_networks_have_no_instance() -> None:
    assert instance_for("x", "") == ""
    with pytest.raises(ValidationFailed):
        instance_for("x", "https://x.com")


@pytest.mark.usefixtures("sandbox")
def test_the_sandbox_is_the_only_instance() -> None:
    assert instance_for("mastodon", "https://mastodon.social") == ""


@pytest.mark.usefixtures("real_networks")
@pytest.mark.parametrize(
    "instance", ["https://127.0.0.1", "https://10.1.2.3", "https://[::ffff:192.168.0.1]"]
)
def test_an_instance_the_ssrf_guard_refuses_is_a_client_error(
    api: TestClient, instance: str
) -> None:
    """Connecting to a Mastodon server at an internal address is refused with its reason (a
    400 in the error envelope), and no app is registered for it."""
    answer = api.post("/api/connections", json={"provider": "mastodon", "instance_url": instance})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert "instance_url" in error["message"]
    assert api.get("/api/provider-apps").json() == []
