"""The flat layout of configs before the groups (``lr``, ``model_kwargs``...): each old name's new path, and the
migration of flat mappings (users' recipes, configs saved in checkpoints and ``state.pt`` of earlier runs)."""

from __future__ import annotations

from typing import Any

_GROUPS = {
    "data": "dataset download augment auto_augment input_size eval_size crop_fraction padding progressive_min_size "
    "mixup cutmix train_subset val_subset strict_data workers batch_size",
    "model": "input_contract init_weights freeze zero_init_bn",
    "optim": "lr momentum nesterov weight_decay no_decay_bn_bias classifier_lr_mult label_smoothing aux_weight "
    "grad_clip ema_decay precise_bn_batches",
    "schedule": "epochs max_steps warmup_epochs step_gamma step_epochs poly_power min_lr_ratio onecycle_pct "
    "flat_fraction",
    "precision": "device amp channels_last compile threads",
    "checkpoint": "out save_every_steps save_all_ranks",
    "log": "progress",
}

# every flat name of the old TrainConfig -> its dotted path now
FLAT_NAMES: dict[str, str] = {
    **{name: f"{group}.{name}" for group, names in _GROUPS.items() for name in names.split()},
    "data": "data.root",
    "model": "model.name",
    "model_kwargs": "model.kwargs",
    "optimizer": "optim.name",
    "schedule": "schedule.name",
}
# the old names that are group names now: flat only when their value is not a mapping
GROUP_NAMES = frozenset({"data", "model", "schedule"})


def is_flat(key: Any, value: Any) -> bool:
    """Whether ``key: value`` at a config's top level is in the old flat layout."""
    if not isinstance(key, str) or key not in FLAT_NAMES:
        return False
    return key not in GROUP_NAMES or not isinstance(value, dict)


def new_path(key: str) -> str:
    """``"lr"`` -> ``"optim.lr"`` (the key itself when it is not an old flat name)."""
    return FLAT_NAMES.get(key, key)


def migrate(config: Any) -> tuple[Any, list[str]]:
    """``config`` in the grouped layout, and the flat names it used (in order). Grouped keys are kept as they are
    (a flat name's value goes under its group, beside them); anything but a mapping is returned unchanged."""
    if not isinstance(config, dict):
        return config, []
    out: dict[Any, Any] = {}
    used = []
    for key, value in config.items():
        if not is_flat(key, value):
            out[key] = merge_into(out.get(key), value) if isinstance(value, dict) else value
            continue
        used.append(key)
        group, field = FLAT_NAMES[key].split(".")
        node = out.setdefault(group, {})
        if isinstance(node, dict):
            node[field] = value
    return out, used


def merge_into(base: Any, over: dict) -> dict:
    """``over`` on top of ``base`` when both are mappings (key by key, recursively), else ``over``."""
    if not isinstance(base, dict):
        return over
    out = dict(base)
    for k, v in over.items():
        out[k] = merge_into(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def notice(used: list[str], where: str) -> str:
    """The one-line deprecation notice for the flat names ``used`` in ``where``."""
    pairs = ", ".join(f"{k} -> {new_path(k)}" for k in dict.fromkeys(used))
    return f"googlenet: note: flat config names in {where} still work but are deprecated; use {pairs}"


def saved_field(config: Any, path: str) -> Any:
    """The value at the dotted ``path`` of a saved config (grouped or flat, not validated), or None when absent:
    for readers of checkpoint metadata that need one field and must not fail on the rest."""
    node, _ = migrate(config)
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
