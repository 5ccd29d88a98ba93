"""Sampling networks learning a Boltzmann distribution with and without SAL (issue 21),
ours against the authors' code (unibe-cns/sal-code, Gierlich et al. 2025, Figs 4/5).

Per seed (target, initial weights, STDP-amplitude mismatch and neuron draws all change with
it) ``examples/sampling_sal.yaml`` and ``examples/sampling_hebb.yaml`` train for
``--iterations`` sleep phases of ``--steps`` steps; the final validation point's D_KL(target
|| sampled) and asymmetry var(triu(W - W^T)) of each are printed. The authors'
``NeuralSamplerFullyConnected`` (its own ``train_bm.py`` set-up: the same target draw,
tau_ref = tau_syn = 50, rectangular PSPs, nearest-pair triangular STDP with 5 % amplitude
noise, bounds 2, the examples' learning rates) runs the same iterations, steps and
validation points with SAL on for ``--peer-seeds`` seeds: the speed ratio is their wall time
per network step over ours, both with SAL on and everything the run does (simulation,
rules, updates, validation read-outs) counted.

    git clone https://github.com/unibe-cns/sal-code _peer/sal-code
    .venv/bin/python benchmarks/bench_sampling.py --peer _peer/sal-code --seeds 10 \
        --peer-iterations 400
    .venv/bin/python benchmarks/bench_sampling.py --peer _peer/sal-code --seeds 1 --peer-control

(the second runs the authors' code for all 2000 iterations, with and without SAL; about
10 and 8 minutes on the shared 2-core machine).

Targets: SAL lowers D_KL and the asymmetry on every seed; median asymmetry with SAL <= 0.15;
ours >= 3x the authors' speed per network step with SAL on.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

import numpy as np

from neurodeploy.ir import load_network
from neurodeploy.learning.sampling_session import SamplingTrainer
from targets import verdict  # benchmarks/ is the script's own folder

ROOT = Path(__file__).resolve().parent.parent
TARGET_ASYM = 0.15
TARGET_SPEED = 3.0
NOISE = 0.05            # the examples' amplitude_cv, the authors' STDP noise
SEED0 = {"target": 4242, "init": 4343, "sim": 4444}


def ours(example: str, seed: int, iterations: int, steps: int, every: int, factor: int,
         rate_scale: float = 1.0, cv: float = NOISE, plain: bool = False):
    """One run of an example with every seed shifted by ``seed``, every learning rate times
    ``rate_scale`` and the sleep rules' amplitude noise ``cv`` (``plain``: without its
    plasticity blocks, the bare sampler)."""
    net = load_network(ROOT / "examples" / example)
    if plain:
        net.plasticity = {}
    for name, block in list(net.plasticity.items()):
        update = {"learning_rate": block.learning_rate * rate_scale}
        if block.rule == "stdp" and block.phase == "sleep":
            update["amplitude_cv"] = cv
        net.plasticity[name] = block.model_copy(update=update)
    pop = net.task.population
    bias = np.random.default_rng(SEED0["init"] + seed).normal(0.0, 0.2, net.populations[pop].size)
    params = net.populations[pop].params.model_copy(update={"bias": [float(b) for b in bias]})
    net.populations[pop] = net.populations[pop].model_copy(update={"params": params})
    net.seed = SEED0["init"] + seed
    net.task = net.task.model_copy(update={
        "iterations": iterations, "steps": steps, "validate_every": every,
        "validation_factor": factor, "sim_seed": SEED0["sim"] + seed,
        "target": net.task.target.model_copy(update={"seed": SEED0["target"] + seed})})
    return SamplingTrainer(net).run()


def rates(scale: float) -> tuple[float, float, float]:
    """The examples' learning rates of the weights, the biases and SAL, times ``scale``."""
    blocks = load_network(ROOT / "examples" / "sampling_sal.yaml").plasticity
    return (blocks["hebb_sleep"].learning_rate * scale,
            blocks["bias_sleep"].learning_rate * scale, blocks["sal"].learning_rate * scale)


