// Synchronisation: barrier count, barriers under work-item-dependent control flow
// (branches, loop conditions, earlier divergent returns/breaks), barriers in loops,
// and local/shared memory read after a write with no barrier in between.
#include <algorithm>

#include "analysis.hpp"

namespace uhop::an {

namespace {

bool primitive_barrier(const Ctx& c, const Expr& x) {
    if (!c.is_barrier_call(x)) return false;
    if (c.ast.exprs[x.a].kind != EK::Name) return true;
    return !(x.sym < c.fn_of_sym.size() && c.fn_of_sym[x.sym] >= 0);
}

uint32_t call_name_tok(const Ctx& c, const Expr& x) {
    const Expr& callee = c.ast.exprs[x.a];
    return callee.kind == EK::Name || callee.kind == EK::Member ? callee.tok : x.tb;
}

// Statements whose tokens include none of the interesting ones (barriers, calls of helpers
// with barriers, exits, case labels and -- for the race walk -- the local arrays) cannot
// change the walks' state: they are skipped in O(1) with a prefix count over the tokens.
struct Relevance {
    const std::vector<uint32_t>* prefix = nullptr;
    uint32_t base = 0;
    bool range(uint32_t tb, uint32_t te) const {
        if (te <= tb || tb < base) return true;
        const std::vector<uint32_t>& p = *prefix;
        const uint32_t a = tb - base, b = std::min<uint32_t>(te - base, static_cast<uint32_t>(p.size() - 1));
        if (a >= b) return true;
        return p[b] != p[a];
    }
    bool has(const Stmt& s) const { return range(s.tok, s.te); }
    bool has(const Expr& x) const { return range(x.tb, x.te); }
};

// One pass over the function's tokens: `sync` counts barriers, calls of helpers with
// barriers, exits and case labels; `race` counts those and the local arrays.
void build_relevance(const Ctx& c, const Function& fn, const std::vector<uint8_t>* local, std::vector<uint32_t>& sync,
                     std::vector<uint32_t>& race) {
    const uint32_t base = fn.body_open;
    const uint32_t end = std::min<uint32_t>(fn.body_close + 1, static_cast<uint32_t>(c.lx.toks.size()));
    sync.resize(end - base + 1);
    race.resize(local ? end - base + 1 : 0);
    uint32_t n = 0, m = 0;
    sync[0] = 0;
    if (local) race[0] = 0;
    for (uint32_t i = base; i < end; ++i) {
        const Token& t = c.lx.toks[i];
        if (t.kind == TK::Ident) {
            switch (t.code) {
                case W::return_: case W::break_: case W::continue_: case W::goto_: case W::case_: case W::default_:
                case W::barrier: case W::work_group_barrier: case W::sub_group_barrier: case W::syncthreads:
                case W::syncthreads_count: case W::syncthreads_and: case W::syncthreads_or: case W::sync_method:
                    ++n;
                    ++m;
                    break;
                default:
                    if (t.sym < c.fn_of_sym.size() && c.fn_of_sym[t.sym] >= 0 && c.fn_barrier[c.fn_of_sym[t.sym]]) {
                        ++n;
                        ++m;
                    } else if (local && t.sym < local->size() && (*local)[t.sym]) {
                        ++m;
                    }
                    break;
            }
        }
        sync[i - base + 1] = n;
        if (local) race[i - base + 1] = m;
    }
}

// ------------------------------------------------------------------ barrier placement
struct BarrierWalk {
    Ctx& c;
    struct Frame {
        bool is_switch = false;
        int div_at_entry = 0;
        uint32_t exit_tok = 0;
        bool div_exit = false, reported = false;
    };
    std::vector<int32_t> conds;  // varying conditions around the current point
    std::vector<Frame> frames;
    const Relevance* rel = nullptr;
    uint32_t ret_tok = 0;
    bool ret_div = false;
    bool count = true;

    explicit BarrierWalk(Ctx& c_) : c(c_) {}

    int loops() const {
        int n = 0;
        for (const Frame& f : frames) n += !f.is_switch;
        return n;
    }

