/* Minimal check macros for the runtime's C tests: count, report each failure, exit non-zero. */
#ifndef EK_TEST_CHECK_H
#define EK_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int checks_run;
static int checks_failed;

#define CHECK_AT(cond, text)                                                    \
  do {                                                                          \
    ++checks_run;                                                               \
    if (!(cond)) {                                                              \
      ++checks_failed;                                                          \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, text); \
    }                                                                           \
  } while (0)

#define CHECK(cond) CHECK_AT(cond, #cond)
#define CHECK_STR(actual, expected) CHECK_AT(strcmp((actual), (expected)) == 0, #actual " == \"" expected "\"")
#define CHECK_HAS(actual, part) CHECK_AT(strstr((actual), (part)) != NULL, #actual " contains \"" part "\"")
#define CHECK_NEAR(actual, expected) CHECK_AT(fabs((double)(actual) - (double)(expected)) < 1e-6, #actual " ~ " #expected)

/* Prints the tally; the return value is the process exit code. */
static inline int check_report(const char *suite) {
  printf("%s: %d checks, %d failed\n", suite, checks_run, checks_failed);
  return checks_failed ? 1 : 0;
}

#endif
