"""OmegaConf resolvers of the apps' configs: W&B run tags and the ``--help`` group listing."""

from __future__ import annotations

from typing import Any


def run_tags(tags: Any, miner: str, loss: str, seed: int) -> list[str]:
    """A job's W&B tags: the configured ``tags`` plus ``miner:<option>``, ``loss:<option>`` and
    ``seed:<n>``, so that the dashboard filters and groups runs by them."""
    return [*(str(t) for t in tags or []), f"miner:{miner}", f"loss:{loss}", f"seed:{seed}"]


def config_groups() -> str:
    """The app's config groups and their options for ``--help``, as Hydra lists them, without
    the internal ``schema/*`` and ``common/*`` groups (they only type and share defaults) and the groups the
    app's root config does not compose (``zelo-mine`` has no ``model``)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    hydra = GlobalHydra.instance().hydra
    if hydra is None or not HydraConfig.initialized():  # resolved outside an app (compose API)
        return ""
    used = {k.split("/")[0] for k in HydraConfig.get().runtime.choices}

    def shown(group: str) -> bool:
        root = group.split("/", 1)[0]
        return root not in ("hydra", "schema", "common") and root in used

    return hydra.format_config_groups(shown)
