"""A whole ``train`` session: float training build -> learning -> trained network -> the
build for the target profile, with nothing half-written on error or interrupt."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from ..compiling import compile_network
from ..errors import CompileError, NeurodeployError
from ..ir import load_network
from ..ir.models import Network
from ..profiles import HardwareProfile, load_profile
from .evaluate import evaluate_build
from .learners import check_backend
from .summary import write_summary
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


def run_session(network: str | Path | Network, profile_name: str | HardwareProfile,
                cfg: TrainConfig, out: Path, force: bool = False, progress=None) -> SessionResult:
    """Train ``network`` (a YAML path or a loaded IR network) on ``cfg.backend`` and write
    the build for ``profile_name`` (a profile name, path or loaded profile) to ``out``."""
    from ..compiling.artifact import check_output_dir
    # a copy: the learning-rate default below must not edit the caller's network object
    net = network.model_copy(deep=True) if isinstance(network, Network) else load_network(network)
    block_name, block = learning_block(net)
    rate, note = cfg.learning_rate, None         # train --learning-rate
    if rate is None and "learning_rate" not in block.model_fields_set:
        fan_in = max(net.populations[net.projections[p].pre].size for p in block.projections)
        rate = DEFAULT_RATE / fan_in
        note = (f"learning_rate not set: using {DEFAULT_RATE:g} / fan-in {fan_in} = "
                f"{rate:.3g} (set it in the plasticity block or with --learning-rate)")
    if rate is not None:
        net.plasticity[block_name] = block.model_copy(update={"learning_rate": rate})
    check_output_dir(out, force)
    target = profile_name if isinstance(profile_name, HardwareProfile) else load_profile(profile_name)
    on_chip = target.numerics == "fixed" and cfg.learn_in != "float"
    work = scratch_dir(out)
    try:
        if on_chip:
            train_build = _fixed_training_build(net, target, work / "train_build")
        else:
            train_build = compile_network(net, load_profile("cpu"), work / "float_build").out
        deployed = compile_network(net if target.numerics == "float" or on_chip
                                   else _forward_only(net), target, out=None)
        check_backend(cfg.backend)
        data = prepare_data(net, cfg)
        from ..compilers import load_plan
        plan = load_plan(train_build)
        if note:                                 # said once every input is known good
            (progress or _stderr)(note)
        trainer = Trainer(plan, block_name, data, cfg, progress,
                          deployed.manifest if target.numerics == "float" else None)
        device = device_of(deployed.manifest) if target.numerics == "float" else None
        learned_in = "fixed" if on_chip else f"{device['model']} device" if device else "float"
        curves = trainer.run()
        _warn_if_unlearned(trainer, net.plasticity[block_name].learning_rate,
                           progress or _stderr)
        weights = float_weights(plan, trainer.trained_weights()) if on_chip else \
            trainer.trained_weights()
        expanded = expand(net).net
        keep_learning = target.numerics == "float" or on_chip
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
                   "learned_in": learned_in,
                   "train_samples": int(data.y_train.size), "test_samples": int(data.y_test.size),
                   "classes": cfg.classes, "workload_last_epoch": trainer.workload}
        write_summary(trained_dir / "summary.json", summary, built)
        os.replace(trained_dir, built / "training")
        if not keep_learning:
            os.replace(work / "forward", built / "training" / "forward")
        final = _install(built, out, force)
        return SessionResult(final, curves, float_acc, deployed["accuracy"], keep_learning,
                             trainer.workload, learned_in)
    finally:
        remove(work)


DEFAULT_RATE = 0.01    # per unit of fan-in: 0.01 / fan_in when a block sets no rate
STILL = 0.05           # a largest relative weight change below this: "barely moved"


def _warn_if_unlearned(trainer: Trainer, rate: float, say) -> None:
    """Warn when the best test accuracy stayed near chance, saying whether the weights
    barely moved (rate too small) or moved and learned nothing (rate too large)."""
    chance = 1.0 / trainer.n_classes
    best = max(trainer.curves.test_accuracy)
    if best >= chance + 0.1 * (1.0 - chance):
        return
    moved = trainer.weight_change()
    hint = (f"the weights barely moved (largest relative change {moved:.2g}): raise it"
            if moved < STILL else f"the weights moved (largest relative change {moved:.2g}) "
            "without learning: the rate may be too large, lower it")
    say(f"warning: test accuracy {best:.3f} stayed near chance ({chance:.3f}) at "
        f"learning_rate {rate:g}; {hint} (train --learning-rate)")


def _stderr(text: str) -> None:
    import sys
    print(text, file=sys.stderr, flush=True)


def _fixed_training_build(net: Network, target: HardwareProfile, out: Path) -> Path:
    """The target's own build with its learning parts: training runs in its learning
    engine's numbers; a rule the engine cannot run is refused with the way out."""
    try:
        return compile_network(net, target, out).out
    except CompileError as exc:
        if "--learn-in float" in exc.message:
            raise
        raise CompileError(f"{exc.message}; or pass --learn-in float to learn in float and "
                           f"deploy the trained weights to {target.name}", file=exc.file,
                           path=exc.path, line=exc.line) from None


def float_weights(plan, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A fixed build's learned weights (cpu layout units: registers shifted by a positive
    exponent) in the network's float units, which compile quantizes back."""
    out = {}
    for name, w in weights.items():
        p = plan.projections[name]
        scale = plan.populations[p.post].scale
        out[name] = np.asarray(w, np.float64) * 2.0 ** min(int(p.weight_exp), 0) / scale
    return out


def _forward_only(net: Network) -> Network:
    """The network without plasticity (what a fixed-point target runs after training)."""
    out = net.model_copy(update={"plasticity": {}})
    for attr in ("_base_dir", "_file", "_weights_from_files", "_lines"):
        setattr(out, attr, getattr(net, attr))
    return out


def _install(built: Path, out: Path, force: bool) -> Path:
    """Move the finished build to ``out`` (refusing to replace anything but a build)."""
    from ..compiling.artifact import _place
    _place(built, Path(os.path.abspath(out)), out, force)
    return out


__all__ = ["run_session", "SessionResult", "trained_network_yaml", "HardwareProfile",
           "NeurodeployError"]
