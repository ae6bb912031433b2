/* QEMU TCG plugin: exact counts of the instructions Cortex-M firmware executes, in total, inside the
 * windows its ek_measure_begin()/ek_measure_end() markers open and close, and per address range.
 *   -plugin ek_icount.so,out=PATH[,begin=HEX][,end=HEX][,ranges=PATH]
 * The ranges file holds one "HEXSTART SIZE NAME" per line. At exit OUT gets "total N", "measured N",
 * "windows K" and one "range NAME N" per range. A window runs from the begin marker's first
 * instruction (included) to the end marker's first instruction (excluded).
 * Each instruction gets its own inline add, so a translation block cut short (an exception, a
 * semihosting call) cannot miscount. Debian's QEMU ships no qemu-plugin.h: the few declarations used
 * are written out here for plugin API version 1 (QEMU 7.x). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t, void *), void *data);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t index);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op, void *counter,
                                                uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, void (*cb)(unsigned int, void *),
                                            enum qemu_plugin_cb_flags flags, void *data);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

#define THUMB_BIT 1u /* set in Thumb function symbols; instructions sit at even addresses */

struct range { uint64_t start, size, count; char name[128]; };

static FILE *out;
static uint64_t begin_at = UINT64_MAX, end_at = UINT64_MAX; /* UINT64_MAX: no marker */
static uint64_t total, measured, windows, window_start;
static int window_open;
static struct range *ranges;
static size_t n_ranges;

/* `marker` is &begin_at or &end_at. Whether QEMU runs this before or after the marker instruction's own
 * inline add, both ends of a window shift alike. A begin inside an open window restarts it. */
static void on_marker(unsigned int vcpu, void *marker) {
  (void)vcpu;
  if (marker == &begin_at) {
    window_start = total;
    window_open = 1;
  } else if (window_open) {
    measured += total - window_start;
    windows++;
    window_open = 0;
  }
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  for (size_t i = 0; i < qemu_plugin_tb_n_insns(tb); i++) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    uint64_t pc = qemu_plugin_insn_vaddr(insn);
    qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &total, 1);
    if (pc == begin_at) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS, &begin_at);
    if (pc == end_at) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS, &end_at);
    for (size_t r = 0; r < n_ranges; r++)
      if (pc - ranges[r].start < ranges[r].size)
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &ranges[r].count, 1);
  }
}

static void on_exit_write(qemu_plugin_id_t id, void *data) {
  (void)id, (void)data;
  fprintf(out, "total %" PRIu64 "\nmeasured %" PRIu64 "\nwindows %" PRIu64 "\n", total, measured, windows);
  for (size_t r = 0; r < n_ranges; r++) fprintf(out, "range %s %" PRIu64 "\n", ranges[r].name, ranges[r].count);
  if (fclose(out) != 0) fprintf(stderr, "ek_icount: writing the output file failed\n");
}

static int fail(const char *what, const char *value) {
  fprintf(stderr, "ek_icount: %s%s\n", what, value);
  return 1;
}

static int parse_address(const char *text, uint64_t *address) {
  char *rest;
  unsigned long long value = strtoull(text, &rest, 16);
  if (*text == '\0' || *rest != '\0') return fail("not a hex address: ", text);
  *address = value & ~(uint64_t)THUMB_BIT;
  return 0;
}

static int read_ranges(const char *path) {
  FILE *file = fopen(path, "r");
  if (!file) return fail("cannot read ranges file ", path);
  struct range r = {0}, *grown = NULL;
  int fields;
  while ((fields = fscanf(file, "%" SCNx64 " %" SCNu64 " %127s", &r.start, &r.size, r.name)) == 3 &&
         (grown = realloc(ranges, (n_ranges + 1) * sizeof *ranges)) != NULL) {
    r.start &= ~(uint64_t)THUMB_BIT;
    ranges = grown;
    ranges[n_ranges++] = r;
  }
  fclose(file);
  if (fields == EOF) return 0;
  return fail(fields == 3 ? "out of memory reading " : "ranges file is not lines of 'HEXSTART SIZE NAME': ", path);
}

/* The value of a "key=value" argument, or NULL when `arg` has another key. */
static const char *value_of(const char *arg, const char *key) {
  size_t n = strlen(key);
  return strncmp(arg, key, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv) {
  (void)info;
  const char *out_path = NULL, *value;
  for (int i = 0; i < argc; i++) {
    int bad = 0;
    if ((value = value_of(argv[i], "out"))) out_path = value;
    else if ((value = value_of(argv[i], "begin"))) bad = parse_address(value, &begin_at);
    else if ((value = value_of(argv[i], "end"))) bad = parse_address(value, &end_at);
    else if ((value = value_of(argv[i], "ranges"))) bad = read_ranges(value);
    else return fail("unknown argument (expected out=PATH, begin=HEX, end=HEX, ranges=PATH): ", argv[i]);
    if (bad) return 1;
  }
  if (!out_path || !*out_path) return fail("missing required argument out=PATH", "");
  out = fopen(out_path, "w");
  if (!out) return fail("cannot write output file ", out_path);
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_exit_write, NULL);
  return 0;
}
