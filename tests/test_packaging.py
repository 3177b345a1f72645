"""A production install carries the product and no test doubles; the Dockerfile runs it non-root on a read-only root.

The demo's moto server and Kubernetes API emulator live in ``auditor/demo`` and need the ``[demo]`` extra; nothing
else in the package may import them (or moto) when it is imported. The wheel is built and installed without extras
into a fresh virtual environment, as ``pip install eks-exposure-auditor`` (and the Docker image) would.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

from tests.cli.test_audit_cli import snapshot_with_problems

ROOT = Path(__file__).resolve().parents[1]
DEMO_HINT = "pip install 'eks-exposure-auditor[demo]'"
# Third-party modules that only the demo's test doubles need (moto[server] brings Flask and Werkzeug).
DEMO_ONLY_MODULES = ("moto", "flask", "flask_cors")


# --------------------------------------------------------------------------- import hygiene


def test_no_product_module_imports_a_test_double():
    """Import every module of the package but auditor.demo with moto and Flask made unimportable: none needs them,
    and none pulls auditor.demo in."""
    script = textwrap.dedent(
        f"""
        import importlib, pathlib, sys
        for name in {DEMO_ONLY_MODULES!r}:
            sys.modules[name] = None  # importing it now raises ModuleNotFoundError
        skipped = ("auditor.demo", "auditor.store.migrations.env")  # env.py runs migrations when imported
        files = sorted(pathlib.Path("auditor").rglob("*.py"))
        names = [".".join(f.with_suffix("").parts).removesuffix(".__init__") for f in files]
        names = [n for n in names if not n.startswith(skipped)]
        for name in names:
            importlib.import_module(name)
        demo = sorted(m for m in sys.modules if m.startswith("auditor.demo"))
        print(len(names), demo)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    count, demo = proc.stdout.split(" ", 1)
    assert int(count) > 50  # the walk saw the package, not an empty directory
    assert demo.strip() == "[]", f"imported at import time: {demo}"


def test_demo_without_the_extra_says_how_to_get_it():
    """`auditor demo` where moto is not installed: one line naming the extra, exit 2, no traceback."""
    script = "import sys; sys.modules['moto'] = None; from auditor.cli import main; sys.argv = ['auditor', 'demo']; "
    script += "main()"
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert DEMO_HINT in lines[0] and "moto" in lines[0] and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- the wheel, installed without extras


def _run(*args: str | Path, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False, timeout=timeout, env=env)


