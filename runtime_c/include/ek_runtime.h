/* edgekeras C runtime: runs a compiled model from its descriptor, with no malloc.
 *
 * The compiler emits the descriptor (model.c): a tensor table (each tensor lives in the caller's
 * arena or in the const weights blob, at a planned offset), the kernel call list and the graph's
 * inputs and outputs. The runtime turns table entries into DLTensors, calls the kernels in order,
 * and serves their temporary buffers from a per-call slice of the arena. One model runs at a time
 * (the workspace cursor is global state); the arena is the caller's, so it can sit in any memory. */
#ifndef EK_RUNTIME_H
#define EK_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "ek_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EK_MAX_KERNEL_ARGS 16
#define EK_MAX_RANK 6

enum { EK_OK = 0, EK_ERR_ARENA = 1, EK_ERR_KERNEL = 2, EK_ERR_WORKSPACE = 3, EK_ERR_ARGS = 4, EK_ERR_INDEX = 5 };
enum { EK_MEM_ARENA = 0, EK_MEM_WEIGHTS = 1 };

typedef struct {
  uint8_t mem;        /* EK_MEM_ARENA or EK_MEM_WEIGHTS */
  uint8_t dtype_code; /* DLPack: 0 int, 1 uint, 2 float */
  uint8_t dtype_bits;
  uint8_t ndim;
  uint32_t offset; /* bytes from the arena / weights base */
  uint32_t nbytes;
  const int64_t *shape;
} ek_tensor_t;

typedef struct {
  ek_kernel_fn fn;
  const char *name;
  const uint16_t *args; /* tensor indices: inputs, then outputs */
  uint16_t num_args;
  uint32_t workspace_offset; /* arena slice for the kernel's temporaries */
  uint32_t workspace_bytes;
} ek_call_t;

typedef struct {
  const char *name;
  const ek_tensor_t *tensors;
  uint16_t num_tensors;
  const ek_call_t *calls;
  uint16_t num_calls;
  const uint16_t *inputs;
  uint16_t num_inputs;
  const uint16_t *outputs;
  uint16_t num_outputs;
  const uint8_t *weights;
  uint32_t arena_bytes;
  uint32_t arena_align;
} ek_model_t;

/* Checks that `arena` is big and aligned enough for `model` and that the descriptor stays inside it. */
int ek_check_arena(const ek_model_t *model, const void *arena, size_t arena_bytes);
/* Runs every kernel of `model` once; returns EK_OK or an EK_ERR_* code (message: ek_last_error).
 * A NULL arena (model not initialized) is EK_ERR_ARENA. */
int ek_run(const ek_model_t *model, uint8_t *arena);
/* Address of tensor `index` given the arena (weights resolve to the const blob). */
void *ek_tensor_data(const ek_model_t *model, uint8_t *arena, uint16_t index);
const char *ek_last_error(void);

/* Protected: a library's kernels call the runtime's own hooks below, even in a process that also
 * loaded the TVM runtime (which exports the same names). */
#define EK_OWN __attribute__((visibility("protected")))

/* Workspace hooks that generated kernels call (C kernels directly, LLVM kernels via pointers). */
EK_OWN void *TVMBackendAllocWorkspace(int device_type, int device_id, uint64_t nbytes, int dtype_code_hint,
                               int dtype_bits_hint);
EK_OWN int TVMBackendFreeWorkspace(int device_type, int device_id, void *ptr);
/* Error hook of generated kernels: keeps the message for ek_last_error(). */
EK_OWN void TVMFFIErrorSetRaisedFromCStr(const char *kind, const char *message);

/* Parallel loops (Linux targets only, src/ek_parallel.c). The layouts are TVM's
 * TVMParallelGroupEnv / FTVMParallelLambda: a kernel's parallel loop is a lambda run once per task. */
#define EK_MAX_THREADS 64
typedef struct {
  void *sync_handle;
  int32_t num_task;
} ek_parallel_env_t;
typedef int (*ek_parallel_lambda_fn)(int task_id, ek_parallel_env_t *env, void *closure);
typedef int (*ek_parallel_launch_fn)(ek_parallel_lambda_fn lambda, void *closure, int num_task);
typedef int (*ek_parallel_barrier_fn)(int task_id, ek_parallel_env_t *env);
/* Runs `lambda` for task ids 0..n-1 at once (n = num_task, or the thread count when 0); 0 or -1. */
EK_OWN int TVMBackendParallelLaunch(ek_parallel_lambda_fn lambda, void *closure, int num_task);
/* Waits until every task of the launch reached the barrier. */
EK_OWN int TVMBackendParallelBarrier(int task_id, ek_parallel_env_t *env);

#ifdef __cplusplus
}
#endif
#endif
