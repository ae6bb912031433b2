/* int8 micro-kernels for Cortex-M: convolution (any window, groups 1), depthwise convolution, dense
 * (as a 1x1 convolution) and zero-point padding, NHWC with Keras kernel layouts (HWIO; depthwise
 * HW1(C*M)), int32 accumulation, per-channel requantization in the same pass (no int32 workspace).
 *
 * The arguments are what TVM's C backend declares for `T.call_extern`: non-const element pointers
 * and int32 scalars. The input zero point is folded into the bias at compile time and padding is
 * done with the zero point, so the inner loops are plain int8 dot products. One source serves every
 * core: SMLAD dual MACs where the core has the DSP extension (__ARM_FEATURE_DSP: M4/M7/M33), Helium
 * vector MACs where it has MVE (M55), portable C otherwise (M0+/M3). All paths compute the same
 * integers as the TFLite-style reference (bit-exact).
 *
 * Kernels call them through one small wrapper per layer shape that passes the shapes as constants
 * (edgekeras/codegen/kernels_c.py writes the wrappers, inlined into the C kernels; with --emit obj
 * these kernels stay C, in kernels_mcu.c), so every layer gets a copy compiled for its own shapes. */
#ifndef EK_MCU_KERNELS_H
#define EK_MCU_KERNELS_H

#include <stdint.h>
#include <string.h>

#if (defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP) || (defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT)
#include <arm_acle.h>
#endif
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define EK_MCU_DSP 1
#endif
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define EK_MCU_MVE 1
#endif

#define EK_MCU_API static inline __attribute__((always_inline))

/* The largest window the depthwise kernel takes (taps); larger windows stay with TVM's own kernels. */
#define EK_MCU_MAX_TAPS 64

/* ---- requantization: TFLite's MultiplyByQuantizedMultiplier, then zero point and clamp ----------
 * high = (sat32(acc << left) * mult + 2^30) >> 31, y = (high + nudge) >> right with nudge chosen by
 * the sign of high. Both shifts are floor divisions, so they merge into one 64-bit sum shifted by
 * 31 + right: y = (acc' * mult + 2^30 + nudge * 2^31) >> (31 + right), the sign of high being the
 * sign of acc' * mult + 2^30. The usual channel takes the short path: no left shift, right >= 1, the
 * negative nudge one less than the positive one (as edgekeras.quantize.arith.shift_terms makes them)
 * and 2^30 < mult, so that acc * mult + 2^30 < 0 exactly when acc < 0. Then the sum is one SMLAL onto
 * the channel's constant 2^30 + nudge_pos * 2^31, less 2^31 for a negative acc, and y its high word
 * shifted by right - 1. */
typedef struct {
  int32_t mult, shift;  /* shift = right - 1 on the short path */
  uint32_t base_lo;     /* 2^30 + nudge_pos * 2^31, low and high words */
  int32_t base_hi;
  int32_t general, left, right, nudge_pos, nudge_neg;
} ek__requant_t;

static inline ek__requant_t ek__requant_terms(const int32_t *mult, const int32_t *left, const int32_t *right,
                                              const int32_t *nudge_pos, const int32_t *nudge_neg, int32_t c) {
  const int32_t general =
      left[c] != 0 || right[c] < 1 || nudge_neg[c] != nudge_pos[c] - 1 || mult[c] <= ((int32_t)1 << 30);
  const int64_t base = ((int64_t)1 << 30) + (int64_t)nudge_pos[c] * ((int64_t)1 << 31);
  ek__requant_t q = {mult[c],       right[c] - 1, (uint32_t)base, (int32_t)(base >> 32), general, left[c], right[c],
                     nudge_pos[c], nudge_neg[c]};
  return q;
}

/* The high word of the short path's sum: five instructions on Thumb-2 cores. */
static inline int32_t ek__scaled_high(int32_t acc, const ek__requant_t *q) {
#if defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB >= 2
  uint32_t lo = q->base_lo, sign;
  int32_t hi = q->base_hi;
  __asm__("smlal %[lo], %[hi], %[acc], %[mult]\n\t"
          "and %[sign], %[acc], #0x80000000\n\t"
          "adds %[lo], %[lo], %[sign]\n\t"
          "adc %[hi], %[hi], %[acc], asr #31"
          : [lo] "+&r"(lo), [hi] "+&r"(hi), [sign] "=&r"(sign)
          : [acc] "r"(acc), [mult] "r"(q->mult)
          : "cc");
  return hi;
#else
  const int64_t base = (int64_t)(((uint64_t)(uint32_t)q->base_hi << 32) | q->base_lo);
  return (int32_t)((base + (int64_t)acc * q->mult - (acc < 0 ? ((int64_t)1 << 31) : 0)) >> 32);
#endif
}

/* Any channel: the saturating left shift, and no nudge when right = 0. */
static inline int32_t ek__requantize_general(int32_t acc, const ek__requant_t *q) {
  const int64_t wide = (int64_t)acc * ((int64_t)1 << q->left);
  acc = wide > INT32_MAX ? INT32_MAX : wide < INT32_MIN ? INT32_MIN : (int32_t)wide;
  int64_t sum = (int64_t)acc * q->mult + ((int64_t)1 << 30);
  if (q->right == 0) return (int32_t)(sum >> 31);
  sum += (int64_t)(sum < 0 ? q->nudge_neg : q->nudge_pos) * ((int64_t)1 << 31);
  return (int32_t)(sum >> 32) >> (q->right - 1); /* floor(sum / 2^(31 + right)) in two floor steps */
}

