"""Resource bombs are refused before anything big is allocated (issue 10).

Each hostile input runs the real CLI in a subprocess whose address space is limited
(``RLIMIT_AS``): a command that allocated first would die with MemoryError (exit 2) or be
killed; it must instead exit 1 with one line naming the number and the limit. Structural
YAML problems (deep nesting, long ``extends`` chains, merge keys, ``no`` as a name) are
checked in-process.
"""
from __future__ import annotations

import io
import os
import re
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from neurodeploy import limits
from neurodeploy.compiling import compile_network
from neurodeploy.compiling.connectivity import build_synapses, estimate_synapses
from neurodeploy.compiling.mapping import check_estimates, map_to_cores
from neurodeploy.errors import CompileError, IRError, NeurodeployError, ProfileError
from neurodeploy.ir import load_network, parse_network
from neurodeploy.profiles import load_profile
from neurodeploy.yamlio import parse_yaml

AS_LIMIT = 2 * 2**30  # the memory budget under this limit is half of it: 1 GiB


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


def run_limited(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """The CLI in a subprocess with a 2 GiB address-space limit."""
    env = {k: v for k, v in os.environ.items() if k != limits.MEMORY_ENV}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "neurodeploy.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=_limited)


def assert_refused(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 1 with one error line containing every fragment, and no crash."""
    err = proc.stderr
    assert proc.returncode == 1, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {err}"
    assert "MemoryError" not in err and "internal error" not in err and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def network(populations: str, projections: str = "", extra: str = "") -> str:
    text = f"neurodeploy: 1\nname: bomb\npopulations:\n{populations}"
    if projections:
        text += f"projections:\n{projections}"
    return text + extra


def two_layer(n_pre: int, n_post: int, conn: str = "dense", extra: str = "") -> str:
    return network(f"  a: {{kind: spike_source, size: {n_pre}}}\n"
                   f"  b: {{kind: lif, size: {n_post}}}\n",
                   f"  p: {{pre: a, post: b, connectivity: {conn}}}\n", extra)


def laughs(levels: int = 9, fan: int = 10) -> str:
    """Billion laughs: each anchor lists the previous one ``fan`` times."""
    names = [f"l{i}" for i in range(levels + 1)]
    lines = [f"{names[0]}: &{names[0]} [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, name in zip(names, names[1:]):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * fan) + "]")
    return "\n".join(lines) + "\n"


def npy_bytes(shape: tuple, dtype: str = "<f8", data: bytes = b"") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue() + data


def weight_net(tmp_path: Path, weight_file: str, n_pre: int, n_post: int) -> Path:
    path = tmp_path / "net.yaml"
    path.write_text(two_layer(n_pre, n_post).replace(
        "connectivity: dense}", f"connectivity: dense, weights: {{file: {weight_file}}}}}"))
    return path


# --------------------------------------------------------------------------- YAML bombs
def test_billion_laughs_network_is_refused_under_a_memory_limit(tmp_path: Path):
    net = tmp_path / "laughs.yaml"
    net.write_text(laughs() + two_layer(4, 4))
    assert net.stat().st_size < 2048
    line = assert_refused(run_limited("check", str(net), cwd=tmp_path), "alias bomb",
                          "1,000,000")
    written, expanded = [int(n.replace(",", "")) for n in
                         re.findall(r"expand ([\d,]+) written values to ([\d,]+)", line)[0]]
    assert written < 100 and expanded > 10**9  # both counts are stated


def test_merge_key_bomb_is_refused(tmp_path: Path):
    levels = ["m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}"]
    for i in range(1, 9):
        levels.append(f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * 10) + "]}")
    net = tmp_path / "merge.yaml"
    net.write_text("\n".join(levels) + "\n" + two_layer(4, 4))
    assert_refused(run_limited("check", str(net), cwd=tmp_path), "alias bomb")


def test_billion_laughs_profile_is_refused(tmp_path: Path):
    prof = tmp_path / "laughs.yaml"
    prof.write_text(laughs() + "name: x\nextends: loihi2\n")
    assert_refused(run_limited("profiles", "show", str(prof), cwd=tmp_path), "alias bomb")


def test_aliases_within_the_limit_still_work():
    text = two_layer(3, 2).replace(
        "  b: {kind: lif, size: 2}\n",
        "  b: {kind: lif, size: 2, params: &d {tau_syn: 4.0, tau_mem: 30.0}}\n"
        "  c: {kind: lif, size: 2, params: *d}\n")
    net = parse_network(text)
    assert net.populations["c"].params.tau_mem == net.populations["b"].params.tau_mem == 30.0
    loaded = parse_yaml("a: &a [1, 2, 3]\nb: [*a, *a, *a]\n", "x.yaml")
    assert loaded.data["b"] == [[1, 2, 3]] * 3
    assert loaded.line_of(("b",)) == 2
    assert loaded.line_of(("b", 2, 1)) == 1  # below an alias: the line where the value is written


def test_dev_zero_and_fifo_are_refused_without_reading(tmp_path: Path):
    assert_refused(run_limited("check", "/dev/zero", cwd=tmp_path), "a device",
                   "not a regular file")
    fifo = tmp_path / "net.yaml"
    os.mkfifo(fifo)
    # Opening a FIFO with no writer would block forever; the timeout turns that into a failure.
    assert_refused(run_limited("check", str(fifo), cwd=tmp_path, timeout=30), "FIFO")
    assert_refused(run_limited("compile", str(fifo), "-o", str(tmp_path / "b"), cwd=tmp_path,
                               timeout=30), "FIFO")
    assert_refused(run_limited("profiles", "show", str(fifo), cwd=tmp_path, timeout=30), "FIFO")


def test_oversized_network_file_is_refused_by_its_size(tmp_path: Path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:  # sparse: costs no disk, but stat says 65 MiB
        fh.truncate(limits.MAX_YAML_BYTES + 2**20)
    assert_refused(run_limited("check", str(big), cwd=tmp_path), "65 MiB", "limit is 64 MiB")


# --------------------------------------------------------------------------- weight files
def test_npy_header_lying_about_its_shape(tmp_path: Path):
    (tmp_path / "w.npy").write_bytes(npy_bytes((30000, 40000), data=b"\0" * 800))
    net = weight_net(tmp_path, "w.npy", 40000, 30000)
    assert_refused(run_limited("check", str(net), cwd=tmp_path), "claims shape (30000, 40000)",
                   "9,600,000,000 bytes", "only 800 bytes")


def test_npz_member_header_lying_about_its_shape(tmp_path: Path):
    with zipfile.ZipFile(tmp_path / "w.npz", "w") as zf:
        zf.writestr("weights.npy", npy_bytes((30000, 40000), data=b"\0" * 800))
    net = weight_net(tmp_path, "w.npz", 40000, 30000)
    assert_refused(run_limited("check", str(net), cwd=tmp_path), "claims shape",
                   "only 800 bytes")


def test_npz_inflating_beyond_the_memory_budget(tmp_path: Path):
    n = 12_000  # 144 MB of int8 zeros compress to ~140 kB; as float64 they need 1.15 GB more
    with zipfile.ZipFile(tmp_path / "w.npz", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("weights.npy", "w", force_zip64=True) as fh:
            fh.write(npy_bytes((n, n), "|i1"))
            row_block = b"\0" * (n * 1000)
            for _ in range(n // 1000):
                fh.write(row_block)
    assert (tmp_path / "w.npz").stat().st_size < 2_000_000
    net = weight_net(tmp_path, "w.npz", n, n)
    line = assert_refused(run_limited("check", str(net), cwd=tmp_path),
                          "(12000, 12000) of int8", "GiB of memory", "limit is 1 GiB",
                          "ulimit -v")
    assert "projections.p.weights.file" in line


def test_object_and_header_only_files_are_refused(tmp_path: Path):
    (tmp_path / "o.npy").write_bytes(npy_bytes((2, 3), "|O"))
    with pytest.raises(IRError, match="Python objects .* without pickles"):
        load_network(weight_net(tmp_path, "o.npy", 3, 2))
    (tmp_path / "short.npy").write_bytes(b"\x93NUMPY\x01")
    with pytest.raises(IRError, match="cannot read 'short.npy'"):
        load_network(weight_net(tmp_path, "short.npy", 3, 2))
    (tmp_path / "zip.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(IRError, match="cannot read 'zip.npz'"):
        load_network(weight_net(tmp_path, "zip.npz", 3, 2))


# --------------------------------------------------------------------------- compile and run size
def test_million_by_million_dense_on_loihi2_gets_the_core_limit(tmp_path: Path):
    (tmp_path / "net.yaml").write_text(two_layer(1_000_000, 1_000_000))
    assert_refused(run_limited("compile", "net.yaml", "-p", "loihi2", "-o", "b", cwd=tmp_path),
                   "populations.b", "1,000,000 synapses", "983,040", "cores.synapses_per_core")
    assert not (tmp_path / "b").exists()


def test_million_by_million_dense_without_core_limits_gets_the_memory_estimate(tmp_path: Path):
    (tmp_path / "net.yaml").write_text(two_layer(1_000_000, 1_000_000))
    assert_refused(run_limited("compile", "net.yaml", "-p", "cpu", "-o", "b", cwd=tmp_path),
                   "projections.p", "1,000,000,000,000 synapses", "TiB of memory",
                   "limit is 1 GiB")


def test_sparse_network_beyond_the_cores_is_refused_before_building(tmp_path: Path):
    (tmp_path / "net.yaml").write_text(two_layer(1_000_000, 1_000_000, "{sparse: 0.001}"))
    assert_refused(run_limited("compile", "net.yaml", "-p", "loihi2", "-o", "b", cwd=tmp_path),
                   "network needs at least", "cores but loihi2 has 128", "exceeded by")


def test_run_steps_beyond_memory_are_refused_when_the_network_loads(tmp_path: Path):
    (tmp_path / "net.yaml").write_text(two_layer(10, 10, extra="run: {steps: 1000000000000}\n"))
    assert_refused(run_limited("check", "net.yaml", cwd=tmp_path), "run.steps",
                   "1,000,000,000,000 steps", "TiB of memory", "limit is 1 GiB")


@pytest.mark.parametrize("written", ["1e12", "1.0e+12"])
def test_run_steps_in_float_notation_gets_the_whole_number_to_write(written: str):
    with pytest.raises(IRError) as info:
        parse_network(two_layer(10, 10, extra=f"run: {{steps: {written}}}\n"), "net.yaml")
    assert "run.steps: must be a whole number" in str(info.value)
    assert str(info.value).endswith("write 1000000000000")


def test_steps_option_beyond_memory_is_refused_before_running(tmp_path: Path):
    (tmp_path / "net.yaml").write_text(network(
        "  a: {kind: poisson, size: 50, rate: 20.0}\n  b: {kind: lif, size: 20}\n",
        "  p: {pre: a, post: b}\n", "monitors: [{population: b, var: v}]\n"))
    net = load_network(tmp_path / "net.yaml")
    compile_network(net, load_profile("loihi2"), tmp_path / "b")
    proc = run_limited("simulate", "b", "--steps", "10000000000", "-o", "o.npz", cwd=tmp_path)
    assert_refused(proc, "10,000,000,000 steps", "1 monitors", "limit is 1 GiB", "--steps")
    assert not (tmp_path / "o.npz").exists()


def test_run_output_estimate_counts_monitors_and_sources():
    assert limits.run_output_bytes(100, [(10, "spikes"), (10, "v")], [5]) == 100 * (10 + 80 + 5)


def test_memory_budget_follows_the_address_space_limit_and_the_environment(monkeypatch):
    monkeypatch.setenv(limits.MEMORY_ENV, "3G")
    assert limits.memory_budget()[0] == 3 * 2**30
    monkeypatch.setenv(limits.MEMORY_ENV, "lots")
    with pytest.raises(NeurodeployError, match="not a size"):
        limits.memory_budget()
    monkeypatch.delenv(limits.MEMORY_ENV)
    budget, source = limits.memory_budget()
    assert budget > 0 and "memory" in source


def test_precheck_never_refuses_what_the_mapper_accepts(tmp_path: Path, monkeypatch):
    """The estimate is a lower bound: whenever it refuses, building and mapping refuse too."""
    monkeypatch.setattr("neurodeploy.compiling.mapping.PRECHECK_MIN_SYNAPSES", 0)
    (tmp_path / "tiny.yaml").write_text(
        "name: tiny\nextends: loihi1\ncores: {cores_per_chip: 8, neurons_per_core: 64, "
        "synapses_per_core: 4096, fanin_per_core: 512, memory_per_core_bytes: 6000}\n")
    profile = load_profile(tmp_path / "tiny.yaml")
    outcomes = {"precheck refused": 0, "mapper refused": 0, "fits": 0}
    for seed in range(60):
        rng = np.random.default_rng(seed)
        n_pre, n_post = int(rng.integers(10, 700)), int(rng.integers(10, 700))
        conn = str(rng.choice(["dense", "{sparse: %.3f}" % rng.uniform(0.01, 0.6), "one_to_one"]))
        if conn == "one_to_one":
            n_pre = n_post
        net = parse_network(two_layer(n_pre, n_post, conn))
        sizes = {n: p.size for n, p in net.populations.items()}
        est = estimate_synapses(net, "p", {})
        built = build_synapses(net, "p", {})
        assert est.total_low <= built.n_synapses <= est.total_high, (seed, conn)
        try:
            check_estimates(sizes, ["b"], [est], profile, "net.yaml")
        except CompileError:
            outcomes["precheck refused"] += 1
            with pytest.raises(CompileError):
                map_to_cores(sizes, ["b"], [built], profile, "net.yaml")
            continue
        try:
            map_to_cores(sizes, ["b"], [built], profile, "net.yaml")
            outcomes["fits"] += 1
        except CompileError:
            outcomes["mapper refused"] += 1
    assert all(outcomes.values()), outcomes  # every branch was exercised


# --------------------------------------------------------------------------- structure
def test_deep_nesting_is_named_as_such_not_as_a_recursive_anchor():
    with pytest.raises(IRError) as info:
        parse_network("[" * 2000 + "]" * 2000)
    assert "nested more than 64 levels" in str(info.value)
    assert "recursive" not in str(info.value)
    with pytest.raises(IRError, match="recursive anchor"):
        parse_network("a: &a [1, *a]\n")
    with pytest.raises(IRError, match="recursive anchor"):
        parse_network("a: &a {b: {c: *a}}\n")


def test_two_thousand_deep_extends_chain_is_refused_by_depth(tmp_path: Path):
    for i in range(2000):
        (tmp_path / f"c{i}.yaml").write_text(f"name: c{i}\nextends: c{i + 1}.yaml\n")
    (tmp_path / "c2000.yaml").write_text("name: c2000\nextends: loihi2\n")
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path / "c0.yaml")
    msg = str(info.value)
    assert "extends chain is deeper than 16 profiles" in msg and "recursive" not in msg
    assert info.value.file == str(tmp_path / "c0.yaml") and info.value.path == ("extends",)
    # A chain within the limit resolves, inheriting the root's numerics.
    assert load_profile(tmp_path / "c1990.yaml").numerics == "fixed"


def test_merge_keys_are_supported_in_networks_and_profiles(tmp_path: Path):
    text = ("neurodeploy: 1\nname: merged\npopulations:\n"
            "  a: {kind: spike_source, size: 4}\n"
            "  b: &lif {kind: lif, size: 3, params: {tau_mem: 30.0}}\n"
            "  c:\n    <<: *lif\n    size: 5\n"
            "projections:\n  p: {pre: a, post: b}\n  q: {pre: a, post: c}\n")
    net = parse_network(text)
    assert net.populations["c"].size == 5 and net.populations["c"].params.tau_mem == 30.0
    with pytest.raises(IRError, match=r"duplicate key 'size'"):
        parse_network(text.replace("    size: 5\n", "    size: 5\n    size: 6\n"))
    prof = tmp_path / "p.yaml"
    prof.write_text("name: m\nextends: loihi2\nbase: &c {max_chips: 2}\n")
    with pytest.raises(ProfileError, match="unknown field 'base'"):
        load_profile(prof)
    prof.write_text("name: m\nextends: loihi2\ncores:\n  <<: {max_chips: 2, cores_per_chip: 64}\n"
                    "  cores_per_chip: 32\n")
    loaded = load_profile(prof)
    assert (loaded.cores.max_chips, loaded.cores.cores_per_chip) == (2, 32)


@pytest.mark.parametrize("word", ["no", "off", "yes", "On"])
def test_population_named_like_a_boolean_gets_the_quoting_hint(word: str):
    text = two_layer(3, 2).replace("  b: {kind: lif", f"  {word}: {{kind: lif").replace(
        "post: b", f"post: '{word}'")
    with pytest.raises(IRError) as info:
        parse_network(text, "net.yaml")
    msg = str(info.value)
    assert f"populations.{word}:" in msg and f"quote it: '{word}'" in msg
    assert "got False" not in msg and "got True" not in msg
    with pytest.raises(IRError, match=f"projections.p.post: '{word}' is read by YAML as the boolean"):
        parse_network(two_layer(3, 2).replace("  b: {kind: lif", f"  '{word}': {{kind: lif")
                      .replace("post: b", f"post: {word}"))
    quoted = two_layer(3, 2).replace("  b: {kind: lif", f"  '{word}': {{kind: lif").replace(
        "post: b", f"post: '{word}'")
    assert word in parse_network(quoted).populations


def test_error_messages_do_not_print_huge_values():
    big = "x: &x [" + ", ".join(["1"] * 500) + "]\n"
    with pytest.raises(IRError) as info:
        parse_network(big + "neurodeploy: 1\nname: *x\npopulations: {a: {kind: lif, size: 1}}\n")
    assert len(str(info.value)) < 300


def test_yaml_too_big_to_parse_within_the_memory_budget_is_refused_before_parsing(tmp_path: Path):
    net = tmp_path / "wide.yaml"
    # 5 MB of one-digit values: below the 64 MiB file limit, but parsing needs ~1.3 GB
    net.write_text("neurodeploy: 1\nname: wide\nx: [" + "0," * 2_500_000 + "0]\n")
    line = assert_refused(run_limited("check", str(net), cwd=tmp_path, timeout=30),
                          "parsing 4.77 MiB of YAML", "GiB of memory", "limit is 1 GiB")
    assert line.startswith(f"error: {net}:")
