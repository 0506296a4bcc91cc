"""The workshop hub's parts without starting it: learner names, passwords, the configuration JupyterHub loads, the
pinned proxy, and the Zero to JupyterHub values file (the hub itself: tests/browser/test_classroom_hub.py)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from course_utils.classroom import hub
from course_utils.classroom.auth import WorkshopAuthenticator, hash_password, make_password, password_ok
from course_utils.classroom.hub import HubSetupError, Workshop, configure, learner_names, nbgitpuller_url
from course_utils.paths import REPO_ROOT

VALUES = REPO_ROOT / "deploy" / "z2jh-values.yaml"
LOCAL = REPO_ROOT / "deploy" / "local"


def test_learner_names() -> None:
    assert learner_names("3") == ["learner1", "learner2", "learner3"]
    assert learner_names(" Ana, ben ,chloe-2") == ["ana", "ben", "chloe-2"]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("0", "between 1 and 200"),
        ("ana,ana", "twice"),
        ("instructor", "wrong: instructor"),
        ("../x", "wrong: ../x"),
        ("", "none given"),
        ("ana,9lives", "wrong: 9lives"),
    ],
)
def test_bad_learner_names_are_refused(spec: str, problem: str) -> None:
    with pytest.raises(HubSetupError, match=re.escape(problem)):
        learner_names(spec)


def test_passwords_are_random_and_kept_only_as_hashes() -> None:
    first, second = make_password(), make_password()
    assert first != second and re.fullmatch(r"([a-z2-9]{4}-){3}[a-z2-9]{4}", first)
    stored = hash_password(first)
    assert first not in stored and stored.startswith("pbkdf2-sha256$")
    assert password_ok(first, stored)
    assert not password_ok(second, stored)
    assert not password_ok(first, "plain-text")
    assert not password_ok(first, stored.replace("pbkdf2-sha256", "md5"))


def test_the_authenticator_logs_in_each_learner_with_their_own_password(tmp_path: Path) -> None:
    passwords = {"ana": make_password(), "ben": make_password()}
    file = tmp_path / "passwords.json"
    file.write_text(json.dumps({name: hash_password(p) for name, p in passwords.items()}))
    auth = WorkshopAuthenticator(passwords_file=str(file))

    def login(name: str, password: str) -> Any:
        # In a thread of its own: Playwright's sync API (browser tests in the same session) holds this thread's loop.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, auth.authenticate(None, {"username": name, "password": password})).result()

    assert login("ana", passwords["ana"]) == "ana"
    assert login(" Ana ", passwords["ana"]) == "ana"
    assert login("ana", passwords["ben"]) is None  # another learner's password
    assert login("carl", passwords["ana"]) is None  # not in the workshop
    assert login("ana", "") is None


def _workshop(tmp_path: Path) -> Workshop:
    return Workshop(
        folder=str(tmp_path),
        learners=("ana", "ben"),
        ip="127.0.0.1",
        port=8000,
        hub_port=8081,
        proxy_api_port=8001,
        proxy="/opt/chp",
        idle_timeout=1200,
        allow_root=True,
    )


def test_the_configuration_jupyterhub_loads(tmp_path: Path) -> None:
    from traitlets.config import Config

    workshop = _workshop(tmp_path)
    settings = tmp_path / "hub-settings.json"
    settings.write_text(json.dumps({**workshop.__dict__, "learners": list(workshop.learners)}))
    c = Config()
    configure(c, str(settings))
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000/"
    assert c.JupyterHub.hub_bind_url == "http://127.0.0.1:8081"
    assert c.ConfigurableHTTPProxy.command == ["/opt/chp"]
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:8001"
    assert c.Authenticator.allowed_users == {"ana", "ben"} and c.Authenticator.admin_users == {"instructor"}
    assert c.JupyterHub.spawner_class == "course_utils.classroom.spawner.WorkshopSpawner"
    assert c.WorkshopSpawner.home_dir_template == str(tmp_path / "home" / "{username}")
    assert c.Spawner.cmd[1:] == ["-m", "course_utils.classroom.singleuser"]
    assert c.Spawner.args[0] == "--allow-root"
    link = urlsplit(c.Spawner.default_url)
    query = {key: value[0] for key, value in parse_qs(link.query).items()}
    assert link.path == "/git-pull" and query["repo"] == (tmp_path / "course.git").as_uri()
    assert query["urlpath"] == "lab/tree/onnx-in-practice/notebooks/00_index.ipynb"
    assert query["branch"] == "workshop" and query["targetpath"] == "onnx-in-practice"
    culler = c.JupyterHub.services[0]
    assert culler["name"] == "idle-culler" and "--timeout=1200" in culler["command"]
    assert c.JupyterHub.load_roles[0]["services"] == ["idle-culler"]
    assert "delete:servers" in c.JupyterHub.load_roles[0]["scopes"]
    assert c.JupyterHub.cleanup_servers is True

    class Spawner:  # what the environment's callables and the hook are given
        home_dir = str(tmp_path / "home" / "ana")

    path = c.Spawner.environment["PYTHONPATH"](Spawner).split(":")
    assert path == [str(tmp_path / "home" / "ana" / "onnx-in-practice"), str(REPO_ROOT)]
    c.Spawner.pre_spawn_hook(Spawner)
    settings_dir = tmp_path / "home" / "ana" / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
    tracker = json.loads((settings_dir / "notebook-extension" / "tracker.jupyterlab-settings").read_text())
    assert tracker == {"autoStartDefaultKernel": True}


def test_the_spawner_and_singleuser_modules_load() -> None:
    from jupyterhub.spawner import SimpleLocalProcessSpawner

    from course_utils.classroom.spawner import WorkshopSpawner

    assert issubclass(WorkshopSpawner, SimpleLocalProcessSpawner)
    code = "import course_utils.classroom.singleuser as s; import sys; print(callable(s.main), 'rfc3987_syntax' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT)
    assert run.stdout.split() == ["True", "False"], run.stderr  # importing it changes nothing yet


def test_the_nbgitpuller_link_quotes_paths_with_spaces() -> None:
    link = nbgitpuller_url("file:///tmp/my%20course/course.git")
    assert " " not in link and parse_qs(urlsplit(link).query)["repo"] == ["file:///tmp/my%20course/course.git"]


def test_a_missing_proxy_is_one_line_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub, "PROXY_PACKAGE", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HubSetupError, match=r"configurable-http-proxy is not installed: run `./course hub`"):
        hub.find_proxy()
    assert hub.main(["--dir", str(tmp_path / "w"), "--learners", "2"]) == 2


def test_the_proxy_is_pinned_by_the_lock_file() -> None:
    package = json.loads((LOCAL / "package.json").read_text())
    lock = json.loads((LOCAL / "package-lock.json").read_text())
    assert package["dependencies"] == {"configurable-http-proxy": "5.3.0"}
    assert lock["packages"]["node_modules/configurable-http-proxy"]["version"] == "5.3.0"
    assert all("integrity" in entry for key, entry in lock["packages"].items() if key)  # every package hashed
    ignored = subprocess.run(["git", "check-ignore", "-q", str(LOCAL / "node_modules")], cwd=REPO_ROOT)
    assert ignored.returncode == 0, "deploy/local/node_modules must be git-ignored"


def test_the_hub_packages_are_pinned() -> None:
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (REPO_ROOT / "requirements.txt").read_text(), re.MULTILINE))
    assert pins["jupyterhub"] == "6.1.1" and pins["nbgitpuller"] == "1.3.0"
    assert pins["jupyterhub-idle-culler"] == "2.0.0"


# The keys this course sets, with the type each has in the values schema of the Zero to JupyterHub chart 4.4.0
# (jupyterhub/values.schema.yaml at tag 4.4.0 of jupyterhub/zero-to-jupyterhub-k8s; hub.config is free-form
# JupyterHub configuration, checked against JupyterHub's classes below). A key not listed here fails the test:
# look it up in that schema for the chart version the guide names, then add it.
Z2JH_KEYS: dict[str, tuple[type, ...]] = {
    "hub.config": (dict,),
    "singleuser.image.name": (str,),
    "singleuser.image.tag": (str,),
    "singleuser.image.pullPolicy": (str,),  # IfNotPresent, Always or Never
    "singleuser.defaultUrl": (str,),
    "singleuser.extraEnv": (dict,),
    "singleuser.memory.guarantee": (str, int, float),
    "singleuser.memory.limit": (str, int, float),
    "singleuser.cpu.guarantee": (int, float),
    "singleuser.cpu.limit": (int, float),
    "singleuser.storage.capacity": (str,),
    "singleuser.startTimeout": (int,),
    "cull.enabled": (bool,),
    "cull.timeout": (int,),
    "cull.every": (int,),
    "prePuller.hook.enabled": (bool,),
    "prePuller.continuous.enabled": (bool,),
}


def _leaves(node: Any, path: str = "") -> dict[str, Any]:
    if path in Z2JH_KEYS or not isinstance(node, dict):
        return {path: node}
    found: dict[str, Any] = {}
    for key, value in node.items():
        found.update(_leaves(value, f"{path}.{key}" if path else key))
    return found


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


def test_the_z2jh_values_use_only_keys_the_chart_has(values: dict[str, Any]) -> None:
    leaves = _leaves(values)
    unknown = sorted(set(leaves) - set(Z2JH_KEYS))
    assert unknown == [], f"not in the documented chart keys: {unknown}"
    for key, value in leaves.items():
        assert isinstance(value, Z2JH_KEYS[key]), (key, value)
    assert values["singleuser"]["image"]["pullPolicy"] in ("IfNotPresent", "Always", "Never")
    assert re.fullmatch(r"\d+(\.\d+)?G", values["singleuser"]["memory"]["limit"])


def test_the_z2jh_hub_config_names_real_jupyterhub_settings(values: dict[str, Any]) -> None:
    from jupyterhub.app import JupyterHub
    from jupyterhub.auth import Authenticator

    classes = {"JupyterHub": JupyterHub, "Authenticator": Authenticator}
    for section, settings in values["hub"]["config"].items():
        assert section in classes, section
        for name in settings:
            assert classes[section].class_traits(config=True).get(name) is not None, f"{section}.{name}"


def test_the_z2jh_link_gives_each_learner_the_course(values: dict[str, Any]) -> None:
    link = urlsplit(values["singleuser"]["defaultUrl"])
    query = {key: value[0] for key, value in parse_qs(link.query).items()}
    assert link.path == "/git-pull"
    readme = (REPO_ROOT / "README.md").read_text()
    assert query["repo"].removeprefix("https://github.com/") in readme  # the repository the Binder badge names
    target = query["targetpath"]
    assert query["urlpath"] == f"lab/tree/{target}/notebooks/00_index.ipynb"
    assert values["singleuser"]["extraEnv"]["PYTHONPATH"] == f"/home/jovyan/{target}"


def _guide_build_command() -> list[str]:
    """The repo2docker command of the guide's "Build the image" block, as arguments."""
    import shlex

    guide = (REPO_ROOT / "docs" / "teaching.md").read_text()
    block = guide[guide.index("**Build the image**") :]
    block = block[block.index("```bash\n") + 8 : block.index("```", block.index("```bash\n") + 8)]
    command = block.replace("\\\n", " ").splitlines()[0]
    return shlex.split(command)


