/* A descriptor in the form the compiler emits in model.c, over the hand-written kernels:
 *   y0 = 2 (x + w) + 1   (x: input 0, float32[1,8]; w: weights)
 *   y1 = relu(z)         (z: input 1, float32[1,3])
 * Arena plan (64-byte slots): x 0, s 64, y0 128, z 192, y1 256, workspaces 320 (128 B) and 448 (64 B). */
#include "ek_runtime.h"
#include "kernels.h"

static const int64_t shape_8[] = {1, 8};
static const int64_t shape_3[] = {1, 3};
static const float weights[8] = {0.5f, -1.0f, 2.0f, 0.0f, 3.25f, -4.5f, 1.0f, 10.0f};

static const ek_tensor_t tensors[] = {
    {EK_MEM_ARENA, 2, 32, 2, 0, 32, shape_8},   /* 0 x */
    {EK_MEM_WEIGHTS, 2, 32, 2, 0, 32, shape_8}, /* 1 w */
    {EK_MEM_ARENA, 2, 32, 2, 64, 32, shape_8},  /* 2 s = x + w */
    {EK_MEM_ARENA, 2, 32, 2, 128, 32, shape_8}, /* 3 y0 */
    {EK_MEM_ARENA, 2, 32, 2, 192, 12, shape_3}, /* 4 z */
    {EK_MEM_ARENA, 2, 32, 2, 256, 12, shape_3}, /* 5 y1 */
};
static const uint16_t args_add[] = {0, 1, 2};
static const uint16_t args_affine[] = {2, 3};
static const uint16_t args_relu[] = {4, 5};
static const ek_call_t calls[] = {
    {k_add_f32, "add", args_add, 3, 0, 0},
    {k_affine_ws, "affine", args_affine, 2, 320, 128},
    {k_relu_ws_llvm, "relu", args_relu, 2, 448, 64},
};
static const uint16_t inputs[] = {0, 4};
static const uint16_t outputs[] = {3, 5};

const ek_model_t ek_model_desc = {
    "test_ok", tensors, 6, calls, 3, inputs, 2, outputs, 2, (const uint8_t *)weights, 512, 64,
};
