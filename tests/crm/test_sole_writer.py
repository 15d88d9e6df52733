"""crm's use cases are the only writers of crm tables (issue 18).

Every module of the package outside ``socialcrm/crm`` (and the migrations, which own the
schema) is parsed; it fails when one constructs a crm model, assigns to a crm model's column,
hands a crm model to SQLAlchemy's ``update``/``insert``/``delete``, deletes a crm record
through the session, or writes a crm table in raw SQL. Other domains call the use cases in
``crm.service``, ``crm.tickets``, ``crm.leads``, ``crm.activities`` and ``crm.contacts``.

A name counts as a crm record when it is a parameter annotated with a crm model, or is bound
(assignment, ``for``, ``with``, walrus) from an expression that names a crm model class, e.g.
``session.get(Ticket, i)`` or ``crm.get(session, Contact, i)``; a record a function receives
untyped is not seen, which is why the annotations matter.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

import socialcrm
from socialcrm.core.db import Base
from socialcrm.crm import models as crm_models

PACKAGE = Path(socialcrm.__file__).parent
CRM_MODELS = {
    name
    for name, value in vars(crm_models).items()
    if isinstance(value, type)
    and issubclass(value, Base)
    and value.__module__ == crm_models.__name__
}
CRM_TABLES = {str(getattr(crm_models, name).__tablename__) for name in CRM_MODELS}
COLUMNS = {prop.key for name in CRM_MODELS for prop in inspect(getattr(crm_models, name)).attrs}
RAW_WRITE = re.compile(
    r"\b(insert\s+into|update|delete\s+from)\s+(" + "|".join(sorted(CRM_TABLES)) + r")\b",
    re.IGNORECASE,
)
SQL_WRITES = {"update", "insert", "delete"}


def _modules() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in {"crm", "migrations"}:
            continue
        yield path


class _Imports(ast.NodeVisitor):
    """Which local names are crm model classes, crm models modules, or SQLAlchemy writes."""

    def __init__(self) -> None:
        self.models: set[str] = set()
        self.model_modules: set[str] = set()
        self.sql_writes: set[str] = set()

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            local = alias.asname or alias.name
            if module == "socialcrm.crm.models" and alias.name in CRM_MODELS:
                self.models.add(local)
            elif module == "socialcrm.crm" and alias.name == "models":
                self.model_modules.add(local)
            elif module.startswith("sqlalchemy") and alias.name in SQL_WRITES:
                self.sql_writes.add(local)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == "socialcrm.crm.models" and alias.asname:
                self.model_modules.add(alias.asname)


class _Writes(ast.NodeVisitor):
    def __init__(self, imports: _Imports) -> None:
        self.imports = imports
        self.records: set[str] = set()
        self.found: list[tuple[int, str]] = []

    # --- what names a crm model or a crm record ---------------------------------------

    def _is_model(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.imports.models
        return (
            isinstance(node, ast.Attribute)
            and node.attr in CRM_MODELS
            and isinstance(node.value, ast.Name)
            and node.value.id in self.imports.model_modules
        )

    def _mentions_model(self, node: ast.AST | None) -> bool:
        if node is None:
            return False
        return any(self._is_model(n) for n in ast.walk(node))

    def _fetches_model(self, node: ast.AST) -> bool:
        """A call in it is handed a crm model class: ``session.get(Ticket, i)``,
        ``select(Lead)`` (not ``select(Lead.id)``, which reads a column)."""
        return any(
            isinstance(n, ast.Call) and any(self._is_model(a) for a in n.args)
            for n in ast.walk(node)
        )

    def _is_record(self, node: ast.AST) -> bool:
        """A record's name, an item of a list of records (``rows[i]``), or what a
        conditional chooses between them."""
        if isinstance(node, ast.Name):
            return node.id in self.records
        if isinstance(node, ast.Subscript):
            return self._is_record(node.value)
        if isinstance(node, ast.IfExp):
            return self._is_record(node.body) or self._is_record(node.orelse)
        if isinstance(node, ast.BoolOp):
            return any(self._is_record(v) for v in node.values)
        return False

    def _bind(self, target: ast.AST, value: ast.AST | None) -> None:
        if value is not None and (self._fetches_model(value) or self._is_record(value)):
            for n in ast.walk(target):
                if isinstance(n, ast.Name):
                    self.records.add(n.id)

    def _scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        outer = set(self.records)
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None and self._mentions_model(arg.annotation):
                self.records.add(arg.arg)
        self.generic_visit(node)
        self.records = outer

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._scope(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._scope(node)

    # --- bindings ----------------------------------------------------------------------

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._check_target(target, node.lineno)
            self._bind(target, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._check_target(node.target, node.lineno)
        if self._mentions_model(node.annotation):
            self._bind(node.target, node.annotation)
        self._bind(node.target, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        self._check_target(node.target, node.lineno)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._bind(node.target, node.value)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self._bind(node.target, node.iter)
        for stmt in [*node.body, *node.orelse]:
            self.visit(stmt)

    visit_AsyncFor = visit_For  # type: ignore[assignment]

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self.visit(node.iter)
        self._bind(node.target, node.iter)
        for cond in node.ifs:
            self.visit(cond)

    def visit_withitem(self, node: ast.withitem) -> None:
        self.visit(node.context_expr)
        if node.optional_vars is not None:
            self._bind(node.optional_vars, node.context_expr)

    # --- writes ------------------------------------------------------------------------

    def _check_target(self, target: ast.AST, line: int) -> None:
        for n in ast.walk(target):
            if (
                isinstance(n, ast.Attribute)
                and isinstance(n.ctx, ast.Store)
                and n.attr in COLUMNS
                and self._is_record(n.value)
            ):
                self.found.append((line, f"assigns {ast.unparse(n)}"))

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        first = node.args[0] if node.args else None
        if self._is_model(func):
            self.found.append((node.lineno, f"constructs {ast.unparse(func)}"))
        elif (
            isinstance(func, ast.Name)
            and func.id in self.imports.sql_writes
            and first is not None
            and self._is_model(first)
        ):
            self.found.append((node.lineno, f"{func.id}({ast.unparse(first)})"))
        elif isinstance(func, ast.Name) and func.id == "setattr" and first is not None:
            if self._is_record(first):
                self.found.append((node.lineno, f"setattr({ast.unparse(first)}, ...)"))
        elif (
            isinstance(func, ast.Attribute)
            and func.attr == "delete"
            and len(node.args) == 1
            and first is not None
            and (self._is_record(first) or self._fetches_model(first))
        ):
            self.found.append((node.lineno, f"deletes {ast.unparse(first)}"))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and RAW_WRITE.search(node.value):
            self.found.append((node.lineno, "writes a crm table in raw SQL"))


def crm_writes(source: str) -> list[tuple[int, str]]:
    """The crm writes a module's source makes, as (line, what)."""
    tree = ast.parse(source)
    imports = _Imports()
    imports.visit(tree)
    writes = _Writes(imports)
    writes.visit(tree)
    return sorted(writes.found)


