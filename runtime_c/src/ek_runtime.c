/* Descriptor interpreter: DLTensors from the tensor table, kernels in order, workspace from the arena. */
#include "ek_runtime.h"

#include "ek_port.h"

#define EK_WORKSPACE_ALIGN 64u
#define EK_ERROR_CAP 128

/* LLVM-generated kernels reach the workspace hooks through these pointers; weak, since a model
 * whose kernels need no workspace does not define them. */
extern void *__TVMBackendAllocWorkspace __attribute__((weak));
extern void *__TVMBackendFreeWorkspace __attribute__((weak));

static uint8_t *ws_cursor;
static uint8_t *ws_end;
static char error_text[EK_ERROR_CAP];

static void set_error(const char *a, const char *b) {
  size_t n = 0;
  for (const char *s = a; s && *s && n + 1 < EK_ERROR_CAP; ++s) error_text[n++] = *s;
  for (const char *s = b; s && *s && n + 1 < EK_ERROR_CAP; ++s) error_text[n++] = *s;
  error_text[n] = '\0';
  ek_port_log(error_text);
}

const char *ek_last_error(void) { return error_text; }

void TVMFFIErrorSetRaisedFromCStr(const char *kind, const char *message) {
  (void)kind;
  set_error("kernel error: ", message);
}

void *TVMBackendAllocWorkspace(int device_type, int device_id, uint64_t nbytes, int dtype_code_hint,
                               int dtype_bits_hint) {
  (void)device_type;
  (void)device_id;
  (void)dtype_code_hint;
  (void)dtype_bits_hint;
  uint8_t *start = ws_cursor;
  if (start == NULL || nbytes > (uint64_t)(ws_end - start)) {
    set_error("workspace exhausted", "");
    return NULL;
  }
  uint64_t padded = (nbytes + EK_WORKSPACE_ALIGN - 1u) & ~(uint64_t)(EK_WORKSPACE_ALIGN - 1u);
  ws_cursor = padded > (uint64_t)(ws_end - start) ? ws_end : start + padded;
  return start;
}

/* Temporaries of one kernel are freed together when the next kernel starts. */
int TVMBackendFreeWorkspace(int device_type, int device_id, void *ptr) {
  (void)device_type;
  (void)device_id;
  (void)ptr;
  return 0;
}

int ek_check_arena(const ek_model_t *model, const void *arena, size_t arena_bytes) {
  if (arena == NULL || arena_bytes < model->arena_bytes) {
    set_error("arena too small for model ", model->name);
    return EK_ERR_ARENA;
  }
  if (model->arena_align && ((uintptr_t)arena % model->arena_align) != 0) {
    set_error("arena misaligned for model ", model->name);
    return EK_ERR_ARENA;
  }
  return EK_OK;
}

void *ek_tensor_data(const ek_model_t *model, uint8_t *arena, uint16_t index) {
  if (index >= model->num_tensors) return NULL;
  const ek_tensor_t *t = &model->tensors[index];
  const uint8_t *base = t->mem == EK_MEM_WEIGHTS ? model->weights : arena;
  return (void *)(base + t->offset);
}

static void install_workspace_hooks(void) {
  if (&__TVMBackendAllocWorkspace) __TVMBackendAllocWorkspace = (void *)TVMBackendAllocWorkspace;
  if (&__TVMBackendFreeWorkspace) __TVMBackendFreeWorkspace = (void *)TVMBackendFreeWorkspace;
}

int ek_run(const ek_model_t *model, uint8_t *arena) {
  ek_dl_tensor_t tensors[EK_MAX_KERNEL_ARGS];
  ek_ffi_any_t args[EK_MAX_KERNEL_ARGS];
  install_workspace_hooks();
  error_text[0] = '\0';
  for (uint16_t c = 0; c < model->num_calls; ++c) {
    const ek_call_t *call = &model->calls[c];
    if (call->num_args > EK_MAX_KERNEL_ARGS) {
      set_error("too many kernel arguments in ", call->name);
      return EK_ERR_ARGS;
    }
    for (uint16_t a = 0; a < call->num_args; ++a) {
      uint16_t index = call->args[a];
      if (index >= model->num_tensors) {
        set_error("tensor index out of range in ", call->name);
        return EK_ERR_INDEX;
      }
      const ek_tensor_t *t = &model->tensors[index];
      tensors[a].data = ek_tensor_data(model, arena, index);
      tensors[a].device.device_type = EK_DL_CPU;
      tensors[a].device.device_id = 0;
      tensors[a].ndim = t->ndim;
      tensors[a].dtype.code = t->dtype_code;
      tensors[a].dtype.bits = t->dtype_bits;
      tensors[a].dtype.lanes = 1;
      tensors[a].shape = (int64_t *)t->shape;
      tensors[a].strides = NULL;
      tensors[a].byte_offset = 0;
      args[a].type_index = EK_FFI_TYPE_DLTENSOR_PTR;
      args[a].padding = 0;
      args[a].value.v_ptr = &tensors[a];
    }
    ws_cursor = arena + call->workspace_offset;
    ws_end = ws_cursor + call->workspace_bytes;
    int32_t rc = call->fn(NULL, args, (int32_t)call->num_args, NULL);
    ws_cursor = ws_end = NULL;
    if (rc != 0) {
      if (error_text[0] == '\0') set_error("kernel failed: ", call->name);
      return EK_ERR_KERNEL;
    }
  }
  return EK_OK;
}
