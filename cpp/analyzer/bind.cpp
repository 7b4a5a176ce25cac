// Python bindings of the static analyzer (filled in by the analyzer work).
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace uhop {
void bind_analyzer(py::module_ &m) { (void)m; }
}  // namespace uhop