def test_only_crm_writes_crm_tables() -> None:
    offences = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
        for path in _modules()
        for line, what in crm_writes(path.read_text(encoding="utf-8"))
    ]
    assert offences == [], "crm tables written outside crm's use cases:\n" + "\n".join(offences)


@pytest.mark.parametrize(
    "source",
    [
        "from socialcrm.crm.models import Ticket\nTicket(subject='x')",
        "from socialcrm.crm import models as m\nm.Lead(name='x')",
        "from socialcrm.crm.models import Ticket\n"
        "def f(s):\n    t = s.get(Ticket, 1)\n    t.status = 'closed'",
        "from socialcrm.crm.models import Contact\ndef f(c: Contact | None):\n    c.handles = []",
        "from socialcrm.crm.models import Contact\n"
        "def f(s):\n    for c in s.scalars(select(Contact)):\n        c.tier += 'x'",
        "from sqlalchemy import update as u\nfrom socialcrm.crm.models import Ticket\nu(Ticket)",
        "from socialcrm.crm.models import Lead\ndef f(s, i):\n    s.delete(s.get(Lead, i))",
        "from socialcrm.crm.models import Lead\n"
        "def f(s, i):\n    lead = s.get(Lead, i)\n    s.delete(lead)",
        "def f(s):\n    s.execute(text('UPDATE tickets SET queue = 1'))",
        "from socialcrm.crm.models import Lead\n"
        "def f(s):\n    lead = s.get(Lead, 1)\n    setattr(lead, 'name', 'x')",
    ],
)
def test_the_check_sees_a_write(source: str) -> None:
    assert crm_writes(source), source


@pytest.mark.parametrize(
    "source",
    [
        "from socialcrm.crm.models import Ticket\n"
        "def f(s):\n    t = s.get(Ticket, 1)\n    x.status = t.status",
        "from socialcrm.crm.models import Ticket\nselect(Ticket).where(Ticket.id == 1)",
        "from socialcrm.crm import service as crm\n"
        "from socialcrm.crm.models import Lead\ncrm.update(s, Lead, 1, {'name': 'x'})",
        "from socialcrm.crm.models import Lead\n"
        "def f(s, lead: Lead):\n    row = Other()\n    row.name = lead.name",
    ],
)
def test_the_check_lets_reads_pass(source: str) -> None:
    assert crm_writes(source) == [], source
