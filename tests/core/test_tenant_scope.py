"""The ORM's tenant guard (``core.db``) reaches every way the ORM reads or changes rows.

Rows of tenant B are planted with a system session, some of them pointing at tenant A's rows
(a corrupt reference, which the guard must still keep out of A's view); then a session of
tenant A reads and writes through each path: ``get``, a select, an aliased join, a subquery,
relationship lazy loads, joined and select-in eager loads, ORM UPDATE and DELETE with
criteria, and bulk UPDATE by primary key. The relationship paths use two test-only tables
(created in the test's transaction and rolled back with it): the product's models load their
relationships explicitly, but the guard must hold for any model that ever declares one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    aliased,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)

from socialcrm.core.db import Database, TenantScoped, TenantScopeMissing
from socialcrm.crm.models import Account, Contact
from tests.conftest import make_tenant


class _Base(DeclarativeBase):
    metadata = MetaData()


# The product's tenants table, as known to this metadata (never created here): the mixin's
# foreign key names it.
Table("tenants", _Base.metadata, Column("id", Integer, primary_key=True))


class Folder(TenantScoped, _Base):
    __tablename__ = "test_scope_folders"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    notes: Mapped[list[Note]] = relationship(back_populates="folder", order_by="Note.id")


class Note(TenantScoped, _Base):
    __tablename__ = "test_scope_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    folder_id: Mapped[int] = mapped_column(ForeignKey("test_scope_folders.id"))
    text: Mapped[str] = mapped_column(String(50))
    folder: Mapped[Folder] = relationship(back_populates="notes")


@dataclass
class World:
    a: int
    b: int
    folder_a: int
    folder_b: int
    contact_a: int
    contact_b: int
    account_b: int


@pytest.fixture
def world(database: Database) -> World:
    with database.session(system=True) as session:
        a, b = make_tenant(session, name="A").id, make_tenant(session, name="B").id
        tables = [Folder.__table__, Note.__table__]
        _Base.metadata.create_all(session.connection(), tables=tables)  # type: ignore[arg-type]
        folder_a = Folder(tenant_id=a, name="A's")
        folder_b = Folder(tenant_id=b, name="B's")
        contact_a = Contact(tenant_id=a, name="Ada", search_text="ada")
        contact_b = Contact(tenant_id=b, name="Bob", search_text="bob")
        account_b = Account(tenant_id=b, name="B Corp")
        session.add_all([folder_a, folder_b, contact_a, contact_b, account_b])
        session.flush()
        session.add_all(
            [
                Note(tenant_id=a, folder_id=folder_a.id, text="mine"),
                # B's notes filed under A's folder, and A's under B's: a corrupt reference
                # must not carry one tenant's rows into the other's view.
                Note(tenant_id=b, folder_id=folder_a.id, text="theirs"),
                Note(tenant_id=a, folder_id=folder_b.id, text="stray"),
            ]
        )
        contact_a.account_id = account_b.id
        session.flush()
        ids = (folder_a.id, folder_b.id, contact_a.id, contact_b.id, account_b.id)
    return World(a, b, *ids)


def test_get_and_select_see_only_the_sessions_tenant(database: Database, world: World) -> None:
    with database.session(tenant_id=world.a) as session:
        assert session.get(Contact, world.contact_b) is None
        assert session.get(Contact, world.contact_a) is not None
        assert session.scalars(select(Contact.name)).all() == ["Ada"]
        assert session.scalar(select(func.count()).select_from(Contact)) == 1
        inner = select(Contact.id).scalar_subquery()
        assert session.scalars(select(Contact.name).where(Contact.id == inner)).all() == ["Ada"]
    with database.session(tenant_id=world.b) as session:
        assert session.get(Contact, world.contact_a) is None
        assert session.scalars(select(Contact.name)).all() == ["Bob"]


def test_joins_and_aliases_are_scoped(database: Database, world: World) -> None:
    with database.session(tenant_id=world.a) as session:
        other = aliased(Contact)
        pairs = session.execute(
            select(Contact.name, other.name).join(other, other.id != Contact.id)
        ).all()
        assert pairs == []  # tenant A has one contact: no pair without B's
        joined = session.execute(
            select(Contact.name, Account.name).join(Account, Account.id == Contact.account_id)
        ).all()
        assert joined == []  # A's contact points at B's account
        outer = session.execute(
            select(Contact.name, Account.name).outerjoin(Account, Account.id == Contact.account_id)
        ).all()
        assert [tuple(row) for row in outer] == [("Ada", None)]
        assert session.scalars(select(aliased(Contact).name)).all() == ["Ada"]


def test_relationship_loads_are_scoped(database: Database, world: World) -> None:
    with database.session(tenant_id=world.a) as session:
        folder = session.get(Folder, world.folder_a)
        assert folder is not None
        assert [note.text for note in folder.notes] == ["mine"]  # lazy load
        session.expunge_all()
        for option in (joinedload(Folder.notes), selectinload(Folder.notes)):
            loaded = session.scalars(select(Folder).options(option)).unique().all()
            assert [(f.name, [n.text for n in f.notes]) for f in loaded] == [("A's", ["mine"])]
            session.expunge_all()
        stray = session.scalars(select(Note).where(Note.text == "stray")).one()
        assert stray.folder is None  # many-to-one lazy load of B's folder
        session.expunge_all()
        joined = session.execute(select(Note.text, Folder.name).join(Note.folder)).all()
        assert [tuple(row) for row in joined] == [("mine", "A's")]
        note_alias = aliased(Note)
        via_alias = session.execute(
            select(Folder.name, note_alias.text).join(note_alias, Folder.notes)
        ).all()
        assert [tuple(row) for row in via_alias] == [("A's", "mine")]


def test_orm_update_and_delete_touch_only_the_sessions_tenant(
    database: Database, world: World
) -> None:
    with database.session(tenant_id=world.a) as session:
        changed = session.execute(update(Contact).values(title="Renamed"))
        assert changed.rowcount == 1  # type: ignore[attr-defined]
        aimed = session.execute(
            update(Contact).where(Contact.id == world.contact_b).values(title="Stolen")
        )
        assert aimed.rowcount == 0  # type: ignore[attr-defined]
        fetch = {"synchronize_session": "fetch"}
        fetched = session.execute(update(Contact).values(company="Acme"), execution_options=fetch)
        assert fetched.rowcount == 1  # type: ignore[attr-defined]
    # Bulk UPDATE by primary key (a list of parameter sets) takes no loader criteria at all:
    # refused in a tenant session rather than run unscoped.
    for statement in (update(Contact), delete(Contact)):
        with pytest.raises(TenantScopeMissing), database.session(tenant_id=world.a) as session:
            session.execute(statement, [{"id": world.contact_b, "title": "Bulk"}])
    with database.session(tenant_id=world.a) as session:
        gone = session.execute(delete(Contact).where(Contact.id == world.contact_b))
        assert gone.rowcount == 0  # type: ignore[attr-defined]
        assert session.execute(delete(Note)).rowcount == 2  # type: ignore[attr-defined]
    with database.session(system=True) as session:
        titles = dict(session.execute(select(Contact.id, Contact.title)).tuples().all())
        assert titles == {world.contact_a: "Renamed", world.contact_b: ""}
        assert session.scalars(select(Note.text)).all() == ["theirs"]


def test_sessions_of_two_tenants_interleaved_keep_apart(database: Database, world: World) -> None:
    """Statements are compiled once and cached for every tenant: the tenant of each execution
    must be its own session's, whatever ran before it."""
    with (
        database.session(tenant_id=world.a) as session_a,
        database.session(tenant_id=world.b) as session_b,
    ):
        for _ in range(3):
            assert session_a.scalars(select(Contact.name)).all() == ["Ada"]
            assert session_b.scalars(select(Contact.name)).all() == ["Bob"]
            assert session_a.get(Contact, world.contact_b) is None
            assert session_b.get(Contact, world.contact_a) is None
            session_a.expunge_all()
            session_b.expunge_all()