/* `may_be_general` 0 (a constant) drops the check where the caller has made sure of the short path. */
static inline int32_t ek_mcu_requantize(int32_t acc, ek__requant_t q, int32_t zp, int32_t lo, int32_t hi,
                                        int32_t may_be_general) {
  if (may_be_general && __builtin_expect(q.general, 0)) {
    const int32_t y = ek__requantize_general(acc, &q);
    return y < lo - zp ? lo : y > hi - zp ? hi : y + zp; /* y + zp could leave int32; the clamp cannot */
  }
  /* |high| < 2^30 + 2^29 + 1 on the short path, so y + zp stays in int32 */
  const int32_t y = (ek__scaled_high(acc, &q) >> q.shift) + zp;
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
  int32_t v = __ssat(y, 8); /* the int8 range in one instruction; a fused activation narrows it further */
  if (v < -128 || v > 127) __builtin_unreachable(); /* what SSAT guarantees: no sign extension before a store */
  if (lo > -128 && v < lo) v = lo;
  if (hi < 127 && v > hi) v = hi;
  return v;
#else
  return y < lo ? lo : y > hi ? hi : y;
#endif
}

static inline int32_t ek__load32(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

static inline uint32_t ek__load16(const int8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

#if EK_MCU_DSP
/* Weights are unpacked once per block of output channels into int16 pairs on the stack (at most this
 * many words), then reused for every output pixel; longer reductions take the portable loop. */
#define EK_MCU_PACK_WORDS 640

static inline int32_t ek__sxtb16_ror8(int32_t v) {
  int32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}

/* (low half of a) | (low half of b) << 16 (PKHBT), and (high half of a) | (high half of b) << 16
 * (PKHTB): one instruction each, which GCC does not find by itself. */
static inline int32_t ek__pack_low(int32_t a, int32_t b) {
  int32_t r;
  __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
  return r;
}

static inline int32_t ek__pack_high(int32_t a, int32_t b) {
  int32_t r;
  __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(b), "r"(a));
  return r;
}

/* One group of four input bytes of pixels u and v against the packed weights of channels 0 and 1:
 * 16 MACs in 14 instructions (SMLAD: two MACs each). */
#define EK__DOT_2X2_GROUP                          \
  "ldr %[xu], [%[u]], #4\n\t"                      \
  "ldr %[xv], [%[v]], #4\n\t"                      \
  "ldrd %[w0], %[w1], [%[wp]], #8\n\t"             \
  "sxtb16 %[e], %[xu]\n\t"                         \
  "sxtb16 %[xu], %[xu], ror #8\n\t"                \
  "smlad %[a0], %[e], %[w0], %[a0]\n\t"            \
  "smlad %[a1], %[e], %[w1], %[a1]\n\t"            \
  "sxtb16 %[e], %[xv]\n\t"                         \
  "sxtb16 %[xv], %[xv], ror #8\n\t"                \
  "smlad %[b0], %[e], %[w0], %[b0]\n\t"            \
  "smlad %[b1], %[e], %[w1], %[b1]\n\t"            \
  "ldrd %[w0], %[w1], [%[wp]], #8\n\t"             \
  "smlad %[a0], %[xu], %[w0], %[a0]\n\t"           \
  "smlad %[a1], %[xu], %[w1], %[a1]\n\t"           \
  "smlad %[b0], %[xv], %[w0], %[b0]\n\t"           \
  "smlad %[b1], %[xv], %[w1], %[b1]\n\t"

/* a0, a1 += u . (channels 0, 1) and b0, b1 += v . (channels 0, 1) over `groups` groups of four input
 * bytes and their packed weights; advances u, v and wp. Written out because GCC spills the
 * accumulators of this loop; two groups per iteration. */
static inline void ek__dot_2x2(const int8_t **u, const int8_t **v, const int32_t **wp, int32_t groups, int32_t *a0,
                               int32_t *a1, int32_t *b0, int32_t *b1) {
  int32_t xu, xv, e, w0, w1, pairs = groups / 2;
  if (groups % 2)
    __asm__(EK__DOT_2X2_GROUP
            : [a0] "+r"(*a0), [a1] "+r"(*a1), [b0] "+r"(*b0), [b1] "+r"(*b1), [u] "+r"(*u), [v] "+r"(*v),
              [wp] "+r"(*wp), [xu] "=&r"(xu), [xv] "=&r"(xv), [e] "=&r"(e), [w0] "=&r"(w0), [w1] "=&r"(w1)
            :
            : "memory");
  if (pairs)
    __asm__("1:\n\t" EK__DOT_2X2_GROUP EK__DOT_2X2_GROUP
            "subs %[n], %[n], #1\n\t"
            "bne 1b"
            : [a0] "+r"(*a0), [a1] "+r"(*a1), [b0] "+r"(*b0), [b1] "+r"(*b1), [u] "+r"(*u), [v] "+r"(*v),
              [wp] "+r"(*wp), [n] "+r"(pairs), [xu] "=&r"(xu), [xv] "=&r"(xv), [e] "=&r"(e), [w0] "=&r"(w0),
              [w1] "=&r"(w1)
            :
            : "cc", "memory");
}

/* Weights of output channels co, co+1 for one run of `len` (a multiple of 4; row stride ws), as the
 * int16 pairs (r, r+2) and (r+1, r+3) that SXTB16 makes of four input bytes: per group of four,
 * [co even, co+1 even, co odd, co+1 odd]. Returns the end of the packed words. */
static inline int32_t *ek__pack_2co(const int8_t *w, int32_t len, int32_t ws, int32_t *packed) {
  for (int32_t r = 0; r + 4 <= len; r += 4, w += 4 * ws, packed += 4) {
    const int32_t even = ek__pack_low((int32_t)ek__load16(w), (int32_t)ek__load16(w + 2 * ws));
    const int32_t odd = ek__pack_low((int32_t)ek__load16(w + ws), (int32_t)ek__load16(w + 3 * ws));
    packed[0] = __sxtb16(even), packed[1] = ek__sxtb16_ror8(even);
    packed[2] = __sxtb16(odd), packed[3] = ek__sxtb16_ror8(odd);
  }
  return packed;
}
#endif

/* The reduction of a convolution as contiguous runs: input stride 1 and weight stride out_c inside a
 * run. Without horizontal dilation a window row is one run (k_w * in_c input bytes in NHWC, and the
 * same rows of the HWIO kernel); otherwise one run per tap (in_c). */
typedef struct {
  int32_t count, len, x_step_row, x_step, w_step, k_w;
} ek__runs_t;

static inline ek__runs_t ek__conv_runs(int32_t in_w, int32_t in_c, int32_t out_c, int32_t k_h, int32_t k_w,
                                       int32_t dil_h, int32_t dil_w) {
  ek__runs_t runs;
  runs.k_w = k_w;
  if (dil_w == 1) {
    runs.count = k_h, runs.len = k_w * in_c, runs.x_step_row = dil_h * in_w * in_c, runs.x_step = 0;
    runs.w_step = k_w * in_c * out_c;
  } else {
    runs.count = k_h * k_w, runs.len = in_c, runs.x_step_row = dil_h * in_w * in_c, runs.x_step = dil_w * in_c;
    runs.w_step = in_c * out_c;
  }
  return runs;
}

/* Input offset of run i. */
static inline int32_t ek__run_offset(const ek__runs_t *runs, int32_t i) {
  if (runs->x_step == 0) return i * runs->x_step_row;
  return (i / runs->k_w) * runs->x_step_row + (i % runs->k_w) * runs->x_step;
}

/* Walks a conv's output pixels in row-major order, giving each one's offset into the padded input,
 * for callers whose shapes are not compile-time constants (no division helper call per pixel). */
typedef struct {
  int32_t ow, offset, out_w, step, row_back;
} ek__cursor_t;

static inline ek__cursor_t ek__cursor(int32_t out_w, int32_t in_w, int32_t in_c, int32_t stride_h, int32_t stride_w) {
  const ek__cursor_t c = {0, 0, out_w, stride_w * in_c, stride_h * in_w * in_c - out_w * stride_w * in_c};
  return c;
}

static inline void ek__cursor_next(ek__cursor_t *c) {
  c->offset += c->step;
  if (++c->ow == c->out_w) c->ow = 0, c->offset += c->row_back;
}

/* The same offset for pixel p directly: cheaper where the shapes are constants (the layer wrappers). */
static inline int32_t ek__pixel_offset(int32_t p, int32_t out_w, int32_t in_w, int32_t in_c, int32_t stride_h,
                                       int32_t stride_w) {
  return ((p / out_w) * stride_h * in_w + (p % out_w) * stride_w) * in_c;
}

typedef struct {
  int32_t batch, in_h, in_w, in_c, out_h, out_w, out_c, stride_h, stride_w, zp, lo, hi;
  ek__runs_t runs;
} ek__conv_t;

typedef struct {
  int32_t batch, in_h, in_w, in_c, out_h, out_w, k_w, taps, stride_h, stride_w, dil_h, dil_w, zp, lo, hi;
} ek__dw_t;

#define EK__TAP_OFFSET(g, t) ((((t) / (g)->k_w) * (g)->dil_h * (g)->in_w + ((t) % (g)->k_w) * (g)->dil_w) * (g)->in_c)

#if EK_MCU_DSP
/* One output pixel (a dense layer), channels co..co+3 (w, bias, y start there): each weight is used
 * once, so it is unpacked where it is used: four weight rows make the int16 pairs of four channels. */
static inline void ek__conv_1px_4co(const ek__conv_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                                    const ek__requant_t q[4], int8_t *y) {
  const int32_t oc = g->out_c, groups = g->runs.len / 4;
  int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
  for (int32_t i = 0; i < g->runs.count; i++) {
    const int8_t *u = x + ek__run_offset(&g->runs, i), *wr = w + i * g->runs.w_step;
    for (int32_t r = 0; r < groups; r++, u += 4, wr += 4 * oc) {
      const int32_t xv = ek__load32(u), xe = __sxtb16(xv), xo = ek__sxtb16_ror8(xv);
      const int32_t w0 = ek__load32(wr), w1 = ek__load32(wr + oc), w2 = ek__load32(wr + 2 * oc),
                    w3 = ek__load32(wr + 3 * oc);
      const int32_t lo02 = ek__pack_low(w0, w2), hi02 = ek__pack_high(w0, w2);
      const int32_t lo13 = ek__pack_low(w1, w3), hi13 = ek__pack_high(w1, w3);
      a0 = __smlad(xe, __sxtb16(lo02), a0), a1 = __smlad(xe, ek__sxtb16_ror8(lo02), a1);
      a2 = __smlad(xe, __sxtb16(hi02), a2), a3 = __smlad(xe, ek__sxtb16_ror8(hi02), a3);
      a0 = __smlad(xo, __sxtb16(lo13), a0), a1 = __smlad(xo, ek__sxtb16_ror8(lo13), a1);
      a2 = __smlad(xo, __sxtb16(hi13), a2), a3 = __smlad(xo, ek__sxtb16_ror8(hi13), a3);
    }
    for (int32_t r = 0; r < g->runs.len % 4; r++, wr += oc)
      a0 += u[r] * wr[0], a1 += u[r] * wr[1], a2 += u[r] * wr[2], a3 += u[r] * wr[3];
  }
  y[0] = (int8_t)ek_mcu_requantize(a0, q[0], g->zp, g->lo, g->hi, 1);
  y[1] = (int8_t)ek_mcu_requantize(a1, q[1], g->zp, g->lo, g->hi, 1);
  y[2] = (int8_t)ek_mcu_requantize(a2, q[2], g->zp, g->lo, g->hi, 1);
  y[3] = (int8_t)ek_mcu_requantize(a3, q[3], g->zp, g->lo, g->hi, 1);
}

/* Output channels co, co+1 (w, bias and y start there) for every output pixel, two pixels at a time,
 * from the channels' packed weights. */
static inline __attribute__((always_inline)) void ek__conv_2co(const ek__conv_t *g, const int8_t *x, const int8_t *w,
                                                               const int32_t *bias, const int32_t *packed,
                                                               ek__requant_t q0, ek__requant_t q1, int8_t *y,
                                                               int32_t may_be_general) {
  const int32_t pixels = g->out_h * g->out_w, groups = g->runs.len / 4, tail = g->runs.len % 4;
  for (int32_t n = 0; n < g->batch; n++) {
    const int8_t *xn = x + n * g->in_h * g->in_w * g->in_c;
    int8_t *yn = y + n * pixels * g->out_c;
    ek__cursor_t cursor = ek__cursor(g->out_w, g->in_w, g->in_c, g->stride_h, g->stride_w);
    for (int32_t p = 0; p < pixels; p += 2) {
      const int32_t p1 = p + 1 < pixels ? p + 1 : p; /* an odd last pixel is computed twice, stored once */
      const int8_t *x0, *x1;
      if (__builtin_constant_p(g->out_w)) {
        x0 = xn + ek__pixel_offset(p, g->out_w, g->in_w, g->in_c, g->stride_h, g->stride_w);
        x1 = xn + ek__pixel_offset(p1, g->out_w, g->in_w, g->in_c, g->stride_h, g->stride_w);
      } else {
        x0 = xn + cursor.offset;
        ek__cursor_next(&cursor);
        x1 = p1 == p ? x0 : xn + cursor.offset;
        ek__cursor_next(&cursor);
      }
      int32_t a0 = bias[0], a1 = bias[1], b0 = a0, b1 = a1;
      const int32_t *wp = packed;
      for (int32_t i = 0; i < g->runs.count; i++) {
        const int32_t offset = ek__run_offset(&g->runs, i);
        const int8_t *u = x0 + offset, *v = x1 + offset;
        if (groups) ek__dot_2x2(&u, &v, &wp, groups, &a0, &a1, &b0, &b1);
        for (int32_t r = 0; r < tail; r++) {
          const int8_t *wr = w + i * g->runs.w_step + (groups * 4 + r) * g->out_c;
          a0 += u[r] * wr[0], a1 += u[r] * wr[1], b0 += v[r] * wr[0], b1 += v[r] * wr[1];
        }
      }
      yn[p * g->out_c] = (int8_t)ek_mcu_requantize(a0, q0, g->zp, g->lo, g->hi, may_be_general);
      yn[p * g->out_c + 1] = (int8_t)ek_mcu_requantize(a1, q1, g->zp, g->lo, g->hi, may_be_general);
      yn[p1 * g->out_c] = (int8_t)ek_mcu_requantize(b0, q0, g->zp, g->lo, g->hi, may_be_general);
      yn[p1 * g->out_c + 1] = (int8_t)ek_mcu_requantize(b1, q1, g->zp, g->lo, g->hi, may_be_general);
    }
  }
}
#endif

#if EK_MCU_MVE
/* ---- Helium (MVE): dot products of 16 int8 lanes (VMLADAVA), requantization four lanes at a time ---- */
typedef struct {
  int32x4_t mult, left, neg_right;
} ek__requant4_t;

static inline ek__requant4_t ek__requant4_terms(const int32_t *mult, const int32_t *left, const int32_t *right) {
  const ek__requant4_t q = {vldrwq_s32(mult), vldrwq_s32(left), vnegq_s32(vldrwq_s32(right))};
  return q;
}

/* TFLite's arithmetic exactly: saturating left shift, VQRDMULH (= (x * mult + 2^30) >> 31, saturated),
 * then a rounding right shift whose ties go away from zero (one less for negatives, VRSHL rounds up). */
static inline int32x4_t ek__requantize4(int32x4_t acc, const ek__requant4_t *q, int32_t zp, int32_t lo, int32_t hi) {
  int32x4_t v = vqrdmulhq_s32(vqshlq_s32(acc, q->left), q->mult);
  v = vqaddq_s32(v, vshrq_n_s32(vandq_s32(v, q->neg_right), 31));
  v = vqaddq_n_s32(vrshlq_s32(v, q->neg_right), zp);
  return vminq_s32(vmaxq_s32(v, vdupq_n_s32(lo)), vdupq_n_s32(hi));
}

/* Bytes of weights the Helium conv packs on the stack for four output channels. */
#define EK_MCU_MVE_PACK_BYTES 2560

static inline int32_t ek__round16(int32_t n) { return (n + 15) / 16 * 16; }

/* Weights of output channels co..co+3 over every run, each run zero-padded to whole 16-byte chunks:
 * per chunk, 16 reduction bytes of channel 0, then of channels 1, 2, 3. */
static inline void ek__pack_4co_mve(const int8_t *w, const ek__runs_t *runs, int32_t out_c, int8_t *packed) {
  for (int32_t i = 0; i < runs->count; i++) {
    const int8_t *wr = w + i * runs->w_step;
    for (int32_t k = 0; k < ek__round16(runs->len); k += 16, packed += 64)
      for (int32_t j = 0; j < 4; j++)
        for (int32_t r = 0; r < 16; r++) packed[16 * j + r] = k + r < runs->len ? wr[(k + r) * out_c + j] : 0;
  }
}

/* Output channels co..co+3 (w, bias, y start there) for every pixel, two pixels at a time. */
static inline void ek__conv_4co_mve(const ek__conv_t *g, const int8_t *x, const int32_t *bias, const int8_t *packed,
                                    const ek__requant4_t *q, int8_t *y) {
  const int32_t pixels = g->out_h * g->out_w;
  for (int32_t n = 0; n < g->batch; n++) {
    const int8_t *xn = x + n * g->in_h * g->in_w * g->in_c;
    int8_t *yn = y + n * pixels * g->out_c;
    for (int32_t p = 0; p < pixels; p += 2) {
      const int32_t p1 = p + 1 < pixels ? p + 1 : p;
      const int8_t *x0 = xn + ek__pixel_offset(p, g->out_w, g->in_w, g->in_c, g->stride_h, g->stride_w);
      const int8_t *x1 = xn + ek__pixel_offset(p1, g->out_w, g->in_w, g->in_c, g->stride_h, g->stride_w);
      int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3], b0 = a0, b1 = a1, b2 = a2, b3 = a3;
      const int8_t *wp = packed;
      for (int32_t i = 0; i < g->runs.count; i++) {
        const int32_t offset = ek__run_offset(&g->runs, i);
        const int8_t *u = x0 + offset, *v = x1 + offset;
        for (int32_t left = g->runs.len; left > 0; left -= 16, u += 16, v += 16, wp += 64) {
          const mve_pred16_t lanes = vctp8q((uint32_t)left); /* inactive lanes read nothing and count zero */
          const int8x16_t xu = vldrbq_z_s8(u, lanes), xv = vldrbq_z_s8(v, lanes);
          const int8x16_t w0 = vldrbq_s8(wp), w1 = vldrbq_s8(wp + 16), w2 = vldrbq_s8(wp + 32), w3 = vldrbq_s8(wp + 48);
          a0 = vmladavaq_s8(a0, xu, w0), a1 = vmladavaq_s8(a1, xu, w1);
          a2 = vmladavaq_s8(a2, xu, w2), a3 = vmladavaq_s8(a3, xu, w3);
          b0 = vmladavaq_s8(b0, xv, w0), b1 = vmladavaq_s8(b1, xv, w1);
          b2 = vmladavaq_s8(b2, xv, w2), b3 = vmladavaq_s8(b3, xv, w3);
        }
      }
      const int32x4_t ya = {a0, a1, a2, a3}, yb = {b0, b1, b2, b3};
      vstrbq_s32(yn + p1 * g->out_c, ek__requantize4(yb, q, g->zp, g->lo, g->hi));
      vstrbq_s32(yn + p * g->out_c, ek__requantize4(ya, q, g->zp, g->lo, g->hi));
    }
  }
}

