"""Calibration observers (each on data whose answer is known) and calibration data loading/ranges."""

import numpy as np
import pytest

from edgekeras.ir.graph import Graph
from edgekeras.ops.registry import get
from edgekeras.quantize import arith
from edgekeras.quantize.calibrate import CalibrationError, collect_ranges, load_calibration
from edgekeras.quantize.observers import MSE, OBSERVERS, Histogram, MinMax, MovingAverage, Percentile, make_observer


def quantization_mse(data, lo, hi):
    scale, zero_point = arith.activation_params(lo, hi)
    restored = arith.dequantize_int8(arith.quantize_float(data, scale, zero_point), scale, zero_point)
    return float(np.mean((data.astype(np.float64) - restored) ** 2))


# ---- observers ----------------------------------------------------------------------------------
def test_minmax_is_exact_over_batches():
    obs = MinMax()
    for batch in ([0.5, 2.0], [[-1.25, 0.0]], [3.5]):
        obs.update(np.array(batch, np.float32))
    assert obs.range() == (-1.25, 3.5)


def test_observers_without_data_say_so():
    for name in OBSERVERS:
        with pytest.raises(ValueError, match="no values"):
            make_observer(name).range()


def test_moving_average_follows_the_ema_formula():
    obs = make_observer("moving_average:0.5")
    batches = [np.array([-1.0, 2.0]), np.array([-3.0, 4.0]), np.array([1.0, 10.0])]
    lo, hi = -1.0, 2.0  # the first batch initializes
    for batch in batches:
        obs.update(batch)
    for batch in batches[1:]:
        lo, hi = 0.5 * lo + 0.5 * batch.min(), 0.5 * hi + 0.5 * batch.max()
    assert obs.range() == pytest.approx((lo, hi), abs=1e-12)
    default = MovingAverage()
    default.update(batches[0])
    default.update(batches[1])
    assert default.range() == pytest.approx((0.9 * -1 + 0.1 * -3, 0.9 * 2 + 0.1 * 4))


def test_percentile_clips_an_outlier():
    rng = np.random.default_rng(0)
    data = rng.standard_normal(200_000)
    obs = make_observer("percentile:99.9")
    for chunk in np.split(data, 4):
        obs.update(chunk)
    obs.update(np.array([1000.0]))  # one outlier after the range was set: the histogram widens
    lo, hi = obs.range()
    want_lo, want_hi = np.percentile(data, [0.1, 99.9])
    assert hi < 5.0 and lo > -5.0  # min/max would give 1000
    assert lo == pytest.approx(want_lo, abs=0.25) and hi == pytest.approx(want_hi, abs=0.25)


def test_percentile_100_is_the_min_max_and_default_is_99_99():
    data = np.linspace(-2.0, 7.0, 1001)
    obs = Percentile(100.0)
    obs.update(data)
    assert obs.range() == (-2.0, 7.0)
    assert make_observer("percentile").percentile == 99.99


def test_histogram_keeps_every_count_while_growing():
    rng = np.random.default_rng(1)
    hist = Histogram(bins=64)
    batches = [rng.uniform(0, 1, 500), rng.uniform(-0.5, 30, 500), np.zeros(10), rng.uniform(-400, 2, 500)]
    for batch in batches:
        hist.update(batch)
    edges, counts = hist.bins_and_counts()
    everything = np.concatenate(batches)
    assert counts.sum() == everything.size and np.all(np.diff(edges) > 0)
    assert edges[0] <= everything.min() and edges[-1] >= everything.max()
    np.testing.assert_array_equal(np.histogram(everything, edges)[0], counts)
    assert len(hist.counts[1]) == len(hist.counts[-1]) == 64  # memory stays fixed


def test_mse_is_narrower_than_minmax_and_quantizes_better_on_heavy_tails():
    rng = np.random.default_rng(2)
    data = rng.standard_t(2, 100_000)
    obs = make_observer("mse")
    for chunk in np.split(data, 5):
        obs.update(chunk)
    lo, hi = obs.range()
    assert data.min() < lo < 0 < hi < data.max()
    assert hi - lo < data.max() - data.min()
    assert quantization_mse(data, lo, hi) < quantization_mse(data, data.min(), data.max())


def test_mse_estimate_matches_a_direct_search():
    rng = np.random.default_rng(3)
    data = np.maximum(rng.laplace(size=50_000), 0.0)
    obs = MSE()
    obs.update(data)
    lo, hi = obs.range()
    errors = {f: quantization_mse(data, data.min() * f, data.max() * f) for f in obs.factors}
    best = min(errors, key=errors.get)
    assert hi == pytest.approx(data.max() * best)
    assert lo == 0.0


def test_observer_ranges_are_raw_and_activation_params_adds_zero():
    obs = make_observer("minmax")
    obs.update(np.array([1.0, 2.0]))
    assert obs.range() == (1.0, 2.0)
    scale, zero_point = arith.activation_params(*obs.range())
    assert arith.dequantize_int8(np.int8(zero_point), scale, zero_point) == 0.0
    assert arith.dequantize_int8(np.int8(127), scale, zero_point) == pytest.approx(2.0, rel=1e-6)


