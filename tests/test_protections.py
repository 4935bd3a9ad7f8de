"""The rendered tests fail when the protection they stand for is taken away.

Each case edits a copy of a rendered project the way a well-meaning change might, runs the one
test that guards against it, and expects that test to fail. On SQLite, every writing unit of
work holds the single write lock, so a read-then-write inside one unit of work is safe there;
the races below read in one transaction and write in another, the check-then-act mistake that
the atomic updates and version checks exist to prevent.
"""

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import Render
from .test_rendered_suites import run_rendered_suite

EXAMPLE = {"python_version": "3.11", "database": "sqlite", "include_example": True}
API = "src/my_service/api/products.py"
SERVICES = "src/my_service/services/products.py"
NAIVE_IMPORTS = """from sqlalchemy import update

from ..db.models import Product
"""


def read_then_write_in_another_transaction(decide: str, column: str, value: str) -> str:
    """A route body that reads the product, decides in Python, and writes in a second
    transaction: between the two, other requests read the same value."""
    return f"""    async with database.sessions() as session:
        product = await products.get_product(session, product_id)
{decide}    await database.transaction(
        lambda session: session.execute(
            update(Product).where(Product.id == product_id).values({column}={value})
        )
    )
"""


@dataclass(frozen=True)
class Removal:
    test: str
    file: str
    protected: str
    naive: str
    imports: str = ""


REMOVALS = {
    "reservation-read-then-write": Removal(
        test="test_reservations_never_oversell",
        file=API,
        protected="""    remaining = await database.transaction(
        lambda session: products.reserve(session, product_id, body.quantity)
    )
""",
        naive=read_then_write_in_another_transaction(
            decide="""    if product.stock < body.quantity:
        raise products.InsufficientStock(product_id, body.quantity)
    remaining = product.stock - body.quantity
""",
            column="stock",
            value="remaining",
        ),
        imports=NAIVE_IMPORTS,
    ),
    "view-count-incremented-in-python": Removal(
        test="test_concurrent_views_are_all_counted",
        file=API,
        protected="""    view_count = await database.transaction(
        lambda session: products.record_view(session, product_id)
    )
""",
        naive=read_then_write_in_another_transaction(
            decide="    view_count = product.view_count + 1\n",
            column="view_count",
            value="view_count",
        ),
        imports=NAIVE_IMPORTS,
    ),
    "read-session-closed-after-the-response": Removal(
        test="test_the_read_session_is_closed_before_the_response_is_sent",
        file="src/my_service/dependencies.py",
        protected='Depends(get_session, scope="function")',
        naive="Depends(get_session)",
    ),
    "rename-without-version-check": Removal(
        test="test_only_one_of_many_renames_from_the_same_version_wins",
        file=SERVICES,
        protected="""    if product.version != expected_version:
        raise StaleVersion(product_id, expected_version, product.version)
""",
        naive="",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REMOVALS))
def test_the_concurrency_test_fails_without_its_protection(
    rendered: Render, python_for: Callable[[str], Path], tmp_path: Path, name: str
) -> None:
    removal = REMOVALS[name]
    project = shutil.copytree(rendered(EXAMPLE), tmp_path / "project")
    source = project / removal.file
    code = source.read_text()
    assert removal.protected in code, f"the protection moved; update this test: {removal}"
    if removal.imports:
        first_local_import = code.index("\nfrom ..") + 1
        code = code[:first_local_import] + removal.imports + code[first_local_import:]
    source.write_text(code.replace(removal.protected, removal.naive))

    output = run_rendered_suite(
        project,
        python_for(EXAMPLE["python_version"]),
        "tests",
        "-k",
        removal.test,
        check=False,
    )

    assert re.search(rf"^FAILED tests/test_\w+\.py::{removal.test}\b", output, re.M), output
