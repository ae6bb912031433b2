/* Descriptor interpreter: DLTensors from the tensor table, kernels in order, workspace from the arena. */
#include "ek_runtime.h"

#include "ek_port.h"

#define EK_WORKSPACE_ALIGN 64u
#define EK_ERROR_CAP 128

typedef void *(*ek_alloc_hook_t)(int, int, uint64_t, int, int);
typedef int (*ek_free_hook_t)(int, int, void *);

/* LLVM-generated kernels reach the workspace hooks through these pointer variables (null until the
 * runtime fills them); weak, since a model whose kernels need no workspace does not define them. */
extern ek_alloc_hook_t __TVMBackendAllocWorkspace __attribute__((weak));
extern ek_free_hook_t __TVMBackendFreeWorkspace __attribute__((weak));

static uint8_t *ws_cursor;
static uint8_t *ws_end;
static const char *current_call;
static int workspace_failed;
static char error_text[EK_ERROR_CAP];
static size_t error_len;

/* Messages are assembled piecewise (no stdio on bare metal) and logged once complete. */
static void error_str(const char *s) {
  for (; s && *s && error_len + 1 < EK_ERROR_CAP; ++s) error_text[error_len++] = *s;
  error_text[error_len] = '\0';
}

static void error_uint(uint64_t value) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = (char)('0' + value % 10u);
    value /= 10u;
  } while (value != 0u);
  while (n > 0 && error_len + 1 < EK_ERROR_CAP) error_text[error_len++] = digits[--n];
  error_text[error_len] = '\0';
}

static void error_begin(const char *s) {
  error_len = 0;
  error_str(s);
}

static void error_end(void) { ek_port_log(error_text); }

const char *ek_last_error(void) { return error_text; }

void TVMFFIErrorSetRaisedFromCStr(const char *kind, const char *message) {
  error_begin("kernel ");
  error_str(current_call ? current_call : "(none)");
  error_str(" raised ");
  error_str(kind);
  error_str(": ");
  error_str(message);
  error_end();
}

