"""The helm-binary backend: the commands it runs (a recording stand-in for `helm` on PATH)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from auditor.errors import ConfigError, InstallError
from auditor.install.chart import HelmBinary

FAKE_HELM = """#!/usr/bin/env python3
import json, sys
from pathlib import Path
here = Path(sys.argv[0]).parent
with open(here / "calls.jsonl", "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
if args[:2] == ["show", "crds"]:
    print((here / "crds.yaml").read_text())
elif args[0] == "list":
    print(json.dumps([{"name": "aws-load-balancer-controller", "chart": "aws-load-balancer-controller-1.8.2",
                       "app_version": "v2.8.2", "status": "deployed"}]))
elif args[:2] == ["get", "values"]:
    print(json.dumps({"clusterName": "prod"}))
elif args[0] == "upgrade":
    values = json.loads(Path(args[args.index("--values") + 1]).read_text())
    with open(here / "values.json", "w") as out:
        json.dump(values, out)
else:
    print("Error: unknown command", file=sys.stderr)
    sys.exit(1)
"""


@pytest.fixture
def helm(tmp_path: Path) -> Path:
    script = tmp_path / "helm"
    script.write_text(FAKE_HELM)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    crds = Path(__file__).resolve().parents[1] / "fixtures/chart/aws-load-balancer-controller/crds/crds.yaml"
    (tmp_path / "crds.yaml").write_text(crds.read_text())
    return script


def _calls(helm: Path) -> list[list[str]]:
    return [json.loads(line) for line in (helm.parent / "calls.jsonl").read_text().splitlines()]


def test_helm_backend_reads_crds_release_and_upgrades_with_pinned_version(helm):
    backend = HelmBinary("1.13.0", helm=str(helm))

    crds = backend.crds()
    release = backend.release(release="aws-load-balancer-controller", namespace="kube-system")
    done = backend.upgrade_install(
        {"clusterName": "prod", "serviceAccount": {"create": False}},
        release="aws-load-balancer-controller",
        namespace="kube-system",
    )

    assert sorted(c["metadata"]["name"] for c in crds) == [
        "ingressclassparams.elbv2.k8s.aws",
        "targetgroupbindings.elbv2.k8s.aws",
    ]
    assert release is not None and release.chart_version == "1.8.2" and release.app_version == "v2.8.2"
    calls = _calls(helm)
    assert calls[0] == [
        "show",
        "crds",
        "aws-load-balancer-controller",
        "--repo",
        "https://aws.github.io/eks-charts",
        "--version",
        "1.13.0",
    ]
    upgrade = calls[-1]
    assert upgrade[:4] == ["upgrade", "--install", "aws-load-balancer-controller", "aws-load-balancer-controller"]
    assert upgrade[upgrade.index("--version") + 1] == "1.13.0"
    assert upgrade[upgrade.index("--namespace") + 1] == "kube-system"
    assert "--skip-crds" in upgrade
    assert json.loads((helm.parent / "values.json").read_text())["serviceAccount"] == {"create": False}
    assert not Path(upgrade[upgrade.index("--values") + 1]).exists()  # the values file is cleaned up
    assert "1.13.0" in done


def test_helm_failure_is_one_line_install_error(helm, tmp_path):
    backend = HelmBinary("1.13.0", helm=str(helm))
    with pytest.raises(InstallError, match="helm version failed: Error: unknown command"):
        backend._run("version")


def test_missing_helm_says_what_to_do(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError, match="--chart-dir"):
        HelmBinary("1.13.0")
