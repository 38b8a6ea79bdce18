// High-frequency extraction (vsr/ops/highfreq.py is the torch reference these must match).
// Tensors are contiguous NCHW; `planes` = N*C. fp16 is raw binary16 bits (half_bits).
#include "common.cuh"

// One level of the orthonormal 2-D Haar transform. An odd height/width replicates its last
// row/column. out holds the four bands one after another: LL, LH, HL, HH, each (planes,oh,ow).
template <typename T>
__device__ __forceinline__ void haar_dwt(const T* __restrict__ x, T* __restrict__ out, int planes,
                                         int h, int w) {
    const int oh = (h + 1) / 2, ow = (w + 1) / 2;
    const long long band = (long long)planes * oh * ow;
    VSR_GRID_LOOP(i, band) {
        const int ox = (int)(i % ow);
        const long long t = i / ow;
        const int oy = (int)(t % oh);
        const long long p = t / oh;
        const T* src = x + p * h * w;
        const int y0 = 2 * oy, y1 = y0 + 1 < h ? y0 + 1 : h - 1;
        const int x0 = 2 * ox, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
        const float a = load_f(src, (long long)y0 * w + x0), b = load_f(src, (long long)y0 * w + x1);
        const float c = load_f(src, (long long)y1 * w + x0), d = load_f(src, (long long)y1 * w + x1);
        store_f(out, i, (a + b + c + d) * 0.5f);
        store_f(out, band + i, (a + b - c - d) * 0.5f);
        store_f(out, 2 * band + i, (a - b + c - d) * 0.5f);
        store_f(out, 3 * band + i, (a - b - c + d) * 0.5f);
    }
}

// Horizontal Gaussian pass: tmp (f32) = taps (2r+1, normalised) along x, replicated borders.
template <typename T>
__device__ __forceinline__ void blur_rows(const T* __restrict__ x, float* __restrict__ tmp,
                                          const float* __restrict__ taps, int r, int planes, int h,
                                          int w) {
    const long long n = (long long)planes * h * w;
    VSR_GRID_LOOP(i, n) {
        const int col = (int)(i % w);
        const T* row = x + (i - col);
        float acc = 0.0f;
        for (int k = -r; k <= r; ++k) acc += taps[k + r] * load_f(row, clampi(col + k, 0, w - 1));
        tmp[i] = acc;
    }
}

// Vertical Gaussian pass over tmp; residual != 0 writes x - blur (the high-pass) instead of blur.
template <typename T>
__device__ __forceinline__ void blur_cols(const float* __restrict__ tmp, const T* __restrict__ x,
                                          T* __restrict__ out, const float* __restrict__ taps, int r,
                                          int planes, int h, int w, int residual) {
    const long long n = (long long)planes * h * w;
    VSR_GRID_LOOP(i, n) {
        const long long plane_off = (i / ((long long)h * w)) * h * w;
        const int rowi = (int)((i / w) % h), col = (int)(i % w);
        const float* p = tmp + plane_off + col;
        float acc = 0.0f;
        for (int k = -r; k <= r; ++k) acc += taps[k + r] * p[(long long)clampi(rowi + k, 0, h - 1) * w];
        store_f(out, i, residual ? load_f(x, i) - acc : acc);
    }
}

extern "C" {
__global__ void haar_dwt_f32(const float* x, float* out, int planes, int h, int w) {
    haar_dwt(x, out, planes, h, w);
}
__global__ void haar_dwt_f16(const half_bits* x, half_bits* out, int planes, int h, int w) {
    haar_dwt(x, out, planes, h, w);
}
__global__ void blur_rows_f32(const float* x, float* tmp, const float* taps, int r, int planes, int h, int w) {
    blur_rows(x, tmp, taps, r, planes, h, w);
}
__global__ void blur_rows_f16(const half_bits* x, float* tmp, const float* taps, int r, int planes, int h, int w) {
    blur_rows(x, tmp, taps, r, planes, h, w);
}
__global__ void blur_cols_f32(const float* tmp, const float* x, float* out, const float* taps, int r,
                              int planes, int h, int w, int residual) {
    blur_cols(tmp, x, out, taps, r, planes, h, w, residual);
}
__global__ void blur_cols_f16(const float* tmp, const half_bits* x, half_bits* out, const float* taps,
                              int r, int planes, int h, int w, int residual) {
    blur_cols(tmp, x, out, taps, r, planes, h, w, residual);
}
}
