"""The questions: documented, defaulted, and guarded by validators with clear messages."""

import re
from pathlib import Path
from typing import Any

import pytest

from .helpers import REPO_ROOT, asked_questions, questions, render

QUESTIONS_DOCS = REPO_ROOT / "docs" / "questions"


@pytest.mark.parametrize("name", list(asked_questions()))
def test_every_question_has_a_default_and_one_sentence_of_help(name: str) -> None:
    spec = asked_questions()[name]

    assert "default" in spec
    help_text = spec.get("help", "")
    assert help_text.strip(), f"{name} has no help"
    assert help_text.rstrip().endswith("."), f"{name}: help should be a sentence: {help_text}"
    assert not re.search(r"[.!?]\s+[A-Z]", help_text), f"{name}: one sentence, please"


@pytest.mark.parametrize("name", list(asked_questions()))
def test_every_question_has_a_reference_entry(name: str) -> None:
    assert (QUESTIONS_DOCS / f"{name}.md").read_text().startswith(f"# {name}\n")


def test_computed_values_are_never_asked() -> None:
    computed = {name for name, spec in questions().items() if spec.get("when") is False}

    assert computed == {
        "reserved_module_names",
        "answer_names",
        "with_example",
        "has_resources",
        "has_servers",
        "database_server",
        "outbox",
        "broker_module",
        "broker_name",
        "broker_settings",
    }


def test_answer_names_lists_every_question_a_user_may_answer() -> None:
    assert questions()["answer_names"]["default"] == list(asked_questions())


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_name": "   "}, "project_name must not be empty"),
        ({"project_name": "9 lives"}, "project_name must start with a letter"),
        ({"project_name": "Café!"}, "project_name must start with a letter"),
        ({"project_slug": "My-Service"}, "project_slug must be lowercase"),
        ({"project_slug": "my--service"}, "project_slug must be lowercase"),
        ({"package_name": "my-service"}, "package_name must be a valid Python identifier"),
        ({"package_name": "2fast"}, "package_name must be a valid Python identifier"),
        ({"package_name": "class"}, 'package_name "class" is a Python keyword'),
        ({"package_name": "json"}, 'package_name "json" is a Python keyword or would shadow'),
        ({"package_name": "test"}, "would shadow the module"),
        ({"package_name": "fastapi"}, "would shadow the module"),
        ({"package_name": "sqlalchemy"}, "would shadow the module"),
        ({"description": " "}, "description must not be empty"),
        ({"description": 'The "best" service'}, "description must be one line without double"),
        ({"description": "back\\slash"}, "description must be one line without double"),
        ({"author_name": 'Ada "the first" Lovelace'}, "author_name must be one line without"),
        ({"author_email": "nobody"}, "author_email must look like name@example.com"),
        ({"python_version": "3.9"}, "python_version"),
        ({"database": "oracle"}, "database"),
    ],
)
def test_bad_answers_are_refused_with_a_reason_and_render_nothing(
    template: Path, tmp_path: Path, answers: dict[str, Any], message: str
) -> None:
    destination = tmp_path / "project"

    with pytest.raises(ValueError, match=re.escape(message)):
        render(template, destination, answers)

    assert not destination.exists() or not any(destination.iterdir())


def test_names_are_derived_from_the_project_name(template: Path, tmp_path: Path) -> None:
    project = render(template, tmp_path / "project", {"project_name": "Inventory Service 2"})

    assert (project / "src" / "inventory_service_2" / "main.py").is_file()
    assert 'name = "inventory-service-2"' in (project / "pyproject.toml").read_text()
