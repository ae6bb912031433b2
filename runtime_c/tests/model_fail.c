/* A compiler-form descriptor whose second kernel raises: y = raise(x + x), x float32[1,4]. */
#include "ek_runtime.h"
#include "kernels.h"

static const int64_t shape_4[] = {1, 4};
static const ek_tensor_t tensors[] = {
    {EK_MEM_ARENA, 2, 32, 2, 0, 16, shape_4},  /* 0 x */
    {EK_MEM_ARENA, 2, 32, 2, 64, 16, shape_4}, /* 1 x + x */
    {EK_MEM_ARENA, 2, 32, 2, 128, 16, shape_4} /* 2 y */
};
static const uint16_t args_add[] = {0, 0, 1};
static const uint16_t args_raise[] = {1, 2};
static const ek_call_t calls[] = {
    {k_add_f32, "add", args_add, 3, 0, 0},
    {k_raise, "raiser", args_raise, 2, 0, 0},
};
static const uint16_t inputs[] = {0};
static const uint16_t outputs[] = {2};

const ek_model_t ek_model_desc = {"test_fail", tensors, 3, calls, 2, inputs, 1, outputs, 1, NULL, 192, 64};