void *TVMBackendAllocWorkspace(int device_type, int device_id, uint64_t nbytes, int dtype_code_hint,
                               int dtype_bits_hint) {
  (void)device_type;
  (void)device_id;
  (void)dtype_code_hint;
  (void)dtype_bits_hint;
  uint8_t *start = ws_cursor;
  if (start == NULL || nbytes > (uint64_t)(ws_end - start)) {
    workspace_failed = 1;
    error_begin("workspace exhausted in ");
    error_str(current_call ? current_call : "(no running kernel)");
    error_str(": asked ");
    error_uint(nbytes);
    error_str(" bytes, ");
    error_uint(start == NULL ? 0u : (uint64_t)(ws_end - start));
    error_str(" left");
    error_end();
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

static int fits(uint32_t offset, uint32_t nbytes, uint32_t limit) {
  return offset <= limit && nbytes <= limit - offset;
}

/* Catches a descriptor that would reach outside the arena before any kernel writes through it. */
static int check_descriptor(const ek_model_t *model) {
  for (uint16_t i = 0; i < model->num_tensors; ++i) {
    const ek_tensor_t *t = &model->tensors[i];
    if (t->mem == EK_MEM_ARENA && !fits(t->offset, t->nbytes, model->arena_bytes)) {
      error_begin("tensor ");
      error_uint(i);
      error_str(" lies outside the arena of model ");
      error_str(model->name);
      error_end();
      return EK_ERR_INDEX;
    }
  }
  for (uint32_t i = 0; i < (uint32_t)model->num_inputs + model->num_outputs; ++i) {
    uint16_t index = i < model->num_inputs ? model->inputs[i] : model->outputs[i - model->num_inputs];
    if (index >= model->num_tensors) {
      error_begin(i < model->num_inputs ? "input" : "output");
      error_str(" tensor index out of range in model ");
      error_str(model->name);
      error_end();
      return EK_ERR_INDEX;
    }
  }
  for (uint16_t c = 0; c < model->num_calls; ++c) {
    const ek_call_t *call = &model->calls[c];
    if (!fits(call->workspace_offset, call->workspace_bytes, model->arena_bytes)) {
      error_begin("workspace of ");
      error_str(call->name);
      error_str(" lies outside the arena of model ");
      error_str(model->name);
      error_end();
      return EK_ERR_INDEX;
    }
  }
  return EK_OK;
}

int ek_check_arena(const ek_model_t *model, const void *arena, size_t arena_bytes) {
  if (arena == NULL) {
    error_begin("arena is NULL for model ");
    error_str(model->name);
    error_end();
    return EK_ERR_ARENA;
  }
  if (arena_bytes < model->arena_bytes) {
    error_begin("arena too small for model ");
    error_str(model->name);
    error_str(": ");
    error_uint(arena_bytes);
    error_str(" < ");
    error_uint(model->arena_bytes);
    error_str(" bytes");
    error_end();
    return EK_ERR_ARENA;
  }
  if (model->arena_align && ((uintptr_t)arena % model->arena_align) != 0) {
    error_begin("arena misaligned for model ");
    error_str(model->name);
    error_str(": needs ");
    error_uint(model->arena_align);
    error_str("-byte alignment");
    error_end();
    return EK_ERR_ARENA;
  }
  return check_descriptor(model);
}

void *ek_tensor_data(const ek_model_t *model, uint8_t *arena, uint16_t index) {
  if (index >= model->num_tensors) return NULL;
  const ek_tensor_t *t = &model->tensors[index];
  const uint8_t *base = t->mem == EK_MEM_WEIGHTS ? model->weights : arena;
  return (void *)(base + t->offset);
}

static void install_workspace_hooks(void) {
  if (&__TVMBackendAllocWorkspace) __TVMBackendAllocWorkspace = TVMBackendAllocWorkspace;
  if (&__TVMBackendFreeWorkspace) __TVMBackendFreeWorkspace = TVMBackendFreeWorkspace;
}

/* Fills `tensors`/`args` for one call; EK_OK or an error code with its message set. */
static int bind_args(const ek_model_t *model, uint8_t *arena, const ek_call_t *call, ek_dl_tensor_t *tensors,
                     ek_ffi_any_t *args) {
  if (call->num_args > EK_MAX_KERNEL_ARGS) {
    error_begin("too many kernel arguments in ");
    error_str(call->name);
    error_end();
    return EK_ERR_ARGS;
  }
  for (uint16_t a = 0; a < call->num_args; ++a) {
    uint16_t index = call->args[a];
    if (index >= model->num_tensors) {
      error_begin("tensor index out of range in ");
      error_str(call->name);
      error_end();
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
    args[a].v_ptr = &tensors[a];
  }
  return EK_OK;
}

int ek_run(const ek_model_t *model, uint8_t *arena) {
  ek_dl_tensor_t tensors[EK_MAX_KERNEL_ARGS];
  ek_ffi_any_t args[EK_MAX_KERNEL_ARGS];
  error_begin("");
  if (arena == NULL) {
    error_begin("model ");
    error_str(model->name);
    error_str(" has no arena: call ek_model_init first");
    error_end();
    return EK_ERR_ARENA;
  }
  install_workspace_hooks();
  for (uint16_t c = 0; c < model->num_calls; ++c) {
    const ek_call_t *call = &model->calls[c];
    int rc = bind_args(model, arena, call, tensors, args);
    if (rc != EK_OK) return rc;
    ws_cursor = arena + call->workspace_offset;
    ws_end = ws_cursor + call->workspace_bytes;
    current_call = call->name;
    workspace_failed = 0;
    int32_t status = call->fn(NULL, args, (int32_t)call->num_args, NULL);
    ws_cursor = ws_end = NULL;
    current_call = NULL;
    if (status != 0) {
      if (error_len == 0) {
        error_begin("kernel failed: ");
        error_str(call->name);
        error_end();
      }
      return workspace_failed ? EK_ERR_WORKSPACE : EK_ERR_KERNEL;
    }
  }
  return EK_OK;
}