def test_no_tenant_and_no_system_refuses_every_path(database: Database, world: World) -> None:
    statements = [
        select(Contact),
        select(aliased(Contact).id),
        select(Account.name).join(Contact, Contact.account_id == Account.id),
        update(Contact).values(title="x"),
        delete(Note),
    ]
    for statement in statements:
        with pytest.raises(TenantScopeMissing), database.session() as session:
            session.execute(statement)
    with pytest.raises(TenantScopeMissing), database.session() as session:
        session.get(Contact, world.contact_a)


def test_orm_bulk_insert_must_name_the_sessions_tenant(database: Database, world: World) -> None:
    """``session.execute(insert(Model), rows)`` skips the flush's tenant stamp: each row must
    name the session's tenant, else nothing is written."""
    from sqlalchemy import insert

    def rows(tenant_id: int | None) -> list[dict[str, object]]:
        row: dict[str, object] = {"folder_id": world.folder_a, "text": "bulk"}
        return [row | ({"tenant_id": tenant_id} if tenant_id is not None else {})]

    for tenant_id in (world.b, None):
        with pytest.raises(TenantScopeMissing), database.session(tenant_id=world.a) as session:
            session.execute(insert(Note), rows(tenant_id))
    with pytest.raises(TenantScopeMissing), database.session() as session:
        session.execute(insert(Note), rows(world.a))
    with database.session(tenant_id=world.a) as session:
        session.execute(insert(Note), rows(world.a) * 2)
    with database.session(system=True) as session:
        texts = session.scalars(select(Note.text).where(Note.tenant_id == world.a)).all()
        assert texts.count("bulk") == 2
