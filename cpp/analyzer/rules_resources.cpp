// Resources: local/shared memory, private arrays, a register-pressure estimate,
// reqd_work_group_size / __launch_bounds__, and the limits they must respect.
#include <algorithm>

#include "analysis.hpp"

namespace uhop::an {

namespace {

constexpr int64_t kCap = int64_t(1) << 62;  // sizes saturate here (absurd declarations stay finite)
int64_t sat_mul(int64_t a, int64_t b) {
    int64_t r;
    return (__builtin_mul_overflow(a, b, &r) || r > kCap) ? kCap : r;
}
int64_t sat_add(int64_t a, int64_t b) { return a > kCap - b ? kCap : a + b; }

int64_t elem_bytes(const Decl& d) {
    if (d.ptr) return 8;
    if (!d.ts.word) return 4;  // named types: assume a word
    int sb = scalar_bytes(vector_elem(d.ts.word));
    int lanes = vector_lanes(d.ts.word);
    if (!sb) return 4;
    return static_cast<int64_t>(sb) * (lanes == 3 ? 4 : lanes);
}

// elements of an array declaration (1 for scalars); false when a size is not constant
bool elements(const Ctx& c, const Decl& d, int64_t& n) {
    n = 1;
    if (d.unsized) return false;
    for (int k = 0; k < d.ndims; ++k) {
        int64_t v;
        if (!c.cint(d.dims[k], v) || v <= 0) return false;
        if (__builtin_mul_overflow(n, v, &n)) return false;
    }
    return true;
}

bool storage_elsewhere(const Decl& d) {
    return d.ts.space == SP_LOCAL || d.ts.space == SP_CONSTANT || d.ts.space == SP_GLOBAL || d.ts.is_static ||
           d.ts.is_extern;
}

int decl_regs(const Ctx& c, const Decl& d) {
    if (storage_elsewhere(d) && !d.ptr) return 0;
    if (d.is_ref) return 0;
    if (d.ptr) return 2;
    int64_t n;
    if (d.is_array()) {
        if (!elements(c, d, n)) return 0;
        int64_t bytes = sat_mul(n, elem_bytes(d));
        return bytes <= 64 ? static_cast<int>((bytes + 3) / 4) : 0;
    }
    return static_cast<int>((elem_bytes(d) + 3) / 4);
}

int regs(const Ctx& c, int32_t s, int depth = 0) {
    if (s < 0 || depth > kMaxNest) return 0;
    const Stmt& st = c.ast.stmts[s];
    switch (st.kind) {
        case SK::Block: {
            int own = 0, inner = 0;
            for (uint32_t i = 0; i < st.nlist; ++i) {
                int32_t k = c.ast.lists[st.list + i];
                const Stmt& ch = c.ast.stmts[k];
                if (ch.kind == SK::Decl) {
                    for (uint32_t j = 0; j < ch.nlist; ++j) own += decl_regs(c, c.ast.decls[c.ast.lists[ch.list + j]]);
                } else {
                    inner = std::max(inner, regs(c, k, depth + 1));
                }
            }
            return own + inner;
        }
        case SK::Decl: {
            int own = 0;
            for (uint32_t j = 0; j < st.nlist; ++j) own += decl_regs(c, c.ast.decls[c.ast.lists[st.list + j]]);
            return own;
        }
        case SK::If: return std::max(regs(c, st.s0, depth + 1), regs(c, st.s1, depth + 1));
        case SK::For: return regs(c, st.s0, depth + 1) + regs(c, st.s1, depth + 1);
        case SK::While: case SK::Do: case SK::Switch: return regs(c, st.s0, depth + 1);
        default: return 0;
    }
}

}  // namespace

void rules_resources(Ctx& c, int f) {
    const Function& fn = c.ast.funcs[f];
    FnRes& r = c.res[f];
    walk_stmts(c.ast, fn.body,
               [&](int32_t, const Stmt& st) {
                   if (st.kind != SK::Decl) return true;
                   for (uint32_t i = 0; i < st.nlist; ++i) {
                       const Decl& d = c.ast.decls[c.ast.lists[st.list + i]];
                       if (d.ptr || d.is_ref) continue;
                       int64_t n;
                       bool known = elements(c, d, n);
                       if (d.ts.space == SP_LOCAL) {
                           if (d.unsized || d.ts.is_extern) r.dyn_shared = true;
                           else if (known) r.local_bytes = sat_add(r.local_bytes, sat_mul(n, elem_bytes(d)));
                           else r.local_unknown = true;
                       } else if (!storage_elsewhere(d) && d.is_array()) {
                           PrivArray p;
                           p.name = std::string(c.sym_text(d.sym));
                           p.bytes = known ? sat_mul(n, elem_bytes(d)) : -1;
                           p.line = c.tok(d.name_tok).line;
                           if (known) r.private_bytes = sat_add(r.private_bytes, p.bytes);
                           if (known && p.bytes > 1024) {
                               c.add(Sev::Warning, "res.private-array", d.name_tok,
                                     "private array `" + p.name + "` takes " + std::to_string(p.bytes) +
                                         " bytes per work-item: it will live in slow scratch memory");
                           } else if (!known && !d.unsized) {
                               c.add(Sev::Warning, "res.private-array", d.name_tok,
                                     "private array `" + p.name + "` has a size that is not a compile-time constant");
                           }
                           r.priv.push_back(std::move(p));
                       }
                   }
                   return true;
               },
               [](int32_t) {});
    r.regs = regs(c, fn.body) + 4;
}

// Per-kernel totals (helpers called by a kernel count towards it) and the limits.
void aggregate_resources(Ctx& c) {
    const size_t nf = c.ast.funcs.size();
    // file-scope __shared__ / __local arrays
    int64_t file_local = 0;
    bool file_unknown = false, file_dyn = false;
    for (int32_t s : c.ast.globals) {
        const Stmt& st = c.ast.stmts[s];
        for (uint32_t i = 0; i < st.nlist; ++i) {
            const Decl& d = c.ast.decls[c.ast.lists[st.list + i]];
            if (d.ts.space != SP_LOCAL || d.ptr) continue;
            int64_t n;
            if (d.unsized || d.ts.is_extern) file_dyn = true;
            else if (elements(c, d, n)) file_local = sat_add(file_local, sat_mul(n, elem_bytes(d)));
            else file_unknown = true;
        }
    }
    const int64_t max_wg = c.exp.max_work_group_size > 0 ? c.exp.max_work_group_size : 1024;
    std::vector<uint32_t> seen(nf, 0);  // generation stamps: no clearing per kernel
    std::vector<int> stack;
    for (size_t ki = 0; ki < c.rep.kernels.size() && ki < c.kernels.size(); ++ki) {
        const int k = c.kernels[ki];
        KernelInfo& info = c.rep.kernels[ki];
        const uint32_t gen = static_cast<uint32_t>(ki) + 1;
        stack.assign(1, k);
        seen[k] = gen;
        int64_t local = file_local, priv = 0;
        bool unknown = file_unknown, dyn = file_dyn;
        int callee_regs = 0, barriers = 0;
        std::vector<CBInfo> cbs;
        while (!stack.empty()) {
            int g = stack.back();
            stack.pop_back();
            const FnRes& r = c.res[g];
            local = sat_add(local, r.local_bytes);
            unknown |= r.local_unknown;
            dyn |= r.dyn_shared;
            priv = sat_add(priv, r.private_bytes);
            barriers += r.barriers;
            if (g != k) callee_regs = std::max(callee_regs, r.regs);
            for (const CBInfo& cb : r.cbs) {
                auto it = std::find_if(cbs.begin(), cbs.end(), [&](const CBInfo& x) { return x.cb == cb.cb; });
                if (it == cbs.end()) cbs.push_back(cb);
                else if (cb.tiles > it->tiles) *it = cb;
            }
            for (auto& e : c.calls[g])
                if (seen[e.first] != gen) {
                    seen[e.first] = gen;
                    stack.push_back(e.first);
                }
        }
        const Function& fn = c.ast.funcs[k];
        info.local_mem_bytes = local;
        info.local_mem_unknown = unknown;
        info.dynamic_shared = dyn;
        info.private_bytes = priv;
        info.registers = c.res[k].regs + callee_regs;
        info.barriers = barriers;
        for (int i = 0; i < fn.nreqd; ++i) {
            int64_t v;
            info.reqd_work_group_size.push_back(c.cint(fn.reqd[i], v) ? v : -1);
        }
        for (int i = 0; i < fn.nbounds; ++i) {
            int64_t v;
            info.launch_bounds.push_back(c.cint(fn.bounds[i], v) ? v : -1);
        }
        // limits
        const char* what = c.is_cuda() ? "shared" : "local";
        int64_t limit = c.exp.local_mem_bytes > 0 ? c.exp.local_mem_bytes : c.is_cuda() ? 49152 : 65536;
        if (!c.is_tt() && local > limit) {
            c.add(Sev::Error, "res.local-mem-limit", fn.name_tok,
                  std::string("kernel `") + std::string(c.sym_text(fn.sym)) + "` declares " + std::to_string(local) +
                      " bytes of " + what + " memory; the limit is " + std::to_string(limit),
                  k);
        }
        int64_t cb_bytes = 0;
        for (const CBInfo& cb : cbs)
            if (cb.bytes > 0) cb_bytes = sat_add(cb_bytes, cb.bytes);
        if (c.is_tt()) {
            int64_t l1 = c.exp.local_mem_bytes > 0 ? c.exp.local_mem_bytes : 1 << 20;
            if (cb_bytes > l1) {
                c.add(Sev::Error, "res.local-mem-limit", fn.name_tok,
                      "circular buffers need at least " + std::to_string(cb_bytes) + " bytes of L1; the budget is " +
                          std::to_string(l1),
                      k);
            }
        } else if (info.registers > 128) {
            c.add(Sev::Warning, "res.register-pressure", fn.name_tok,
                  "kernel `" + std::string(c.sym_text(fn.sym)) + "` keeps about " + std::to_string(info.registers) +
                      " 32-bit values live per work-item: expect spills or low occupancy",
                  k);
        }
        if (info.reqd_work_group_size.size() == 3 || !info.reqd_work_group_size.empty()) {
            int64_t prod = 1;
            bool known = true;
            for (int64_t v : info.reqd_work_group_size) {
                if (v <= 0) known = false;
                else prod = sat_mul(prod, v);
            }
            if (known && prod > max_wg) {
                c.add(Sev::Error, "res.work-group-size", fn.name_tok,
                      "reqd_work_group_size asks for " + std::to_string(prod) + " work-items; the device limit is " +
                          std::to_string(max_wg),
                      k);
            }
        }
        if (!info.launch_bounds.empty() && info.launch_bounds[0] > max_wg) {
            c.add(Sev::Error, "res.work-group-size", fn.name_tok,
                  "__launch_bounds__ asks for " + std::to_string(info.launch_bounds[0]) +
                      " threads per block; the limit is " + std::to_string(max_wg),
                  k);
        }
        if (k == c.entry) {
            c.rep.local_mem_bytes = local;
            c.rep.local_mem_unknown = unknown;
            c.rep.dynamic_shared = dyn;
            c.rep.private_bytes = priv;
            c.rep.private_arrays = c.res[k].priv;
            c.rep.registers_estimate = info.registers;
            c.rep.reqd_work_group_size = info.reqd_work_group_size;
            c.rep.launch_bounds = info.launch_bounds;
            c.rep.cbs = cbs;
            c.rep.cb_bytes = cb_bytes;
            c.rep.runtime_args = c.res[k].runtime_args;
            c.rep.compile_time_args = c.res[k].ct_args;
        }
    }
}

}  // namespace uhop::an
