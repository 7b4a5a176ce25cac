// The analysis driver: lex, parse, constants, call graph, per-function facts
// (variables, work-item dependence), then every rule family.
#include "analysis.hpp"

#include <algorithm>

namespace uhop::an {

namespace {
constexpr size_t kMaxSource = 1u << 20;  // 1 MiB: far beyond any kernel
}

bool starts_with(std::string_view s, std::string_view p) { return s.size() >= p.size() && s.compare(0, p.size(), p) == 0; }

int vector_width_of_call(std::string_view n, bool& is_load, bool& is_store) {
    is_load = is_store = false;
    std::string_view rest;
    if (starts_with(n, "vloada_half")) { is_load = true; rest = n.substr(11); }
    else if (starts_with(n, "vstorea_half")) { is_store = true; rest = n.substr(12); }
    else if (starts_with(n, "vload_half")) { is_load = true; rest = n.substr(10); }
    else if (starts_with(n, "vstore_half")) { is_store = true; rest = n.substr(11); }
    else if (starts_with(n, "vload")) { is_load = true; rest = n.substr(5); }
    else if (starts_with(n, "vstore")) { is_store = true; rest = n.substr(6); }
    else return 0;
    if (!rest.empty() && rest[0] == '_') {  // rounding-mode suffix of vstore_half_rte etc.
        size_t u = rest.find_first_of("0123456789");
        rest = u == std::string_view::npos ? std::string_view() : rest.substr(u);
    }
    int w = 0;
    for (char ch : rest) {
        if (ch < '0' || ch > '9') break;
        w = w * 10 + (ch - '0');
        if (w > 16) break;
    }
    if (w == 0) w = 1;
    if (!(w == 1 || w == 2 || w == 3 || w == 4 || w == 8 || w == 16)) {
        is_load = is_store = false;
        return 0;
    }
    return w;
}

bool is_atomic_name(std::string_view n) {
    return starts_with(n, "atomic_") || starts_with(n, "atom_") || starts_with(n, "atomicAdd") ||
           starts_with(n, "atomicSub") || starts_with(n, "atomicExch") || starts_with(n, "atomicMin") ||
           starts_with(n, "atomicMax") || starts_with(n, "atomicInc") || starts_with(n, "atomicDec") ||
           starts_with(n, "atomicCAS") || starts_with(n, "atomicAnd") || starts_with(n, "atomicOr") ||
           starts_with(n, "atomicXor") || starts_with(n, "__atomic_");
}

std::string type_text(const Ctx& c, const Decl& d) {
    std::string t;
    t.reserve(40);
    switch (d.ts.space) {
        case SP_GLOBAL: t += "__global "; break;
        case SP_LOCAL: t += c.is_cuda() ? "__shared__ " : "__local "; break;
        case SP_CONSTANT: t += c.is_cuda() ? "__constant__ " : "__constant "; break;
        case SP_PRIVATE: t += "__private "; break;
        default: break;
    }
    if (d.ts.is_const) t += "const ";
    if (d.ts.word) t += std::string(word_text(d.ts.word));
    else if (d.ts.type_sym) t += std::string(c.sym_text(d.ts.type_sym));
    else t += "?";
    for (int i = 0; i < d.ptr; ++i) t += "*";
    return t;
}

// ------------------------------------------------------------------ Ctx helpers
std::string Ctx::tokens_text(uint32_t b, uint32_t e, size_t max) const {
    if (b >= e || e > lx.toks.size()) return std::string();
    const Token& f = lx.toks[b];
    const Token& l = lx.toks[e - 1];
    std::string_view raw = src.substr(f.off, l.off + l.len - f.off);
    std::string out;
    out.reserve(std::min(raw.size(), max + 4));
    bool space = false;
    for (char ch : raw) {
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            space = true;
            continue;
        }
        if (space && !out.empty()) out.push_back(' ');
        space = false;
        out.push_back(ch);
        if (out.size() >= max) {
            out += "...";
            break;
        }
    }
    return out;
}

std::string Ctx::expr_text(int32_t e, size_t max) const {
    if (e < 0) return std::string();
    const Expr& x = ast.exprs[e];
    return tokens_text(x.tb, x.te, max);
}

