// Python bindings of the timing harness: the submodule uhop_cc._native.harness.
// Use it through uhop_cc.verify.native_timing, which turns these dicts into Timing objects.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "harness/cl_api.hpp"
#include "harness/cuda_api.hpp"
#include "harness/cuda_loop.hpp"
#include "harness/harness.hpp"
#include "harness/opencl_loop.hpp"

namespace py = pybind11;

namespace uhop {

namespace {

using namespace uhop::harness;

py::dict summary_dict(const Summary &s) {
    py::dict d;
    d["runs"] = s.runs;
    d["median_s"] = s.median;
    d["min_s"] = s.min;
    d["max_s"] = s.max;
    d["mean_s"] = s.mean;
    d["std_s"] = s.std;
    d["iqr_s"] = s.iqr;
    d["cv"] = s.cv;
    d["outliers"] = s.outliers;
    d["ci_low_s"] = s.ci_low;
    d["ci_high_s"] = s.ci_high;
    d["rel_ci"] = s.rel_ci;
    return d;
}

py::dict result_dict(const LoopResult &r) {
    py::dict d;
    d["clock"] = r.clock;
    d["stopped_by"] = r.stopped_by;
    d["warmup"] = r.warmup;
    d["device_s"] = r.device;
    d["wall_s"] = r.wall;
    d["flush_s"] = r.flush;
    d["stage_s"] = r.stages;
    d["loop_s"] = r.loop_s;
    d["flush_bytes"] = r.flush_bytes;
    d["flushes"] = r.flushes;
    d["waits"] = r.waits;
    d["batch"] = r.batch;
    d["summary"] = summary_dict(summarize(r.clock == "device" ? r.device : r.wall));
    d["wall_summary"] = summary_dict(summarize(r.wall));
    py::list stage_median;
    for (const auto &st : r.stages) stage_median.append(summarize(st).median);
    d["stage_median_s"] = stage_median;
    return d;
}

LoopOptions make_options(int warmup, int min_runs, int max_runs, double budget_s, double target_rel_ci,
                         std::uint64_t flush_bytes, std::uint64_t flush_buffer, int batch) {
    LoopOptions o;
    o.warmup = warmup;
    o.min_runs = min_runs;
    o.max_runs = max_runs;
    o.budget_s = budget_s;
    o.target_rel_ci = target_rel_ci;
    o.flush_bytes = flush_bytes;
    o.flush_buffer = flush_buffer;
    o.batch = batch;
    o.check();
    return o;
}

std::vector<std::uint8_t> param_bytes(const py::handle &obj, std::size_t stage, std::size_t index) {
    std::vector<std::uint8_t> out;
    auto put = [&out](const void *p, std::size_t n) {
        const auto *b = static_cast<const std::uint8_t *>(p);
        out.assign(b, b + n);
    };
    if (py::isinstance<py::int_>(obj)) {  // 64-bit: device pointers, and (little-endian) narrower ints
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
        if (overflow > 0) {
            unsigned long long u = PyLong_AsUnsignedLongLong(obj.ptr());
            if (PyErr_Occurred()) throw py::error_already_set();
            put(&u, sizeof u);
        } else if (overflow < 0) {
            throw py::value_error("kernel parameter " + std::to_string(index) + " of stage " + std::to_string(stage) +
                                  " does not fit in 64 bits");
        } else {
            put(&v, sizeof v);
        }
    } else if (py::isinstance<py::float_>(obj)) {  // float32; pass numpy.float64(x) for a double
        float f = static_cast<float>(obj.cast<double>());
        put(&f, sizeof f);
    } else if (py::isinstance<py::bytes>(obj)) {
        std::string s = obj.cast<std::string>();
        put(s.data(), s.size());
    } else if (PyObject_CheckBuffer(obj.ptr())) {
        py::buffer_info info = py::reinterpret_borrow<py::buffer>(obj).request();
        if (info.ndim > 1) {
            for (py::ssize_t k = info.ndim - 1, want = info.itemsize; k >= 0; --k) {
                if (info.strides[k] != want)
                    throw py::value_error("kernel parameter " + std::to_string(index) + " is not contiguous");
                want *= info.shape[k];
            }
        }
        put(info.ptr, static_cast<std::size_t>(info.size * info.itemsize));
    } else {
        throw py::type_error("kernel parameter " + std::to_string(index) + " of stage " + std::to_string(stage) +
                             ": expected an int, a float or a bytes-like object, got " +
                             std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
    }
    return out;
}

std::array<unsigned, 3> dims3(const std::vector<unsigned> &v, const char *what, std::size_t stage) {
    if (v.empty() || v.size() > 3)
        throw py::value_error(std::string(what) + " of stage " + std::to_string(stage) + " must have 1 to 3 dimensions");
    std::array<unsigned, 3> a{1, 1, 1};
    for (std::size_t i = 0; i < v.size(); ++i) a[i] = v[i];
    return a;
}

}  // namespace

void bind_harness(py::module_ &root) {
    py::module_ m = root.def_submodule("harness", "Native timing harness (use uhop_cc.verify.native_timing)");

    m.def("summarize", [](std::vector<double> samples) { return summary_dict(summarize(std::move(samples))); },
          py::arg("samples"),
          "Statistics of durations, with the keys of uhop_cc.verify.timing.summarize; the median CI is "
          "order-statistics based (ranks n/2 -+ 1.96 sqrt(n)/2).");
    m.def("median_ci", [](std::vector<double> samples) {
              std::sort(samples.begin(), samples.end());
              return median_ci_sorted(samples);
          },
          py::arg("samples"));
    m.def("percentile", [](std::vector<double> samples, double p) {
              std::sort(samples.begin(), samples.end());
              return percentile_sorted(samples, p);
          },
          py::arg("samples"), py::arg("p"));

    m.def("opencl_available", [] {
        std::string why;
        bool ok = cl::available(&why);
        return std::make_tuple(ok, why);
    });
    m.def("opencl_library", [] { return cl::api().path; });
    m.def("opencl_kernel_name", [](std::uint64_t k) { return opencl_kernel_name(k); }, py::arg("kernel"));
    m.def(
        "opencl_time",
        [](std::uint64_t queue,
           const std::vector<std::tuple<std::uint64_t, std::vector<std::size_t>, std::optional<std::vector<std::size_t>>>>
               &stages,
           int warmup, int min_runs, int max_runs, double budget_s, double target_rel_ci, std::uint64_t flush_bytes,
           std::uint64_t flush_buffer, int batch) {
            LoopOptions o =
                make_options(warmup, min_runs, max_runs, budget_s, target_rel_ci, flush_bytes, flush_buffer, batch);
            std::vector<ClStage> st;
            for (const auto &[k, g, l] : stages) st.push_back(ClStage{k, g, l ? *l : std::vector<std::size_t>{}});
            LoopResult r;
            {
                py::gil_scoped_release nogil;
                r = opencl_loop(queue, st, o);
            }
            return result_dict(r);
        },
        py::arg("queue"), py::arg("stages"), py::arg("warmup") = 2, py::arg("min_runs") = 5,
        py::arg("max_runs") = 100, py::arg("budget_s") = 2.0, py::arg("target_rel_ci") = 0.02,
        py::arg("flush_bytes") = 0, py::arg("flush_buffer") = 0, py::arg("batch") = 1,
        "Time stages [(kernel, global, local|None)] on a queue (handles as ints).");

    m.def("cuda_available", [] { return cu::available(); });
    m.def("cuda_unavailable_reason", [] {
        std::string why;
        return cu::available(&why) ? std::string() : why;
    });
    m.def(
        "cuda_time",
        [](const py::list &stages, int warmup, int min_runs, int max_runs, double budget_s, double target_rel_ci,
           std::uint64_t flush_bytes, std::uint64_t flush_buffer, int batch, std::uint64_t stream,
           std::uint64_t context) {
            LoopOptions o =
                make_options(warmup, min_runs, max_runs, budget_s, target_rel_ci, flush_bytes, flush_buffer, batch);
            std::vector<CuStage> st;
            std::size_t i = 0;
            for (const py::handle &h : stages) {
                auto t = py::reinterpret_borrow<py::tuple>(h);
                if (t.size() != 5)
                    throw py::value_error("a CUDA stage is (function, grid, block, shared_bytes, params)");
                CuStage s;
                s.function = t[0].cast<std::uint64_t>();
                s.grid = dims3(t[1].cast<std::vector<unsigned>>(), "grid", i);
                s.block = dims3(t[2].cast<std::vector<unsigned>>(), "block", i);
                s.shared_bytes = t[3].cast<unsigned>();
                std::size_t j = 0;
                for (const py::handle &p : py::reinterpret_borrow<py::sequence>(t[4])) s.params.push_back(param_bytes(p, i, j++));
                st.push_back(std::move(s));
                ++i;
            }
            LoopResult r;
            {
                py::gil_scoped_release nogil;
                r = cuda_loop(st, o, stream, context);
            }
            return result_dict(r);
        },
        py::arg("stages"), py::arg("warmup") = 2, py::arg("min_runs") = 5, py::arg("max_runs") = 100,
        py::arg("budget_s") = 2.0, py::arg("target_rel_ci") = 0.02, py::arg("flush_bytes") = 0,
        py::arg("flush_buffer") = 0, py::arg("batch") = 1, py::arg("stream") = 0, py::arg("context") = 0,
        "Time stages [(function, grid, block, shared_bytes, params)] with the CUDA driver API.");
    m.def("cuda_primary_context", &cuda_primary_context, py::arg("device") = 0);
    m.def("cuda_device_name", &cuda_device_name, py::arg("device") = 0);
    m.def("cuda_module_load", [](const py::bytes &image) { return cuda_module_load(std::string(image)); },
          py::arg("image"));
    m.def("cuda_module_unload", &cuda_module_unload, py::arg("module"));
    m.def("cuda_module_function", &cuda_module_function, py::arg("module"), py::arg("name"));
    m.def("cuda_mem_alloc", &cuda_mem_alloc, py::arg("bytes"));
    m.def("cuda_mem_free", &cuda_mem_free, py::arg("ptr"));
    m.def("cuda_memcpy_htod", [](std::uint64_t dst, const py::buffer &src) {
              py::buffer_info info = src.request();
              cuda_memcpy_htod(dst, info.ptr, static_cast<std::size_t>(info.size * info.itemsize));
          },
          py::arg("dst"), py::arg("src"));
    m.def("cuda_memcpy_dtoh", [](std::uint64_t src, std::size_t nbytes) {
              std::string out(nbytes, '\0');
              cuda_memcpy_dtoh(out.data(), src, nbytes);
              return py::bytes(out);
          },
          py::arg("src"), py::arg("nbytes"));
}

}  // namespace uhop
