/* Kernels in the form TVM's C codegen emits: packed arguments, workspace from the runtime hooks. */
#include "kernels.h"

#include <stddef.h>

#include "ek_runtime.h"

/* The float32 CPU tensor in argument `i`, or NULL (after raising) when the argument is not one. */
static ek_dl_tensor_t *f32_arg(void *args, int32_t num_args, int32_t i) {
  ek_ffi_any_t *any = (ek_ffi_any_t *)args;
  if (i >= num_args || any[i].type_index != EK_FFI_TYPE_DLTENSOR_PTR) {
    TVMFFIErrorSetRaisedFromCStr("TypeError", "expected a DLTensor argument");
    return NULL;
  }
  ek_dl_tensor_t *t = (ek_dl_tensor_t *)any[i].v_ptr;
  if (t->data == NULL || t->device.device_type != EK_DL_CPU || t->dtype.code != 2 || t->dtype.bits != 32 ||
      t->dtype.lanes != 1 || t->strides != NULL || t->byte_offset != 0) {
    TVMFFIErrorSetRaisedFromCStr("TypeError", "expected a compact float32 CPU tensor");
    return NULL;
  }
  return t;
}

static int64_t numel(const ek_dl_tensor_t *t) {
  int64_t n = 1;
  for (int32_t d = 0; d < t->ndim; ++d) n *= t->shape[d];
  return n;
}

EK_KERNEL(k_add_f32) {
  (void)self;
  (void)result;
  ek_dl_tensor_t *a = f32_arg(args, num_args, 0), *b = f32_arg(args, num_args, 1), *out = f32_arg(args, num_args, 2);
  if (a == NULL || b == NULL || out == NULL) return -1;
  if (numel(a) != numel(b) || numel(a) != numel(out)) {
    TVMFFIErrorSetRaisedFromCStr("ValueError", "shape mismatch");
    return -1;
  }
  const float *pa = (const float *)a->data, *pb = (const float *)b->data;
  float *po = (float *)out->data;
  for (int64_t i = 0; i < numel(out); ++i) po[i] = pa[i] + pb[i];
  return 0;
}

EK_KERNEL(k_affine_ws) {
  (void)self;
  (void)result;
  ek_dl_tensor_t *x = f32_arg(args, num_args, 0), *y = f32_arg(args, num_args, 1);
  if (x == NULL || y == NULL) return -1;
  uint64_t nbytes = (uint64_t)numel(x) * sizeof(float);
  float *twice = (float *)TVMBackendAllocWorkspace(EK_DL_CPU, 0, nbytes, 2, 32);
  if (twice == NULL) return -1;
  float *plus_one = (float *)TVMBackendAllocWorkspace(EK_DL_CPU, 0, nbytes, 2, 32);
  if (plus_one == NULL) return -1;
  const float *px = (const float *)x->data;
  float *py = (float *)y->data;
  for (int64_t i = 0; i < numel(x); ++i) twice[i] = 2.0f * px[i];
  for (int64_t i = 0; i < numel(x); ++i) plus_one[i] = twice[i] + 1.0f;
  for (int64_t i = 0; i < numel(x); ++i) py[i] = plus_one[i];
  if (TVMBackendFreeWorkspace(EK_DL_CPU, 0, plus_one) != 0) return -1;
  return TVMBackendFreeWorkspace(EK_DL_CPU, 0, twice);
}

EK_KERNEL(k_greedy) {
  (void)self;
  (void)args;
  (void)num_args;
  (void)result;
  void *huge = TVMBackendAllocWorkspace(EK_DL_CPU, 0, (uint64_t)1 << 20, 2, 32);
  if (huge == NULL) return -1;
  return TVMBackendFreeWorkspace(EK_DL_CPU, 0, huge);
}

EK_KERNEL(k_raise) {
  (void)self;
  (void)args;
  (void)num_args;
  (void)result;
  TVMFFIErrorSetRaisedFromCStr("ValueError", "deliberate failure");
  return -1;
}

EK_KERNEL(k_silent_fail) {
  (void)self;
  (void)args;
  (void)num_args;
  (void)result;
  return -1;
}
