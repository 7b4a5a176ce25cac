// Python bindings of the static analyzer:
//   analyze(source: str | bytes, target: str = "opencl", expected: dict | None = None) -> dict
// The result holds only plain dicts, lists, str, int, bool and None. The GIL is
// released while the source is analysed.
#include <pybind11/pybind11.h>

#include <string>
#include <string_view>

#include "analysis.hpp"
#include "report.hpp"

namespace py = pybind11;

namespace uhop {

namespace {

using an::Expected;
using an::ExpectedArg;
using an::Report;
using an::Target;

// Interned dictionary keys, created once and kept for the life of the process.
struct Keys {
#define UHOP_KEYS(X)                                                                                            \
    X(target) X(ok) X(fatal) X(errors) X(warnings) X(infos) X(findings) X(severity) X(code) X(message) X(line)  \
    X(col) X(function) X(resources) X(local_mem_bytes) X(local_mem_unknown) X(dynamic_shared) X(private_bytes) \
    X(private_arrays) X(name) X(bytes) X(registers_estimate) X(reqd_work_group_size) X(launch_bounds)          \
    X(circular_buffers) X(cb) X(tiles) X(cb_bytes) X(sync) X(barriers) X(barriers_in_loops)                    \
    X(divergent_barriers) X(memory) X(vector_loads) X(vector_stores) X(vector_casts) X(unit_stride) X(strided)  \
    X(uniform) X(irregular) X(atomics) X(abi) X(entry) X(kernels) X(args) X(type) X(space) X(pointer) X(registers) \
    X(launch) X(runtime_args) X(compile_time_args) X(kernel) X(text) X(error) X(grid_style) X(global) X(local)  \
    X(smem) X(stats) X(lines) X(tokens) X(functions) X(nargs)
#define UHOP_KEY_FIELD(k) PyObject* k;
    UHOP_KEYS(UHOP_KEY_FIELD)
#undef UHOP_KEY_FIELD
    PyObject* const_;
    PyObject* sev[3];
    Keys() {
#define UHOP_KEY_INIT(k) k = PyUnicode_InternFromString(#k);
        UHOP_KEYS(UHOP_KEY_INIT)
#undef UHOP_KEY_INIT
        const_ = PyUnicode_InternFromString("const");
        sev[0] = PyUnicode_InternFromString("error");
        sev[1] = PyUnicode_InternFromString("warning");
        sev[2] = PyUnicode_InternFromString("info");
    }
};

const Keys& keys() {
    static const Keys* k = new Keys();  // never freed: interned strings outlive the module
    return *k;
}

void put(PyObject* d, PyObject* key, PyObject* value) {
    if (!value) throw py::error_already_set();
    int rc = PyDict_SetItem(d, key, value);
    Py_DECREF(value);
    if (rc) throw py::error_already_set();
}
PyObject* str(const std::string& s) {
    return PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
}
PyObject* integer(long long v) { return PyLong_FromLongLong(v); }
PyObject* boolean(bool b) { return PyBool_FromLong(b ? 1 : 0); }
PyObject* none() { Py_RETURN_NONE; }
PyObject* ints(const std::vector<int64_t>& v) {
    PyObject* l = PyList_New(static_cast<Py_ssize_t>(v.size()));
    if (!l) throw py::error_already_set();
    for (size_t i = 0; i < v.size(); ++i) PyList_SET_ITEM(l, static_cast<Py_ssize_t>(i), integer(v[i]));
    return l;
}
PyObject* strs(const std::vector<std::string>& v) {
    PyObject* l = PyList_New(static_cast<Py_ssize_t>(v.size()));
    if (!l) throw py::error_already_set();
    for (size_t i = 0; i < v.size(); ++i) PyList_SET_ITEM(l, static_cast<Py_ssize_t>(i), str(v[i]));
    return l;
}
PyObject* ints_or_none(const std::vector<int64_t>& v) { return v.empty() ? none() : ints(v); }
PyObject* int_or_none(long long v) { return v < 0 ? none() : integer(v); }

PyObject* to_python(const Report& r) {
    const Keys& K = keys();
    PyObject* d = PyDict_New();
    if (!d) throw py::error_already_set();
    py::object guard = py::reinterpret_steal<py::object>(d);
    const int ne = r.count(an::Sev::Error), nw = r.count(an::Sev::Warning);
    put(d, K.target, str(r.target));
    put(d, K.ok, boolean(ne == 0));
    put(d, K.fatal, boolean(r.fatal));
    put(d, K.errors, integer(ne));
    put(d, K.warnings, integer(nw));
    put(d, K.infos, integer(static_cast<long long>(r.findings.size()) - ne - nw));

    PyObject* fl = PyList_New(static_cast<Py_ssize_t>(r.findings.size()));
    if (!fl) throw py::error_already_set();
    put(d, K.findings, fl);
    Py_INCREF(fl);  // `put` stole one reference; keep using the list
    py::object fl_guard = py::reinterpret_steal<py::object>(fl);
    for (size_t i = 0; i < r.findings.size(); ++i) {
        const an::Finding& f = r.findings[i];
        PyObject* x = PyDict_New();
        if (!x) throw py::error_already_set();
        PyList_SET_ITEM(fl, static_cast<Py_ssize_t>(i), x);
        PyObject* sv = K.sev[static_cast<int>(f.sev)];
        Py_INCREF(sv);
        put(x, K.severity, sv);
        put(x, K.code, PyUnicode_FromString(f.code));
        put(x, K.message, str(f.message));
        put(x, K.line, integer(f.line));
        put(x, K.col, integer(f.col));
        put(x, K.function, str(f.function));
    }

    PyObject* res = PyDict_New();
    put(d, K.resources, res);
    put(res, K.local_mem_bytes, integer(r.local_mem_bytes));
    put(res, K.local_mem_unknown, boolean(r.local_mem_unknown));
    put(res, K.dynamic_shared, boolean(r.dynamic_shared));
    put(res, K.private_bytes, integer(r.private_bytes));
    PyObject* pa = PyList_New(0);
    put(res, K.private_arrays, pa);
    for (const an::PrivArray& p : r.private_arrays) {
        PyObject* x = PyDict_New();
        put(x, K.name, str(p.name));
        put(x, K.bytes, int_or_none(p.bytes));
        put(x, K.line, integer(p.line));
        PyList_Append(pa, x);
        Py_DECREF(x);
    }
    put(res, K.registers_estimate, integer(r.registers_estimate));
    put(res, K.reqd_work_group_size, ints_or_none(r.reqd_work_group_size));
    put(res, K.launch_bounds, ints_or_none(r.launch_bounds));
    PyObject* cbl = PyList_New(0);
    put(res, K.circular_buffers, cbl);
    for (const an::CBInfo& cb : r.cbs) {
        PyObject* x = PyDict_New();
        put(x, K.cb, str(cb.cb));
        put(x, K.tiles, int_or_none(cb.tiles));
        put(x, K.bytes, int_or_none(cb.bytes));
        PyList_Append(cbl, x);
        Py_DECREF(x);
    }
    put(res, K.cb_bytes, integer(r.cb_bytes));

    PyObject* sy = PyDict_New();
    put(d, K.sync, sy);
    put(sy, K.barriers, integer(r.barriers));
    put(sy, K.barriers_in_loops, integer(r.barriers_in_loops));
    put(sy, K.divergent_barriers, integer(r.divergent_barriers));

    PyObject* me = PyDict_New();
    put(d, K.memory, me);
    put(me, K.vector_loads, integer(r.vector_loads));
    put(me, K.vector_stores, integer(r.vector_stores));
    put(me, K.vector_casts, integer(r.vector_casts));
    put(me, K.unit_stride, integer(r.unit_stride));
    put(me, K.strided, integer(r.strided));
    put(me, K.uniform, integer(r.uniform));
    put(me, K.irregular, integer(r.irregular));
    put(me, K.atomics, integer(r.atomics));

    PyObject* ab = PyDict_New();
    put(d, K.abi, ab);
    put(ab, K.entry, r.entry.empty() ? none() : str(r.entry));
    PyObject* kl = PyList_New(0);
    put(ab, K.kernels, kl);
    for (const an::KernelInfo& k : r.kernels) {
        PyObject* x = PyDict_New();
        put(x, K.name, str(k.name));
        put(x, K.line, integer(k.line));
        put(x, K.col, integer(k.col));
        put(x, K.entry, boolean(k.entry));
        put(x, K.nargs, integer(k.nargs));
        PyObject* al = PyList_New(0);
        put(x, K.args, al);
        for (const an::ArgInfo& a : k.args) {
            PyObject* y = PyDict_New();
            put(y, K.name, str(a.name));
            put(y, K.type, str(a.type));
            put(y, K.space, PyUnicode_FromString(a.space));
            put(y, K.pointer, integer(a.pointer));
            put(y, K.const_, boolean(a.is_const));
            PyList_Append(al, y);
            Py_DECREF(y);
        }
        put(x, K.local_mem_bytes, integer(k.local_mem_bytes));
        put(x, K.local_mem_unknown, boolean(k.local_mem_unknown));
        put(x, K.dynamic_shared, boolean(k.dynamic_shared));
        put(x, K.private_bytes, integer(k.private_bytes));
        put(x, K.registers, integer(k.registers));
        put(x, K.barriers, integer(k.barriers));
        put(x, K.reqd_work_group_size, ints_or_none(k.reqd_work_group_size));
        put(x, K.launch_bounds, ints_or_none(k.launch_bounds));
        put(x, K.launch, int_or_none(k.launch));
        PyList_Append(kl, x);
        Py_DECREF(x);
    }
    put(ab, K.runtime_args, int_or_none(r.runtime_args));
    put(ab, K.compile_time_args, int_or_none(r.compile_time_args));

    PyObject* ll = PyList_New(0);
    put(d, K.launch, ll);
    for (const an::LaunchInfo& l : r.launches) {
        PyObject* x = PyDict_New();
        put(x, K.kernel, str(l.kernel));
        put(x, K.line, integer(l.line));
        put(x, K.text, str(l.text));
        put(x, K.ok, boolean(l.ok));
        put(x, K.error, l.error.empty() ? none() : str(l.error));
        put(x, K.grid_style, boolean(l.grid_style));
        put(x, K.global, strs(l.global));
        put(x, K.local, l.local.empty() ? none() : strs(l.local));
        put(x, K.smem, l.smem.empty() ? none() : str(l.smem));
        PyList_Append(ll, x);
        Py_DECREF(x);
    }

    PyObject* st = PyDict_New();
    put(d, K.stats, st);
    put(st, K.bytes, integer(static_cast<long long>(r.bytes)));
    put(st, K.lines, integer(r.lines));
    put(st, K.tokens, integer(r.tokens));
    put(st, K.functions, integer(r.functions));
    return guard.release().ptr();
}

// Reads of the `expected` dict through the C API with interned keys (pybind11's item access
// builds a key object per lookup).
struct ExpKeys {
    PyObject *name, *args, *arg_count, *local_mem_bytes, *max_work_group_size, *tile_bytes, *kind, *dtype, *c_type;
    ExpKeys() {
        name = PyUnicode_InternFromString("name");
        args = PyUnicode_InternFromString("args");
        arg_count = PyUnicode_InternFromString("arg_count");
        local_mem_bytes = PyUnicode_InternFromString("local_mem_bytes");
        max_work_group_size = PyUnicode_InternFromString("max_work_group_size");
        tile_bytes = PyUnicode_InternFromString("tile_bytes");
        kind = PyUnicode_InternFromString("kind");
        dtype = PyUnicode_InternFromString("dtype");
        c_type = PyUnicode_InternFromString("c_type");
    }
};

const ExpKeys& exp_keys() {
    static const ExpKeys* k = new ExpKeys();
    return *k;
}

PyObject* item(PyObject* d, PyObject* key) {
    PyObject* v = PyDict_GetItemWithError(d, key);  // borrowed
    if (!v && PyErr_Occurred()) throw py::error_already_set();
    return v == Py_None ? nullptr : v;
}

std::string opt_str(PyObject* d, PyObject* key) {
    PyObject* v = item(d, key);
    if (!v) return std::string();
    if (!PyUnicode_Check(v)) {
        throw py::type_error(std::string("expected[\"") + PyUnicode_AsUTF8(key) + "\"] must be a string");
    }
    Py_ssize_t n = 0;
    const char* p = PyUnicode_AsUTF8AndSize(v, &n);
    if (!p) throw py::error_already_set();
    return std::string(p, static_cast<size_t>(n));
}

int64_t opt_int(PyObject* d, PyObject* key) {
    PyObject* v = item(d, key);
    if (!v) return -1;
    if (!PyLong_Check(v) || PyBool_Check(v)) {
        throw py::type_error(std::string("expected[\"") + PyUnicode_AsUTF8(key) + "\"] must be an int");
    }
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred()) throw py::error_already_set();
    return x;
}

Expected parse_expected(const py::object& o) {
    Expected e;
    if (o.is_none()) return e;
    if (!PyDict_Check(o.ptr())) throw py::type_error("expected must be a dict or None");
    const ExpKeys& K = exp_keys();
    PyObject* d = o.ptr();
    e.name = opt_str(d, K.name);
    e.arg_count = opt_int(d, K.arg_count);
    e.local_mem_bytes = opt_int(d, K.local_mem_bytes);
    e.max_work_group_size = opt_int(d, K.max_work_group_size);
    e.tile_bytes = opt_int(d, K.tile_bytes);
    if (PyObject* a = item(d, K.args)) {
        if (!PyList_Check(a) && !PyTuple_Check(a)) throw py::type_error("expected[\"args\"] must be a list of dicts");
        e.has_args = true;
        const Py_ssize_t n = PySequence_Fast_GET_SIZE(a);
        PyObject** items = PySequence_Fast_ITEMS(a);
        e.args.reserve(static_cast<size_t>(n));
        for (Py_ssize_t i = 0; i < n; ++i) {
            PyObject* ad = items[i];
            if (!PyDict_Check(ad)) throw py::type_error("expected[\"args\"] items must be dicts");
            ExpectedArg x;
            x.name = opt_str(ad, K.name);
            x.kind = opt_str(ad, K.kind);
            x.dtype = opt_str(ad, K.dtype);
            x.c_type = opt_str(ad, K.c_type);
            e.args.push_back(std::move(x));
        }
    }
    return e;
}

Target target_of(PyObject* t) {
    if (!t || t == Py_None) return Target::OpenCL;
    if (!PyUnicode_Check(t)) throw py::type_error("target must be a string");
    if (PyUnicode_CompareWithASCIIString(t, "opencl") == 0) return Target::OpenCL;
    if (PyUnicode_CompareWithASCIIString(t, "cuda") == 0) return Target::CUDA;
    if (PyUnicode_CompareWithASCIIString(t, "ttmetal") == 0 || PyUnicode_CompareWithASCIIString(t, "tt-metal") == 0 ||
        PyUnicode_CompareWithASCIIString(t, "tt_metal") == 0)
        return Target::TTMetal;
    const char* u = PyUnicode_AsUTF8(t);
    throw py::value_error(std::string("unknown target `") + (u ? u : "?") + "` (known: opencl, cuda, ttmetal)");
}

PyObject* analyze_impl(PyObject* source, PyObject* target, PyObject* expected) {
    const Target t = target_of(target);
    const Expected e = parse_expected(py::reinterpret_borrow<py::object>(expected ? expected : Py_None));
    const char* data = nullptr;
    Py_ssize_t size = 0;
    py::object hold;
    if (PyBytes_Check(source)) {
        if (PyBytes_AsStringAndSize(source, const_cast<char**>(&data), &size)) throw py::error_already_set();
    } else if (PyUnicode_Check(source)) {
        data = PyUnicode_AsUTF8AndSize(source, &size);
        if (!data) {  // lone surrogates: encode them anyway, they end up as invalid bytes
            PyErr_Clear();
            hold = py::reinterpret_steal<py::object>(PyUnicode_AsEncodedString(source, "utf-8", "surrogatepass"));
            if (!hold) throw py::error_already_set();
            if (PyBytes_AsStringAndSize(hold.ptr(), const_cast<char**>(&data), &size)) throw py::error_already_set();
        }
    } else {
        throw py::type_error("source must be str or bytes");
    }
    Report r;
    PyThreadState* saved = PyEval_SaveThread();  // the analysis runs without the GIL
    try {
        r = an::analyze(std::string_view(data, static_cast<size_t>(size)), t, e);
    } catch (...) {
        PyEval_RestoreThread(saved);
        throw;
    }
    PyEval_RestoreThread(saved);
    return to_python(r);
}

// analyze(source, target="opencl", expected=None): a plain C-API entry point (vectorcall
// convention), so that a call costs no more than the analysis and the dict it returns.
PyObject* analyze_fast(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* slot[3] = {nullptr, nullptr, nullptr};
    static const char* const names[3] = {"source", "target", "expected"};
    if (nargs > 3) {
        PyErr_Format(PyExc_TypeError, "analyze() takes at most 3 arguments (%zd given)", nargs);
        return nullptr;
    }
    for (Py_ssize_t i = 0; i < nargs; ++i) slot[i] = args[i];
    if (kwnames) {
        const Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t k = 0; k < nk; ++k) {
            PyObject* kw = PyTuple_GET_ITEM(kwnames, k);
            int which = -1;
            for (int j = 0; j < 3; ++j)
                if (PyUnicode_CompareWithASCIIString(kw, names[j]) == 0) which = j;
            if (which < 0) {
                PyErr_Format(PyExc_TypeError, "analyze() got an unexpected keyword argument '%U'", kw);
                return nullptr;
            }
            if (slot[which]) {
                PyErr_Format(PyExc_TypeError, "analyze() got multiple values for argument '%s'", names[which]);
                return nullptr;
            }
            slot[which] = args[nargs + k];
        }
    }
    if (!slot[0]) {
        PyErr_SetString(PyExc_TypeError, "analyze() missing required argument 'source'");
        return nullptr;
    }
    try {
        return analyze_impl(slot[0], slot[1], slot[2]);
    } catch (py::error_already_set& err) {
        err.restore();
    } catch (py::builtin_exception& err) {
        err.set_error();
    } catch (const std::bad_alloc&) {
        PyErr_NoMemory();
    } catch (const std::exception& err) {
        PyErr_SetString(PyExc_RuntimeError, err.what());
    }
    return nullptr;
}

PyMethodDef analyze_def = {
    "analyze", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(&analyze_fast)),
    METH_FASTCALL | METH_KEYWORDS,
    "analyze(source, target='opencl', expected=None)\n--\n\n"
    "Statically analyse a kernel source (str or bytes) for a target (opencl, cuda, ttmetal).\n"
    "`expected`: None or a dict {name, args: [{name, kind, dtype, c_type}], arg_count, local_mem_bytes,\n"
    "max_work_group_size, tile_bytes}. Returns a plain dict report; the GIL is released while analysing."};

}  // namespace

void bind_analyzer(py::module_& m) {
    PyObject* f = PyCFunction_NewEx(&analyze_def, nullptr, m.attr("__name__").ptr());
    if (!f) throw py::error_already_set();
    m.attr("analyze") = py::reinterpret_steal<py::object>(f);
}

}  // namespace uhop
