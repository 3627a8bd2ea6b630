"""The deployment files (deploy/): the Kubernetes manifests are valid against the
Kubernetes schemas, every process they and compose start is a real `overnight`
command line, and they agree on the image and the settings."""

from __future__ import annotations

from pathlib import Path

import click
import kubernetes_validate
import pytest
import yaml

from overnight.cli import main

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
KUBERNETES = "1.30.0"  # the oldest release the manifests are checked against


def manifests() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def containers() -> list[dict]:
    found = []
    for doc in manifests():
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        found += pod.get("containers", [])
    return found


def check_command_line(args: list[str]) -> None:
    """Parse ``overnight ARGS`` as click would (options and values), without running it."""
    ctx = main.make_context("overnight", list(args), resilient_parsing=False)
    command = main.get_command(ctx, args[0])
    assert command is not None, f"overnight has no command {args[0]!r}"
    command.make_context(args[0], list(args[1:]))


@pytest.mark.parametrize("version", [KUBERNETES, kubernetes_validate.latest_version()])
def test_the_kubernetes_manifests_are_valid_against_the_schemas(version):
    docs = manifests()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["ConfigMap", "Deployment", "Deployment", "Job", "Secret", "Service"]
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_a_misspelt_field_is_caught():
    """The check above is worth something: strict validation refuses an unknown field."""
    doc = next(d for d in manifests() if d["kind"] == "Deployment")
    doc["spec"]["template"]["spec"]["containers"][0]["comand"] = ["x"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_every_container_runs_a_real_overnight_command_line():
    for container in containers():
        if "args" in container:
            check_command_line(container["args"])
        else:
            assert container["command"][:2] == ["python", "-c"]
            assert "open_store" in container["command"][2]
    with pytest.raises(click.UsageError):
        check_command_line(["worker", "--slotz", "2"])


def test_the_service_reaches_the_dashboard_and_workers_outlive_their_grace():
    docs = {(d["kind"], d["metadata"]["name"]): d for d in manifests()}
    service = docs["Service", "overnight-dashboard"]
    dashboard = docs["Deployment", "overnight-dashboard"]
    pod = dashboard["spec"]["template"]
    assert service["spec"]["selector"] == pod["metadata"]["labels"]
    assert (
        service["spec"]["ports"][0]["targetPort"]
        == pod["spec"]["containers"][0]["ports"][0]["name"]
    )
    worker = docs["Deployment", "overnight-worker"]["spec"]["template"]["spec"]
    args = worker["containers"][0]["args"]
    grace = float(args[args.index("--grace") + 1])
    assert worker["terminationGracePeriodSeconds"] > grace  # tasks are handed back, not lost


def test_compose_runs_the_same_command_lines_on_the_same_image():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "worker", "dashboard"}
    for name in ("worker", "dashboard"):
        check_command_line(services[name]["command"])
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["restart"] == "unless-stopped"  # until PostgreSQL is up
    images = {c["image"] for c in containers()}
    assert images == {"localhost/overnight:0.1.0"}
    assert services["worker"]["image"].endswith(":-localhost/overnight:0.1.0}")
