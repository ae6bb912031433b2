/* The model-level C API; src/ek_model_api.c implements it over the descriptor `ek_model_desc`
 * that the compiler emits in model.c. The generated model.h includes this file. */
#ifndef EK_MODEL_API_H
#define EK_MODEL_API_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Binds the model to `arena` (at least ek_model_arena_bytes(), aligned to ek_model_arena_align()). */
int ek_model_init(void *arena, size_t arena_bytes);
/* Runs one inference on the current input buffers; 0 on success, else see ek_model_error(). */
int ek_model_run(void);
int ek_model_num_inputs(void);
int ek_model_num_outputs(void);
void *ek_model_input(int index);
size_t ek_model_input_bytes(int index);
void *ek_model_output(int index);
size_t ek_model_output_bytes(int index);
size_t ek_model_arena_bytes(void);
size_t ek_model_arena_align(void);
const char *ek_model_error(void);
/* Threads the kernels' parallel loops may use (Linux targets; default: the compile-time --threads).
 * 1 runs them in the calling thread. Returns the previous count, or -1 for a count outside 1..64. */
int ek_set_num_threads(int num_threads);
int ek_get_num_threads(void);

#ifdef __cplusplus
}
#endif
#endif
