// Shared state of one analysis: tokens, AST, constants, call graph, per-function
// facts (variables, work-item dependence), and the rule families' entry points.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "launch.hpp"
#include "lexer.hpp"
#include "parser.hpp"
#include "report.hpp"

namespace uhop::an {

// A per-symbol map that resets in O(entries touched).
template <class T>
struct SymMap {
    std::vector<T> v;
    std::vector<uint8_t> on;
    std::vector<uint32_t> touched;
    T def{};
    void init(size_t n) {
        v.assign(n, def);
        on.assign(n, 0);
        touched.clear();
    }
    // Grow to n symbols keeping the all-clear state (the map must be clear()ed).
    void ensure(size_t n) {
        if (v.size() < n) {
            v.resize(n, def);
            on.resize(n, 0);
        }
    }
    void swap(SymMap& o) {
        v.swap(o.v);
        on.swap(o.on);
        touched.swap(o.touched);
    }
    bool has(uint32_t s) const { return s < on.size() && on[s]; }
    T get(uint32_t s) const { return has(s) ? v[s] : def; }
    T& put(uint32_t s) {
        if (!on[s]) {
            on[s] = 1;
            touched.push_back(s);
        }
        return v[s];
    }
    void clear() {
        for (uint32_t s : touched) {
            on[s] = 0;
            v[s] = def;
        }
        touched.clear();
    }
};

// Class of an integer value along the fastest work-item id (get_global_id(0),
// get_local_id(0), threadIdx.x): uniform, linear with a stride, or irregular.
struct Cls {
    enum : uint8_t { U = 0, L = 1, N = 2 };
    uint8_t k = U;
    bool has_c = false;  // U: known constant c
    int64_t c = 0;
    int64_t stride = 0;  // L: coefficient (0: symbolic)
};

// Every buffer an analysis needs, reused by the next analysis on the same thread (one
// thread-local lookup per analysis; the maps are left clear after each function).
struct Workspace {
    Lexed lx;
    Ast ast;
    SymMap<int32_t> var, nodes;
    SymMap<uint8_t> varying, flags;
    SymMap<Cls> cls;
    // work-item dependence
    std::vector<uint8_t> seed, on;
    std::vector<std::pair<int32_t, int32_t>> edges;
    std::vector<uint32_t> start, fill;
    std::vector<int32_t> adj, queue;
    // synchronisation
    std::vector<uint32_t> relevance, relevance_local;
    std::vector<uint8_t> local;
    std::vector<uint8_t> callinfo;  // symbol -> cached call class (see Ctx::call_info)
    // @launch
    LaunchSpec spec;
    std::vector<std::string_view> sizes, names;
    std::vector<int64_t> loc;
};

// word helpers
bool starts_with(std::string_view s, std::string_view p);
int vector_width_of_call(std::string_view name, bool& is_load, bool& is_store);  // vloadN/vstoreN
bool is_atomic_name(std::string_view name);

struct FnRes {
    int64_t local_bytes = 0;
    bool local_unknown = false, dyn_shared = false;
    int64_t private_bytes = 0;
    std::vector<PrivArray> priv;
    int regs = 0, barriers = 0;
    std::vector<CBInfo> cbs;
    int runtime_args = -1, ct_args = -1;
};

struct Ctx {
    std::string_view src;
    Target target;
    const Expected& exp;
    Lexed& lx;
    Ast& ast;
    Report& rep;

    std::vector<int64_t> cval;   // integer constants: macros and const declarations
    std::vector<uint8_t> chas;
    std::vector<int32_t> gvar;   // symbol -> file-scope declaration (0: none)
    std::vector<int32_t> fn_of_sym;
    std::vector<uint8_t> fn_barrier, fn_ret_varying;
    std::vector<std::vector<std::pair<int32_t, int32_t>>> calls;  // per function: (callee, call expr)
    std::vector<int> kernels;
    int entry = -1;
    std::vector<FnRes> res;

    // per-function facts (valid while a function is being analysed)
    int fn = -1;
    SymMap<int32_t>& var;      // symbol -> declaration (parameters and locals)
    SymMap<uint8_t>& varying;  // symbol -> depends on the work-item id
    SymMap<Cls>& cls;          // symbol -> class along the fastest id (memory rules)
    SymMap<uint8_t>& flags;    // scratch per function (rules)
    bool file_local = false;  // file-scope __shared__ / __local arrays exist

    Workspace& ws;

    Ctx(std::string_view s, Target t, const Expected& e, Workspace& w, Report& r)
        : src(s), target(t), exp(e), lx(w.lx), ast(w.ast), rep(r), var(w.var), varying(w.varying), cls(w.cls),
          flags(w.flags), ws(w) {}