def test_make_observer_specs():
    assert isinstance(make_observer(), MinMax)
    assert make_observer("percentile:99.9").percentile == 99.9
    assert make_observer(" moving_average:0.95 ").momentum == 0.95
    assert isinstance(make_observer("mse"), MSE)
    with pytest.raises(ValueError, match="minmax, moving_average, percentile, mse"):
        make_observer("kl")
    for spec, message in [("percentile:abc", "not a number"), ("mse:3", "takes no parameter"),
                          ("percentile:40", r"\(50, 100\]"), ("moving_average:1", r"\[0, 1\)"),
                          (None, "must be a string")]:
        with pytest.raises(ValueError, match=message):
            make_observer(spec)


# ---- calibration data ---------------------------------------------------------------------------
def one_input_graph():
    g = Graph("one")
    x = g.add_input("image", (1, 4, 4, 2))
    node = g.add_node("relu", [x], name="act", layer="act")
    g.outputs = [node.output]
    return g


def two_input_graph():
    g = Graph("two")
    a, b = g.add_input("a", (1, 3)), g.add_input("b", (1, 3))
    node = g.add_node("add", [a, b], name="sum", layer="sum")
    g.outputs = [node.output]
    return g


def test_load_npz_by_name_or_x(tmp_path):
    data = np.arange(5 * 32, dtype=np.float64).reshape(5, 4, 4, 2)
    np.savez(tmp_path / "named.npz", image=data, y=np.arange(5))
    np.savez(tmp_path / "x.npz", x=data)
    for name in ("named.npz", "x.npz"):
        (arr,) = load_calibration(str(tmp_path / name), one_input_graph())
        assert arr.dtype == np.float32 and arr.shape == (5, 4, 4, 2)
        np.testing.assert_array_equal(arr, data)
    (first,) = load_calibration(tmp_path / "x.npz", one_input_graph(), samples=2)
    np.testing.assert_array_equal(first, data[:2])
    (every,) = load_calibration(tmp_path / "x.npz", one_input_graph(), samples=50)
    assert len(every) == 5


def test_load_arrays_lists_and_dicts():
    a, b = np.ones((4, 3)), np.zeros((4, 3), np.int32)
    for source in ([a, b], (a, b), {"a": a, "b": b}):
        arrays = load_calibration(source, two_input_graph())
        assert [x.dtype for x in arrays] == [np.float32, np.float32] and arrays[0].shape == (4, 3)
    (single,) = load_calibration(np.ones((2, 4, 4, 2)), one_input_graph())
    assert single.shape == (2, 4, 4, 2)


def test_unreadable_file(tmp_path):
    with pytest.raises(CalibrationError, match="Cannot read calibration file .*missing.npz"):
        load_calibration(tmp_path / "missing.npz", one_input_graph())
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(CalibrationError, match="Cannot read calibration file"):
        load_calibration(tmp_path / "junk.npz", one_input_graph())


def test_arrays_that_do_not_match_the_inputs(tmp_path):
    np.savez(tmp_path / "wrong.npz", pixels=np.ones((3, 4, 4, 2)))
    with pytest.raises(CalibrationError, match=r"holds \['pixels'\].*\['image'\] or a single 'x'"):
        load_calibration(tmp_path / "wrong.npz", one_input_graph())
    np.savez(tmp_path / "shape.npz", x=np.ones((3, 4, 4)))
    with pytest.raises(CalibrationError, match=r"expects \(samples, 4, 4, 2\).*got \(4, 4\)"):
        load_calibration(tmp_path / "shape.npz", one_input_graph())
    with pytest.raises(CalibrationError, match=r"has 1 arrays but the model has 2 inputs \['a', 'b'\]"):
        load_calibration([np.ones((2, 3))], two_input_graph())
    with pytest.raises(CalibrationError, match=r"different numbers of samples \[2, 3\]"):
        load_calibration([np.ones((2, 3)), np.ones((3, 3))], two_input_graph())
    with pytest.raises(CalibrationError, match="not a rectangular array"):
        load_calibration([[[1.0, 2.0, 3.0], [1.0]], np.ones((2, 3))], two_input_graph())
    with pytest.raises(CalibrationError, match="must be an .npz path"):
        load_calibration(42, one_input_graph())


def test_non_numeric_data(tmp_path):
    np.savez(tmp_path / "text.npz", x=np.full((2, 4, 4, 2), "a"))
    with pytest.raises(CalibrationError, match="array 'x' has dtype <U1; calibration needs numbers"):
        load_calibration(tmp_path / "text.npz", one_input_graph())


def test_nan_and_inf_are_counted(tmp_path):
    data = np.ones((3, 4, 4, 2), np.float32)
    data[0, 0, 0, 0] = data[1, 2, 3, 1] = np.nan
    data[2, 0, 0, 1] = -np.inf
    np.savez(tmp_path / "nan.npz", image=data)
    with pytest.raises(CalibrationError, match="array 'image' holds 2 NaN and 1 infinite values"):
        load_calibration(tmp_path / "nan.npz", one_input_graph())
    huge = np.full((2, 3), 1e300)  # finite in float64, infinite as the model's float32
    with pytest.raises(CalibrationError, match="input 'b' holds 0 NaN and 6 infinite"):
        load_calibration([np.ones((2, 3)), huge], two_input_graph())


