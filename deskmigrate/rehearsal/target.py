"""Where a rehearsal writes: its own sandbox file (or the configured Intercom) and the project as it sees it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from deskmigrate.core.config import TargetConfig
from deskmigrate.rehearsal.sample import rehearsal_dir, stored_sample

SANDBOX_TOKEN = "rehearsal-sandbox"  # the local sandbox accepts the token it is started with; never a real secret


def rehearsal_target(configured: TargetConfig, wanted: str | None, folder: Path) -> TargetConfig:
    """The rehearsal's target. A sandbox one is always the rehearsal folder's own file (the config's sandbox settings kept,
    a served sandbox's base_url kept), so the main sandbox never holds rehearsed tickets; `--target sandbox` rehearses so
    even when the config targets Intercom. `--target intercom` needs the config's Intercom target. None: the config's type."""
    kind = wanted or configured.type
    if kind == "intercom":
        if configured.type != "intercom":
            raise ValueError("--target intercom needs an Intercom target (type: intercom, token, region) in the config; it names a sandbox")
        return configured
    if configured.type == "sandbox":
        return configured if configured.base_url else configured.model_copy(update={"path": folder / "sandbox.db"})
    return TargetConfig(type="sandbox", token=SecretStr(SANDBOX_TOKEN), path=folder / "sandbox.db", search_delay_s=0)


def rehearsal_project(project: Any, target: TargetConfig) -> Any:
    """The project as a rehearsal sees it: the same source and mapping, the rehearsal folder as its state, `target`."""
    folder = rehearsal_dir(project.state_dir)
    settings = project.loaded.config.model_copy(update={"state": folder, "target": target})
    return type(project)(loaded=project.loaded.model_copy(update={"config": settings}), connector=project.connector, spec=project.spec)


def last_target(project: Any) -> TargetConfig:
    """The target the last rehearsal wrote to (kept in sample.json), for rolling it back."""
    sample = stored_sample(rehearsal_dir(project.state_dir))
    wanted = sample.target if sample is not None else None
    return rehearsal_target(project.loaded.config.target, wanted, rehearsal_dir(project.state_dir))