    void barrier(const Expr& x) {
        const uint32_t t = call_name_tok(c, x);
        const bool prim = primitive_barrier(c, x);
        if (count && prim) ++c.rep.barriers;
        const bool in_loop = loops() > 0;
        const bool divergent = !conds.empty() || ret_div ||
                               std::any_of(frames.begin(), frames.end(),
                                           [](const Frame& f) { return !f.is_switch && f.div_exit; });
        if (!divergent && !in_loop) return;
        const std::string name = std::string(c.text(t)) + (prim ? "()" : "() (it contains a barrier)");
        std::string why;
        if (!conds.empty()) {
            int32_t k = conds.back();
            why = name + " inside a branch that depends on the work-item id (`" + c.expr_text(k) + "`, line " +
                  std::to_string(c.tok(c.ast.exprs[k].tb).line) +
                  "): work-items that skip it hang or corrupt the barrier";
        } else if (ret_div) {
            why = name + " after the work-item-dependent `return` at line " + std::to_string(c.tok(ret_tok).line) +
                  ": work-items that returned never reach it";
        } else {
            for (const Frame& f : frames) {
                if (!f.is_switch && f.div_exit) {
                    why = name + " in a loop that work-items leave at different iterations (`" +
                          std::string(c.text(f.exit_tok)) + "` at line " + std::to_string(c.tok(f.exit_tok).line) + ")";
                    break;
                }
            }
        }
        if (!why.empty()) {
            c.add(Sev::Error, "sync.barrier-divergent", t, why);
            if (count) ++c.rep.divergent_barriers;
        }
        if (loops() > 0 && count) {
            ++c.rep.barriers_in_loops;
            for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
                if (it->is_switch) continue;
                if (!it->reported) {
                    it->reported = true;
                    c.add(Sev::Info, "sync.barrier-in-loop", t, name + " runs on every iteration of the enclosing loop");
                }
                break;
            }
        }
    }

    void expr(int32_t e) {
        visit(c.ast, e, [&](int32_t, const Expr& x) {
            if (rel && !rel->has(x)) return false;
            if (x.kind == EK::Ternary && c.is_varying(x.a)) {
                expr(x.a);
                conds.push_back(x.a);
                expr(x.b);
                expr(x.c);
                conds.pop_back();
                return false;
            }
            if (x.kind == EK::Binary && (x.op == P_ANDAND || x.op == P_OROR) && c.is_varying(x.a)) {
                expr(x.a);
                conds.push_back(x.a);
                expr(x.b);
                conds.pop_back();
                return false;
            }
            if (x.kind == EK::Call && c.is_barrier_call(x)) {
                for (uint32_t i = 0; i < x.nlist; ++i) expr(c.ast.lists[x.list + i]);
                barrier(x);
                return false;
            }
            return true;
        });
    }

    void loop(int32_t cond, int32_t step, int32_t body, bool cond_first) {
        const bool v = cond >= 0 && c.is_varying(cond);
        if (cond_first) expr(cond);
        Frame fr;
        fr.div_at_entry = static_cast<int>(conds.size());
        frames.push_back(fr);
        if (v) conds.push_back(cond);
        const bool ret_before = ret_div;
        stmt(body);
        expr(step);
        if (!cond_first) expr(cond);
        if ((frames.back().div_exit || ret_div != ret_before) && frames.size() <= 4) {
            const bool saved = count;
            count = false;
            stmt(body);
            count = saved;
        }
        if (v) conds.pop_back();
        frames.pop_back();
    }

