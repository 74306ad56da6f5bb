"""pyproject.toml declares what the site needs to run, and agrees with the pins.

An install from pyproject alone (``pip install .``) must give a site that
starts: every third-party package the runtime code imports, and every app or
backend the settings name, comes from a distribution in
``[project].dependencies``. The exact pins in requirements.txt must fall
within those declared ranges. Tests and benchmarks are not scanned: their
tools are pinned in requirements-dev.txt.
"""

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from django.conf import settings
from packaging.requirements import Requirement

ROOT = Path(settings.BASE_DIR)

# The code that runs the site; tests/ and bench/ are left out on purpose.
RUNTIME_CODE = ["films", "stalker_guide", "manage.py", "gunicorn.conf.py"]


def canonical(name):
    """A distribution's name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_dependencies(pyproject):
    """``{canonical name: Requirement}`` from ``[project].dependencies``."""
    data = tomllib.loads(pyproject.read_text())
    requirements = (Requirement(spec) for spec in data["project"]["dependencies"])
    return {canonical(req.name): req for req in requirements}


def pinned_versions(requirements_txt):
    """``{canonical name: version}`` from the ``name==version`` lines."""
    pins = {}
    for line in requirements_txt.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, _, version = line.partition("==")
        pins[canonical(name.split("[", 1)[0])] = version.strip()
    return pins


def pin_problems(declared, pins, requires=metadata.requires):
    """How the pins fail the declared ranges: a dependency not pinned, a pin
    outside its range, or a package an extra brings in (``psycopg[binary]``)
    not pinned within what the dependency asks of it."""
    problems = []
    for requirement in sorted(declared.values(), key=str):
        wanted = [requirement]
        for extra in sorted(requirement.extras):
            for spec in requires(requirement.name) or ():
                brought = Requirement(spec)
                if brought.marker and brought.marker.evaluate({"extra": extra}):
                    wanted.append(brought)
        for req in wanted:
            pin = pins.get(canonical(req.name))
            if pin is None:
                problems.append(f"{req.name} ({requirement}) is not pinned")
            elif not req.specifier.contains(pin, prereleases=True):
                problems.append(f"{req.name}=={pin} is outside {req.specifier}")
    return problems


def first_party(root):
    """Top-level names that are this project's own: its packages and modules."""
    names = {path.parent.name for path in root.glob("*/__init__.py")}
    names |= {path.stem for path in root.glob("*.py")}
    return names


def imported_names(source, filename="<source>"):
    """The top-level module of every absolute import in ``source``, wherever
    it stands (inside a function too); relative imports are first-party."""
    names = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def python_files(root, parts):
    for part in parts:
        path = root / part
        if path.is_dir():
            yield from sorted(path.rglob("*.py"))
        elif path.exists():
            yield path


def third_party(names, root):
    ours = first_party(root)
    return {n for n in names if n not in sys.stdlib_module_names and n not in ours}


def undeclared(uses, declared, distributions=None):
    """What ``uses`` (``{top-level name: where}``) needs that is not declared:
    ``{name: (distributions providing it, where)}``. A name no installed
    distribution provides counts as undeclared too: nothing says where it
    comes from."""
    distributions = (
        metadata.packages_distributions() if distributions is None else distributions
    )
    missing = {}
    for name, where in sorted(uses.items()):
        providers = {canonical(dist) for dist in distributions.get(name, ())}
        if not providers & declared.keys():
            missing[name] = (sorted(providers) or ["no installed distribution"], where)
    return missing


def runtime_imports(root, parts=RUNTIME_CODE):
    """``{third-party top-level name: first file importing it}``."""
    uses = {}
    for path in python_files(root, parts):
        names = imported_names(path.read_text(), str(path))
        for name in sorted(third_party(names, root)):
            uses.setdefault(name, str(path.relative_to(root)))
    return uses


def named_in_settings():
    """``{top-level name: setting}`` for every app and dotted path to code the
    settings name: apps, middleware, backends, engines, routers."""
    paths = {
        "INSTALLED_APPS": settings.INSTALLED_APPS,
        "MIDDLEWARE": settings.MIDDLEWARE,
        "AUTHENTICATION_BACKENDS": settings.AUTHENTICATION_BACKENDS,
        "DATABASE_ROUTERS": settings.DATABASE_ROUTERS,
        "TEMPLATES": [entry["BACKEND"] for entry in settings.TEMPLATES],
        "CACHES": [entry["BACKEND"] for entry in settings.CACHES.values()],
        "STORAGES": [entry["BACKEND"] for entry in settings.STORAGES.values()],
        "DATABASES": [entry["ENGINE"] for entry in settings.DATABASES.values()],
    }
    uses = {}
    for setting, values in paths.items():
        for value in values:
            if isinstance(value, str):
                uses.setdefault(value.split(".")[0], setting)
    return {
        name: where for name, where in uses.items() if name in third_party({name}, ROOT)
    }


