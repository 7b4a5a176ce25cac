// ABI: the entry kernel exists under the expected name (and is the last stage), every
// kernel takes the expected arguments: count, order, address spaces and types.
#include <algorithm>

#include "analysis.hpp"

namespace uhop::an {

namespace {

struct Want {
    bool ptr = false;
    uint16_t base = 0;  // word of the expected element/scalar type (0: unknown)
    bool f16 = false;
    bool output = false;
    bool size = false;
};

Want want_of(const Ctx& c, const ExpectedArg& a) {
    Want w;
    const std::string& k = a.kind;
    if (k == "input" || k == "output" || k == "temp") w.ptr = true;
    else if (k == "scalar" || k == "size") w.ptr = false;
    else w.ptr = a.c_type.find('*') != std::string::npos;
    w.output = k == "output" || k == "temp";
    w.size = k == "size";
    const std::string& d = a.dtype;
    if (d == "f32") w.base = W::float_;
    else if (d == "f64") w.base = W::double_;
    else if (d == "f16") { w.base = W::half; w.f16 = true; }
    else if (d == "i32") w.base = W::int_;
    else if (d == "i64") w.base = W::long_;
    else if (d == "u32") w.base = W::uint;
    if (k == "size") w.base = d == "i64" ? static_cast<uint16_t>(W::long_) : static_cast<uint16_t>(W::int_);
    if (!w.base && !a.c_type.empty()) {  // fall back to the C type text
        std::string word;
        for (size_t i = 0; i <= a.c_type.size(); ++i) {
            char ch = i < a.c_type.size() ? a.c_type[i] : ' ';
            if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_') {
                word.push_back(ch);
            } else {
                if (!word.empty()) {
                    uint16_t wd = word_id(word);
                    if (is_builtin_type(wd)) w.base = wd == W::unsigned_ ? static_cast<uint16_t>(W::uint) : wd;
                }
                word.clear();
            }
        }
    }
    (void)c;
    return w;
}

// How a message shows the expected type (built only for messages).
std::string shown_of(const Ctx& c, const ExpectedArg& a, const Want& w) {
    if (!a.c_type.empty()) return a.c_type;
    std::string t = w.base ? std::string(word_text(w.base)) : std::string("?");
    if (w.ptr) t = (c.is_cl() ? "__global " : "") + std::string(w.output ? "" : "const ") + t + "*";
    return t;
}

bool base_ok(const Ctx& c, const Want& w, const Decl& p) {
    if (!w.base) return true;
    uint16_t b = p.ts.word;
    if (b == w.base) return true;
    if (w.f16) {
        if (b == W::half_cuda || b == W::half) return true;
        if (w.ptr && (b == W::ushort || b == W::short_ || b == W::uint16_t_)) return true;
        if (!w.ptr && b == W::float_) return true;
    }
    if (w.base == W::int_ && (b == W::int32_t_) && !c.is_cl()) return true;
    // a size may always be 64-bit (the runtime passes what the kernel declares); an `int` size is
    // an error only where the spec's shape needs 64-bit indices (dtype i64)
    if (w.size && b == W::long_) return true;
    if (w.size && w.base == W::long_ && b == W::int64_t_ && !c.is_cl()) return true;
    return false;
}

void check_args(Ctx& c, int k, const std::vector<const ExpectedArg*>& want) {
    const Function& fn = c.ast.funcs[k];
    bool order_reported = false;
    for (uint32_t i = 0; i < fn.nparams && i < want.size(); ++i) {
        const Decl& p = c.ast.decls[fn.params + i];
        const ExpectedArg& e = *want[i];
        const uint32_t at = p.name_tok ? p.name_tok : p.tb;
        const std::string_view pname = p.sym ? c.sym_text(p.sym) : std::string_view("(unnamed)");
        // message pieces, built only when a finding is reported
        auto kname = [&]() { return c.fname(k); };
        auto where = [&]() {
            return "kernel `" + kname() + "` argument " + std::to_string(i) + " (`" + std::string(pname) +
                   "`, for " + (e.kind.empty() ? std::string("argument") : e.kind) + " `" + e.name + "`)";
        };
        auto got = [&]() { return type_text(c, p); };
        if (!e.name.empty() && p.sym && pname != e.name) {
            size_t j = 0;
            for (; j < want.size(); ++j)
                if (want[j]->name == pname) break;
            if (j < want.size()) {
                if (!order_reported) {
                    std::string order;
                    for (size_t q = 0; q < want.size(); ++q) order += (q ? ", " : "") + want[q]->name;
                    c.add(Sev::Error, "abi.arg-order", at,
                          "kernel `" + kname() + "` takes `" + std::string(pname) + "` as argument " +
                              std::to_string(i) + " but the ABI passes it as argument " + std::to_string(j) +
                              " (expected order: " + order + ")",
                          k);
                    order_reported = true;
                }
                continue;  // the types follow the names: do not pile up errors
            }
            c.add(Sev::Warning, "abi.arg-name", at,
                  "kernel `" + kname() + "` argument " + std::to_string(i) + " is named `" + std::string(pname) +
                      "`; the ABI calls it `" + e.name + "`",
                  k);
        }
        const Want w = want_of(c, e);
        const bool is_ptr = p.ptr > 0 || p.is_array();
        if (w.ptr != is_ptr) {
            c.add(Sev::Error, "abi.arg-type", at,
                  where() + " is `" + got() + "`; the ABI expects " + (w.ptr ? "a pointer `" : "a value `") +
                      shown_of(c, e, w) + "`",
                  k);
            continue;
        }
        if (w.ptr) {
            if (c.is_cl() && p.ts.space != SP_GLOBAL) {
                std::string sp = p.ts.space == SP_LOCAL ? "__local" : p.ts.space == SP_CONSTANT ? "__constant"
                                 : p.ts.space == SP_PRIVATE ? "__private" : "no address space (private)";
                c.add(Sev::Error, "abi.address-space", at,
                      where() + " is `" + got() + "` (" + sp + "); the ABI passes a `__global` buffer: `" +
                          shown_of(c, e, w) + "`",
                      k);
                continue;
            }
            if (p.ptr > 1) {
                c.add(Sev::Error, "abi.arg-type", at,
                      where() + " is `" + got() + "`; the ABI expects `" + shown_of(c, e, w) + "`", k);
                continue;
            }
            if (is_vector_type(p.ts.word)) {
                c.add(Sev::Error, "abi.arg-type", at,
                      where() + " is `" + got() + "`; the ABI expects a scalar element type: `" + shown_of(c, e, w) +
                          "`",
                      k);
                continue;
            }
            if (w.output && p.ts.is_const) {
                c.add(Sev::Error, "abi.arg-type", at,
                      where() + " is `" + got() + "`: the kernel writes " + e.kind + "s, so it cannot be const", k);
                continue;
            }
        }
        if (!base_ok(c, w, p)) {
            c.add(Sev::Error, "abi.arg-type", at,
                  where() + " is `" + got() + "`; the ABI expects `" + shown_of(c, e, w) + "`", k);
        }
    }
}

std::string names_of(const std::vector<const ExpectedArg*>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i]->name;
    return s;
}

}  // namespace