bool Ctx::same_text(int32_t a, int32_t b) const {
    if (a < 0 || b < 0) return a == b;
    const Expr& x = ast.exprs[a];
    const Expr& y = ast.exprs[b];
    if (x.te - x.tb != y.te - y.tb) return false;
    for (uint32_t i = 0; i < x.te - x.tb; ++i) {
        const Token& s = lx.toks[x.tb + i];
        const Token& t = lx.toks[y.tb + i];
        if (s.kind != t.kind) return false;
        if (s.kind == TK::Ident) {
            if (s.sym != t.sym) return false;  // interned: same symbol, same text
        } else if (s.kind == TK::Punct) {
            if (s.code != t.code) return false;
        } else if (s.len != t.len || src.compare(s.off, s.len, src.substr(t.off, t.len)) != 0) {
            return false;
        }
    }
    return true;
}

uint64_t Ctx::text_hash(int32_t e) const {
    if (e < 0) return 0;
    const Expr& x = ast.exprs[e];
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (x.te - x.tb);
    for (uint32_t i = x.tb; i < x.te; ++i) {
        const Token& t = lx.toks[i];
        uint64_t v = t.kind == TK::Ident ? t.sym : t.kind == TK::Punct ? t.code : t.len;
        h = (h ^ (v + (static_cast<uint64_t>(t.kind) << 32))) * 0x100000001b3ULL;
    }
    return h;
}

std::string Ctx::fname(int f) const {
    if (f < 0 || f >= static_cast<int>(ast.funcs.size())) return std::string();
    return std::string(sym_text(ast.funcs[f].sym));
}

void Ctx::add(Sev s, const char* code, uint32_t t, std::string msg, int f) {
    const Token& k = t < lx.toks.size() ? lx.toks[t] : lx.toks.back();
    add_lc(s, code, k.line, k.col, std::move(msg), f);
}

void Ctx::add_lc(Sev s, const char* code, uint32_t line, uint32_t col, std::string msg, int f) {
    Finding x;
    x.sev = s;
    x.code = code;
    x.message = std::move(msg);
    x.line = line;
    x.col = col;
    x.function = fname(f == -2 ? fn : f);
    rep.findings.push_back(std::move(x));
}

const Decl* Ctx::decl_of(uint32_t sym) const {
    if (var.has(sym)) return &ast.decls[var.get(sym)];
    if (sym < gvar.size() && gvar[sym] > 0) return &ast.decls[gvar[sym]];
    return nullptr;
}

int32_t Ctx::root_sym(int32_t e) const {
    for (int guard = 0; e >= 0 && guard < 64; ++guard) {
        const Expr& x = ast.exprs[e];
        switch (x.kind) {
            case EK::Name: return static_cast<int32_t>(x.sym);
            case EK::Index: case EK::Member: case EK::Cast: case EK::Postfix: e = x.a; break;
            case EK::Unary:
                if (x.op == '*' || x.op == '&' || x.op == P_INC || x.op == P_DEC) { e = x.a; break; }
                return 0;
            case EK::Binary:
                if (x.op == '+' || x.op == '-') {
                    int32_t l = root_sym(x.a);
                    const Decl* d = l > 0 ? decl_of(static_cast<uint32_t>(l)) : nullptr;
                    if (d && (d->ptr || d->is_array())) return l;
                    if (x.op == '+') {
                        int32_t r = root_sym(x.b);
                        const Decl* dr = r > 0 ? decl_of(static_cast<uint32_t>(r)) : nullptr;
                        if (dr && (dr->ptr || dr->is_array())) return r;
                    }
                    return l;
                }
                return 0;
            case EK::Comma:
                if (x.nlist == 0) return 0;
                e = ast.lists[x.list + x.nlist - 1];
                break;
            default: return 0;
        }
    }
    return 0;
}