    void stmt(int32_t s) {
        if (s < 0) return;
        const Stmt& st = c.ast.stmts[s];
        if (rel && !rel->has(st)) return;
        switch (st.kind) {
            case SK::Block:
                for (uint32_t i = 0; i < st.nlist; ++i) stmt(c.ast.lists[st.list + i]);
                break;
            case SK::Decl:
                for (uint32_t i = 0; i < st.nlist; ++i) expr(c.ast.decls[c.ast.lists[st.list + i]].init);
                break;
            case SK::Expr: case SK::Case:
                expr(st.e0);
                break;
            case SK::Return:
                expr(st.e0);
                if (!conds.empty() && !ret_div) {
                    ret_div = true;
                    ret_tok = st.tok;
                }
                break;
            case SK::Break: case SK::Continue:
                for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
                    if (st.kind == SK::Continue && it->is_switch) continue;
                    if (static_cast<int>(conds.size()) > it->div_at_entry && !it->div_exit) {
                        it->div_exit = true;
                        it->exit_tok = st.tok;
                    }
                    break;
                }
                break;
            case SK::If: {
                expr(st.e0);
                const bool v = c.is_varying(st.e0);
                if (v) conds.push_back(st.e0);
                stmt(st.s0);
                stmt(st.s1);
                if (v) conds.pop_back();
                break;
            }
            case SK::For:
                stmt(st.s0);
                loop(st.e0 >= 0 ? st.e0 : -1, st.e1, st.s1, true);
                break;
            case SK::While:
                loop(st.e0, -1, st.s0, true);
                break;
            case SK::Do:
                loop(st.e0, -1, st.s0, false);
                break;
            case SK::Switch: {
                expr(st.e0);
                const bool v = c.is_varying(st.e0);
                Frame fr;
                fr.is_switch = true;
                fr.div_at_entry = static_cast<int>(conds.size());
                frames.push_back(fr);
                if (v) conds.push_back(st.e0);
                stmt(st.s0);
                if (v) conds.pop_back();
                frames.pop_back();
                break;
            }
            default: break;
        }
    }
};

// ------------------------------------------------------------------ local memory races
struct Pend {
    uint32_t sym;
    int32_t idx;  // the access expression (for identity)
    uint32_t tok;
    uint64_t hash;  // of idx's text
};
struct RState {
    bool dead = false;
    std::vector<Pend> p;
};

struct Race {
    Ctx& c;
    struct Frame {
        bool is_switch = false;
        RState brk, cont;
        RState entry;
    };
    std::vector<Frame> frames;
    int nest = 0;
    const Relevance* rel = nullptr;

    explicit Race(Ctx& c_) : c(c_) {}

    static RState dead() {
        RState s;
        s.dead = true;
        return s;
    }
    bool contains(const RState& s, const Pend& q) const {
        for (const Pend& x : s.p)
            if (x.sym == q.sym && x.hash == q.hash && c.same_text(x.idx, q.idx)) return true;
        return false;
    }
    void merge_into(RState& a, const RState& b) const {
        if (b.dead) return;
        if (a.dead) {
            a = b;
            return;
        }
        for (const Pend& q : b.p)
            if (a.p.size() < 64 && !contains(a, q)) a.p.push_back(q);
    }
    bool local_sym(int32_t r) const {
        if (r <= 0) return false;
        const Decl* d = c.decl_of(static_cast<uint32_t>(r));
        return d && d->ts.space == SP_LOCAL;
    }
    void read(RState& s, uint32_t sym, int32_t idx, uint32_t tok) {
        if (s.dead || s.p.empty()) return;
        const uint64_t h = c.text_hash(idx);
        for (const Pend& q : s.p) {
            if (q.sym == sym && (q.hash != h || !c.same_text(q.idx, idx))) {
                c.add(Sev::Warning, "sync.local-race", tok,
                      "`" + std::string(c.sym_text(sym)) + "` is read here after the write at line " +
                          std::to_string(c.tok(q.tok).line) +
                          " with no barrier in between: other work-items may not have written it yet");
                return;
            }
        }
    }
    void write(RState& s, uint32_t sym, int32_t idx, uint32_t tok) {
        if (s.dead) return;
        Pend q{sym, idx, tok, c.text_hash(idx)};
        if (s.p.size() < 64 && !contains(s, q)) s.p.push_back(q);
    }
    // evaluate the subscripts of an access chain like s[i][j]
    void subscripts(int32_t e, RState& s) {
        for (int guard = 0; e >= 0 && guard < 64; ++guard) {
            const Expr& x = c.ast.exprs[e];
            if (x.kind == EK::Index) {
                expr(x.b, s);
                e = x.a;
            } else if (x.kind == EK::Name) {
                return;
            } else {
                expr(e, s);
                return;
            }
        }
    }
    bool local_access(int32_t e, uint32_t& sym) const {
        if (e < 0) return false;
        const Expr& x = c.ast.exprs[e];
        if (x.kind != EK::Index) return false;
        int32_t r = c.root_sym(e);
        if (!local_sym(r)) return false;
        sym = static_cast<uint32_t>(r);
        return true;
    }

