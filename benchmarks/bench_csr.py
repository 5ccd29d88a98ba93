"""The cpu backend's frozen run against a hand-written CSR numba loop on the same spikes.

Three builds of one N = 1000 network (``bench_backends``'s: 100 Poisson inputs, recurrent
LIF, ``loihi2`` fixed point): ``plain``, ``negexp`` (the recurrent projection stored with
``weight_exp = -2`` instead of 2, Lava's floor shift of each summed activation) and ``dense90`` (the
recurrent projection dense, 90 % of its weights zero). The reference loop below knows
nothing but LIF neurons and CSR rows of the non-zero weights; both must give the same
spikes (checked), then the ratio of loop times is the cpu backend's overhead per event.
A second part times the plain build at N = 1k / 4k / 16k (fan-in 400) for ns per synaptic
event and the bytes per synapse of the frozen layout.

    .venv/bin/python benchmarks/bench_csr.py                # all (~1 min)
    .venv/bin/python benchmarks/bench_csr.py --sizes 1000   # the three builds only
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit

import neurodeploy  # noqa: F401  (Lava compatibility shim)
from neurodeploy.compiling import compile_network
from neurodeploy.compilers import get_backend, load_plan, make_inputs
from neurodeploy.compilers.cpu.frozen_layout import bytes_per_synapse
from neurodeploy.compilers.cpu.inputs import source_spikes
from neurodeploy.compilers.cpu.kernels import prepare_fixed_weights
from neurodeploy.compilers.cpu.learn_layout import Layout
from neurodeploy.ir import parse_network
from neurodeploy.neurons.lif import _fixed
from neurodeploy.profiles import load_profile
from targets import verdict  # benchmarks/ is the script's own folder

TARGET_REF = 1.1        # cpu loop / reference loop, every build
TARGET_SCALE = 1.2      # ns per event at 16k / at 1k
TARGET_NEURON = 3.0     # ns per neuron and step of a network without spikes


def network_yaml(n: int, fan_in: float, dense: bool = False) -> str:
    """N recurrent LIF neurons (sparse with ``fan_in`` expected inputs, or dense) and 100
    Poisson inputs at 30 Hz."""
    conn = "dense" if dense else f"{{sparse: {min(1.0, fan_in / n):.5f}}}"
    std = 0.6 / np.sqrt(fan_in)
    return f"""
neurodeploy: 1
name: csr{n}
seed: 5
populations:
  bg:  {{kind: poisson, size: 100, rate: 30.0}}
  net: {{kind: lif, size: {n}, params: {{tau_syn: 5.0, tau_mem: 20.0, v_th: 1.0, bias: 0.0}}}}
projections:
  bg_net:  {{pre: bg, post: net, connectivity: {{sparse: 0.1}}, weights: {{init: uniform, low: 0.0, high: 0.6}}}}
  net_net: {{pre: net, post: net, connectivity: {conn}, weights: {{init: normal, mean: 0.0, std: {std:.4f}}}}}
