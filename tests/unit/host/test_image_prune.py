"""What `chaser.host.images.prune` keeps and deletes, on a cache laid out in a temp dir."""

from __future__ import annotations

import os
from pathlib import Path

from chaser.host.images.prune import MARKER, mark_used, prune, stale

NOW = 1_000_000_000.0
RETENTION = 7 * 86_400


def make(path: Path, when: float, file: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if file:
        path.write_bytes(b"x")
    else:
        path.mkdir(exist_ok=True)
    os.utime(path, (when, when))
    return path


def cache_layout(root: Path, now: float = NOW) -> dict[str, Path]:
    old, recent = now - 10 * 86_400, now - 60
    p = {
        "base_new": make(root / "base-new", old),  # current, though built long ago
        "base_old": make(root / "base-old", old),
        "base_old_used": make(root / "base-old2", old),
        "vm_new": make(root / "vm-new", old),
        "vm_old": make(root / "vm-old", old),
        "tpl_old": make(root / "vm-new" / "templates" / "k1", old),
        "tpl_recent": make(root / "vm-new" / "templates" / "k2", recent),
        "agent_old": make(root / "vm-new" / "templates" / "agent-a.ext4", old, file=True),
        "building": make(root / "vm-new" / "templates" / ".k3.tmp-1", old),
        "oci": make(root / "oci-sha256abc", old),
    }
    make(p["base_old_used"] / MARKER, recent, file=True)  # a long session still runs on it
    os.symlink("base-new", root / "base")
    os.symlink("vm-new", root / "vm.base-new")
    os.symlink("vm-old", root / "vm.base-old")
    os.utime(p["vm_new"], (old, old))
    return p


def test_stale_names_old_images_and_old_templates_of_current_ones(tmp_path: Path) -> None:
    p = cache_layout(tmp_path)
    assert set(stale(tmp_path, RETENTION, NOW)) == {p["base_old"], p["vm_old"], p["tpl_old"], p["agent_old"]}


def test_prune_deletes_them_and_the_aliases_left_dangling(tmp_path: Path) -> None:
    p = cache_layout(tmp_path)
    deleted = prune(tmp_path, RETENTION, NOW)
    assert set(deleted) == {p["base_old"], p["vm_old"], p["tpl_old"], p["agent_old"]}
    for kept in ("base_new", "base_old_used", "vm_new", "tpl_recent", "building", "oci"):
        assert p[kept].exists(), kept
    assert not (tmp_path / "vm.base-old").is_symlink(), "its target is gone"
    assert (tmp_path / "base").resolve() == p["base_new"]


def test_mark_used_keeps_an_old_template(tmp_path: Path) -> None:
    p = cache_layout(tmp_path)
    mark_used(p["tpl_old"])
    mark_used(p["agent_old"])
    assert p["tpl_old"] not in stale(tmp_path, RETENTION)
    assert p["agent_old"] not in stale(tmp_path, RETENTION)


def test_an_empty_or_missing_cache_is_fine(tmp_path: Path) -> None:
    assert stale(tmp_path / "none", RETENTION) == []
    assert prune(tmp_path / "none", RETENTION) == []


def test_the_cli_lists_then_prunes(tmp_path: Path) -> None:
    """`chaser admin prune-images` (a real process) on the same layout."""
    import json
    import subprocess
    import sys
    import time

    p = cache_layout(tmp_path, now=time.time())
    chaser = [
        str(Path(sys.executable).parent / "chaser"),
        "admin",
        "prune-images",
        "--image-cache",
        str(tmp_path),
    ]
    dry = subprocess.run([*chaser, "--dry-run"], capture_output=True, text=True, check=True)
    listed = json.loads(dry.stdout)
    assert set(listed["would_delete"]) == {str(p[k]) for k in ("base_old", "vm_old", "tpl_old", "agent_old")}
    assert p["base_old"].exists()
    done = json.loads(subprocess.run(chaser, capture_output=True, text=True, check=True).stdout)
    assert set(done["deleted"]) == set(listed["would_delete"]) and not p["base_old"].exists()