    void expr(int32_t e, RState& s) {
        if (e < 0) return;
        const Expr& x = c.ast.exprs[e];
        if (rel && !rel->has(x)) return;
        uint32_t sym = 0;
        switch (x.kind) {
            case EK::Assign:
                expr(x.b, s);
                if (local_access(x.a, sym)) {
                    subscripts(x.a, s);
                    if (x.op != '=') read(s, sym, x.a, c.ast.exprs[x.a].tb);
                    write(s, sym, x.a, c.ast.exprs[x.a].tb);
                } else {
                    expr(x.a, s);
                }
                return;
            case EK::Postfix: case EK::Unary:
                if ((x.op == P_INC || x.op == P_DEC) && local_access(x.a, sym)) {
                    subscripts(x.a, s);
                    read(s, sym, x.a, c.ast.exprs[x.a].tb);
                    write(s, sym, x.a, c.ast.exprs[x.a].tb);
                    return;
                }
                expr(x.a, s);
                return;
            case EK::Index:
                if (local_access(e, sym)) {
                    subscripts(e, s);
                    read(s, sym, e, x.tb);
                    return;
                }
                expr(x.a, s);
                expr(x.b, s);
                return;
            case EK::Call: {
                for (uint32_t i = 0; i < x.nlist; ++i) expr(c.ast.lists[x.list + i], s);
                if (c.is_barrier_call(x)) {
                    s.p.clear();
                    return;
                }
                const uint8_t info = c.ast.exprs[x.a].kind == EK::Name ? c.call_info(x.sym) : 0;
                const bool ld = (info & 32) != 0;
                if (x.nlist >= 2 && (info & 31)) {
                    int32_t ptr = c.ast.lists[x.list + x.nlist - 1];
                    int32_t r = c.root_sym(ptr);
                    if (local_sym(r)) {
                        if (ld) read(s, static_cast<uint32_t>(r), ptr, c.ast.exprs[ptr].tb);
                        else write(s, static_cast<uint32_t>(r), ptr, c.ast.exprs[ptr].tb);
                    }
                }
                return;
            }
            case EK::Ternary: {
                expr(x.a, s);
                RState t = s, u = s;
                expr(x.b, t);
                expr(x.c, u);
                s = t;
                merge_into(s, u);
                return;
            }
            default:
                expr(x.a, s);
                expr(x.b, s);
                expr(x.c, s);
                for (uint32_t i = 0; i < x.nlist; ++i) expr(c.ast.lists[x.list + i], s);
                return;
        }
    }

    void loop(int32_t cond, int32_t step, int32_t body, bool cond_first, RState& s) {
        if (cond_first) expr(cond, s);
        RState exit = cond_first ? s : dead();
        Frame fr;
        fr.brk = dead();
        frames.push_back(fr);
        const int iters = nest < 3 ? 2 : 1;
        ++nest;
        RState it = s;
        for (int k = 0; k < iters; ++k) {
            frames.back().cont = dead();
            stmt(body, it);
            merge_into(it, frames.back().cont);
            if (it.dead) break;
            expr(step, it);
            expr(cond, it);
            merge_into(exit, it);
            // a second iteration from a state no larger than the entry state finds nothing new
            if (k == 0 && subset(it, s)) break;
        }
        --nest;
        merge_into(exit, frames.back().brk);
        frames.pop_back();
        s = exit;
    }
    bool subset(const RState& a, const RState& b) const {
        if (a.dead) return true;
        if (b.dead) return false;
        for (const Pend& q : a.p)
            if (!contains(b, q)) return false;
        return true;
    }