/* One output pixel (a dense layer), channels co..co+3 (w, bias, y start there): each weight is used
 * once, so no packing: four channels' weights widened to int32 lanes times the input byte (VMLA). */
static inline void ek__conv_1px_4co_mve(const ek__conv_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                                        const ek__requant4_t *q, int8_t *y) {
  int32x4_t acc = vldrwq_s32(bias);
  for (int32_t i = 0; i < g->runs.count; i++) {
    const int8_t *u = x + ek__run_offset(&g->runs, i), *wr = w + i * g->runs.w_step;
    for (int32_t r = 0; r < g->runs.len; r++, wr += g->out_c) acc = vmlaq_n_s32(acc, vldrbq_s32(wr), u[r]);
  }
  vstrbq_s32(y, ek__requantize4(acc, q, g->zp, g->lo, g->hi));
}

/* Depthwise, channels o..o+3 (multiplier 1; x, bias, y start there): int32 lanes, one tap at a time. */
static inline void ek__depthwise_4c_mve(const ek__dw_t *g, const int8_t *x, const int8_t *w, const int32_t *bias,
                                        const ek__requant4_t *q, const int32_t *tap_offset, int8_t *y) {
  const int32x4_t start = vldrwq_s32(bias);
  for (int32_t n = 0; n < g->batch; n++) {
    for (int32_t oh = 0; oh < g->out_h; oh++) {
      const int8_t *xp = x + ((n * g->in_h + oh * g->stride_h) * g->in_w) * g->in_c;
      int8_t *yp = y + (n * g->out_h + oh) * g->out_w * g->in_c;
      for (int32_t ow = 0; ow < g->out_w; ow++, xp += g->stride_w * g->in_c, yp += g->in_c) {
        int32x4_t acc = start;
#pragma GCC unroll 32
        for (int32_t t = 0; t < g->taps; t++) {
          const int32_t off = __builtin_constant_p(g->k_w) ? EK__TAP_OFFSET(g, t) : tap_offset[t];
          acc = vaddq_s32(acc, vmulq_s32(vldrbq_s32(xp + off), vldrbq_s32(w + t * g->in_c)));
        }
        vstrbq_s32(yp, ek__requantize4(acc, q, g->zp, g->lo, g->hi));
      }
    }
  }
}
#endif

