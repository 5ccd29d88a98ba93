"""A whole ``train`` session: float training build -> learning -> trained network -> the
build for the target profile, with nothing half-written on error or interrupt."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from ..compile import compile_network
from ..errors import NeurodeployError
from ..ir import load_network
from ..ir.models import Network
from ..profiles import HardwareProfile, load_profile
from .evaluate import evaluate_build
from .learners import check_backend
from .device_models import device_of
from .expand import expand
from .train import Curves, TrainConfig, Trainer, learning_block, prepare_data, remove, scratch_dir, write_curves


@dataclass
class SessionResult:
    """What a training session produced."""

    build: Path
    curves: Curves
    float_accuracy: float
    deployed_accuracy: float
    deployed_learning: bool
    workload: dict | None = None
    learned_in: str = "float"           # or "<model> device" for analog targets


def _weights_file(arr: np.ndarray, directory: Path, name: str) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / f"{name}.npy", arr)
    return {"file": f"weights/{name}.npy"}


def trained_network_yaml(net: Network, weights: dict[str, np.ndarray], directory: Path,
                         with_learning: bool) -> Path:
    """Write the trained network (every projection's weights from a file) as YAML.

    ``with_learning`` keeps the plasticity blocks and the learning parts (error relays,
    labels, learned feedback); without it only the forward network is written."""
    doc = net.model_dump(mode="json", exclude_none=True)
    learning_pops = {n for n, p in net.populations.items() if p.kind == "graded"}
    for block in net.plasticity:
        learning_pops.update(f"{block}_{part}" for part in ("label", "noise", "mirror_drive"))
    projections = {}
    for name, proj in doc["projections"].items():
        touches = proj["pre"] in learning_pops or proj["post"] in learning_pops or \
            proj.get("port") == "third_factor"
        if touches and not with_learning:
            continue
        arr = weights[name]
        if proj.get("connectivity") == "one_to_one" and arr.ndim == 2:
            arr = np.diag(arr).copy()
        elif proj.get("connectivity") != "one_to_one" and arr.ndim == 1:
            raise NeurodeployError(f"trained weights of '{name}' are not a [post, pre] matrix")
        if isinstance(proj.get("connectivity"), dict):
            proj["connectivity"] = "dense"     # a weight file's nonzeros are its synapses
        proj["weights"] = _weights_file(arr, directory / "weights", name)
        projections[name] = proj
    doc["projections"] = projections
    if not with_learning:
        doc["populations"] = {n: p for n, p in doc["populations"].items() if n not in learning_pops}
        doc["plasticity"] = {}
        doc["monitors"] = [m for m in doc.get("monitors", []) if m["population"] not in learning_pops]
    path = directory / "network.yaml"
    path.write_text("# written by neurodeploy train: the trained network, weights in weights/\n"
                    + yaml.safe_dump(doc, sort_keys=False))
    return path


def run_session(network: str | Path, profile_name: str, cfg: TrainConfig, out: Path,
                force: bool = False, progress=None) -> SessionResult:
    """Train ``network`` on ``cfg.backend`` and write the build for ``profile_name`` to ``out``."""
    from ..compile.artifact import check_output_dir
    net = load_network(network)
    block_name, _ = learning_block(net)
    check_output_dir(out, force)
    target = load_profile(profile_name)
    work = scratch_dir(out)
    try:
        float_build = compile_network(net, load_profile("cpu"), work / "float_build").out
        deployed = compile_network(net if target.numerics == "float" else _forward_only(net),
                                   target, out=None)
        check_backend(cfg.backend)
        data = prepare_data(net, cfg)
        from ..compilers import load_plan
        plan = load_plan(float_build)
        trainer = Trainer(plan, block_name, data, cfg, progress,
                          deployed.manifest if target.numerics == "float" else None)
        device = device_of(deployed.manifest) if target.numerics == "float" else None
        learned_in = f"{device['model']} device" if device else "float"
        curves = trainer.run()
        weights = trainer.trained_weights()
        expanded = expand(net).net
        keep_learning = target.numerics == "float"
        trained_dir = work / "training"
        full_yaml = trained_network_yaml(expanded, weights, trained_dir, with_learning=True)
        deploy_yaml = full_yaml
        if not keep_learning:
            deploy_yaml = trained_network_yaml(expanded, weights, work / "forward", with_learning=False)
        write_curves(curves, trained_dir, f"{net.name}: {net.plasticity[block_name].rule} on {cfg.backend}")
        float_acc = curves.test_accuracy[-1]
        built = compile_network(load_network(deploy_yaml), target, work / "deploy").out
        deployed = evaluate_build(built, backend="cpu", data=data)
        summary = {"rule": net.plasticity[block_name].rule, "backend": cfg.backend,
                   "profile": target.name, "epochs": cfg.epochs, "data": data.name,
                   "float_test_accuracy": float_acc, "deployed_test_accuracy": deployed["accuracy"],
                   "deployed_with_learning": keep_learning,
                   "train_samples": int(data.y_train.size), "test_samples": int(data.y_test.size),
                   "classes": cfg.classes, "workload_last_epoch": trainer.workload,
                   "learned_in": learned_in}
        (trained_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        os.replace(trained_dir, built / "training")
        if not keep_learning:
            os.replace(work / "forward", built / "training" / "forward")
        final = _install(built, out, force)
        return SessionResult(final, curves, float_acc, deployed["accuracy"], keep_learning,
                             trainer.workload, learned_in)
    finally:
        remove(work)


def _forward_only(net: Network) -> Network:
    """The network without plasticity (what a fixed-point target runs after training)."""
    out = net.model_copy(update={"plasticity": {}})
    for attr in ("_base_dir", "_file", "_weights_from_files", "_lines"):
        setattr(out, attr, getattr(net, attr))
    return out


def _install(built: Path, out: Path, force: bool) -> Path:
    """Move the finished build to ``out`` (refusing to replace anything but a build)."""
    from ..compile.artifact import _place
    _place(built, Path(os.path.abspath(out)), out, force)
    return out


__all__ = ["run_session", "SessionResult", "trained_network_yaml", "HardwareProfile",
           "NeurodeployError"]
