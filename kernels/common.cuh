// Shared helpers for the vsr kernels. Self-contained: no CUDA headers, so NVRTC (CuPy RawModule)
// compiles it without an include path, and a host C++ compiler compiles it for the CPU emulator
// (tests/kernel_emu.py), which defines VSR_EMULATE and runs each grid-stride kernel as one loop.
#pragma once

#ifdef VSR_EMULATE
#include <cmath>
#include <cstring>
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
struct vsr_dim3 { unsigned x; };
static const vsr_dim3 threadIdx = {0}, blockIdx = {0}, blockDim = {1}, gridDim = {1};
#define VSR_RINT(x) std::nearbyint(x)
#else
#define VSR_RINT(x) rintf(x)
#endif

typedef unsigned short half_bits;  // an IEEE binary16 value kept as its raw 16 bits

__device__ __forceinline__ float half_to_float(half_bits h) {
#if defined(__CUDA_ARCH__)
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
#else
    unsigned sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign << 31;
        } else {  // subnormal: normalise
            int e = -1;
            do { man <<= 1; ++e; } while (!(man & 0x400u));
            bits = (sign << 31) | ((unsigned)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = (sign << 31) | 0x7f800000u | (man << 13);
    } else {
        bits = (sign << 31) | ((exp + 112u) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
#endif
}

__device__ __forceinline__ half_bits float_to_half(float f) {
#if defined(__CUDA_ARCH__)
    half_bits h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
#else  // round to nearest even, like cvt.rn
    unsigned x;
    memcpy(&x, &f, 4);
    unsigned sign = (x >> 16) & 0x8000u;
    unsigned absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) return (half_bits)(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
    if (absx >= 0x477ff000u) return (half_bits)(sign | 0x7c00u);  // rounds to >= 65520: inf
    if (absx < 0x38800000u) {  // subnormal or zero in half
        if (absx < 0x33000000u) return (half_bits)sign;
        unsigned e = absx >> 23, m = (absx & 0x7fffffu) | 0x800000u;
        unsigned shift = 126u - e;  // 14 + (112 - (e - 127)) - ... : m >> (shift) gives half mantissa
        unsigned r = m >> shift, rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (r & 1u))) ++r;
        return (half_bits)(sign | r);
    }
    unsigned r = ((absx - 0x38000000u) >> 13);
    unsigned rem = absx & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
    return (half_bits)(sign | r);
#endif
}

// Loads and stores by element type: float, half_bits (fp16), unsigned char / unsigned short codes.
__device__ __forceinline__ float load_f(const float* p, long long i) { return p[i]; }
__device__ __forceinline__ float load_f(const half_bits* p, long long i) { return half_to_float(p[i]); }
__device__ __forceinline__ void store_f(float* p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void store_f(half_bits* p, long long i, float v) { p[i] = float_to_half(v); }

__device__ __forceinline__ int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
__device__ __forceinline__ float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Grid-stride loop over [0, n): on the GPU each thread takes every (blockDim*gridDim)-th index; in
// the emulator (one block of one thread) the same loop visits every index in order.
#define VSR_GRID_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)
