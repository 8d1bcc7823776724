"""The host kernel: a numba function that draws images with the bits of the XLA program.

As one XLA program, rendering compares every point with every pixel (P·R² sums)
because XLA needs static shapes, then takes exp in a second program. This kernel
draws the same bits with far less work:

- Rows. A point more than 10.5 pixel spacings from a pixel gives it
  exp(-R² d²) < exp(-110), which is 0 in float32, so a point can light only the
  21 rows around its nearest row; with XLA's exp, which is 0 below -87.8, only
  the 19 rows within 9.5 spacings. Points are bucketed by nearest row; each image
  row then takes the minimum over one contiguous run of points.
- Registers. A row's running minima stay in 16-float vector registers for the
  whole run (LLVM IR written here through a numba intrinsic). Numba's own loops
  turn `min` into masked stores, which stall when the next point reloads them.
- Exp in place. The row's exp(-R² d²) is taken in the same registers, computed
  as XLA computes it (`xla_exp`), so no second program and no second pass over
  memory are needed.

The squared distances are rounded exactly as in `rendering` (stored squares, one
addition, no fused multiply-add) and a minimum is exact, so the images are
bitwise those of the eager XLA program. Checks, threads and the choice of radius
are `host_rendering`'s; this module is only the compiled code, cached on disk by
numba and recompiled when this file or `xla_exp` changes (`kernel_cache`).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from squiggles import kernel_cache
from squiggles.xla_exp import LANES, emit_intensity, splat

kernel_cache.install()  # before the njit below: numba picks a cache locator when decorating

# Rows each side of a point's nearest row that it can light: 10.5 spacings reach
# exp(-110), 0 in float32 whatever the exp; 9.5 reach exp(-90.25), 0 for XLA's exp.
WINDOW_RADIUS = 10
XLA_EXP_RADIUS = 9
VECTORS_PER_PASS = 4  # columns of one pass over a row's points: 4 x 16 = 64


def _row_pass(vectors: int):
    """An intrinsic for one pass over a row's points, `vectors` x 16 columns wide.

    row_pass(across, ys, centre, lo, hi, first, row, scale, exponentiate) writes to
    row[first : first + 16·vectors] the minimum over points j in [lo, hi) of
    (ys[j] - centre)² + across[j, column], or exp(scale · that minimum).
    """

    @intrinsic
    def row_pass(typingctx, across, ys, centre, lo, hi, first, row, scale, exponentiate):
        if not (centre == scale == types.float32 and isinstance(exponentiate, types.Boolean)):
            return None  # the IR below is for float32 data only
        signature = types.void(across, ys, centre, lo, hi, first, row, scale, exponentiate)

        def codegen(context, builder, sig, args):
            across_, ys_, centre_, lo_, hi_, first_, row_, scale_, exponentiate_ = args
            across_array = context.make_array(sig.args[0])(context, builder, across_)
            ys_array = context.make_array(sig.args[1])(context, builder, ys_)
            row_array = context.make_array(sig.args[6])(context, builder, row_)
            vector = ir.VectorType(ir.FloatType(), LANES)
            row_stride = cgutils.unpack_tuple(builder, across_array.strides, 2)[0]  # bytes
            across_bytes = builder.bitcast(across_array.data, ir.IntType(8).as_pointer())
            minima = [cgutils.alloca_once(builder, vector) for _ in range(vectors)]
            for minimum in minima:  # promoted to registers by LLVM
                builder.store(splat(math.inf, builder), minimum)
            with cgutils.for_range_slice(builder, lo_, hi_, ir.IntType(64)(1)) as (j, _):
                dy = builder.fsub(builder.load(builder.gep(ys_array.data, [j])), centre_)
                dy2 = splat(builder.fmul(dy, dy), builder)
                point_row = builder.bitcast(
                    builder.gep(across_bytes, [builder.mul(j, row_stride)]),
                    ir.FloatType().as_pointer(),
                )
                for v, minimum in enumerate(minima):
                    column = builder.add(first_, ir.IntType(64)(v * LANES))
                    dx2 = builder.load(
                        builder.bitcast(builder.gep(point_row, [column]), vector.as_pointer()),
                        align=4,
                    )
                    d2 = builder.fadd(dy2, dx2)
                    current = builder.load(minimum)
                    builder.store(
                        builder.select(builder.fcmp_ordered("<", d2, current), d2, current), minimum
                    )
            for v, minimum in enumerate(minima):
                with builder.if_then(exponentiate_):
                    builder.store(emit_intensity(builder, builder.load(minimum), scale_), minimum)
                target = builder.gep(
                    row_array.data, [builder.add(first_, ir.IntType(64)(v * LANES))]
                )
                builder.store(
                    builder.load(minimum), builder.bitcast(target, vector.as_pointer()), align=4
                )
            return context.get_dummy_value()

        return signature, codegen

    return row_pass


_pass_1, _pass_2, _pass_3, _pass_4 = (_row_pass(v) for v in (1, 2, 3, 4))


@numba.njit(nogil=True, cache=True, boundscheck=False)
def draw(points, centres, scale, exponentiate, radius, out):  # numba infers the types
    """out[i] = exp(scale · d²) of curve i (or d² itself, without `exponentiate`),
    where d² is the squared distance from each pixel centre to the nearest point.

    Pixels whose nearest point is beyond radius + 0.5 rows or columns get
    the distance to the nearest point that is not (+inf if none), whose exp is 0
    all the same.
    """
    count, num_points, _ = points.shape
    resolution = centres.shape[0]
    last = resolution - 1
    width = -(-resolution // LANES) * LANES
    grid = np.full(width, np.inf, np.float32)  # +inf beyond the image: those columns are +inf
    grid[:resolution] = centres
    buckets = resolution + 2 * radius  # nearest rows -radius .. last + radius
    starts = np.zeros(buckets + 1, np.int64)
    free = np.empty(buckets, np.int64)
    bucket = np.empty(num_points, np.int64)
    ys = np.empty(num_points, np.float32)
    across = np.empty((num_points, width), np.float32)  # squared column distances
    row = np.empty(width, np.float32)
    for i in range(count):
        starts[:] = 0
        for k in range(num_points):
            # Nearest row and column, as floats so that far-away points cannot overflow.
            nearest_row = np.floor(points[i, k, 1] * last + 0.5)
            nearest_column = np.floor(points[i, k, 0] * last + 0.5)
            if (
                -radius <= nearest_row <= last + radius
                and -radius <= nearest_column <= last + radius
            ):
                bucket[k] = int(nearest_row) + radius
                starts[bucket[k] + 1] += 1
            else:
                bucket[k] = -1  # lights no pixel of the image
        for b in range(buckets):
            starts[b + 1] += starts[b]
        free[:] = starts[:buckets]
        for k in range(num_points):
            if bucket[k] >= 0:
                j = free[bucket[k]]
                free[bucket[k]] = j + 1
                x = points[i, k, 0]
                ys[j] = points[i, k, 1]
                squares = across[j]
                for c in range(width):
                    t = x - grid[c]
                    squares[c] = t * t
        for r in range(resolution):
            # Points whose nearest row is r - radius .. r + radius: buckets r .. r + 2 radius.
            lo, hi = starts[r], starts[r + 2 * radius + 1]
            first = 0
            while first < width:
                vectors = min(VECTORS_PER_PASS, (width - first) // LANES)
                if vectors == 4:
                    _pass_4(across, ys, centres[r], lo, hi, first, row, scale, exponentiate)
                elif vectors == 3:
                    _pass_3(across, ys, centres[r], lo, hi, first, row, scale, exponentiate)
                elif vectors == 2:
                    _pass_2(across, ys, centres[r], lo, hi, first, row, scale, exponentiate)
                else:
                    _pass_1(across, ys, centres[r], lo, hi, first, row, scale, exponentiate)
                first += vectors * LANES
            for c in range(resolution):
                out[i, r, c] = row[c]
