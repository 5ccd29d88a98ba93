"""Random networks for backend agreement tests: IR text, a stress profile, and inputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neurodeploy.compiling import compile_network
from neurodeploy.ir import parse_network
from neurodeploy.profiles import load_profile

# Loihi 2 arithmetic with no headroom and a wide activation budget, so compiled thresholds
# sit near the 24-bit limits and u/v wrap and clip paths are exercised.
STRESS_PROFILE = """
name: loihi2-stress
extends: loihi2
neuron: {state_headroom_bits: 0, activation_bits: 24}
"""


def random_network_yaml(seed: int, max_size: int = 40, delays: bool = True) -> str:
    """A random feed-forward + recurrent LIF network with sources, sparse/dense, delays."""
    rng = np.random.default_rng(seed)
    n_src = int(rng.integers(1, max_size))
    sizes = [int(rng.integers(1, max_size)) for _ in range(int(rng.integers(1, 4)))]
    pops = [f"  src: {{kind: spike_source, size: {n_src}}}"]
    if rng.random() < 0.5:
        pops.append(f"  bg: {{kind: poisson, size: {int(rng.integers(1, max_size))}, "
                    f"rate: {float(rng.uniform(5, 200)):.3f}}}")
    for i, n in enumerate(sizes):
        tau_syn = float(rng.uniform(1.0, 30.0))
        tau_mem = float(rng.uniform(1.0, 60.0))
        v_th = float(rng.uniform(0.1, 3.0))
        bias = float(rng.normal(0, 0.3)) if rng.random() < 0.5 else 0.0
        pops.append(f"  l{i}: {{kind: lif, size: {n}, params: {{tau_syn: {tau_syn:.4f}, "
                    f"tau_mem: {tau_mem:.4f}, v_th: {v_th:.4f}, bias: {bias:.4f}}}}}")
    projs = []
    names = ["src"] + (["bg"] if any("bg:" in p for p in pops) else [])

    def conn() -> str:
        r = rng.random()
        return "dense" if r < 0.4 else f"{{sparse: {float(rng.uniform(0.05, 0.9)):.3f}}}"

    def weights() -> str:
        kind = rng.integers(0, 3)
        if kind == 0:
            return f"{{init: normal, mean: {float(rng.normal(0, 0.3)):.3f}, std: {float(rng.uniform(0.05, 1.5)):.3f}}}"
        if kind == 1:
            return f"{{init: uniform, low: 0.0, high: {float(rng.uniform(0.1, 2.0)):.3f}}}"
        return f"{{init: uniform, low: {float(-rng.uniform(0.1, 2.0)):.3f}, high: 0.0}}"

    def delay() -> str:
        if not delays or rng.random() < 0.5:
            return "0"
        if rng.random() < 0.5:
            return str(int(rng.integers(1, 5)))
        return f"{{low: 0, high: {int(rng.integers(1, 5))}}}"

    for i in range(len(sizes)):
        pre = names[int(rng.integers(0, len(names)))] if i == 0 else f"l{i - 1}"
        projs.append(f"  p{i}: {{pre: {pre}, post: l{i}, connectivity: {conn()}, "
                     f"weights: {weights()}, delay: {delay()}}}")
        if i == 0 and len(names) == 2:
            projs.append(f"  bg{i}: {{pre: bg, post: l{i}, connectivity: {conn()}, weights: {weights()}}}")
        if rng.random() < 0.4:
            projs.append(f"  r{i}: {{pre: l{i}, post: l{i}, connectivity: {conn()}, "
                         f"weights: {weights()}, delay: {delay()}}}")
    monitors = ", ".join(f"{{population: l{i}, var: {var}}}" for i in range(len(sizes))
                         for var in ("spikes", "v"))
    return (f"neurodeploy: 1\nname: rand{seed}\nseed: {seed}\npopulations:\n" + "\n".join(pops)
            + "\nprojections:\n" + "\n".join(projs) + f"\nmonitors: [{monitors}]\n")


def compile_random(seed: int, out: Path, profile: str = "loihi2", **kwargs) -> Path:
    """Compile ``random_network_yaml(seed)`` for ``profile`` ('stress' = STRESS_PROFILE)."""
    if profile == "stress":
        prof_file = out.parent / "loihi2-stress.yaml"
        prof_file.write_text(STRESS_PROFILE)
        profile = str(prof_file)
    net = parse_network(random_network_yaml(seed, **kwargs), name=f"rand{seed}.yaml")
    return compile_network(net, load_profile(profile), out, force=True).out


def random_inputs(plan, steps: int, seed: int, rate: float | None = None) -> dict[str, np.ndarray]:
    """0/1 spike arrays for every spike_source population of ``plan``."""
    rng = np.random.default_rng(seed + 10_000)
    p = rate if rate is not None else float(rng.uniform(0.05, 0.6))
    return {f"{name}.spikes": (rng.random((steps, pop.size)) < p).astype(np.uint8)
            for name, pop in plan.populations.items() if pop.kind == "spike_source"}
