/* Test firmware for `edgekeras verify` / `runtime.load` on Cortex-M: runs the bundle on every sample
 * of in.bin and writes out.bin through semihosting (same byte layout as the Linux driver: per sample,
 * every input's bytes in order in, every output's bytes out). It also writes stats.txt with the
 * deepest stack one inference used, measured by painting the stack reserve before each run. The
 * empty ek_measure_begin/end calls bracket the inference for the instruction-count plugin. */
#include <stdint.h>

#include "ek_semihost.h"
#include "model.h"

#define PAINT 0xA5C3E1F7u

static uint8_t arena[EK_ARENA_BYTES > 0 ? EK_ARENA_BYTES : 1] __attribute__((aligned(EK_ARENA_ALIGN)));
extern uint32_t __stack_limit[];

__attribute__((noipa)) void ek_measure_begin(void) { __asm__ volatile(""); }
__attribute__((noipa)) void ek_measure_end(void) { __asm__ volatile(""); }

static int fail(const char *step, const char *detail) {
  ek_sh_puts("ek_runner: ");
  ek_sh_puts(step);
  ek_sh_puts(": ");
  ek_sh_puts(detail);
  ek_sh_puts("\n");
  return 1;
}

static uint32_t *stack_pointer(void) {
  uint32_t *sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

/* Bytes of stack between `sp` and the deepest painted word (below `top`) the last run overwrote. */
static uint32_t stack_used(const uint32_t *sp, const uint32_t *top) {
  const uint32_t *word = __stack_limit;
  while (word < top && *word == PAINT) ++word;
  return (uint32_t)((sp - word) * sizeof *word);
}

static char *decimal(uint32_t value, char *end) {
  *--end = '\0';
  do {
    *--end = (char)('0' + value % 10u);
    value /= 10u;
  } while (value != 0u);
  return end;
}

/* 1: a whole sample was read; 0: clean end of file before it; -1: a partial sample. */
static int read_sample(int in) {
  for (int i = 0; i < ek_model_num_inputs(); ++i) {
    long got = ek_sh_read(in, ek_model_input(i), ek_model_input_bytes(i));
    if (i == 0 && got == 0) return 0;
    if (got != (long)ek_model_input_bytes(i)) return -1;
  }
  return 1;
}

static int write_stats(uint32_t stack_bytes) {
  char text[32];
  int stats = ek_sh_open("stats.txt", EK_SH_WRITE);
  if (stats < 0) return fail("stats", "cannot create stats.txt");
  const char *number = decimal(stack_bytes, text + sizeof text);
  int rc = ek_sh_write(stats, "stack_bytes ", 12) | ek_sh_write(stats, number, (size_t)(text + sizeof text - 1 - number));
  ek_sh_close(stats);
  return rc != 0 ? fail("stats", "cannot write stats.txt") : 0;
}

int main(void) {
  if (ek_model_init(arena, sizeof arena) != 0) return fail("init", ek_model_error());
  int in = ek_sh_open("in.bin", EK_SH_READ), out = ek_sh_open("out.bin", EK_SH_WRITE);
  if (in < 0 || out < 0) return fail("files", "cannot open in.bin / out.bin in the emulator's folder");
  uint32_t deepest = 0;
  for (;;) {
    int status = read_sample(in);
    if (status == 0) break;
    if (status < 0) return fail("input", "in.bin ends inside a sample");
    uint32_t *sp = stack_pointer(), *top = sp - 16; /* paint below this frame's red zone */
    for (uint32_t *word = __stack_limit; word < top; ++word) *word = PAINT;
    ek_measure_begin();
    int rc = ek_model_run();
    ek_measure_end();
    uint32_t used = stack_used(sp, top);
    deepest = used > deepest ? used : deepest;
    if (rc != 0) return fail("run", ek_model_error());
    for (int i = 0; i < ek_model_num_outputs(); ++i)
      if (ek_sh_write(out, ek_model_output(i), ek_model_output_bytes(i)) != 0) return fail("output", "write failed");
  }
  ek_sh_close(in);
  ek_sh_close(out);
  return write_stats(deepest);
}