/* y[n, oh, ow, co] = requantize(bias[co] + sum x[n, oh*s_h + kh*d_h, ow*s_w + kw*d_w, ci] * w[kh, kw, ci, co]):
 * x already padded, w HWIO. With DSP: two output channels at a time, their weights unpacked once, then
 * two output pixels at a time, four SMLAD dual MACs per four input bytes of each pixel. */
EK_MCU_API int32_t ek_mcu_conv_s8(int8_t *x, int8_t *w, int32_t *bias, int32_t *mult, int32_t *left, int32_t *right,
                                  int32_t *nudge_pos, int32_t *nudge_neg, int8_t *y, int32_t batch, int32_t in_h,
                                  int32_t in_w, int32_t in_c, int32_t out_h, int32_t out_w, int32_t out_c, int32_t k_h,
                                  int32_t k_w, int32_t stride_h, int32_t stride_w, int32_t dil_h, int32_t dil_w,
                                  int32_t out_zp, int32_t act_min, int32_t act_max) {
  const ek__runs_t runs = ek__conv_runs(in_w, in_c, out_c, k_h, k_w, dil_h, dil_w);
  const int32_t pixels = out_h * out_w;
  int32_t done = 0; /* output channels a vector path computed; the portable loop takes the rest */
#if EK_MCU_MVE
  const ek__conv_t conv = {batch, in_h, in_w, in_c, out_h, out_w, out_c, stride_h, stride_w, out_zp, act_min,
                           act_max, runs};
  int32_t chunks = 0;
  for (int32_t i = 0; i < runs.count; i++) chunks += ek__round16(runs.len) / 16;
  if (batch * pixels == 1) {
    done = out_c - out_c % 4;
    for (int32_t co = 0; co < done; co += 4) {
      const ek__requant4_t q = ek__requant4_terms(mult + co, left + co, right + co);
      ek__conv_1px_4co_mve(&conv, x, w + co, bias + co, &q, y + co);
    }
  } else if (chunks * 64 <= EK_MCU_MVE_PACK_BYTES) {
    done = out_c - out_c % 4;
    int8_t packed[EK_MCU_MVE_PACK_BYTES];
    for (int32_t co = 0; co < done; co += 4) {
      ek__pack_4co_mve(w + co, &runs, out_c, packed);
      const ek__requant4_t q = ek__requant4_terms(mult + co, left + co, right + co);
      ek__conv_4co_mve(&conv, x, bias + co, packed, &q, y + co);
    }
  }
#elif EK_MCU_DSP
  const ek__conv_t conv = {batch, in_h, in_w, in_c, out_h, out_w, out_c, stride_h, stride_w, out_zp, act_min,
                           act_max, runs};
  if (batch * pixels == 1) {
    done = out_c - out_c % 4;
    for (int32_t co = 0; co < done; co += 4) {
      ek__requant_t q[4];
      for (int32_t j = 0; j < 4; j++) q[j] = ek__requant_terms(mult, left, right, nudge_pos, nudge_neg, co + j);
      ek__conv_1px_4co(&conv, x, w + co, bias + co, q, y + co);
    }
  } else if (runs.count * (runs.len / 4) * 4 <= EK_MCU_PACK_WORDS) {
    done = out_c - out_c % 2;
    int32_t packed[EK_MCU_PACK_WORDS];
    for (int32_t co = 0; co < done; co += 2) {
      int32_t *end = packed;
      for (int32_t i = 0; i < runs.count; i++) end = ek__pack_2co(w + i * runs.w_step + co, runs.len, out_c, end);
      const ek__requant_t q0 = ek__requant_terms(mult, left, right, nudge_pos, nudge_neg, co);
      const ek__requant_t q1 = ek__requant_terms(mult, left, right, nudge_pos, nudge_neg, co + 1);
      if (q0.general || q1.general) {
        ek__conv_2co(&conv, x, w + co, bias + co, packed, q0, q1, y + co, 1);
      } else {
        ek__conv_2co(&conv, x, w + co, bias + co, packed, q0, q1, y + co, 0);
      }
    }
  }
#endif
  for (int32_t co = done; co < out_c; co++) {
    const ek__requant_t q = ek__requant_terms(mult, left, right, nudge_pos, nudge_neg, co);
    for (int32_t n = 0; n < batch; n++) {
      const int8_t *xn = x + n * in_h * in_w * in_c;
      ek__cursor_t cursor = ek__cursor(out_w, in_w, in_c, stride_h, stride_w);
      for (int32_t p = 0; p < pixels; p++, ek__cursor_next(&cursor)) {
        const int8_t *xp = xn + cursor.offset;
        int32_t acc = bias[co];
        for (int32_t i = 0; i < runs.count; i++) {
          const int8_t *u = xp + ek__run_offset(&runs, i), *wr = w + i * runs.w_step + co;
          for (int32_t r = 0; r < runs.len; r++) acc += u[r] * wr[r * out_c];
        }
        y[(n * pixels + p) * out_c + co] = (int8_t)ek_mcu_requantize(acc, q, out_zp, act_min, act_max, 1);
      }
    }
  }
  return 0;
}