    const Token& tok(uint32_t i) const { return lx.toks[i]; }
    std::string_view text(uint32_t i) const { return src.substr(lx.toks[i].off, lx.toks[i].len); }
    std::string_view sym_text(uint32_t s) const { return s < lx.syms.size() ? lx.syms[s] : std::string_view(); }
    std::string expr_text(int32_t e, size_t max = 60) const;
    std::string tokens_text(uint32_t b, uint32_t e, size_t max = 60) const;
    bool same_text(int32_t a, int32_t b) const;
    uint64_t text_hash(int32_t e) const;  // equal texts hash equal (same_text confirms)
    std::string fname(int f) const;
    void add(Sev s, const char* code, uint32_t tok, std::string msg, int f = -2);
    void add_lc(Sev s, const char* code, uint32_t line, uint32_t col, std::string msg, int f = -2);
    bool cint(int32_t e, int64_t& v) const { return const_eval(ast, lx.toks, src, e, cval, chas, v); }
    const Decl* decl_of(uint32_t sym) const;
    int32_t root_sym(int32_t e) const;  // the variable an lvalue or pointer expression is based on
    bool is_varying(int32_t e) const;   // expression depends on the work-item id
    bool varying_source(const Expr& x) const {  // the node itself reads a per-work-item id
        if (x.kind == EK::Call) return varying_call(x);
        return x.kind == EK::Name && target == Target::CUDA && x.op == W::threadIdx;
    }
    bool varying_call(const Expr& x) const;
    bool is_barrier_call(const Expr& x) const;
    // What a called name is, cached per symbol: bits 0-4 vector width (vloadN/vstoreN), bit 5 load,
    // bit 6 store, bit 7 atomic. 0: none of those.
    uint8_t call_info(uint32_t sym) {
        uint8_t& v = ws.callinfo[sym];
        if (v == 0xFF) {
            bool ld, st;
            const int w = vector_width_of_call(sym_text(sym), ld, st);
            v = static_cast<uint8_t>(w | (ld ? 32 : 0) | (st ? 64 : 0));
            if (!w && is_atomic_name(sym_text(sym))) v = 128;
        }
        return v;
    }
    bool is_cl() const { return target == Target::OpenCL; }
    bool is_cuda() const { return target == Target::CUDA; }
    bool is_tt() const { return target == Target::TTMetal; }
};

// Pre-order walk over an expression tree; f(id, expr) returns false to skip the children.
template <class F>
void visit(const Ast& ast, int32_t e, F&& f) {
    if (e < 0) return;
    const Expr& x = ast.exprs[e];
    if (!f(e, x)) return;
    if (x.a >= 0) visit(ast, x.a, f);
    if (x.b >= 0) visit(ast, x.b, f);
    if (x.c >= 0) visit(ast, x.c, f);
    for (uint32_t i = 0; i < x.nlist; ++i) visit(ast, ast.lists[x.list + i], f);
}

// Calls f(stmt) for every statement under s (pre-order) and g(expr) for each of their
// top-level expressions (declaration initialisers and array sizes included).
template <class FS, class FE>
void walk_stmts(const Ast& ast, int32_t s, FS&& fs, FE&& fe) {
    if (s < 0) return;
    const Stmt& st = ast.stmts[s];
    if (!fs(s, st)) return;
    if (st.kind == SK::Decl) {
        for (uint32_t i = 0; i < st.nlist; ++i) {
            const Decl& d = ast.decls[ast.lists[st.list + i]];
            for (int k = 0; k < d.ndims; ++k) fe(d.dims[k]);
            if (d.init >= 0) fe(d.init);
        }
        return;
    }
    if (st.kind == SK::Block) {
        for (uint32_t i = 0; i < st.nlist; ++i) walk_stmts(ast, ast.lists[st.list + i], fs, fe);
        return;
    }
    if (st.e0 >= 0) fe(st.e0);
    if (st.e1 >= 0) fe(st.e1);
    if (st.s0 >= 0) walk_stmts(ast, st.s0, fs, fe);
    if (st.s1 >= 0) walk_stmts(ast, st.s1, fs, fe);
}

std::string type_text(const Ctx& c, const Decl& d);

// rule families (one file each)
void rules_resources(Ctx& c, int f);
void rules_sync(Ctx& c, int f);
void rules_memory(Ctx& c, int f);
void rules_safety_fn(Ctx& c, int f);
void rules_safety_file(Ctx& c);
void rules_ttmetal(Ctx& c, int f);
void rules_abi(Ctx& c);
void rules_launch(Ctx& c);
void aggregate_resources(Ctx& c);

}  // namespace uhop::an