def peer(path: Path, seed: int, iterations: int, steps: int, every: int, factor: int,
         rate_scale: float = 1.0, noise: float = NOISE,
         sal: bool = True) -> tuple[float, float, float, int]:
    """The authors' train_bm.py set-up with the examples' learning rates: (D_KL, asymmetry)
    at their last validation point, CPU seconds and network steps."""
    sys.path.insert(0, str(path / "spiking_sampling_network" / "src"))
    from neuralsampling import utils
    from neuralsampling.network import GradDescent, NeuralSamplerFullyConnected, rect_kernel
    from neuralsampling.stdp_functions import STDPRuler
    dim, tref = 7, 50
    t_rng = np.random.default_rng(SEED0["target"] + seed)
    i_rng = np.random.default_rng(SEED0["init"] + seed)
    w_t = utils.copy_triu(2 * t_rng.beta(1.0, 1.0, size=(dim, dim)) - 1)
    b_t = 2 * t_rng.beta(1.0, 1.0, size=dim) - 1
    w0 = utils.copy_triu(i_rng.normal(0, 0.2, (dim, dim))) + i_rng.normal(0, 0.2, (dim, dim))
    b0 = i_rng.normal(0, 0.2, dim)

    def amp() -> np.ndarray:
        return 1.0 + utils.draw_trunc_distr(i_rng.normal, high=1.5 * noise, low=-1.5 * noise,
                                            size=(dim, dim), kwargs={"loc": 0.0, "scale": noise})

    rules = []
    for sign in (1.0, -1.0):
        rule = STDPRuler.tri_kernel(dim, 1, 1.0, 1.0, tref, tref)
        fwd, bwd = amp(), amp()
        rule.set_forward(a_plus=sign * fwd, a_minus=fwd)
        rule.set_backward(a_plus=sign * bwd, a_minus=bwd)
        rules.append(rule)
    sim = {"t_ref": tref, "tau_syn": tref, "num_last_spikes": 1, "psp_kernel": rect_kernel}
    points = []
    with contextlib.redirect_stdout(io.StringIO()):
        lr_w, lr_b, lr_s = rates(rate_scale)
        s = NeuralSamplerFullyConnected(w0, b0, w_t, b_t, sim, steps, GradDescent(lr_b),
                                        GradDescent(lr_w), GradDescent(lr_s), max_w=2.0,
                                        max_b=2.0, rng_seed=SEED0["sim"] + seed)

        def callback(res: dict, step: int) -> None:
            if s.validation:
                d = res["weights"] - res["weights"].T
                points.append((utils.calc_dkl(res["target_distr"], res["sampled_distr"]),
                               float(np.var(d[np.triu_indices(dim, 1)]))))

        t0 = time.process_time()
        s.train(iterations, rules[0], rules[1] if sal else None, callback,
                validation_step=every, validation_factor=factor)
        seconds = time.process_time() - t0
    n_val = len(range(0, iterations, every))
    return (*points[-1], seconds, (iterations - n_val) * steps + n_val * steps * factor)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peer", type=Path, required=True, help="clone of unibe-cns/sal-code")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=5000, help="steps per sleep phase "
                    "(the examples': 100 tau_ref)")
    ap.add_argument("--validate-every", type=int, default=200)
    ap.add_argument("--validation-factor", type=int, default=400)
    ap.add_argument("--peer-seeds", type=int, default=1, help="seeds the authors' code runs")
    ap.add_argument("--peer-iterations", type=int, default=None,
                    help="its iterations (default --iterations; fewer time the same steps)")
    ap.add_argument("--rate-scale", type=float, default=1.0, help="every learning rate "
                    "times this, both codes (0.1: the authors' 0.001 / 0.001 / 0.002)")
    ap.add_argument("--amplitude-cv", type=float, default=NOISE, help="STDP-amplitude "
                    "noise of the sleep rules, both codes (the examples': 0.05)")
    ap.add_argument("--peer-control", action="store_true",
                    help="also run the authors' code without SAL (D_KL and asymmetry only)")
    args = ap.parse_args()
    if not (args.peer / "spiking_sampling_network" / "src" / "neuralsampling").is_dir():
        print(f"error: {args.peer}: not a clone of unibe-cns/sal-code "
              "(no spiking_sampling_network/src/neuralsampling)", file=sys.stderr)
        return 1
    cfg = (args.iterations, args.steps, args.validate_every, args.validation_factor,
           args.rate_scale, args.amplitude_cv)
    ours("sampling_sal.yaml", 0, 2, 200, 1, 1)                      # numba compile, untimed
    print(f"{args.iterations} iterations of {args.steps} steps, validation every "
          f"{args.validate_every} ({args.validation_factor}x longer), learning rates "
          f"x{args.rate_scale:g}, amplitude noise {args.amplitude_cv:g}")
    print("seed   D_KL SAL   D_KL Hebb   asym SAL   asym Hebb")
    missed, asym, ns_ours = [], [], []
    for seed in range(args.seeds):
        a = ours("sampling_sal.yaml", seed, *cfg)
        b = ours("sampling_hebb.yaml", seed, *cfg)
        ns_ours.append(a.step_seconds * 1e9)
        asym.append(a.curves.asymmetry[-1])
        print(f"{seed:4d}   {a.curves.dkl[-1]:8.4f}   {b.curves.dkl[-1]:9.4f}   "
              f"{a.curves.asymmetry[-1]:8.4f}   {b.curves.asymmetry[-1]:9.4f}", flush=True)
        if not a.curves.dkl[-1] < b.curves.dkl[-1]:
            missed.append(f"seed {seed}: SAL does not lower D_KL")
        if not a.curves.asymmetry[-1] < b.curves.asymmetry[-1]:
            missed.append(f"seed {seed}: SAL does not lower the asymmetry")
    print(f"SAL lowers D_KL and asymmetry on every seed: "
          f"{'MET' if not missed else 'MISSED'} ({len(missed)} misses)")
    med = float(np.median(asym))
    print(f"median asymmetry with SAL {med:.4f} (target <= {TARGET_ASYM}): "
          f"{'MET' if med <= TARGET_ASYM else 'MISSED'}")
    if med > TARGET_ASYM:
        missed.append(f"median asymmetry {med:.4f} > {TARGET_ASYM}")
    peer_iters = args.peer_iterations or args.iterations
    peer(args.peer, 0, 2, 200, 2, 1)              # the authors' numba compile, untimed
    ns_peer = []
    for seed in range(args.peer_seeds):
        dkl, asy, sec, steps = peer(args.peer, seed, peer_iters, *cfg[1:])
        ns_peer.append(sec / steps * 1e9)
        print(f"authors' code, seed {seed}, SAL on, {peer_iters} iterations: D_KL {dkl:.4f}, "
              f"asymmetry {asy:.4f}, {ns_peer[-1]:.0f} ns CPU time per network step", flush=True)
        if args.peer_control:
            dkl, asy, _, _ = peer(args.peer, seed, peer_iters, *cfg[1:], sal=False)
            print(f"authors' code, seed {seed}, SAL off: D_KL {dkl:.4f}, asymmetry {asy:.4f}",
                  flush=True)
    bare = ours("sampling_sal.yaml", 0, *cfg, plain=True).step_seconds * 1e9
    print(f"ns CPU time per network step of seed 0: bare sampler {bare:.0f} (no rules: W stays "
          f"at its initial values), with Hebbian STDP and SAL {ns_ours[0]:.0f}")
    speed = float(np.median(ns_peer) / np.median(ns_ours))
    print(f"ns CPU time per network step with SAL on: ours {np.median(ns_ours):.0f}, authors' "
          f"{np.median(ns_peer):.0f}: {speed:.1f}x (target >= {TARGET_SPEED}x): "
          f"{'MET' if speed >= TARGET_SPEED else 'MISSED'}")
    if speed < TARGET_SPEED:
        missed.append(f"speed {speed:.1f}x < {TARGET_SPEED}x")
    return verdict(missed)


if __name__ == "__main__":
    sys.exit(main())
