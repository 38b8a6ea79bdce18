// Y'CbCr <-> R'G'B' (vsr/ops/colorconv.py is the torch reference these must match; compile with
// fmad off so the float arithmetic is the reference's, operation for operation).
// Planes are contiguous: y (N,H,W), u/v (N,CH,CW) with CH = ceil(H/2^sh), CW = ceil(W/2^sw);
// rgb is planar (N,3,H,W) float in [0,1]. Codes are uint8 (8 bit) or 16-bit words (9..15 bit).
// Chroma siting: co-sited with even luma columns, centred between luma rows (MPEG-2/H.264).
// Downsampling: [1,2,1]/4 horizontally, [1,3,3,1]/8 vertically (swscale's bilinear 2:1).
#include "common.cuh"

typedef unsigned char u8;
typedef unsigned short u16;

struct YuvParams {  // passed by value as separate floats from Python; bundled here for readability
    float y_off, y_scale, c_off, c_scale, kr, kg, kb, cr_r, cb_b;
};

template <typename C>
__device__ __forceinline__ float chroma_at(const C* c, int ch, int cw, int sw, int sh, int row,
                                           int col, float off, float scale) {
    // Upsample as the reference does: vertical first (0.75/0.25 towards the nearer neighbour
    // row), then horizontal (even columns take the sample, odd ones the mean of two).
    int cy = row >> sh, cx = col >> sw;
    int ny = cy;
    if (sh) ny = clampi((row & 1) ? cy + 1 : cy - 1, 0, ch - 1);
    int cx2 = cx;
    if (sw && (col & 1)) cx2 = cx + 1 < cw ? cx + 1 : cw - 1;
    float a = ((float)c[(long long)cy * cw + cx] - off) / scale;
    if (sh) a = 0.75f * a + 0.25f * (((float)c[(long long)ny * cw + cx] - off) / scale);
    if (cx2 != cx) {
        float b = ((float)c[(long long)cy * cw + cx2] - off) / scale;
        if (sh) b = 0.75f * b + 0.25f * (((float)c[(long long)ny * cw + cx2] - off) / scale);
        a = 0.5f * (a + b);
    }
    return a;
}

template <typename C, typename T>
__device__ __forceinline__ void yuv_to_rgb(const C* __restrict__ y, const C* __restrict__ u,
                                           const C* __restrict__ v, T* __restrict__ out, int n, int h,
                                           int w, int sw, int sh, YuvParams q) {
    const int ch = (h + (1 << sh) - 1) >> sh, cw = (w + (1 << sw) - 1) >> sw;
    const long long hw = (long long)h * w, total = (long long)n * hw;
    VSR_GRID_LOOP(i, total) {
        const long long f = i / hw, pix = i - f * hw;
        const int row = (int)(pix / w), col = (int)(pix - (long long)row * w);
        const float yf = ((float)y[i] - q.y_off) / q.y_scale;
        const C* uf = u + f * ch * cw;
        const C* vf = v + f * ch * cw;
        const float cb = chroma_at(uf, ch, cw, sw, sh, row, col, q.c_off, q.c_scale);
        const float cr = chroma_at(vf, ch, cw, sw, sh, row, col, q.c_off, q.c_scale);
        const float r = yf + q.cr_r * cr;
        const float b = yf + q.cb_b * cb;
        const float g = (yf - q.kr * r - q.kb * b) / q.kg;
        T* o = out + f * 3 * hw + pix;
        store_f(o, 0, clampf(r, 0.0f, 1.0f));
        store_f(o, hw, clampf(g, 0.0f, 1.0f));
        store_f(o, 2 * hw, clampf(b, 0.0f, 1.0f));
    }
}

template <typename T>
__device__ __forceinline__ void pixel_ycc(const T* p, long long hw, long long k, YuvParams q,
                                          float* yf, float* cb, float* cr) {
    const float r = clampf(load_f(p, k), 0.0f, 1.0f);
    const float g = clampf(load_f(p, hw + k), 0.0f, 1.0f);
    const float b = clampf(load_f(p, 2 * hw + k), 0.0f, 1.0f);
    *yf = q.kr * r + q.kg * g + q.kb * b;
    *cb = (b - *yf) / q.cb_b;
    *cr = (r - *yf) / q.cr_r;
}

template <typename C>
__device__ __forceinline__ C quantise(float t, float off, float scale, float hi) {
    return (C)clampf(VSR_RINT(t * scale + off), 0.0f, hi);  // round half to even, like torch.round
}

template <typename T, typename C>
__device__ __forceinline__ void rgb_to_luma(const T* __restrict__ rgb, C* __restrict__ y, int n,
                                            int h, int w, YuvParams q, float hi) {
    const long long hw = (long long)h * w, total = (long long)n * hw;
    VSR_GRID_LOOP(i, total) {
        const long long f = i / hw, pix = i - f * hw;
        float yf, cb, cr;
        pixel_ycc(rgb + f * 3 * hw, hw, pix, q, &yf, &cb, &cr);
        y[i] = quantise<C>(yf, q.y_off, q.y_scale, hi);
    }
}

