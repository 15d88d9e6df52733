"""The audit-log page: newest first, a page at a time with the filter kept, actors by name,
the CSV of what the filter matches."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from socialcrm.core import audit
from socialcrm.core.db import Database
from tests.admin.conftest import People, error_of, value_of

Login = Callable[[str], TestClient]


def actions_on(page: str) -> list[str]:
    return re.findall(r"<td><code>([^<]+)</code></td>", page)


def test_pages_back_through_the_log_keeping_the_filter(
    database: Database, people: People, login: Login
) -> None:
    with database.session(tenant_id=people.tenant_a) as session:
        for n in range(60):
            audit.record(
                session,
                actor=f"user:{people.agent}",
                action=f"thing.n{n:02d}",
                target_type="ticket",
                target_id=n,
            )
        audit.record(
            session, actor="system", action="other.done", target_type="ticket", target_id=1
        )
    ada = login("ada@a.test")

    first = ada.get("/admin/audit?actor=user:" + str(people.agent)).text
    assert actions_on(first) == [f"thing.n{n:02d}" for n in range(59, 9, -1)]  # 50, newest first
    assert "sam@a.test" in first  # the actor by name
    older = re.search(r'href="(/admin/audit\?[^"]*cursor=\d+)">Older entries', first)
    assert older is not None
    second = ada.get(older[1].replace("&amp;", "&")).text
    assert actions_on(second) == [f"thing.n{n:02d}" for n in range(9, -1, -1)]
    assert "Older entries" not in second and "Newest entries" in second
    assert value_of(second, "actor") == f"user:{people.agent}"  # the filter stays

    assert actions_on(ada.get("/admin/audit?action=thing.n0*&target=ticket:3").text) == [
        "thing.n03"
    ]
    exported = ada.get("/admin/audit.csv?action=other.*").text.splitlines()
    assert len(exported) == 2 and "other.done" in exported[1]


def test_a_bad_filter_is_explained_beside_its_field(people: People, login: Login) -> None:
    ada = login("ada@a.test")
    answer = ada.get("/admin/audit?from=2026-05-01&to=2026-04-01")
    assert answer.status_code == 400
    assert "'from' must be before 'to'" in error_of(answer.text, "from")
    assert "The filter was not applied" in answer.text
    assert value_of(answer.text, "to") == "2026-04-01"
    assert ada.get("/admin/audit?cursor=abc").status_code == 400
    assert ada.get("/admin/audit.csv?from=yesterday").status_code == 400
