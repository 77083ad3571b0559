"""The two homes: the operator's (nodes, simulation root, collateral) and the owner's (keys)."""

from __future__ import annotations

from pathlib import Path

import pytest

from veil.errors import ConfigError
from veil.host.homes import OperatorHome
from veil.host.state import NodeNotFoundError
from veil.owner.home import OwnerHome


def test_operator_home_prefers_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEIL_HOME", str(tmp_path / "h"))
    assert OperatorHome.from_env().root == (tmp_path / "h").resolve()


def test_operator_home_falls_back_to_xdg_state_then_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VEIL_HOME")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert OperatorHome.from_env().root == (tmp_path / "xdg" / "veil").resolve()
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert OperatorHome.from_env().root == (tmp_path / "home/.local/state/veil").resolve()


def test_owner_home_prefers_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEIL_OWNER_HOME", str(tmp_path / "o"))
    assert OwnerHome.from_env().root == (tmp_path / "o").resolve()


def test_owner_home_falls_back_to_xdg_data_then_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VEIL_OWNER_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert OwnerHome.from_env().root == (tmp_path / "xdg" / "veil").resolve()
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert OwnerHome.from_env().root == (tmp_path / "home/.local/share/veil").resolve()


def test_the_homes_are_apart_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VEIL_HOME", "VEIL_OWNER_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    operator, owner = OperatorHome.from_env().root, OwnerHome.from_env().root
    assert not operator.is_relative_to(owner)
    assert not owner.is_relative_to(operator)


def test_operator_home_layout(tmp_path: Path) -> None:
    home = OperatorHome(tmp_path)
    assert home.node("web-1").root == tmp_path / "nodes" / "web-1"
    assert home.simulation_root == tmp_path / "simulation" / "root.pem"
    assert home.collateral_cache == tmp_path / "collateral-cache"


def test_node_paths_and_listing(tmp_path: Path) -> None:
    home = OperatorHome(tmp_path)
    assert home.node_names() == []
    paths = home.node("web-1")
    with pytest.raises(NodeNotFoundError, match="no node named 'web-1'"):
        home.existing_node("web-1")
    paths.root.mkdir(parents=True)
    paths.spec.write_text("{}")
    assert home.existing_node("web-1") == paths
    (paths.root.parent / "Not_A_Node!").mkdir()
    assert home.node_names() == ["web-1"]
    with pytest.raises(ConfigError, match="invalid node name"):
        home.node("../escape")


def test_owner_deployments(tmp_path: Path) -> None:
    home = OwnerHome(tmp_path)
    kept = home.deployment("web")
    assert kept == tmp_path / "deployments" / "web"
    kept.mkdir(parents=True)
    (kept / "code.key").write_text("secret")
    home.remove_deployment("web")
    assert not kept.exists()
    with pytest.raises(ConfigError, match="invalid node name"):
        home.deployment("..")