// Chroma of one row at subsampled column cx: [1,2,1]/4 around the co-sited even column.
template <typename T>
__device__ __forceinline__ void chroma_row(const T* p, long long hw, int w, int sw, int row, int cx,
                                           YuvParams q, float* cb, float* cr) {
    float yf, b0, r0;
    const long long base = (long long)row * w;
    if (!sw) {
        pixel_ycc(p, hw, base + cx, q, &yf, cb, cr);
        return;
    }
    const int x = 2 * cx, xl = x > 0 ? x - 1 : 0, xr = x + 1 < w ? x + 1 : w - 1;
    float bl, rl, bm, rm, br, rr;
    pixel_ycc(p, hw, base + xl, q, &yf, &bl, &rl);
    pixel_ycc(p, hw, base + x, q, &yf, &bm, &rm);
    pixel_ycc(p, hw, base + xr, q, &yf, &br, &rr);
    b0 = 0.25f * bl + 0.5f * bm + 0.25f * br;
    r0 = 0.25f * rl + 0.5f * rm + 0.25f * rr;
    *cb = b0;
    *cr = r0;
}

template <typename T, typename C>
__device__ __forceinline__ void rgb_to_chroma(const T* __restrict__ rgb, C* __restrict__ u,
                                              C* __restrict__ v, int n, int h, int w, int sw, int sh,
                                              YuvParams q, float hi) {
    const int ch = (h + (1 << sh) - 1) >> sh, cw = (w + (1 << sw) - 1) >> sw;
    const long long hw = (long long)h * w, chw = (long long)ch * cw, total = (long long)n * chw;
    VSR_GRID_LOOP(i, total) {
        const long long f = i / chw, k = i - f * chw;
        const int cy = (int)(k / cw), cx = (int)(k - (long long)cy * cw);
        const T* p = rgb + f * 3 * hw;
        float cb, cr;
        if (sh) {
            // [1,3,3,1]/8 over rows 2cy-1..2cy+2 (replicated borders): centred between 2cy and
            // 2cy+1, summed left to right like the reference.
            float cbs[4], crs[4];
            for (int t = 0; t < 4; ++t)
                chroma_row(p, hw, w, sw, clampi(2 * cy - 1 + t, 0, h - 1), cx, q, &cbs[t], &crs[t]);
            cb = 0.125f * cbs[0] + 0.375f * cbs[1] + 0.375f * cbs[2] + 0.125f * cbs[3];
            cr = 0.125f * crs[0] + 0.375f * crs[1] + 0.375f * crs[2] + 0.125f * crs[3];
        } else {
            chroma_row(p, hw, w, sw, cy, cx, q, &cb, &cr);
        }
        u[i] = quantise<C>(cb, q.c_off, q.c_scale, hi);
        v[i] = quantise<C>(cr, q.c_off, q.c_scale, hi);
    }
}

#define VSR_PARAMS float y_off, float y_scale, float c_off, float c_scale, float kr, float kg, float kb, \
                   float cr_r, float cb_b
#define VSR_Q {y_off, y_scale, c_off, c_scale, kr, kg, kb, cr_r, cb_b}

#define VSR_YUV2RGB(CN, C, TN, T)                                                                     \
    __global__ void yuv_to_rgb_##CN##_##TN(const C* y, const C* u, const C* v, T* out, int n, int h,  \
                                           int w, int sw, int sh, VSR_PARAMS) {                       \
        YuvParams q = VSR_Q;                                                                          \
        yuv_to_rgb(y, u, v, out, n, h, w, sw, sh, q);                                                 \
    }
#define VSR_RGB2YUV(TN, T, CN, C)                                                                     \
    __global__ void rgb_to_luma_##TN##_##CN(const T* rgb, C* y, int n, int h, int w, VSR_PARAMS,     \
                                            float hi) {                                               \
        YuvParams q = VSR_Q;                                                                          \
        rgb_to_luma(rgb, y, n, h, w, q, hi);                                                          \
    }                                                                                                 \
    __global__ void rgb_to_chroma_##TN##_##CN(const T* rgb, C* u, C* v, int n, int h, int w, int sw, \
                                              int sh, VSR_PARAMS, float hi) {                         \
        YuvParams q = VSR_Q;                                                                          \
        rgb_to_chroma(rgb, u, v, n, h, w, sw, sh, q, hi);                                             \
    }

extern "C" {
VSR_YUV2RGB(u8, u8, f32, float)
VSR_YUV2RGB(u8, u8, f16, half_bits)
VSR_YUV2RGB(u16, u16, f32, float)
VSR_YUV2RGB(u16, u16, f16, half_bits)
VSR_RGB2YUV(f32, float, u8, u8)
VSR_RGB2YUV(f16, half_bits, u8, u8)
VSR_RGB2YUV(f32, float, u16, u16)
VSR_RGB2YUV(f16, half_bits, u16, u16)
}
