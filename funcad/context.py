"""The execution context, as MindSpore's ``set_context``/``get_context`` has it.

``mode`` is the only key that changes what funcad does: in ``GRAPH_MODE`` calling a Cell compiles its
``construct`` with ``funcad.jit`` (one program per input signature and per set of training flags), as
MindSpore compiles it; in ``PYNATIVE_MODE`` (the default) Cells run eagerly, op by op.

Every other key MindSpore code passes is accepted and recorded, so ``get_context`` returns it, but does
nothing here: funcad runs on the CPU through NumPy whatever ``device_target`` says, and it has no graph
dumps, kernel fusion, memory pools or device-side settings to configure. An unknown key is an error, as
in MindSpore, so a misspelt ``mode`` is not silently ignored.
"""

from __future__ import annotations

from typing import Any

GRAPH_MODE = 0
PYNATIVE_MODE = 1
# jit_syntax_level values (MindSpore's numbers); recorded only: funcad's jit takes Python as it is
STRICT = 0
COMPATIBLE = 1
LAX = 2

# Keys taken and recorded without effect (MindSpore's set_context arguments); mode is handled apart.
RECORDED_KEYS = (
    "device_target", "device_id", "jit_config", "jit_syntax_level", "max_call_depth", "save_graphs", "save_graphs_path",
    "enable_graph_kernel", "graph_kernel_flags", "pynative_synchronize", "max_device_memory", "mempool_block_size",
    "variable_memory_max_size", "enable_reduce_precision", "enable_compile_cache", "compile_cache_path",
    "runtime_num_threads", "inter_op_parallel_num", "memory_optimize_level", "op_timeout", "deterministic",
    "check_bprop", "print_file_path", "env_config_path", "precompile_only", "reserve_class_name_in_scope",
    "ascend_config", "gpu_config", "disable_format_transform", "grad_for_scalar", "enable_dump", "save_dump_path",
    "auto_tune_mode", "debug_level", "aoe_tune_mode", "aoe_config",
)
_DEVICE_TARGETS = ("CPU", "GPU", "Ascend")

_DEFAULTS: dict[str, Any] = {"mode": PYNATIVE_MODE, "device_target": "CPU", "device_id": 0, "max_call_depth": 1000,
                             "save_graphs": False, "save_graphs_path": ".", "deterministic": "OFF"}
_context: dict[str, Any] = dict(_DEFAULTS)


def set_context(**kwargs) -> None:
    """Set context keys; all are checked before any is set. See the module docstring for what each does here."""
    unknown = [k for k in kwargs if k != "mode" and k not in RECORDED_KEYS]
    if unknown:
        raise ValueError(f"set_context: unknown key(s) {', '.join(map(repr, unknown))}; "
                         f"valid keys: mode, {', '.join(RECORDED_KEYS)}")
    if "mode" in kwargs and kwargs["mode"] not in (GRAPH_MODE, PYNATIVE_MODE):
        raise ValueError(f"set_context: mode must be GRAPH_MODE ({GRAPH_MODE}) or PYNATIVE_MODE ({PYNATIVE_MODE}), "
                         f"got {kwargs['mode']!r}")
    if "device_target" in kwargs and kwargs["device_target"] not in _DEVICE_TARGETS:
        raise ValueError(f"set_context: device_target must be one of {', '.join(_DEVICE_TARGETS)}, "
                         f"got {kwargs['device_target']!r} (funcad computes on the CPU whichever is named)")
    _context.update(kwargs)


def get_context(attr_key: str) -> Any:
    """The value of a context key (its default when never set; None for a recorded key never set)."""
    if attr_key != "mode" and attr_key not in RECORDED_KEYS:
        raise ValueError(f"get_context: unknown key {attr_key!r}; valid keys: mode, {', '.join(RECORDED_KEYS)}")
    return _context.get(attr_key)


