"""Peak memory per curve of `squiggles.render`, eager and traced, and traced speed.

    python benchmarks/render_memory.py                    # R = 60, 120, 1000
    python benchmarks/render_memory.py --resolutions 60 --speed

Each figure comes from fresh subprocesses, so one measurement cannot inherit
another's freed memory. Three numbers per program:

- `slope`: how much the process's peak resident memory during one first call
  (compilation included; the kernel's peak counter is reset first through
  /proc/self/clear_refs) grows from B to 2B curves, divided by B. Compilation
  and the runtime cost the same for both and cancel out; the figure sees
  everything else, including work buffers that libraries called by XLA
  (YNNPACK) allocate themselves.
- `one`: the same growth for a warm call on a single curve (compiled first, or
  called once before), which also shows work buffers that do not grow with the batch.
- `xla`: temp + output bytes per curve from `compile().memory_analysis()` for
  the traced programs: what XLA plans, blind to such library buffers.

Programs: `host` is `render_on_host(z)` (the host kernel), `eager` is
`render(z, renderer="xla")` called eagerly (the XLA program, whose bits the kernel
reproduces), `jit` is `jax.jit` of that, `grad` is
`jax.jit(jax.grad(lambda z: sum(render(z) ** 2)))` (gradients always run the XLA program).
All figures are per curve, in MB (10⁶ bytes); an R×R float32 image is 4R² bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

PROGRAMS = ("host", "eager", "jit", "grad")


def _batch_for(resolution: int) -> int:
    """Enough curves that their memory stands well above the noise of compilation."""
    return max(2, min(1000, 4_000_000 // resolution**2))


def _rss_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # resets VmHWM, the peak resident set size


def _program(name: str, resolution: int):
    import jax
    import jax.numpy as jnp

    import squiggles

    def render(z):
        return squiggles.render(z, resolution=resolution, renderer="xla")

    def loss(z):
        return jnp.sum(render(z) ** 2)

    return {
        "host": (lambda z: squiggles.render_on_host(z, resolution=resolution), False),
        "eager": (render, False),
        "jit": (jax.jit(render), True),
        "grad": (jax.jit(jax.grad(loss)), True),
    }[name]


def measure_one(name: str, resolution: int, batch: int, warm: bool) -> dict:
    """Peak resident growth of one call on `batch` Taylor curves, and XLA's planned
    temp + output bytes per curve. Cold: the first call, compilation included.
    Warm: after compiling (traced) or after one call (eager), the run alone;
    blocks freed by the warm-up may be reused, but blocks of more than 32 MB,
    the ones that matter, go back to the system when freed."""
    import jax
    import numpy as np

    import squiggles

    z = squiggles.sample_latents(squiggles.Taylor(), batch, seed=0)
    function, traced = _program(name, resolution)
    argument = jax.block_until_ready(z)
    xla = None
    if traced:
        stats = function.lower(argument).compile().memory_analysis()
        xla = (stats.temp_size_in_bytes + stats.output_size_in_bytes) / batch
        if warm:
            function = function.lower(argument).compile()
    elif warm:
        jax.block_until_ready(function(argument))
    before = _rss_bytes("VmRSS")
    _reset_peak()
    result = jax.block_until_ready(function(argument))
    peak = _rss_bytes("VmHWM") - before
    assert np.isfinite(np.asarray(result)).all()
    return {"peak": peak, "xla": xla}


def measure_per_curve(name: str, resolution: int) -> dict:
    """Memory per curve: the growth of the cold peak between B and 2B curves,
    divided by B, so that what compilation and the runtime take cancels out; and
    the warm peak of a call on one curve, which also shows work buffers that do
    not grow with the batch."""
    batch = _batch_for(resolution)
    small = _in_subprocess("--one", name, str(resolution), str(batch), "cold")
    large = _in_subprocess("--one", name, str(resolution), str(2 * batch), "cold")
    single = _in_subprocess("--one", name, str(resolution), "1", "warm")
    for figures in (small, large, single):
        if "error" in figures:
            return figures
    return {
        "rss": (large["peak"] - small["peak"]) / batch,
        "one": single["peak"],
        "xla": large["xla"],
    }


def measure_speed(curves: int = 1000, resolution: int = 60, repeats: int = 7) -> dict:
    """Best-of-`repeats` seconds of jitted render and jitted value_and_grad."""
    import jax
    import jax.numpy as jnp

    import squiggles

    z = squiggles.sample_latents(squiggles.Taylor(), curves, seed=0)
    forward = jax.jit(lambda v: squiggles.render(v, resolution=resolution, renderer="xla"))
    both = jax.jit(
        jax.value_and_grad(
            lambda v: jnp.sum(squiggles.render(v, resolution=resolution, renderer="xla") ** 2)
        )
    )
    times = {}
    for name, function in (("jit", forward), ("value_and_grad", both)):
        jax.block_until_ready(function(z))
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            jax.block_until_ready(function(z))
            best = min(best, time.perf_counter() - start)
        times[name] = best
    return times


def _in_subprocess(*args: str) -> dict:
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _megabytes(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[60, 120, 1000])
    parser.add_argument("--speed", action="store_true", help="also time 1,000 curves at R = 60")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)  # PROGRAM R B cold|warm
    parser.add_argument("--speed-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        name, resolution, batch, mode = args.one
        print(json.dumps(measure_one(name, int(resolution), int(batch), mode == "warm")))
        return
    if args.speed_only:
        print(json.dumps(measure_speed()))
        return
    print(
        "MB per curve (10^6 bytes; an image is 4R² bytes). slope: peak growth per curve "
        "from B to 2B curves; one: peak growth of a warm call on one curve; "
        "xla: temp + output planned by XLA"
    )
    header = " ".join(f"{p:>26}" for p in PROGRAMS)
    print(f"{'R':>5} {'image':>8} {header}")
    print(f"{'':>5} {'':>8} " + " ".join(f"{'slope':>8} {'one':>8} {'xla':>8}" for _ in PROGRAMS))
    for resolution in args.resolutions:
        cells = []
        for program in PROGRAMS:
            figures = measure_per_curve(program, resolution)
            if "error" in figures:
                cells.append(f"{'error':>26}")
                print(f"R={resolution} {program}: {figures['error']}", file=sys.stderr)
            else:
                cells.append(
                    " ".join(_megabytes(figures[key]).rjust(8) for key in ("rss", "one", "xla"))
                )
        image = _megabytes(4 * resolution**2)
        print(f"{resolution:>5} {image:>8} " + " ".join(cells), flush=True)
    if args.speed:
        times = _in_subprocess("--speed-only")
        print(
            "1,000 Taylor curves at R = 60, best of 7: "
            + ", ".join(f"{name} {seconds * 1e3:.1f} ms" for name, seconds in times.items())
        )


if __name__ == "__main__":
    main()
