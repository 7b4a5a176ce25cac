// uhop_cc._native: native helpers for uhopc.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

namespace py = pybind11;

namespace uhop {
void bind_analyzer(py::module_ &m);  // cpp/analyzer/bind.cpp
void bind_harness(py::module_ &m);   // cpp/harness/bind.cpp
}  // namespace uhop

#ifndef UHOP_CXX_COMPILER
#define UHOP_CXX_COMPILER "unknown"
#endif
#ifndef UHOP_BUILD_TYPE
#define UHOP_BUILD_TYPE "unknown"
#endif

namespace {

constexpr int kAbiVersion = 1;

// 64-bit FNV-1a over raw bytes.
std::uint64_t fnv1a64(const std::string &data) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : data) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

}  // namespace

PYBIND11_MODULE(_native, m) {
    m.doc() = "uhopc native helpers";

    m.def("abi_version", [] { return kAbiVersion; },
          "ABI version of the native module.");

    // std::string accepts str (encoded as UTF-8) and bytes.
    m.def("fnv1a64", &fnv1a64, py::arg("data"),
          "64-bit FNV-1a hash of the UTF-8 bytes of a string.");

    m.def("build_info", [] {
        py::dict d;
        d["compiler"] = UHOP_CXX_COMPILER;
        d["cxx_standard"] = static_cast<int>(__cplusplus / 100 % 100);  // 201703L -> 17
        d["build_type"] = UHOP_BUILD_TYPE;
        return d;
    }, "Compiler, C++ standard and build type used for this module.");

    uhop::bind_analyzer(m);
    uhop::bind_harness(m);
}