bool Ctx::varying_call(const Expr& x) const {
    if (target == Target::OpenCL) {
        switch (x.op) {
            case W::get_global_id: case W::get_local_id: case W::get_sub_group_local_id:
            case W::get_local_linear_id: case W::get_global_linear_id: case W::get_sub_group_id:
                return true;
            default: break;
        }
    }
    if (target == Target::CUDA && x.op == W::thread_rank) return true;
    if (x.sym < fn_of_sym.size()) {
        int32_t g = fn_of_sym[x.sym];
        if (g >= 0 && fn_ret_varying[g]) return true;
    }
    return false;
}

bool Ctx::is_varying(int32_t e) const {
    bool v = false;
    visit(ast, e, [&](int32_t, const Expr& x) {
        if (v) return false;
        if (x.kind == EK::Name && varying.get(x.sym)) v = true;
        else if (varying_source(x)) v = true;
        return !v;
    });
    return v;
}

bool Ctx::is_barrier_call(const Expr& x) const {
    if (x.kind != EK::Call) return false;
    if (target == Target::OpenCL) {
        if (x.op == W::barrier || x.op == W::work_group_barrier || x.op == W::sub_group_barrier) {
            return ast.exprs[x.a].kind == EK::Name;
        }
    } else if (target == Target::CUDA) {
        if (x.op == W::syncthreads || x.op == W::syncthreads_count || x.op == W::syncthreads_and ||
            x.op == W::syncthreads_or)
            return true;
        if (x.op == W::sync_method && ast.exprs[x.a].kind == EK::Member) return true;
    }
    if (ast.exprs[x.a].kind == EK::Name && x.sym < fn_of_sym.size()) {
        int32_t g = fn_of_sym[x.sym];
        if (g >= 0 && fn_barrier[g]) return true;
    }
    return false;
}