def test_empty_set_and_bad_sample_counts(tmp_path):
    np.savez(tmp_path / "empty.npz", x=np.ones((0, 4, 4, 2)))
    with pytest.raises(CalibrationError, match="holds 0 samples"):
        load_calibration(tmp_path / "empty.npz", one_input_graph())
    for samples in (0, -3, 2.5, True):
        with pytest.raises(CalibrationError, match="positive integer"):
            load_calibration(np.ones((2, 4, 4, 2)), one_input_graph(), samples=samples)


# ---- collecting ranges --------------------------------------------------------------------------
def conv_dense_graph():
    rng = np.random.default_rng(4)
    g = Graph("small")
    x = g.add_input("input", (1, 6, 6, 2))
    kernel = g.constant("conv/kernel", rng.standard_normal((3, 3, 2, 4)).astype(np.float32))
    bias = g.constant("conv/bias", rng.standard_normal(4).astype(np.float32))
    conv = g.add_node("conv", [x, kernel, bias], {"padding": "same"}, name="conv", layer="conv",
                      epilogue=[("relu", {})])
    flat = g.add_node("reshape", [conv.output], {"shape": (144,)}, name="flatten", layer="flatten")
    weights = g.constant("dense/kernel", rng.standard_normal((144, 3)).astype(np.float32))
    dense = g.add_node("dense", [flat.output, weights], name="dense", layer="dense")
    g.outputs = [dense.output]
    return g


def test_collect_ranges_matches_numpy():
    g = conv_dense_graph()
    data = np.random.default_rng(5).standard_normal((23, 6, 6, 2)).astype(np.float32)
    ranges = collect_ranges(g, [data], batch_size=5)
    kernel, bias = g.nodes[0].inputs[1].data, g.nodes[0].inputs[2].data
    pre = get("conv").numpy(data, kernel, bias, padding="same")
    post = np.maximum(pre, 0)
    out = post.reshape(23, -1).astype(np.float64) @ g.nodes[2].inputs[1].data.astype(np.float64)
    expected = {"input": data, "conv:pre": pre, "conv": post, "flatten": post, "dense": out}
    assert set(ranges) == set(expected)  # constants are not observed
    for key, array in expected.items():
        assert ranges[key] == pytest.approx((array.min(), array.max()), rel=1e-6), key
    assert ranges["conv"][0] == 0.0 and ranges["conv:pre"][0] < 0.0
    whole = collect_ranges(g, [data], batch_size=64)  # batching changes nothing
    assert all(whole[key] == pytest.approx(ranges[key], rel=1e-6) for key in ranges)


def test_overrides_by_layer_and_value():
    g = conv_dense_graph()
    data = np.random.default_rng(6).standard_normal((40, 6, 6, 2)).astype(np.float32)
    plain = collect_ranges(g, [data])
    clipped = collect_ranges(g, [data], overrides={"conv": "percentile:90", "dense": "percentile:80"})
    assert clipped["input"] == plain["input"] and clipped["flatten"] == plain["flatten"]
    for key in ("conv:pre", "conv", "dense"):  # a layer name covers the pre-epilogue value too
        assert clipped[key][1] < plain[key][1], key
    only_pre = collect_ranges(g, [data], overrides={"conv:pre": "percentile:90"})
    assert only_pre["conv"] == plain["conv"] and only_pre["conv:pre"][1] < plain["conv:pre"][1]
    with pytest.raises(ValueError, match=r"\['conv2d'\] match no value or layer"):
        collect_ranges(g, [data], overrides={"conv2d": "mse"})
    with pytest.raises(ValueError, match="Unknown observer 'kl'"):
        collect_ranges(g, [data], observer="kl")


def test_collect_ranges_bad_input():
    g = conv_dense_graph()
    with pytest.raises(CalibrationError, match="non-zero number of samples"):
        collect_ranges(g, [np.ones((0, 6, 6, 2), np.float32)])
    with pytest.raises(CalibrationError, match="has 2 arrays but the model has 1"):
        collect_ranges(g, [np.ones((1, 6, 6, 2))] * 2)
    with pytest.raises(ValueError, match="batch_size"):
        collect_ranges(g, [np.ones((1, 6, 6, 2))], batch_size=0)


def test_overflow_during_calibration_names_the_value():
    g = Graph("overflow")
    x = g.add_input("x", (1, 2))
    w = g.constant("w", np.full((2, 2), 3e38, np.float32))
    node = g.add_node("dense", [x, w], name="big", layer="big")
    g.outputs = [node.output]
    with pytest.raises(CalibrationError, match="4 NaN or infinite values in 'big' \\(op dense, layer 'big'\\)"):
        collect_ranges(g, [np.full((2, 2), 10.0, np.float32)])
