from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.deps.sources import (
    LOCAL_OR_URL,
    DepFileProblem,
    Requirement,
    is_dependency_file,
    read_dependency_file,
)


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def pins(reqs: list[Requirement]) -> list[tuple[str, str | None, str, int]]:
    return [(r.name, r.version, r.path, r.line) for r in reqs]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("requirements.txt", True),
        ("requirements-dev.txt", True),
        ("sub/dir/requirements_test.txt", True),
        ("requirements/base.txt", True),
        ("ci/dev-requirements.txt", True),
        ("test_requirements.txt", True),
        ("pyproject.toml", True),
        ("pkg/pyproject.toml", True),
        ("pylock.toml", True),
        ("pylock.dev.toml", True),
        ("requirements.in", False),
        ("notes.txt", False),
        ("setup.py", True),
        ("setup.cfg", True),
        ("src/requirements.txt", True),
        ("envs/environment.yml", True),
        ("conda.yaml", True),
        ("uv.lock", True),
        ("poetry.lock", True),
        ("config.yaml", False),
        ("pylock.json", False),
        ("docs/pyproject.toml.bak", False),
        # the last part is not the name until normalised: the quick test must not reject it
        ("requirements.txt/", True),
        ("requirements.txt/.", True),
        ("pkg\\setup.py", True),
        ("pkg/setup.py\\", True),
        ("conda.yml/x/..", True),
        ("notes/..", False),
        ("Setup.PY", True),
    ],
)
def test_is_dependency_file(path: str, expected: bool) -> None:
    assert is_dependency_file(path) is expected


def test_requirements_basics(tmp_path: Path) -> None:
    write(
        tmp_path,
        "requirements.txt",
        "# a comment\n"
        "\n"
        "Torch==2.1.0  # trailing comment\n"
        "numpy>=1.24\n"
        "Pillow[avif] == 10.0.1 ; python_version >= '3.8'\n"
        "requests===2.31.0\n"
        "scipy==1.11.*\n"
        "pandas\n"
        "six==1.16.0 --hash=sha256:aaaa --hash=sha256:bbbb\n"
        "--index-url https://example.org/simple\n"
        "--extra-index-url=https://example.org/extra\n"
        "-i https://example.org/simple\n"
        "--pre\n",
    )
    reqs, problems = read_dependency_file(tmp_path, "requirements.txt")
    assert problems == []
    assert pins(reqs) == [
        ("torch", "2.1.0", "requirements.txt", 3),
        ("numpy", None, "requirements.txt", 4),
        ("pillow", "10.0.1", "requirements.txt", 5),
        ("requests", "2.31.0", "requirements.txt", 6),
        ("scipy", None, "requirements.txt", 7),
        ("pandas", None, "requirements.txt", 8),
        ("six", "1.16.0", "requirements.txt", 9),
    ]
    assert reqs[0].spec == "Torch==2.1.0"
    assert reqs[2].spec == "Pillow[avif] == 10.0.1 ; python_version >= '3.8'"
    assert reqs[6].spec == "six==1.16.0"


def test_continuations_with_hashes(tmp_path: Path) -> None:
    write(
        tmp_path,
        "requirements.txt",
        "jinja2==3.1.2 \\\n"
        "    --hash=sha256:aaaa \\\n"
        "    --hash=sha256:bbbb\n"
        "markupsafe\\\n"
        "==2.1.3\n"
        "pyyaml==6.0 \\\n"
        "# a comment ends the continuation\n"
        "idna==3.4\n",
    )
    reqs, problems = read_dependency_file(tmp_path, "requirements.txt")
    assert problems == []
    assert pins(reqs) == [
        ("jinja2", "3.1.2", "requirements.txt", 1),
        ("markupsafe", "2.1.3", "requirements.txt", 4),
        ("pyyaml", "6.0", "requirements.txt", 6),
        ("idna", "3.4", "requirements.txt", 8),
    ]


def test_includes_relative_to_including_file(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "-r requirements/base.txt\nflask==3.0.0\n")
    write(
        tmp_path, "requirements/base.txt", "--requirement=common.txt\nclick==8.1.7\n-c pins.txt\n"
    )
    write(tmp_path, "requirements/common.txt", "attrs==23.1.0\n")
    write(tmp_path, "requirements/pins.txt", "urllib3==2.0.0\n")
    reqs, problems = read_dependency_file(tmp_path, "requirements.txt")
    assert problems == []
    assert pins(reqs) == [
        ("attrs", "23.1.0", "requirements/common.txt", 1),
        ("click", "8.1.7", "requirements/base.txt", 2),
        ("flask", "3.0.0", "requirements.txt", 2),
    ]


def test_missing_and_escaping_includes(tmp_path: Path) -> None:
    write(
        tmp_path,
        "requirements.txt",
        "-r missing.txt\n-c nope.txt\n-r ../outside.txt\n-r /etc/passwd\n"
        "-r https://example.org/r.txt\nok==1.0\n",
    )
    write(tmp_path.parent, "outside.txt", "evil==1.0\n")
    reqs, problems = read_dependency_file(tmp_path, "requirements.txt")
    assert pins(reqs) == [("ok", "1.0", "requirements.txt", 6)]
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [
        (1, "included file does not exist"),
        (2, "included file does not exist"),
        (3, "include outside the repository"),
        (4, "include outside the repository"),
        (5, "cannot audit a remote include"),
    ]


