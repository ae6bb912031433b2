/* Unit tests of the runtime and the model API, over model_ok.c and descriptors built here. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "ek_model_api.h"
#include "ek_runtime.h"
#include "kernels.h"

static unsigned char arena[1024] __attribute__((aligned(64)));
static char logged[256];
static int log_count;

/* Overrides the weak default port: the runtime must report every failure here. */
void ek_port_log(const char *message) {
  strncpy(logged, message, sizeof logged - 1);
  ++log_count;
}

static const int64_t shape_4[] = {1, 4};

/* A one-call model `name` running `fn` on tensors {0: arena 0, 1: arena 64}, workspace 64 B at 128,
 * in a 256-byte arena. */
static ek_model_t one_call(ek_call_t *call, ek_tensor_t *tensors, ek_kernel_fn fn, const char *name,
                           const uint16_t *args, uint16_t num_args) {
  static const uint16_t io[] = {0, 1};
  ek_tensor_t t = {EK_MEM_ARENA, 2, 32, 2, 0, 16, shape_4};
  tensors[0] = t;
  t.offset = 64;
  tensors[1] = t;
  call->fn = fn;
  call->name = name;
  call->args = args;
  call->num_args = num_args;
  call->workspace_offset = 128;
  call->workspace_bytes = 64;
  ek_model_t model = {"one_call", tensors, 2, call, 1, io, 1, io + 1, 1, NULL, 256, 64};
  return model;
}

static void test_init_errors(void) {
  CHECK(ek_model_run() == EK_ERR_ARENA);
  CHECK_HAS(ek_model_error(), "call ek_model_init first");
  CHECK(ek_model_input(0) == NULL && ek_model_output(0) == NULL);

  CHECK(ek_model_init(NULL, sizeof arena) == EK_ERR_ARENA);
  CHECK_STR(ek_model_error(), "arena is NULL for model test_ok");
  CHECK(ek_model_init(arena, 511) == EK_ERR_ARENA);
  CHECK_STR(ek_model_error(), "arena too small for model test_ok: 511 < 512 bytes");
  CHECK_STR(logged, "arena too small for model test_ok: 511 < 512 bytes");
  CHECK(ek_model_init(arena + 8, 1000) == EK_ERR_ARENA);
  CHECK_STR(ek_model_error(), "arena misaligned for model test_ok: needs 64-byte alignment");
  CHECK(ek_model_input(0) == NULL);
  CHECK(ek_model_run() == EK_ERR_ARENA);
}

static void test_queries(void) {
  CHECK(ek_model_num_inputs() == 2 && ek_model_num_outputs() == 2);
  CHECK(ek_model_input_bytes(0) == 32 && ek_model_input_bytes(1) == 12);
  CHECK(ek_model_output_bytes(0) == 32 && ek_model_output_bytes(1) == 12);
  CHECK(ek_model_input_bytes(-1) == 0 && ek_model_input_bytes(2) == 0);
  CHECK(ek_model_output_bytes(-1) == 0 && ek_model_output_bytes(2) == 0);
  CHECK(ek_model_arena_bytes() == 512 && ek_model_arena_align() == 64);
}

static void test_run(void) {
  CHECK(ek_model_init(arena, sizeof arena) == EK_OK);
  CHECK((unsigned char *)ek_model_input(0) == arena && (unsigned char *)ek_model_input(1) == arena + 192);
  CHECK((unsigned char *)ek_model_output(0) == arena + 128 && (unsigned char *)ek_model_output(1) == arena + 256);
  CHECK(ek_model_input(-1) == NULL && ek_model_input(2) == NULL);
  CHECK(ek_model_output(-1) == NULL && ek_model_output(2) == NULL);
  for (int round = 0; round < 2; ++round) {
    static const float w[8] = {0.5f, -1.0f, 2.0f, 0.0f, 3.25f, -4.5f, 1.0f, 10.0f};
    float *x = (float *)ek_model_input(0), *z = (float *)ek_model_input(1);
    for (int i = 0; i < 8; ++i) x[i] = (float)(i - 3) * (round ? -1.5f : 1.0f);
    for (int i = 0; i < 3; ++i) z[i] = (float)(i - 1) * (round ? -2.0f : 0.5f);
    CHECK(ek_model_run() == EK_OK);
    CHECK_STR(ek_model_error(), "");
    const float *y0 = (const float *)ek_model_output(0), *y1 = (const float *)ek_model_output(1);
    for (int i = 0; i < 8; ++i) CHECK_NEAR(y0[i], 2.0f * (x[i] + w[i]) + 1.0f);
    for (int i = 0; i < 3; ++i) CHECK_NEAR(y1[i], z[i] > 0.0f ? z[i] : 0.0f);
  }
}

static void test_llvm_hooks_filled(void) {
  CHECK(__TVMBackendAllocWorkspace == TVMBackendAllocWorkspace);
  CHECK(__TVMBackendFreeWorkspace == TVMBackendFreeWorkspace);
}

static void test_workspace_outside_run(void) {
  CHECK(TVMBackendAllocWorkspace(EK_DL_CPU, 0, 16, 2, 32) == NULL);
  CHECK_STR(ek_last_error(), "workspace exhausted in (no running kernel): asked 16 bytes, 0 left");
}