def test_the_guides_image_is_the_values_image(values: dict[str, Any]) -> None:
    command = _guide_build_command()
    assert command[0] == ".venv/bin/repo2docker" and command[-1] == "."
    image = f"{values['singleuser']['image']['name']}:{values['singleuser']['image']['tag']}"
    assert command[command.index("--image-name") + 1] == image
    # The image's jupyterhub is the chart's hub version (z2jh 4.4.0: appVersion 5.5.0), as the values file says.
    assert "pip install --no-deps jupyterhub==5.5.0" in command[command.index("--appendix") + 1]
    assert "jupyterhub==5.5.0" in VALUES.read_text() and "4.4.0" in VALUES.read_text()


@pytest.mark.skipif(shutil.which("repo2docker", path=str(Path(sys.executable).parent)) is None, reason="no repo2docker")
def test_repo2docker_accepts_the_guides_build_command() -> None:
    repo2docker = shutil.which("repo2docker", path=str(Path(sys.executable).parent))
    assert repo2docker is not None
    command = _guide_build_command()
    run = subprocess.run(
        [repo2docker, "--no-build", *command[1:-1], str(REPO_ROOT)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]


def test_the_guides_lesson_times_are_the_lessons_own() -> None:
    """The guide's plan repeats each lesson's time from the index's course map: they must not drift apart."""
    index = json.loads((REPO_ROOT / "notebooks" / "00_index.ipynb").read_text())
    course_map = next("".join(c["source"]) for c in index["cells"] if "".join(c["source"]).startswith("## Course map"))
    stated = dict(re.findall(r"^\| (\d\d) \|.*\| (\d+ min) \|$", course_map, re.MULTILINE))
    guide = (REPO_ROOT / "docs" / "teaching.md").read_text()
    planned = dict(re.findall(r"^\| (\d\d) \| [^|]+ \| (\d+ min) \|", guide, re.MULTILINE))
    assert planned == stated and len(planned) >= 9