@pytest.mark.slow
def test_wheel_without_extras_runs_the_product_and_no_test_double(tmp_path):
    # a copy of the sources, so setuptools' build/ and egg-info never land in the work tree
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "auditor", src / "auditor", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path / "dist"
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, src)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("eks_exposure_auditor-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python, auditor = env_dir / "bin" / "python", env_dir / "bin" / "auditor"
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    clean_env["HOME"] = os.environ.get("HOME", str(tmp_path))  # the pip cache: dependencies come from it if they can
    installed = _run(python, "-m", "pip", "install", "--quiet", wheel, env=clean_env)
    assert installed.returncode == 0, installed.stderr[-3000:]

    # what a production install carries: the wheel's metadata puts the doubles behind the extra
    listing = "import importlib.metadata as m; print('\\n'.join(m.requires('eks-exposure-auditor')))"
    requires = _run(python, "-c", listing)
    moto_lines = [line for line in requires.stdout.splitlines() if line.startswith("moto")]
    assert moto_lines and all('extra == "demo"' in line for line in moto_lines), requires.stdout
    absent = _run(python, "-c", "import moto", env=clean_env)
    assert absent.returncode != 0 and "No module named 'moto'" in absent.stderr
    assert _run(python, "-c", "import flask", env=clean_env).returncode != 0

    run_env = {**clean_env, "AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path}/auditor.db"}
    for command in ("audit", "collect", "serve", "install-alb", "db"):
        helped = _run(auditor, command, "--help", env=run_env)
        assert helped.returncode == 0, f"auditor {command} --help: {helped.stderr[-2000:]}"
        assert "Usage: auditor " + command in helped.stdout

    # the service's app builds from the wheel: the dashboard's stylesheet and templates are packaged
    dashboard = (
        "from auditor.api.app import create_app; from auditor.api.dashboard import routes; create_app(); "
        "assert (routes._ASSETS / 'dashboard.css').is_file(); "
        "[routes._environment().get_template(t) for t in ('overview.html.j2', 'findings.html.j2')]"
    )
    built_app = _run(python, "-c", dashboard, env=run_env)
    assert built_app.returncode == 0, built_app.stderr[-2000:]

    # the installed product audits a snapshot end to end (rules, correlation, rendering) without the doubles
    snapshot = snapshot_with_problems(tmp_path)
    audited = _run(auditor, "audit", "--snapshot", snapshot, "--output", "json", env=run_env)
    assert audited.returncode == 0, audited.stderr[-2000:]
    assert any(f["rule_id"] == "http-without-redirect" for f in json.loads(audited.stdout)["findings"])

    demo = _run(auditor, "demo", env=run_env)
    assert demo.returncode == 2 and demo.stdout == ""
    assert demo.stderr.strip().count("\n") == 0 and DEMO_HINT in demo.stderr, demo.stderr
    assert "Traceback" not in demo.stderr


# --------------------------------------------------------------------------- the Dockerfile (no engine to build it)


def dockerfile_instructions(path: Path = ROOT / "Dockerfile") -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    out = []
    for line in joined:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def env_of(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in instructions:
        if word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def test_dockerfile_runs_the_lean_install_as_non_root():
    instructions = dockerfile_instructions()
    words = [w for w, _ in instructions]
    assert words.count("FROM") == 1 and instructions[0][1].startswith("python:3.11")

    installs = [rest for word, rest in instructions if word == "RUN" and "pip install" in rest]
    assert installs, "the image installs the package"
    for command in installs:
        assert not re.search(r"\[[a-z,\s]*\]", command), f"an extra installed in the image: {command}"
        assert "moto" not in command and "demo" not in command

    users = [rest for word, rest in instructions if word == "USER"]
    assert users, "no USER: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0, "USER must be a numeric uid (runAsNonRoot can only check a number)"
    assert not gid or (gid.isdigit() and int(gid) > 0)
    # everything after the last USER runs as that user: nothing there may need root
    assert words.index("USER") > max(i for i, w in enumerate(words) if w == "RUN")

    entry = json.loads(next(rest for word, rest in instructions if word == "ENTRYPOINT"))
    assert entry == ["auditor"]


def test_dockerfile_writes_only_to_the_volume_and_tmp():
    instructions = dockerfile_instructions()
    env = env_of(instructions)
    volumes = [v for word, rest in instructions if word == "VOLUME" for v in json.loads(rest)]
    writable = [*volumes, "/tmp"]

    def on_writable(path: str) -> bool:
        return any(path == w or path.startswith(w.rstrip("/") + "/") for w in writable)

    # the SQLite default lives on the volume (sqlite:////data/auditor.db: four slashes, an absolute path)
    url = env["AUDITOR_DATABASE_URL"]
    assert url.startswith("sqlite:////") and on_writable(url.removeprefix("sqlite:///")), url
    assert on_writable(env["XDG_CACHE_HOME"])
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"  # no __pycache__ next to the installed modules
    # relative paths (a default sqlite:///auditor.db, `collect -o snap.json`) resolve on the volume
    workdirs = [rest for word, rest in instructions if word == "WORKDIR"]
    assert on_writable(workdirs[-1])
    # no report directory on the read-only root by default
    assert "AUDITOR_REPORTS__REPORT_DIR" not in env or on_writable(env["AUDITOR_REPORTS__REPORT_DIR"])


def test_dockerfile_healthcheck_asks_a_route_the_service_serves():
    from auditor.api.routes.health import router

    instructions = dockerfile_instructions()
    checks = [rest for word, rest in instructions if word == "HEALTHCHECK"]
    assert len(checks) == 1
    options, _, command = checks[0].partition("CMD")
    assert "--interval=" in options and "--timeout=" in options
    argv = json.loads(command)  # exec form: no shell needed in the image
    assert argv[:2] == ["python", "-c"]
    paths = re.findall(r"http://127\.0\.0\.1:%s(/\w+)", argv[2])
    assert paths == ["/healthz"], argv[2]
    served = {getattr(route, "path", None) for route in router.routes}
    assert paths[0] in served
    env = env_of(instructions)
    assert "AUDITOR_API__PORT" in argv[2]  # the port the service listens on, not a second copy of it
    exposed = [rest for word, rest in instructions if word == "EXPOSE"]
    assert exposed == [env["AUDITOR_API__PORT"]]
    assert env["AUDITOR_API__HOST"] == "0.0.0.0"
