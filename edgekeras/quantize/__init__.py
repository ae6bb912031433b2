"""int8 quantization: the arithmetic (`arith`), calibration and conversion, and quantization-aware
training (`quantize_model`)."""


def __getattr__(name):
    # Lazy: the op set imports `arith` from this package, and qat imports the layers built on the op set.
    if name == "quantize_model":
        from edgekeras.quantize.qat import quantize_model

        return quantize_model
    raise AttributeError(f"module 'edgekeras.quantize' has no attribute {name!r}")
