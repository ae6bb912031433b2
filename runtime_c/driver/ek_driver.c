/* ek_driver LIB.so IN.bin OUT.bin N: runs a compiled Linux model on N samples, for the Python
 * harness (natively or under qemu-user). Per sample it reads every input's bytes in order from IN,
 * runs, and appends every output's bytes to OUT. A host tool, so unlike the runtime it may use
 * stdio and malloc. Errors name the failing step on stderr and exit non-zero. */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*int_fn)(void);
typedef int (*init_fn)(void *, size_t);
typedef void *(*ptr_at_fn)(int);
typedef size_t (*size_at_fn)(int);
typedef size_t (*size_fn)(void);
typedef const char *(*str_fn)(void);

typedef struct {
  init_fn init;
  int_fn run, num_inputs, num_outputs;
  ptr_at_fn input, output;
  size_at_fn input_bytes, output_bytes;
  size_fn arena_bytes, arena_align;
  str_fn error;
} model_api;

__attribute__((format(printf, 2, 3), noreturn)) static void die(const char *step, const char *format, ...) {
  va_list ap;
  fprintf(stderr, "ek_driver: %s: ", step);
  va_start(ap, format);
  vfprintf(stderr, format, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

/* dlsym into a function pointer without the object-to-function pointer cast ISO C forbids. */
static void load(void *lib, const char *name, void *fn_ptr, size_t size) {
  void *sym = dlsym(lib, name);
  if (sym == NULL) die("load", "symbol %s missing: %s", name, dlerror());
  memcpy(fn_ptr, &sym, size);
}

#define LOAD(lib, field, name) load(lib, name, &api->field, sizeof api->field) /* inside load_api */

static void load_api(void *lib, model_api *api) {
  LOAD(lib, init, "ek_model_init");
  LOAD(lib, run, "ek_model_run");
  LOAD(lib, num_inputs, "ek_model_num_inputs");
  LOAD(lib, num_outputs, "ek_model_num_outputs");
  LOAD(lib, input, "ek_model_input");
  LOAD(lib, output, "ek_model_output");
  LOAD(lib, input_bytes, "ek_model_input_bytes");
  LOAD(lib, output_bytes, "ek_model_output_bytes");
  LOAD(lib, arena_bytes, "ek_model_arena_bytes");
  LOAD(lib, arena_align, "ek_model_arena_align");
  LOAD(lib, error, "ek_model_error");
}

static long parse_count(const char *text) {
  char *end = NULL;
  errno = 0;
  long n = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || n < 0) die("usage", "N must be a count, got '%s'", text);
  return n;
}

static void *alloc_arena(const model_api *api) {
  size_t align = api->arena_align(), bytes = api->arena_bytes();
  if (align < sizeof(void *)) align = sizeof(void *);
  if ((align & (align - 1)) != 0) die("arena", "alignment %zu is not a power of two", align);
  void *arena = NULL;
  int rc = posix_memalign(&arena, align, bytes ? bytes : 1);
  if (rc != 0) die("arena", "cannot allocate %zu bytes: %s", bytes, strerror(rc));
  return arena;
}

static void read_inputs(const model_api *api, FILE *in, long sample) {
  for (int i = 0; i < api->num_inputs(); ++i) {
    void *data = api->input(i);
    size_t bytes = api->input_bytes(i);
    if (data == NULL) die("input", "model has no buffer for input %d", i);
    size_t got = fread(data, 1, bytes, in);
    if (got != bytes)
      die("input", "input file ended in sample %ld, input %d: got %zu of %zu bytes", sample, i, got, bytes);
  }
}

static void write_outputs(const model_api *api, FILE *out, long sample) {
  for (int i = 0; i < api->num_outputs(); ++i) {
    const void *data = api->output(i);
    size_t bytes = api->output_bytes(i);
    if (data == NULL) die("output", "model has no buffer for output %d", i);
    if (fwrite(data, 1, bytes, out) != bytes) die("output", "cannot write sample %ld: %s", sample, strerror(errno));
  }
}

int main(int argc, char **argv) {
  if (argc != 5) die("usage", "ek_driver LIB.so IN.bin OUT.bin N");
  long samples = parse_count(argv[4]);
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) die("load", "%s", dlerror());
  model_api api;
  load_api(lib, &api);
  void *arena = alloc_arena(&api);
  if (api.init(arena, api.arena_bytes()) != 0) die("init", "%s", api.error());

  FILE *in = fopen(argv[2], "rb");
  if (in == NULL) die("input", "cannot open %s: %s", argv[2], strerror(errno));
  FILE *out = fopen(argv[3], "wb");
  if (out == NULL) die("output", "cannot open %s: %s", argv[3], strerror(errno));
  for (long s = 0; s < samples; ++s) {
    read_inputs(&api, in, s);
    int rc = api.run();
    if (rc != 0) die("run", "sample %ld failed (code %d): %s", s, rc, api.error());
    write_outputs(&api, out, s);
  }
  if (fgetc(in) != EOF) die("input", "input file holds more than %ld samples", samples);
  if (fclose(out) != 0) die("output", "cannot write %s: %s", argv[3], strerror(errno));
  fclose(in);
  free(arena);
  return 0;
}