    void stmt(int32_t id, RState& s) {
        if (id < 0) return;
        const Stmt& st = c.ast.stmts[id];
        if (rel && !rel->has(st)) return;
        switch (st.kind) {
            case SK::Block:
                for (uint32_t i = 0; i < st.nlist; ++i) stmt(c.ast.lists[st.list + i], s);
                break;
            case SK::Decl:
                for (uint32_t i = 0; i < st.nlist; ++i) expr(c.ast.decls[c.ast.lists[st.list + i]].init, s);
                break;
            case SK::Expr:
                expr(st.e0, s);
                break;
            case SK::Case: case SK::Default:
                for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
                    if (it->is_switch) {
                        merge_into(s, it->entry);
                        break;
                    }
                }
                break;
            case SK::Return:
                expr(st.e0, s);
                s = dead();
                break;
            case SK::Break:
                if (!frames.empty()) merge_into(frames.back().brk, s);
                s = dead();
                break;
            case SK::Continue:
                for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
                    if (it->is_switch) continue;
                    merge_into(it->cont, s);
                    break;
                }
                s = dead();
                break;
            case SK::If: {
                expr(st.e0, s);
                RState t = s, u = s;
                stmt(st.s0, t);
                stmt(st.s1, u);
                s = t;
                merge_into(s, u);
                break;
            }
            case SK::For:
                stmt(st.s0, s);
                loop(st.e0, st.e1, st.s1, true, s);
                break;
            case SK::While:
                loop(st.e0, -1, st.s0, true, s);
                break;
            case SK::Do:
                loop(st.e0, -1, st.s0, false, s);
                break;
            case SK::Switch: {
                expr(st.e0, s);
                Frame fr;
                fr.is_switch = true;
                fr.brk = dead();
                fr.entry = s;
                frames.push_back(fr);
                RState b = dead();
                stmt(st.s0, b);
                merge_into(b, frames.back().brk);
                merge_into(b, frames.back().entry);
                frames.pop_back();
                s = b;
                break;
            }
            default: break;
        }
    }
};

}  // namespace

void rules_sync(Ctx& c, int f) {
    const Function& fn = c.ast.funcs[f];
    // the local arrays this function can touch
    std::vector<uint8_t>& local = c.ws.local;
    std::vector<uint32_t> marked;
    auto mark = [&](uint32_t sym) {
        if (local.size() < c.lx.syms.size()) local.resize(c.lx.syms.size(), 0);
        if (!local[sym]) {
            local[sym] = 1;
            marked.push_back(sym);
        }
    };
    for (uint32_t s : c.var.touched)
        if (c.ast.decls[c.var.get(s)].ts.space == SP_LOCAL) mark(s);
    if (c.file_local) {
        for (int32_t s : c.ast.globals) {
            const Stmt& st = c.ast.stmts[s];
            for (uint32_t i = 0; i < st.nlist; ++i) {
                const Decl& d = c.ast.decls[c.ast.lists[st.list + i]];
                if (d.ts.space == SP_LOCAL && d.sym && !c.var.has(d.sym)) mark(d.sym);
            }
        }
    }
    const bool any_local = !marked.empty() || c.file_local;
    if (!c.fn_barrier[f] && !any_local) return;
    build_relevance(c, fn, any_local ? &local : nullptr, c.ws.relevance, c.ws.relevance_local);

    if (c.fn_barrier[f]) {
        Relevance rel;
        rel.prefix = &c.ws.relevance;
        rel.base = fn.body_open;
        BarrierWalk w(c);
        w.rel = &rel;
        w.stmt(fn.body);
    }
    if (any_local) {
        Relevance rel;
        rel.prefix = &c.ws.relevance_local;
        rel.base = fn.body_open;
        Race r(c);
        r.rel = &rel;
        RState s;
        r.stmt(fn.body, s);
    }
    for (uint32_t sym : marked) local[sym] = 0;
}

}  // namespace uhop::an
