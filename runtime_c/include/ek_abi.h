/* The calling convention of TVM-generated kernels, declared from the DLPack and tvm-ffi layouts.
 *
 * Kernels are `int32_t fn(void *self, ek_ffi_any_t *args, int32_t num_args, void *result)`: each
 * argument is a DLTensor pointer tagged with type index 7. Only the layouts are needed, so the
 * runtime carries these few declarations instead of the TVM headers. */
#ifndef EK_ABI_H
#define EK_ABI_H

#include <stdint.h>

#define EK_FFI_TYPE_DLTENSOR_PTR 7
#define EK_DL_CPU 1

typedef struct {
  int32_t device_type;
  int32_t device_id;
} ek_dl_device_t;

typedef struct {
  uint8_t code; /* 0 int, 1 uint, 2 float */
  uint8_t bits;
  uint16_t lanes;
} ek_dl_dtype_t;

typedef struct {
  void *data;
  ek_dl_device_t device;
  int32_t ndim;
  ek_dl_dtype_t dtype;
  int64_t *shape;
  int64_t *strides; /* NULL: compact row-major */
  uint64_t byte_offset;
} ek_dl_tensor_t;

typedef struct {
  int32_t type_index;
  uint32_t padding;
  union { /* anonymous (C11), as generated kernels name the members directly */
    int64_t v_int64;
    double v_float64;
    void *v_ptr;
  };
} ek_ffi_any_t;

typedef int32_t (*ek_kernel_fn)(void *self, void *args, int32_t num_args, void *result);

#endif