monitors: [{{population: net, var: spikes}}]
"""


@njit(cache=True, nogil=True)
def reference_loop(steps, src, par, fx, indptr, post, w, p_pre0, p_npre, p_ind0, p_syn0,
                   p_shift, n_src, raster):
    """Fixed-point LIF neurons and CSR rows of non-zero weights, no delays: per step deliver,
    step the neurons, scatter the spikes (floor shift of the summed activation where a
    projection has a negative weight exponent). Returns the number of synaptic events."""
    n = par.shape[1]
    cur = np.zeros(n, np.int64)
    nxt = np.zeros(n, np.int64)
    acc = np.zeros(n, np.int64)
    u = np.zeros(n, np.int64)
    v = np.zeros(n, np.int64)
    fired = np.empty(n_src + n, np.int64)
    events = 0
    for t in range(steps):
        nf = 0
        for j in range(n_src):
            if src[t, j]:
                fired[nf] = j
                nf += 1
        for i in range(n):
            x, y, _, _, f = _fixed(cur[i], 0, u[i], v[i], 0, par[0, i], par[1, i], par[2, i],
                                   par[3, i], fx)
            u[i] = x
            v[i] = y
            cur[i] = 0
            if f:
                raster[t, i] = 1
                fired[nf] = n_src + i
                nf += 1
        for p in range(p_pre0.shape[0]):
            shift = p_shift[p]
            for m in range(nf):
                j = fired[m] - p_pre0[p]
                if j < 0 or j >= p_npre[p]:
                    continue
                k0 = p_syn0[p] + indptr[p_ind0[p] + j]
                k1 = p_syn0[p] + indptr[p_ind0[p] + j + 1]
                events += k1 - k0
                if shift == 0:
                    for s in range(k0, k1):
                        nxt[post[s]] += w[s]
                else:
                    for s in range(k0, k1):
                        acc[post[s]] += w[s]
            if shift != 0:
                for i in range(n):
                    if acc[i] != 0:
                        nxt[i] += acc[i] >> shift
                        acc[i] = 0
        cur, nxt = nxt, cur
    return events


def reference_arrays(plan) -> tuple:
    """CSR rows (by presynaptic neuron) of every projection's non-zero weights, indices and
    weights in the narrowest type that holds them."""
    lay = Layout(plan)
    indptrs, posts, ws = [], [], []
    meta = np.zeros((5, len(plan.projections)), np.int64)
    nnz = ind = 0
    for p, proj in enumerate(plan.projections.values()):
        w = prepare_fixed_weights(np.asarray(proj.weights), proj.sign_mode, proj.num_weight_bits)
        if proj.format == "dense":
            rows, cols = np.nonzero(w.reshape(proj.shape))
            vals = w.reshape(proj.shape)[rows, cols]
        else:
            rows, cols, vals = np.asarray(proj.rows), np.asarray(proj.cols), w
        keep = vals != 0
        rows, cols, vals = rows[keep], cols[keep], vals[keep].astype(np.int64)
        vals = vals << max(proj.weight_exp, 0)
        order = np.argsort(cols, kind="stable")
        ptr = np.zeros(proj.shape[1] + 1, np.int64)
        np.cumsum(np.bincount(cols, minlength=proj.shape[1]), out=ptr[1:])
        indptrs.append(ptr)
        posts.append(rows[order].astype(np.int32))
        ws.append(vals[order].astype(np.int32))
        meta[:, p] = (lay.emitter0[proj.pre], proj.shape[1], ind, nnz, max(-proj.weight_exp, 0))
        ind += ptr.size
        nnz += rows.size
    post, w = np.concatenate(posts), np.concatenate(ws)
    post = post.astype(np.uint16) if post.max(initial=0) <= 0xFFFF else post
    w = w.astype(np.int16) if np.abs(w).max(initial=0) < 0x7FFF else w
    return (np.concatenate(indptrs), post, w, *meta,
            lay.n_src, lay.net.par[0], lay.fx, lay)


def compare(plan, steps: int, repeat: int, silent: bool = False) -> dict:
    """CPU time of the reference loop and of the cpu backend's loop (``sim_cpu_s``) on one
    build, alternately (best of ``repeat`` each, so both see the same machine load; CPU
    time, as the machine is shared); ``silent``: no input spikes."""
    inputs = make_inputs(plan, steps)
    if silent:
        inputs = {k: np.zeros_like(v) for k, v in inputs.items()}
    indptr, post, w, pre0, npre, ind0, syn0, shift, n_src, par, fx, lay = reference_arrays(plan)
    src = source_spikes(plan, lay.sources, inputs, steps, 1)[0]
    raster = np.zeros((steps, lay.n), np.uint8)
    cpu = get_backend("cpu")
    t_ref, t_cpu, events, res = [], [], 0, None
    for i in range(repeat + 1):             # the first round warms both up
        raster[:] = 0
        t0 = time.process_time()
        events = reference_loop(steps, src, par, fx, indptr, post, w, pre0, npre, ind0, syn0,
                                shift, n_src, raster)
        t_ref.append(time.process_time() - t0)
        res = cpu.run(plan, inputs, steps)
        t_cpu.append(res.meta["sim_cpu_s"])
    same = np.array_equal(res["net.spikes"], raster)
    return {"ref": min(t_ref[1:]), "cpu": min(t_cpu[1:]), "events": int(events), "same": same,
            "spikes": int(raster.sum()), "bytes": bytes_per_synapse(cpu.frozen_layout(plan)),
            "nnz": int(post.size), "n": lay.n}


def build(tmp: Path, n: int, fan_in: float, dense: bool = False):
    """The loihi2 fixed-point build of the network (16 chips, as N = 16k needs 9)."""
    net = parse_network(network_yaml(n, fan_in, dense))
    out = tmp / f"{n}{'d' if dense else ''}"
    prof = tmp / "loihi2_x16.yaml"
    prof.write_text("name: loihi2-x16\ndescription: loihi2 with 16 chips (benchmark)\n"
                    "extends: loihi2\ncores: {max_chips: 16}\n")
    return load_plan(compile_network(net, load_profile(str(prof)), out, force=True).out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,4000,16000")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    missed = []
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        plain = build(tmp, 1000, 100.0)
        negexp = load_plan(plain.path)
        negexp.projections["net_net"].weight_exp = -2
        dense = build(tmp, 1000, 100.0, dense=True)
        wd = np.array(dense.projections["net_net"].weights)
        wd[np.random.default_rng(1).random(wd.shape) < 0.9] = 0
        dense.projections["net_net"].weights = wd
        print(f"cpu frozen run vs a hand-written CSR loop, N = 1000, {args.steps} steps, "
              f"CPU seconds, best of {args.repeat}; load average {load:.2f}")
        print(f"{'build':8s} {'events':>9} {'spikes':>7} {'ref s':>8} {'cpu s':>8} "
              f"{'ref ns/ev':>9} {'cpu ns/ev':>9} {'cpu/ref':>8}  same spikes / target <= {TARGET_REF}")
        for name, plan in (("plain", plain), ("negexp", negexp), ("dense90", dense)):
            r = compare(plan, args.steps, args.repeat)
            ratio = r["cpu"] / r["ref"]
            ok = ratio <= TARGET_REF and r["same"]
            if not ok:
                missed.append(f"{name}: cpu/ref {ratio:.2f}x, same spikes {r['same']}")
            print(f"{name:8s} {r['events']:9d} {r['spikes']:7d} {r['ref']:8.4f} {r['cpu']:8.4f} "
                  f"{r['ref'] / r['events'] * 1e9:9.2f} {r['cpu'] / r['events'] * 1e9:9.2f} "
                  f"{ratio:8.2f}  {r['same']} / {'met' if ok else 'MISSED'}")
        r = compare(plain, args.steps, args.repeat, silent=True)
        per_neuron = r["cpu"] / (args.steps * r["n"]) * 1e9
        ok = per_neuron <= TARGET_NEURON and r["spikes"] == 0
        if not ok:
            missed.append(f"per-neuron per-step cost {per_neuron:.2f} ns")
        print(f"no input spikes ({r['spikes']} spikes): cpu {per_neuron:.2f} ns, reference "
              f"{r['ref'] / (args.steps * r['n']) * 1e9:.2f} ns per neuron and step "
              f"(target <= {TARGET_NEURON}) -> {'met' if ok else 'MISSED'}")
        sizes = [int(s) for s in args.sizes.split(",")]
        if len(sizes) > 1:
            print(f"\nns per synaptic event, plain build, fan-in 400 (load average "
                  f"{os.getloadavg()[0]:.2f})")
            print(f"{'N':>6} {'synapses':>10} {'events':>10} {'cpu ns/ev':>9} {'ref ns/ev':>9} "
                  f"{'B/synapse':>9}")
            per = {}
            for n in sizes:
                r = compare(build(tmp, n, 400.0), args.steps, max(2, args.repeat // 2))
                per[n] = r["cpu"] / r["events"] * 1e9
                print(f"{n:6d} {r['nnz']:10d} {r['events']:10d} {per[n]:9.2f} "
                      f"{r['ref'] / r['events'] * 1e9:9.2f} {r['bytes']:9.2f}")
            scale = per[sizes[-1]] / per[sizes[0]]
            ok = scale <= TARGET_SCALE
            if not ok:
                missed.append(f"ns per event N={sizes[-1]} / N={sizes[0]}: {scale:.2f}x")
            print(f"ns per event at N = {sizes[-1]} / N = {sizes[0]}: {scale:.2f}x "
                  f"(target <= {TARGET_SCALE}) -> {'met' if ok else 'MISSED'}")
    return verdict(missed)


if __name__ == "__main__":
    sys.exit(main())