#if EK_MCU_DSP
/* Channels o..o+3 (x, bias and y start there; multiplier 1) for every output pixel, from their
 * weights packed per pair of taps. */
static inline __attribute__((always_inline)) void ek__depthwise_4c(const ek__dw_t *g, const int8_t *x,
                                                                   const int32_t *bias, const int32_t *packed,
                                                                   const ek__requant_t q[4], const int32_t *tap_offset,
                                                                   int8_t *y, int32_t may_be_general) {
  for (int32_t n = 0; n < g->batch; n++) {
    for (int32_t oh = 0; oh < g->out_h; oh++) {
      const int8_t *xp = x + ((n * g->in_h + oh * g->stride_h) * g->in_w) * g->in_c;
      int8_t *yp = y + (n * g->out_h + oh) * g->out_w * g->in_c;
      for (int32_t ow = 0; ow < g->out_w; ow++, xp += g->stride_w * g->in_c, yp += g->in_c) {
        int32_t a0 = bias[0], a1 = bias[1], a2 = bias[2], a3 = bias[3];
        const int32_t *pw = packed;
#pragma GCC unroll 32
        for (int32_t t = 0; t < g->taps; t += 2, pw += 4) {
          /* offsets fold to constants where the window is known (C kernels inline this) */
          const int32_t off0 = __builtin_constant_p(g->k_w) ? EK__TAP_OFFSET(g, t) : tap_offset[t];
          const int32_t off1 = __builtin_constant_p(g->k_w) ? EK__TAP_OFFSET(g, t + 1 < g->taps ? t + 1 : t)
                                                            : tap_offset[t + 1];
          const int32_t x0 = ek__load32(xp + off0), x1 = ek__load32(xp + off1);
          const int32_t low = ek__pack_low(x0, x1), high = ek__pack_high(x0, x1);
          a0 = __smlad(__sxtb16(low), pw[0], a0), a1 = __smlad(ek__sxtb16_ror8(low), pw[1], a1);
          a2 = __smlad(__sxtb16(high), pw[2], a2), a3 = __smlad(ek__sxtb16_ror8(high), pw[3], a3);
        }
        yp[0] = (int8_t)ek_mcu_requantize(a0, q[0], g->zp, g->lo, g->hi, may_be_general);
        yp[1] = (int8_t)ek_mcu_requantize(a1, q[1], g->zp, g->lo, g->hi, may_be_general);
        yp[2] = (int8_t)ek_mcu_requantize(a2, q[2], g->zp, g->lo, g->hi, may_be_general);
        yp[3] = (int8_t)ek_mcu_requantize(a3, q[3], g->zp, g->lo, g->hi, may_be_general);
      }
    }
  }
}
#endif

