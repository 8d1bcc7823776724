"""XLA:CPU's float32 exp, emitted as LLVM vector IR for numba kernels.

A host kernel that takes exp itself, instead of handing its results to XLA,
saves a program launch and a pass over memory; it keeps XLA's bits only if it
computes exp exactly as XLA does. XLA:CPU replaces exp by a Cephes-style range
reduction and polynomial, and its compiler contracts the multiply-adds into
fused ones. `emit_xla_exp` emits the same operations, fused the same way, and
flushes subnormal results to zero as XLA does. `exp_matches_xla` checks the
result against this process's XLA, so a kernel can fall back if a future XLA
computes exp another way.

The host kernel (`host_kernel`) inlines this IR. Numba's cache would key it on
the kernel's own file only; `kernel_cache` stamps it with this file too, so an
edit here recompiles it.
"""

from __future__ import annotations

import functools
import struct

import jax
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from squiggles import kernel_cache
from squiggles.rendering import intensity

kernel_cache.install()  # before the njit below: numba picks a cache locator when decorating

LANES = 16  # floats per vector register (AVX-512; LLVM splits them elsewhere)

_F32 = ir.FloatType()
_I32 = ir.IntType(32)


def _float_from_bits(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]


# XLA:CPU's exp(x) for float32 (Cephes's range reduction and polynomial), as its
# optimised LLVM IR and machine code show them.
_EXP_INPUT_RANGE = (-87.8, 88.8)
_LOG2_E = _float_from_bits(0x3FB8AA3B)
_LN2_HIGH = _float_from_bits(0x3F318000)  # ln 2 = high + low, high exact in few bits
_LN2_LOW = _float_from_bits(0xB95E8083)
_EXP_POLYNOMIAL = tuple(
    _float_from_bits(bits) for bits in (0x39506967, 0x3AB743CE, 0x3C088908, 0x3D2AA9C1, 0x3E2AAAAA)
)
_SMALLEST_NORMAL = float(np.finfo(np.float32).tiny)


def splat(value: float | ir.Value, builder: ir.IRBuilder) -> ir.Value:
    """A float vector with `value` (a constant or a float32 IR value) in every lane."""
    vector = ir.VectorType(_F32, LANES)
    if not isinstance(value, ir.Value):
        return ir.Constant(vector, [value] * LANES)
    single = builder.insert_element(ir.Constant(vector, ir.Undefined), value, _I32(0))
    return builder.shuffle_vector(
        single,
        ir.Constant(vector, ir.Undefined),
        ir.Constant(ir.VectorType(_I32, LANES), [0] * LANES),
    )


def emit_xla_exp(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """exp(x) of a float vector, operation for operation as XLA:CPU computes it."""

    def at_least(value: ir.Value, bound: float) -> ir.Value:
        return builder.select(
            builder.fcmp_unordered(">=", value, splat(bound, builder)),
            value,
            splat(bound, builder),
        )

    def at_most(value: ir.Value, bound: float) -> ir.Value:
        return builder.select(
            builder.fcmp_unordered("<=", value, splat(bound, builder)),
            value,
            splat(bound, builder),
        )

    def intrinsic_for(name: str, arity: int) -> ir.Function:
        function_type = ir.FunctionType(x.type, [x.type] * arity)
        return cgutils.get_or_insert_function(
            builder.module, function_type, f"llvm.{name}.v{LANES}f32"
        )

    fused = intrinsic_for("fma", 3)

    def fma(a: ir.Value, b: ir.Value | float, c: ir.Value | float) -> ir.Value:
        """a·b + c rounded once, as XLA's compiler contracts its multiply-adds."""
        return builder.call(
            fused,
            [
                operand if isinstance(operand, ir.Value) else splat(operand, builder)
                for operand in (a, b, c)
            ],
        )

    floor = intrinsic_for("floor", 1)
    x = at_most(at_least(x, _EXP_INPUT_RANGE[0]), _EXP_INPUT_RANGE[1])
    n = at_most(at_least(builder.call(floor, [fma(x, _LOG2_E, 0.5)]), -127.0), 127.0)
    r = fma(n, -_LN2_HIGH, x)  # x - n ln 2, in two steps
    r = fma(n, -_LN2_LOW, r)
    p = fma(r, _EXP_POLYNOMIAL[0], _EXP_POLYNOMIAL[1])
    for coefficient in (*_EXP_POLYNOMIAL[2:], 0.5):
        p = fma(p, r, coefficient)
    mantissa = builder.fadd(splat(1.0, builder), fma(p, builder.fmul(r, r), r))
    exponent = builder.fptosi(n, ir.VectorType(_I32, LANES))
    exponent = builder.shl(
        builder.add(exponent, ir.Constant(exponent.type, [127] * LANES)),
        ir.Constant(exponent.type, [23] * LANES),
    )
    result = builder.fmul(mantissa, builder.bitcast(exponent, x.type))
    # XLA runs with subnormal results flushed to zero.
    tiny = builder.fcmp_ordered("<", result, splat(_SMALLEST_NORMAL, builder))
    return builder.select(tiny, splat(0.0, builder), result)


def emit_intensity(builder: ir.IRBuilder, d2: ir.Value, scale: ir.Value) -> ir.Value:
    """exp(scale · d²) of a float vector of squared distances, as `rendering.intensity`
    computes it (scale = -R², a float32 IR value): one multiply, then XLA's exp."""
    return emit_xla_exp(builder, builder.fmul(d2, splat(scale, builder)))


def _exp_pass():
    """An intrinsic: values[start : start + 16] = exp(scale · values), by the IR rows use."""

    @intrinsic
    def exp_pass(typingctx, values, start, scale):
        def codegen(context, builder, sig, args):
            values_, start_, scale_ = args
            data = context.make_array(sig.args[0])(context, builder, values_).data
            target = builder.bitcast(
                builder.gep(data, [start_]), ir.VectorType(_F32, LANES).as_pointer()
            )
            intensities = emit_intensity(builder, builder.load(target, align=4), scale_)
            builder.store(intensities, target, align=4)
            return context.get_dummy_value()

        return types.void(values, start, scale), codegen

    return exp_pass


_exp_16 = _exp_pass()


@numba.njit(nogil=True, cache=True)
def _exponentiate(values, scale):  # numba infers the types
    """exp(scale · values) in place, for a length that is a multiple of 16."""
    for start in range(0, values.shape[0], LANES):
        _exp_16(values, start, scale)


@functools.cache
def exp_matches_xla() -> bool:
    """Whether the kernel's exp gives XLA's bits in this process.

    Probed once on exponents from 0 down past the flush to zero, densely enough to
    reach every binary exponent, and on 0, subnormal, huge and infinite distances.
    """
    resolution = 60
    exponents = np.linspace(0.0, 90.0, 1 << 14, dtype=np.float32)
    special = np.float32([0.0, 1e-40, 1e-30, 1.0, 1e30, np.inf])
    d2 = np.concatenate([exponents / resolution**2, special, np.zeros(10, np.float32)])
    host = d2.copy()
    _exponentiate(host, np.float32(-(resolution**2)))
    xla = intensity(
        jax.device_put(d2, jax.local_devices(backend="cpu")[0]), resolution
    )  # XLA:CPU's exp
    return bool(np.array_equal(host, np.asarray(xla)))
