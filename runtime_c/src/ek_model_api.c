/* The model-level API over the compiler-emitted descriptor: what an application calls. */
#include "ek_model_api.h"

#include "ek_runtime.h"

extern const ek_model_t ek_model_desc;

static uint8_t *bound_arena;

int ek_model_init(void *arena, size_t arena_bytes) {
  int rc = ek_check_arena(&ek_model_desc, arena, arena_bytes);
  bound_arena = rc == EK_OK ? (uint8_t *)arena : NULL;
  return rc;
}

int ek_model_run(void) { return ek_run(&ek_model_desc, bound_arena); }

int ek_model_num_inputs(void) { return ek_model_desc.num_inputs; }
int ek_model_num_outputs(void) { return ek_model_desc.num_outputs; }

static void *io_data(const uint16_t *list, uint16_t count, int index) {
  if (bound_arena == NULL || index < 0 || index >= count) return NULL;
  return ek_tensor_data(&ek_model_desc, bound_arena, list[index]);
}

static size_t io_bytes(const uint16_t *list, uint16_t count, int index) {
  if (index < 0 || index >= count || list[index] >= ek_model_desc.num_tensors) return 0;
  return ek_model_desc.tensors[list[index]].nbytes;
}

void *ek_model_input(int index) { return io_data(ek_model_desc.inputs, ek_model_desc.num_inputs, index); }
size_t ek_model_input_bytes(int index) { return io_bytes(ek_model_desc.inputs, ek_model_desc.num_inputs, index); }
void *ek_model_output(int index) { return io_data(ek_model_desc.outputs, ek_model_desc.num_outputs, index); }
size_t ek_model_output_bytes(int index) {
  return io_bytes(ek_model_desc.outputs, ek_model_desc.num_outputs, index);
}
size_t ek_model_arena_bytes(void) { return ek_model_desc.arena_bytes; }
size_t ek_model_arena_align(void) { return ek_model_desc.arena_align; }
const char *ek_model_error(void) { return ek_last_error(); }