/* Depthwise: y[n, oh, ow, c*M + m] = requantize(bias + sum x[n, .., .., c] * w[kh, kw, 0, c*M + m]), x padded.
 * With DSP and multiplier 1: four channels at a time, SMLAD over pairs of taps (an odd last tap is
 * paired with a zero weight), the channels' weights unpacked once. */
EK_MCU_API int32_t ek_mcu_depthwise_s8(int8_t *x, int8_t *w, int32_t *bias, int32_t *mult, int32_t *left,
                                       int32_t *right, int32_t *nudge_pos, int32_t *nudge_neg, int8_t *y, int32_t batch,
                                       int32_t in_h, int32_t in_w, int32_t in_c, int32_t out_h, int32_t out_w,
                                       int32_t multiplier, int32_t k_h, int32_t k_w, int32_t stride_h, int32_t stride_w,
                                       int32_t dil_h, int32_t dil_w, int32_t out_zp, int32_t act_min, int32_t act_max) {
  const int32_t out_c = in_c * multiplier, taps = k_h * k_w, pixels = out_h * out_w;
  int32_t tap_offset[EK_MCU_MAX_TAPS + 1];
  for (int32_t t = 0; t < taps && t < EK_MCU_MAX_TAPS; t++)
    tap_offset[t] = (t / k_w * dil_h * in_w + t % k_w * dil_w) * in_c;
  tap_offset[taps] = tap_offset[taps - 1];
#if EK_MCU_MVE
  const ek__dw_t dw = {batch, in_h, in_w, in_c, out_h, out_w, k_w, taps, stride_h, stride_w, dil_h, dil_w,
                       out_zp, act_min, act_max};
  const int32_t quads = multiplier == 1 ? out_c - out_c % 4 : 0;
  for (int32_t o = 0; o < quads; o += 4) {
    const ek__requant4_t q = ek__requant4_terms(mult + o, left + o, right + o);
    ek__depthwise_4c_mve(&dw, x + o, w + o, bias + o, &q, tap_offset, y + o);
  }
#elif EK_MCU_DSP
  const ek__dw_t dw = {batch, in_h, in_w, in_c, out_h, out_w, k_w, taps, stride_h, stride_w, dil_h, dil_w,
                       out_zp, act_min, act_max};
  const int32_t quads = multiplier == 1 ? out_c - out_c % 4 : 0;
  for (int32_t o = 0; o < quads; o += 4) {
    int32_t packed[EK_MCU_MAX_TAPS * 2 + 4]; /* per tap pair: channels o..o+3 */
    for (int32_t t = 0; t < taps; t += 2) {
      const int32_t w0 = ek__load32(w + t * out_c + o), w1 = t + 1 < taps ? ek__load32(w + (t + 1) * out_c + o) : 0;
      const int32_t low = ek__pack_low(w0, w1), high = ek__pack_high(w0, w1);
      int32_t *pw = packed + t * 2;
      pw[0] = __sxtb16(low), pw[1] = ek__sxtb16_ror8(low), pw[2] = __sxtb16(high), pw[3] = ek__sxtb16_ror8(high);
    }
    ek__requant_t q[4];
    int32_t general = 0;
    for (int32_t j = 0; j < 4; j++) {
      q[j] = ek__requant_terms(mult, left, right, nudge_pos, nudge_neg, o + j);
      general |= q[j].general;
    }
    if (general) {
      ek__depthwise_4c(&dw, x + o, bias + o, packed, q, tap_offset, y + o, 1);
    } else {
      ek__depthwise_4c(&dw, x + o, bias + o, packed, q, tap_offset, y + o, 0);
    }
  }
#else
  const int32_t quads = 0;
#endif
  for (int32_t o = quads; o < out_c; o++) {
    const int32_t c = o / multiplier;
    const ek__requant_t q = ek__requant_terms(mult, left, right, nudge_pos, nudge_neg, o);
    for (int32_t n = 0; n < batch; n++) {
      ek__cursor_t cursor = ek__cursor(out_w, in_w, in_c, stride_h, stride_w);
      for (int32_t p = 0; p < pixels; p++, ek__cursor_next(&cursor)) {
        const int8_t *xp = x + n * in_h * in_w * in_c + cursor.offset + c;
        int32_t acc = bias[o];
        for (int32_t t = 0; t < taps; t++) acc += xp[tap_offset[t]] * w[t * out_c + o];
        y[(n * pixels + p) * out_c + o] = (int8_t)ek_mcu_requantize(acc, q, out_zp, act_min, act_max, 1);
      }
    }
  }
  return 0;
}

/* y = x padded with `value`: top/left rows/columns before, the rest after (NHWC, whole rows copied). */
EK_MCU_API int32_t ek_mcu_pad_s8(int8_t *x, int8_t *y, int32_t batch, int32_t in_h, int32_t in_w, int32_t channels,
                                 int32_t out_h, int32_t out_w, int32_t top, int32_t left, int32_t value) {
  const int32_t row = in_w * channels, out_row = out_w * channels;
  for (int32_t n = 0; n < batch; n++) {
    const int8_t *xn = x + n * in_h * row;
    int8_t *yn = y + n * out_h * out_row;
    memset(yn, value, (size_t)(top * out_row + left * channels));
    for (int32_t h = 0; h < in_h; h++) {
      int8_t *dst = yn + (top + h) * out_row + left * channels;
      memcpy(dst, xn + h * row, (size_t)row);
      const int32_t gap = h + 1 < in_h ? out_row - row : (out_h - top - h) * out_row - left * channels - row;
      memset(dst + row, value, (size_t)gap);
    }
  }
  return 0;
}

#endif
