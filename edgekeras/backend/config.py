"""Global numeric defaults, named as Keras names them (floatx, epsilon, image_data_format)."""

_FLOATX = "float32"
_EPSILON = 1e-7


def floatx():
    return _FLOATX


def set_floatx(dtype):
    global _FLOATX
    if dtype not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(f"Unknown floatx {dtype!r}: expected float16, bfloat16, float32 or float64.")
    _FLOATX = dtype


def epsilon():
    return _EPSILON


def set_epsilon(value):
    global _EPSILON
    _EPSILON = float(value)


def image_data_format():
    """edgekeras is channels_last only: it is what every edge target's kernels expect."""
    return "channels_last"


def standardize_dtype(dtype):
    if dtype is None:
        return floatx()
    name = getattr(dtype, "name", None) or str(dtype)
    return {"float": "float32", "int": "int32"}.get(name, name)