// ------------------------------------------------------------------ setup
namespace {

void build_constants(Ctx& c) {
    const size_t ns = c.lx.syms.size();
    c.cval.assign(ns, 0);
    c.chas.assign(ns, 0);
    for (size_t s = 0; s < ns; ++s) {
        if (c.ast.macro_has[s]) {
            c.chas[s] = c.ast.macro_has[s] == 1 ? 3 : 2;  // 3: macro (not overridden by declarations)
            c.cval[s] = c.ast.macro_val[s];
        }
    }
    for (size_t i = 1; i < c.ast.decls.size(); ++i) {
        const Decl& d = c.ast.decls[i];
        if (!d.sym || c.chas[d.sym] >= 2) continue;
        int64_t v;
        bool ok = !d.is_param && d.ts.is_const && !d.ptr && !d.is_array() && d.init >= 0 &&
                  (d.ts.word == 0 || d.ts.word == W::auto_ || is_integer_type(d.ts.word));
        if (ok) {
            // evaluate with the macros and constants so far (chas 3 counts as 1)
            std::vector<uint8_t>& h = c.chas;
            ok = const_eval(c.ast, c.lx.toks, c.src, d.init, c.cval, h, v);
        }
        if (!ok) {
            c.chas[d.sym] = 2;
        } else if (c.chas[d.sym] == 1 && c.cval[d.sym] != v) {
            c.chas[d.sym] = 2;
        } else {
            c.chas[d.sym] = 1;
            c.cval[d.sym] = v;
        }
    }
    for (size_t s = 0; s < ns; ++s)
        if (c.chas[s] == 3) c.chas[s] = 1;
}

void build_functions(Ctx& c) {
    const size_t nf = c.ast.funcs.size();
    c.fn_of_sym.assign(c.lx.syms.size(), -1);
    c.gvar.assign(c.lx.syms.size(), 0);
    for (int32_t s : c.ast.globals) {
        const Stmt& st = c.ast.stmts[s];
        for (uint32_t i = 0; i < st.nlist; ++i) {
            int32_t d = c.ast.lists[st.list + i];
            uint32_t sym = c.ast.decls[d].sym;
            if (sym && !c.gvar[sym]) c.gvar[sym] = d;
            if (c.ast.decls[d].ts.space == SP_LOCAL) c.file_local = true;
        }
    }
    for (size_t f = 0; f < nf; ++f) {
        const Function& fn = c.ast.funcs[f];
        if (c.fn_of_sym[fn.sym] < 0) c.fn_of_sym[fn.sym] = static_cast<int32_t>(f);
        if (fn.is_kernel) c.kernels.push_back(static_cast<int>(f));
    }
    c.fn_barrier.assign(nf, 0);
    c.fn_ret_varying.assign(nf, 0);
    c.res.assign(nf, FnRes());
    c.calls.assign(nf, {});
    for (size_t f = 0; f < nf; ++f) {
        const Function& fn = c.ast.funcs[f];
        auto& out = c.calls[f];
        bool direct_barrier = false;
        for (uint32_t i = fn.calls_b; i < fn.calls_e; ++i) {
            const int32_t id = c.ast.calls[i];
            const Expr& x = c.ast.exprs[id];
            const bool named = c.ast.exprs[x.a].kind == EK::Name;
            const bool helper = named && x.sym < c.fn_of_sym.size() && c.fn_of_sym[x.sym] >= 0;
            if (helper) out.emplace_back(c.fn_of_sym[x.sym], id);
            if (c.is_barrier_call(x)) {
                direct_barrier = true;
                if (!helper) ++c.res[f].barriers;
            }
        }
        c.fn_barrier[f] = direct_barrier;
    }
    for (int it = 0; it < 32; ++it) {
        bool changed = false;
        for (size_t f = 0; f < nf; ++f) {
            if (c.fn_barrier[f]) continue;
            for (auto& e : c.calls[f]) {
                if (c.fn_barrier[e.first]) {
                    c.fn_barrier[f] = 1;
                    changed = true;
                    break;
                }
            }
        }
        if (!changed) break;
    }
    // entry kernel: the expected name, else the last kernel
    if (!c.kernels.empty()) {
        c.entry = c.kernels.back();
        if (!c.exp.name.empty() && !c.is_tt()) {
            for (int k : c.kernels)
                if (c.sym_text(c.ast.funcs[k].sym) == c.exp.name) c.entry = k;
        }
    }
}

void load_vars(Ctx& c, int f) {
    const Function& fn = c.ast.funcs[f];
    for (uint32_t i = 0; i < fn.nparams; ++i) {
        const Decl& d = c.ast.decls[fn.params + i];
        if (d.sym && !c.var.has(d.sym)) c.var.put(d.sym) = static_cast<int32_t>(fn.params + i);
    }
    walk_stmts(c.ast, fn.body,
               [&](int32_t, const Stmt& st) {
                   if (st.kind == SK::Decl) {
                       for (uint32_t i = 0; i < st.nlist; ++i) {
                           int32_t d = c.ast.lists[st.list + i];
                           uint32_t sym = c.ast.decls[d].sym;
                           if (sym && !c.var.has(sym)) c.var.put(sym) = d;
                       }
                   }
                   return true;
               },
               [](int32_t) {});
}

// Work-item dependence: a graph over variables and branch contexts, seeded by the id
// reads, closed by a breadth-first walk (linear in the size of the function).
struct Taint {
    Ctx& c;
    SymMap<int32_t>& node_of;
    std::vector<uint8_t>& seed;
    std::vector<std::pair<int32_t, int32_t>>& edges;
    int32_t n = 0;

    Taint(Ctx& c_, SymMap<int32_t>& m) : c(c_), node_of(m), seed(c_.ws.seed), edges(c_.ws.edges) {
        seed.clear();
        edges.clear();
    }

