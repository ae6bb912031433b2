/* Classifies one held-out 8x8 digit with the compiled model on a Cortex-M and prints the result through
 * semihosting. The model part (arena, init, copy in, run, read out) is what a real firmware needs;
 * test_input.h, written by examples/cortex_m_digits.py, stands in for a sensor. Exit status: 0 when
 * the predicted digit is the expected one, 1 otherwise or when the model reports an error. */
#include <stdint.h>
#include <string.h>

#include "ek_semihost.h"
#include "model.h"
#include "test_input.h" /* test_input[], TEST_LABEL; sized by model.h */

#define NUM_CLASSES (EK_OUTPUT_0_BYTES / sizeof(float))

/* The model's working memory: one static block in .bss, no heap. */
static uint8_t arena[EK_ARENA_BYTES] __attribute__((aligned(EK_ARENA_ALIGN)));

/* Index of the highest score. */
static unsigned argmax(const float *scores, unsigned count) {
  unsigned best = 0;
  for (unsigned i = 1; i < count; ++i)
    if (scores[i] > scores[best]) best = i;
  return best;
}

/* Prints `value` in decimal: semihosting has no printf, and pulling in stdio would dwarf the model. */
static void put_unsigned(unsigned value) {
  char text[12];
  char *digit = text + sizeof text;
  *--digit = '\0';
  do {
    *--digit = (char)('0' + value % 10u);
    value /= 10u;
  } while (value != 0u);
  ek_sh_puts(digit);
}

static int fail(const char *step) {
  ek_sh_puts(step);
  ek_sh_puts(" failed: ");
  ek_sh_puts(ek_model_error());
  ek_sh_puts("\n");
  return 1;
}

int main(void) {
  if (ek_model_init(arena, sizeof arena) != 0) return fail("ek_model_init");
  memcpy(ek_model_input(0), test_input, EK_INPUT_0_BYTES);
  if (ek_model_run() != 0) return fail("ek_model_run");
  unsigned digit = argmax((const float *)ek_model_output(0), NUM_CLASSES);

  ek_sh_puts("digit: ");
  put_unsigned(digit);
  ek_sh_puts(" (expected ");
  put_unsigned(TEST_LABEL);
  ek_sh_puts(")\n");
  return digit == TEST_LABEL ? 0 : 1;
}