def describe(missing):
    return "; ".join(
        f"{name} (used in {where}) comes from {', '.join(dists)}"
        for name, (dists, where) in missing.items()
    )


# --- The project as it is -------------------------------------------------------


def test_every_package_the_code_imports_is_declared():
    declared = declared_dependencies(ROOT / "pyproject.toml")
    missing = undeclared(runtime_imports(ROOT), declared)
    assert not missing, f"add to [project].dependencies: {describe(missing)}"


def test_every_app_and_backend_the_settings_name_is_declared():
    declared = declared_dependencies(ROOT / "pyproject.toml")
    uses = named_in_settings()
    assert {"reversion", "axes", "whitenoise"} <= uses.keys()
    missing = undeclared(uses, declared)
    assert not missing, f"add to [project].dependencies: {describe(missing)}"


def test_every_declared_dependency_is_pinned_within_its_range():
    declared = declared_dependencies(ROOT / "pyproject.toml")
    pins = pinned_versions(ROOT / "requirements.txt")

    problems = pin_problems(declared, pins)
    assert not problems, "; ".join(problems)


# --- The scan itself -------------------------------------------------------------


def test_the_scan_reads_absolute_imports_only_wherever_they_stand():
    source = (
        "import os, json.decoder\n"
        "import reversion.admin as history\n"
        "from axes.models import AccessAttempt\n"
        "from . import sibling\n"
        "from .models import Film\n"
        "def later():\n"
        "    import yaml\n"
        "    from films.models import Scene\n"
    )

    assert imported_names(source) == {
        "os",
        "json",
        "reversion",
        "axes",
        "yaml",
        "films",
    }
    assert third_party(imported_names(source), ROOT) == {"reversion", "axes", "yaml"}


def test_an_import_from_an_undeclared_distribution_is_reported():
    declared = {canonical(n): Requirement(n) for n in ["Django", "django-reversion"]}
    distributions = {
        "django": ["Django"],
        "reversion": ["django-reversion"],
        "axes": ["django-axes"],
    }
    uses = {"django": "a.py", "reversion": "b.py", "axes": "c.py", "nowhere": "d.py"}

    assert undeclared(uses, declared, distributions) == {
        "axes": (["django-axes"], "c.py"),
        "nowhere": (["no installed distribution"], "d.py"),
    }


def test_a_deliberately_undeclared_import_in_the_code_fails_the_check(tmp_path):
    # A copy of the runtime code with one import more: PyYAML is installed (a
    # test tool) but not declared, so the check must name it.
    for path in python_files(ROOT, RUNTIME_CODE):
        copy = tmp_path / path.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(path.read_text())
    declared = declared_dependencies(ROOT / "pyproject.toml")
    assert not undeclared(runtime_imports(tmp_path), declared)

    (tmp_path / "films" / "fixture_yaml.py").write_text("import yaml\n")

    missing = undeclared(runtime_imports(tmp_path), declared)
    assert missing == {"yaml": (["pyyaml"], "films/fixture_yaml.py")}


@pytest.mark.parametrize("dropped", ["django-reversion", "django-axes"])
def test_dropping_a_runtime_dependency_from_pyproject_fails_the_check(dropped):
    declared = declared_dependencies(ROOT / "pyproject.toml")
    del declared[dropped]

    missing = undeclared({**runtime_imports(ROOT), **named_in_settings()}, declared)

    assert [dists for dists, _ in missing.values()] == [[dropped]]


def test_a_pin_outside_its_range_or_missing_is_reported():
    declared = {
        "django": Requirement("Django>=6.1,<6.2"),
        "psycopg": Requirement("psycopg[binary]>=3.2"),
        "redis": Requirement("redis>=5"),
    }
    pins = {"django": "6.2.0", "psycopg": "3.3.9", "psycopg-binary": "3.3.8"}
    requires = {
        "Django": [],
        "psycopg": ['psycopg-binary==3.3.9; extra == "binary"', "tzdata; extra == 'c'"],
        "redis": [],
    }.get

    assert pin_problems(declared, pins, requires) == [
        "Django==6.2.0 is outside <6.2,>=6.1",
        "psycopg-binary==3.3.8 is outside ==3.3.9",
        "redis (redis>=5) is not pinned",
    ]