def graph_mode() -> bool:
    """Whether Cells compile their construct (``mode=GRAPH_MODE``)."""
    return _context["mode"] == GRAPH_MODE


def reset_context() -> None:
    """Back to the defaults (PYNATIVE_MODE, CPU)."""
    _context.clear()
    _context.update(_DEFAULTS)


class ParallelMode:
    """MindSpore's parallel modes, the values ``set_auto_parallel_context(parallel_mode=...)`` takes."""

    STAND_ALONE = "stand_alone"
    DATA_PARALLEL = "data_parallel"
    HYBRID_PARALLEL = "hybrid_parallel"
    SEMI_AUTO_PARALLEL = "semi_auto_parallel"
    AUTO_PARALLEL = "auto_parallel"
    MODES = [STAND_ALONE, DATA_PARALLEL, HYBRID_PARALLEL, SEMI_AUTO_PARALLEL, AUTO_PARALLEL]


# The auto-parallel keys (MindSpore's set_auto_parallel_context arguments) and their defaults. funcad runs every
# program on one device in one process: the keys are checked, recorded and returned by get_auto_parallel_context,
# and change nothing, so a data-parallel script runs as its one-device case.
_PARALLEL_DEFAULTS: dict[str, Any] = {
    "device_num": 1, "global_rank": 0, "gradients_mean": False, "gradient_fp32_sync": True, "loss_repeated_mean": True,
    "parallel_mode": ParallelMode.STAND_ALONE, "search_mode": "recursive_programming",
    "auto_parallel_search_mode": "recursive_programming", "parameter_broadcast": False, "strategy_ckpt_load_file": "",
    "strategy_ckpt_save_file": "", "full_batch": False, "dataset_strategy": "data_parallel", "enable_parallel_optimizer": False,
    "enable_alltoall": False, "all_reduce_fusion_config": [], "pipeline_stages": 1, "pipeline_result_broadcast": False,
    "grad_accumulation_step": 1, "auto_pipeline": False, "parallel_optimizer_config": None, "comm_fusion": None,
    "strategy_ckpt_config": None, "group_ckpt_save_file": None, "pipeline_config": None, "force_fp32_communication": False,
}
_parallel: dict[str, Any] = dict(_PARALLEL_DEFAULTS)


def set_auto_parallel_context(**kwargs) -> None:
    """Record auto-parallel keys (all checked before any is set); with one device they change nothing."""
    unknown = [k for k in kwargs if k not in _PARALLEL_DEFAULTS]
    if unknown:
        raise ValueError(f"set_auto_parallel_context: unknown key(s) {', '.join(map(repr, unknown))}; "
                         f"valid keys: {', '.join(_PARALLEL_DEFAULTS)}")
    mode = kwargs.get("parallel_mode", ParallelMode.STAND_ALONE)
    if mode not in ParallelMode.MODES:
        raise ValueError(f"set_auto_parallel_context: parallel_mode must be one of {ParallelMode.MODES}, got {mode!r}")
    for key, low, high in (("device_num", 1, 4096), ("global_rank", 0, 4095), ("pipeline_stages", 1, 4096),
                           ("grad_accumulation_step", 1, 2**31 - 1)):
        value = kwargs.get(key, low)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"set_auto_parallel_context: {key} must be an int in [{low}, {high}], got {value!r}")
    _parallel.update(kwargs)


def get_auto_parallel_context(attr_key: str) -> Any:
    """The recorded value of an auto-parallel key (its default when never set)."""
    if attr_key not in _PARALLEL_DEFAULTS:
        raise ValueError(f"get_auto_parallel_context: unknown key {attr_key!r}; valid keys: {', '.join(_PARALLEL_DEFAULTS)}")
    return _parallel[attr_key]


def reset_auto_parallel_context() -> None:
    """Back to the auto-parallel defaults (one device, STAND_ALONE)."""
    _parallel.clear()
    _parallel.update(_PARALLEL_DEFAULTS)