void rules_abi(Ctx& c) {
    // what each kernel looks like
    for (int k : c.kernels) {
        const Function& fn = c.ast.funcs[k];
        KernelInfo info;
        info.name = c.fname(k);
        info.line = c.tok(fn.name_tok).line;
        info.col = c.tok(fn.name_tok).col;
        info.entry = k == c.entry;
        info.nargs = static_cast<int>(fn.nparams);
        if (!info.entry) {  // every stage shares the entry's ABI: list the entry's arguments only
            c.rep.kernels.push_back(std::move(info));
            continue;
        }
        info.args.reserve(fn.nparams);
        for (uint32_t i = 0; i < fn.nparams; ++i) {
            const Decl& p = c.ast.decls[fn.params + i];
            ArgInfo a;
            a.name = p.sym ? std::string(c.sym_text(p.sym)) : std::string();
            a.type = type_text(c, p);
            a.space = p.ts.space == SP_GLOBAL ? "global" : p.ts.space == SP_LOCAL ? "local"
                      : p.ts.space == SP_CONSTANT ? "constant" : p.ts.space == SP_PRIVATE ? "private" : "";
            a.pointer = p.ptr + (p.is_array() ? 1 : 0);
            a.is_const = p.ts.is_const;
            const Token& t = c.tok(p.name_tok ? p.name_tok : p.tb);
            a.line = t.line;
            a.col = t.col;
            info.args.push_back(std::move(a));
        }
        c.rep.kernels.push_back(std::move(info));
    }
    if (c.entry >= 0) c.rep.entry = c.fname(c.entry);

    if (c.kernels.empty()) {
        std::string msg;
        if (c.is_tt()) {
            msg = "no TT-Metal kernel entry: expected `void kernel_main()` (data movement) or `void MAIN` (compute)";
        } else {
            msg = c.is_cl() ? "no `__kernel` function found" : "no `__global__` function found";
            bool other = false;
            for (const Token& t : c.lx.toks) {
                if (t.kind != TK::Ident) continue;
                if ((c.is_cl() && t.code == W::cu_global) ||
                    (c.is_cuda() && (t.code == W::cl_kernel || t.code == W::cl_kernel2)) ||
                    t.code == W::kernel_main) {
                    other = true;
                    break;
                }
            }
            if (other) msg += " (the source looks written for another target: check --target)";
        }
        c.add_lc(Sev::Error, "abi.no-kernel", 1, 1, msg, -1);
        return;
    }

    const Expected& exp = c.exp;
    if (c.is_tt()) {
        // a KernelSpec's ABI is not a TT-Metal kernel's runtime arguments: only arg_count is checked
        const int64_t want = exp.arg_count;
        const int got = c.res[c.entry].runtime_args;
        if (want >= 0 && got != want) {
            c.add(Sev::Error, "abi.arg-count", c.ast.funcs[c.entry].name_tok,
                  "the kernel reads " + std::to_string(got) + " runtime argument(s) with get_arg_val; expected " +
                      std::to_string(want),
                  c.entry);
        }
        return;
    }

    if (!exp.name.empty()) {
        bool found = false;
        for (int k : c.kernels)
            if (c.fname(k) == exp.name) found = true;
        if (!found) {
            std::string names;
            for (size_t i = 0; i < c.kernels.size(); ++i) names += (i ? ", " : "") + c.fname(c.kernels[i]);
            const int k = c.kernels.back();
            c.add(Sev::Error, "abi.kernel-name", c.ast.funcs[k].name_tok,
                  "no kernel named `" + exp.name + "` (found: " + names + ")", k);
        } else if (c.fname(c.kernels.back()) != exp.name) {
            c.add(Sev::Error, "abi.entry-not-last", c.ast.funcs[c.entry].name_tok,
                  "the entry kernel `" + exp.name + "` must be the last kernel of the source (stages run in order; "
                  "the last is `" + c.fname(c.kernels.back()) + "`)",
                  c.entry);
        }
    }

    if (exp.has_args) {
        std::vector<const ExpectedArg*> with, without;
        for (const ExpectedArg& a : exp.args) {
            with.push_back(&a);
            if (a.kind != "temp") without.push_back(&a);
        }
        const bool has_temps = with.size() != without.size();
        for (int k : c.kernels) {
            const Function& fn = c.ast.funcs[k];
            if (fn.nparams == without.size()) {
                check_args(c, k, without);
            } else if (has_temps && fn.nparams == with.size()) {
                check_args(c, k, with);
            } else {
                std::string want = std::to_string(without.size());
                if (has_temps) want += " (or " + std::to_string(with.size()) + " with the temporaries)";
                c.add(Sev::Error, "abi.arg-count", fn.name_tok,
                      "kernel `" + c.fname(k) + "` takes " + std::to_string(fn.nparams) +
                          " argument(s); the ABI expects " + want + ": " + names_of(with),
                      k);
            }
        }
    } else if (exp.arg_count >= 0) {
        const Function& fn = c.ast.funcs[c.entry];
        if (static_cast<int64_t>(fn.nparams) != exp.arg_count) {
            c.add(Sev::Error, "abi.arg-count", fn.name_tok,
                  "kernel `" + c.fname(c.entry) + "` takes " + std::to_string(fn.nparams) +
                      " argument(s); expected " + std::to_string(exp.arg_count),
                  c.entry);
        }
    }
}

}  // namespace uhop::an