static void test_kernel_errors(void) {
  static const uint16_t args[] = {0, 1};
  ek_call_t call;
  ek_tensor_t tensors[2];
  ek_model_t model = one_call(&call, tensors, k_raise, "raiser", args, 2);
  int before = log_count;
  CHECK(ek_check_arena(&model, arena, sizeof arena) == EK_OK);
  CHECK(ek_run(&model, arena) == EK_ERR_KERNEL);
  CHECK_STR(ek_last_error(), "kernel raiser raised ValueError: deliberate failure");
  CHECK_STR(logged, "kernel raiser raised ValueError: deliberate failure");
  CHECK(log_count == before + 1);

  model = one_call(&call, tensors, k_silent_fail, "silent", args, 2);
  CHECK(ek_run(&model, arena) == EK_ERR_KERNEL);
  CHECK_STR(ek_last_error(), "kernel failed: silent");

  model = one_call(&call, tensors, k_greedy, "greedy", args, 2);
  CHECK(ek_run(&model, arena) == EK_ERR_WORKSPACE);
  CHECK_STR(ek_last_error(), "workspace exhausted in greedy: asked 1048576 bytes, 64 left");

  /* Two 16-byte temporaries: the first is padded to 64 bytes, the second needs 16 more. */
  model = one_call(&call, tensors, k_affine_ws, "affine", args, 2);
  call.workspace_bytes = 70;
  CHECK(ek_run(&model, arena) == EK_ERR_WORKSPACE);
  CHECK_STR(ek_last_error(), "workspace exhausted in affine: asked 16 bytes, 6 left");
  call.workspace_bytes = 64 + 16;
  CHECK(ek_run(&model, arena) == EK_OK);
  CHECK_STR(ek_last_error(), "");
}

static void test_call_errors(void) {
  static const uint16_t bad_args[] = {0, 99};
  static const uint16_t many_args[EK_MAX_KERNEL_ARGS + 1] = {0};
  ek_call_t call;
  ek_tensor_t tensors[2];
  ek_model_t model = one_call(&call, tensors, k_add_f32, "bad_index", bad_args, 2);
  CHECK(ek_run(&model, arena) == EK_ERR_INDEX);
  CHECK_STR(ek_last_error(), "tensor index out of range in bad_index");
  model = one_call(&call, tensors, k_add_f32, "many", many_args, EK_MAX_KERNEL_ARGS + 1);
  CHECK(ek_run(&model, arena) == EK_ERR_ARGS);
  CHECK_STR(ek_last_error(), "too many kernel arguments in many");
  CHECK(ek_tensor_data(&model, arena, 2) == NULL);
  CHECK(ek_run(&model, NULL) == EK_ERR_ARENA);
}

static void test_descriptor_checks(void) {
  static const uint16_t args[] = {0, 1};
  static const uint16_t bad_output[] = {7};
  ek_call_t call;
  ek_tensor_t tensors[2];
  ek_model_t model = one_call(&call, tensors, k_add_f32, "add", args, 2);
  tensors[1].offset = 250;
  CHECK(ek_check_arena(&model, arena, sizeof arena) == EK_ERR_INDEX);
  CHECK_STR(ek_last_error(), "tensor 1 lies outside the arena of model one_call");
  tensors[1].offset = 64;
  tensors[1].mem = EK_MEM_WEIGHTS; /* weights are not in the arena: any offset is the blob's business */
  tensors[1].offset = 4000;
  CHECK(ek_check_arena(&model, arena, sizeof arena) == EK_OK);
  tensors[1].mem = EK_MEM_ARENA;
  tensors[1].offset = 64;
  call.workspace_bytes = 129;
  CHECK(ek_check_arena(&model, arena, sizeof arena) == EK_ERR_INDEX);
  CHECK_STR(ek_last_error(), "workspace of add lies outside the arena of model one_call");
  call.workspace_bytes = 64;
  model.outputs = bad_output;
  CHECK(ek_check_arena(&model, arena, sizeof arena) == EK_ERR_INDEX);
  CHECK_STR(ek_last_error(), "output tensor index out of range in model one_call");
}

static void test_weights_and_long_messages(void) {
  static const uint16_t args[] = {0, 1};
  static const uint8_t blob[32];
  static char name[300];
  ek_call_t call;
  ek_tensor_t tensors[2];
  memset(name, 'k', sizeof name - 1);
  ek_model_t model = one_call(&call, tensors, k_silent_fail, name, args, 2);
  model.weights = blob;
  tensors[0].mem = EK_MEM_WEIGHTS;
  tensors[0].offset = 16;
  CHECK(ek_tensor_data(&model, arena, 0) == blob + 16);
  CHECK(ek_tensor_data(&model, arena, 1) == arena + 64);
  CHECK(ek_run(&model, arena) == EK_ERR_KERNEL);
  CHECK(strlen(ek_last_error()) == 127);
  CHECK(strncmp(ek_last_error(), "kernel failed: kkk", 18) == 0);
}

int main(void) {
  test_init_errors();
  test_queries();
  test_run();
  test_llvm_hooks_filled();
  test_workspace_outside_run();
  test_kernel_errors();
  test_call_errors();
  test_descriptor_checks();
  test_weights_and_long_messages();
  test_run(); /* the bound model still runs after the failures above */
  return check_report("test_runtime");
}