    int32_t node(uint32_t sym) {
        if (!node_of.has(sym)) {
            node_of.put(sym) = n++;
            seed.push_back(0);
        }
        return node_of.get(sym);
    }
    int32_t new_ctx(int32_t parent) {
        int32_t k = n++;
        seed.push_back(0);
        if (parent >= 0) edges.emplace_back(parent, k);
        return k;
    }
    // The uses in e flow into `target` (-1: nowhere); assignments inside e are recorded
    // under the branch context `ctx`. One visit per node.
    void walk(int32_t e, int32_t target, int32_t ctx) {
        if (e < 0) return;
        const Expr& x = c.ast.exprs[e];
        if (x.kind == EK::Assign) {
            const int32_t r = c.root_sym(x.a);
            const int32_t t = r > 0 ? node(static_cast<uint32_t>(r)) : -1;
            if (t >= 0 && ctx >= 0) edges.emplace_back(ctx, t);
            walk(x.b, t, ctx);
            walk(x.a, t, ctx);
            if (t >= 0 && target >= 0) edges.emplace_back(t, target);
            return;
        }
        if (target >= 0) {
            if (x.kind == EK::Name && x.sym) edges.emplace_back(node(x.sym), target);
            if (c.varying_source(x)) seed[target] = 1;
        }
        if (x.a >= 0) walk(x.a, target, ctx);
        if (x.b >= 0) walk(x.b, target, ctx);
        if (x.c >= 0) walk(x.c, target, ctx);
        for (uint32_t i = 0; i < x.nlist; ++i) walk(c.ast.lists[x.list + i], target, ctx);
    }
    void stmt(int32_t s, int32_t ctx) {
        if (s < 0) return;
        const Stmt& st = c.ast.stmts[s];
        switch (st.kind) {
            case SK::Block:
                for (uint32_t i = 0; i < st.nlist; ++i) stmt(c.ast.lists[st.list + i], ctx);
                break;
            case SK::Decl:
                for (uint32_t i = 0; i < st.nlist; ++i) {
                    const Decl& d = c.ast.decls[c.ast.lists[st.list + i]];
                    if (!d.sym || d.init < 0) continue;
                    const int32_t t = node(d.sym);
                    if (ctx >= 0) edges.emplace_back(ctx, t);
                    walk(d.init, t, ctx);
                }
                break;
            case SK::If: {
                const int32_t k = new_ctx(ctx);
                walk(st.e0, k, ctx);
                stmt(st.s0, k);
                stmt(st.s1, k);
                break;
            }
            case SK::For: {
                stmt(st.s0, ctx);
                const int32_t k = new_ctx(ctx);
                walk(st.e0, k, k);
                walk(st.e1, -1, k);
                stmt(st.s1, k);
                break;
            }
            case SK::While: case SK::Do: case SK::Switch: {
                const int32_t k = new_ctx(ctx);
                walk(st.e0, k, k);
                stmt(st.s0, k);
                break;
            }
            case SK::Return: case SK::Expr: case SK::Case:
                walk(st.e0, -1, ctx);
                break;
            default: break;
        }
    }
    void run(int f) {
        stmt(c.ast.funcs[f].body, -1);
        std::vector<uint32_t>& start = c.ws.start;
        std::vector<uint32_t>& fill = c.ws.fill;
        std::vector<int32_t>& adj = c.ws.adj;
        std::vector<int32_t>& queue = c.ws.queue;
        std::vector<uint8_t>& on = c.ws.on;
        start.assign(static_cast<size_t>(n) + 1, 0);
        for (auto& e : edges) ++start[static_cast<size_t>(e.first) + 1];
        for (int32_t i = 0; i < n; ++i) start[i + 1] += start[i];
        adj.resize(edges.size());
        fill.assign(start.begin(), start.end() - 1);
        for (auto& e : edges) adj[fill[e.first]++] = e.second;
        on.assign(static_cast<size_t>(n), 0);
        queue.clear();
        for (int32_t i = 0; i < n; ++i)
            if (seed[i]) {
                on[i] = 1;
                queue.push_back(i);
            }
        for (size_t q = 0; q < queue.size(); ++q) {
            int32_t u = queue[q];
            for (uint32_t k = start[u]; k < start[u + 1]; ++k) {
                int32_t v = adj[k];
                if (!on[v]) {
                    on[v] = 1;
                    queue.push_back(v);
                }
            }
        }
        for (uint32_t s : node_of.touched)
            if (on[node_of.get(s)]) c.varying.put(s) = 1;
    }
};

void ret_varying(Ctx& c, int f) {
    bool v = false;
    walk_stmts(c.ast, c.ast.funcs[f].body,
               [&](int32_t, const Stmt& st) {
                   if (st.kind == SK::Return && st.e0 >= 0 && c.is_varying(st.e0)) v = true;
                   return !v;
               },
               [](int32_t) {});
    c.fn_ret_varying[f] = v;
}

const char* target_name(Target t) {
    switch (t) {
        case Target::OpenCL: return "opencl";
        case Target::CUDA: return "cuda";
        default: return "ttmetal";
    }
}

}  // namespace