def test_include_cycles_and_diamonds(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "-r b.txt\n-r c.txt\none==1.0\n")
    write(tmp_path, "b.txt", "-r c.txt\ntwo==2.0\n")
    write(tmp_path, "c.txt", "-r a.txt\n-r c.txt\nthree==3.0\n")
    reqs, problems = read_dependency_file(tmp_path, "a.txt")
    assert [r.name for r in reqs] == ["three", "two", "one"]  # c.txt read once
    assert problems == [
        DepFileProblem("c.txt", 1, "include cycle: a.txt -> b.txt -> c.txt -> a.txt"),
        DepFileProblem("c.txt", 2, "include cycle: c.txt -> c.txt"),
    ]


def test_local_url_editable_and_bad_lines_are_problems(tmp_path: Path) -> None:
    write(
        tmp_path,
        "requirements.txt",
        "-e .\n"
        "--editable git+https://github.com/x/y.git#egg=y\n"
        "./local/pkg\n"
        "https://example.org/pkg-1.0-py3-none-any.whl\n"
        "foo @ https://example.org/foo.tar.gz\n"
        "bar==1.0 ;; broken\n"
        "--frobnicate\n"
        "baz==2.0\n",
    )
    reqs, problems = read_dependency_file(tmp_path, "requirements.txt")
    assert pins(reqs) == [("baz", "2.0", "requirements.txt", 8)]
    assert [p.line for p in problems] == [1, 2, 3, 4, 5, 6, 7]
    assert all(p.message.startswith(LOCAL_OR_URL) for p in problems[:5])
    assert problems[5].message.startswith("invalid requirement 'bar==1.0 ;; broken'")
    assert problems[6].message == "unrecognised option line: --frobnicate"


def test_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(b"ok==1.0\nbad==\xff\xfe\n")
    reqs, problems = read_dependency_file(tmp_path, "requirements.txt")
    assert reqs == []
    assert problems == [DepFileProblem("requirements.txt", 2, "not valid UTF-8 text")]
    reqs, problems = read_dependency_file(tmp_path, "nope/requirements.txt")
    assert (reqs, problems) == (
        [],
        [DepFileProblem("nope/requirements.txt", 0, "file does not exist")],
    )


PYPROJECT = """\
[project]
name = "demo"
dependencies = [
  "torch==2.2.0",
  'numpy>=1.26',
  "transformers[torch]==4.38.0; python_version >= '3.9'",
  "local @ file:///tmp/local",
]

[project.optional-dependencies]
dev = ["pytest==8.0.0", "numpy>=1.26"]

[dependency-groups]
test = ["coverage==7.4.0", {include-group = "dev"}]

[tool.poetry.dependencies]
python = "^3.10"
requests = "2.31.0"
"ruamel.yaml" = "==0.18.5"
click = "^8.1"
rich = { version = "13.7.0", extras = ["jupyter"] }
mylib = { path = "../mylib", develop = true }
anyio = [{ version = "4.2.0", python = "<3.12" }, { version = "4.3.0", python = ">=3.12" }]

[tool.poetry.group.dev.dependencies]
black = "24.1.1"
"""


def test_pyproject(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", PYPROJECT)
    reqs, problems = read_dependency_file(tmp_path, "pyproject.toml")
    assert pins(reqs) == [
        ("torch", "2.2.0", "pyproject.toml", 4),
        ("numpy", None, "pyproject.toml", 5),
        ("transformers", "4.38.0", "pyproject.toml", 6),
        ("pytest", "8.0.0", "pyproject.toml", 11),
        ("numpy", None, "pyproject.toml", 11),
        ("coverage", "7.4.0", "pyproject.toml", 14),
        ("requests", "2.31.0", "pyproject.toml", 18),
        ("ruamel-yaml", "0.18.5", "pyproject.toml", 19),
        ("click", None, "pyproject.toml", 20),
        ("rich", "13.7.0", "pyproject.toml", 21),
        ("anyio", None, "pyproject.toml", 23),
        ("black", "24.1.1", "pyproject.toml", 26),
    ]
    assert reqs[2].spec == "transformers[torch]==4.38.0; python_version >= '3.9'"
    assert [(p.line, p.message) for p in problems] == [
        (7, f"{LOCAL_OR_URL}: local @ file:///tmp/local"),
        (22, f"{LOCAL_OR_URL}: mylib"),
    ]


def test_invalid_toml_and_non_utf8(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "x"\ndependencies = [\n  "a==1",\n  oops\n]\n',
    )
    reqs, problems = read_dependency_file(tmp_path, "pyproject.toml")
    assert reqs == []
    assert len(problems) == 1 and problems[0].line == 5
    assert problems[0].message.startswith("invalid TOML")
    (tmp_path / "pylock.toml").write_bytes(b'lock-version = "1.0"\n# caf\xe9\n')
    reqs, problems = read_dependency_file(tmp_path, "pylock.toml")
    assert (reqs, problems) == ([], [DepFileProblem("pylock.toml", 2, "not valid UTF-8 text")])


def test_pylock(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pylock.toml",
        'lock-version = "1.0"\n'
        'created-by = "test"\n'
        "\n"
        "[[packages]]\n"
        'name = "Jinja2"\n'
        'version = "3.1.2"\n'
        "\n"
        "[[packages]]\n"
        'name = "colorama"\n'
        'version = "0.4.6"\n'
        "marker = \"sys_platform == 'win32'\"\n"
        "\n"
        "[[packages]]\n"
        'name = "mylib"\n'
        '[packages.directory]\npath = "./mylib"\n',
    )
    reqs, problems = read_dependency_file(tmp_path, "pylock.toml")
    assert pins(reqs) == [
        ("jinja2", "3.1.2", "pylock.toml", 5),
        ("colorama", "0.4.6", "pylock.toml", 9),
    ]
    assert reqs[1].spec == "colorama==0.4.6; sys_platform == 'win32'"
    assert problems == [DepFileProblem("pylock.toml", 14, f"{LOCAL_OR_URL}: mylib (directory)")]
