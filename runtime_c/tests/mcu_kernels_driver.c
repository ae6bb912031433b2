/* Runs one int8 micro-kernel of ek_mcu_kernels.h on data from a file, for tests that hold it against
 * the NumPy integer reference: built with the host compiler (portable C) and for ARMv7 Thumb-2 under
 * qemu-arm (the SMLAD / SSAT / assembly paths the Cortex-M DSP cores run).
 *
 * Input file, little-endian: int32 kernel (0 conv, 1 depthwise, 2 pad), int32 count, that many int32
 * scalars (the kernel's shape arguments, in order), then for conv/depthwise: int32 x bytes, x, int32
 * w bytes, w, int32 channels, the six int32 per-channel arrays (bias, multiplier, left, right, nudge
 * for >= 0, nudge for < 0); for pad: int32 x bytes, x. Then int32 y bytes. Writes y to the output. */
#include <stdio.h>
#include <stdlib.h>

#include "ek_mcu_kernels.h"

static int32_t read_i32(FILE *f) {
  int32_t v = 0;
  if (fread(&v, sizeof v, 1, f) != 1) {
    fprintf(stderr, "truncated input\n");
    exit(2);
  }
  return v;
}

static void *read_block(FILE *f, size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p || fread(p, 1, bytes, f) != bytes) {
    fprintf(stderr, "truncated input\n");
    exit(2);
  }
  return p;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s INPUT OUTPUT\n", argv[0]);
    return 2;
  }
  FILE *in = fopen(argv[1], "rb");
  if (!in) return 2;
  const int32_t kernel = read_i32(in), count = read_i32(in);
  int32_t s[32] = {0};
  if (count > 32) return 2;
  for (int32_t i = 0; i < count; i++) s[i] = read_i32(in);
  const int32_t x_bytes = read_i32(in);
  int8_t *x = read_block(in, (size_t)x_bytes), *w = NULL;
  int32_t *terms[6] = {0};
  if (kernel != 2) {
    const int32_t w_bytes = read_i32(in);
    w = read_block(in, (size_t)w_bytes);
    const int32_t channels = read_i32(in);
    for (int i = 0; i < 6; i++) terms[i] = read_block(in, sizeof(int32_t) * (size_t)channels);
  }
  const int32_t y_bytes = read_i32(in);
  int8_t *y = calloc((size_t)y_bytes + 1, 1);
  fclose(in);
  if (!y) return 2;
  if (kernel == 0) {
    ek_mcu_conv_s8(x, w, terms[0], terms[1], terms[2], terms[3], terms[4], terms[5], y, s[0], s[1], s[2], s[3], s[4],
                   s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15]);
  } else if (kernel == 1) {
    ek_mcu_depthwise_s8(x, w, terms[0], terms[1], terms[2], terms[3], terms[4], terms[5], y, s[0], s[1], s[2], s[3],
                        s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15]);
  } else {
    ek_mcu_pad_s8(x, y, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]);
  }
  FILE *out = fopen(argv[2], "wb");
  if (!out || fwrite(y, 1, (size_t)y_bytes, out) != (size_t)y_bytes) return 2;
  fclose(out);
  free(x), free(w), free(y);
  for (int i = 0; i < 6; i++) free(terms[i]);
  return 0;
}