Report analyze(std::string_view src, Target target, const Expected& exp) {
    Report rep;
    rep.target = target_name(target);
    rep.bytes = src.size();
    if (src.size() > kMaxSource) {
        Finding f;
        f.sev = Sev::Error;
        f.code = "input.too-large";
        f.message = "source is " + std::to_string(src.size()) + " bytes; the analyzer accepts at most " +
                    std::to_string(kMaxSource) + " bytes";
        f.line = 1;
        f.col = 1;
        rep.findings.push_back(std::move(f));
        rep.fatal = true;
        return rep;
    }
    // The only thread-local lookup of an analysis: a plain pointer (no TLS wrapper or guard),
    // the workspace itself is allocated once per thread and reused.
    thread_local Workspace* tl_ws = nullptr;
    if (!tl_ws) tl_ws = new Workspace();
    Workspace& ws = *tl_ws;
    Lexed& lx = ws.lx;
    Ast& ast = ws.ast;
    lex(src, lx);
    rep.lines = lx.lines;
    rep.tokens = static_cast<uint32_t>(lx.toks.size() - 1);
    for (const LexIssue& i : lx.issues) {
        Finding f;
        f.sev = Sev::Error;
        f.code = i.code;
        f.message = i.message;
        f.line = i.line;
        f.col = i.col;
        rep.findings.push_back(std::move(f));
    }
    if (lx.fatal) {
        rep.fatal = true;
        finalize(rep);
        return rep;
    }
    parse(lx, src, target, ast);
    if (ast.too_deep) {
        const Token& t = lx.toks[std::min<size_t>(ast.too_deep_tok, lx.toks.size() - 1)];
        Finding f;
        f.sev = Sev::Error;
        f.code = "parse.too-deep";
        f.message = "statements or expressions nested deeper than " + std::to_string(kMaxNest) + " levels";
        f.line = t.line;
        f.col = t.col;
        rep.findings.push_back(std::move(f));
        rep.fatal = true;
        finalize(rep);
        return rep;
    }
    rep.functions = static_cast<uint32_t>(ast.funcs.size());

    Ctx c(src, target, exp, ws, rep);
    build_constants(c);
    build_functions(c);
    const size_t nf = ast.funcs.size();
    std::vector<uint8_t> need_taint(c.fn_barrier);
    for (size_t g = 0; g < nf; ++g)
        if (c.fn_barrier[g])
            for (auto& e : c.calls[g]) need_taint[e.first] = 1;
    // per-symbol maps: reused between analyses (they are left clear after every function)
    const size_t ns = lx.syms.size();
    ws.callinfo.assign(ns, 0xFF);
    ws.var.ensure(ns);
    ws.varying.ensure(ns);
    ws.flags.ensure(ns);
    ws.cls.ensure(ns);
    ws.nodes.ensure(ns);
    SymMap<int32_t>& nodes = ws.nodes;
    for (size_t f = 0; f < nf; ++f) {
        c.fn = static_cast<int>(f);
        load_vars(c, c.fn);
        if (!c.is_tt() && need_taint[f]) {  // only barriers care about work-item dependence
            Taint t(c, nodes);
            t.run(c.fn);
            nodes.clear();
            ret_varying(c, c.fn);
        }
        rules_resources(c, c.fn);
        if (c.is_tt()) {
            rules_ttmetal(c, c.fn);
        } else {
            rules_sync(c, c.fn);
            rules_memory(c, c.fn);
        }
        rules_safety_fn(c, c.fn);
        c.var.clear();
        c.varying.clear();
        c.cls.clear();
        c.flags.clear();
    }
    c.fn = -1;
    rules_safety_file(c);
    rules_abi(c);
    aggregate_resources(c);
    rules_launch(c);
    finalize(rep);
    return rep;
}

}  // namespace uhop::an
