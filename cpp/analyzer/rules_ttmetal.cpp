// TT-Metal: the known-fatal API misuses. cb_reserve_back/cb_push_back pairing and
// cb_wait_front/cb_pop_front balance per block, noc_async_read/write completed by the
// matching barrier before the CB is pushed/popped or reused, the tile register protocol
// acquire -> commit -> wait -> release; plus runtime-argument count and CB sizes.
#include <algorithm>

#include "analysis.hpp"

namespace uhop::an {

namespace {

enum Ev : uint8_t {
    EV_NONE, EV_RESERVE, EV_PUSH, EV_WAIT, EV_POP, EV_READ, EV_WRITE, EV_READ_BAR, EV_WRITE_BAR, EV_FULL_BAR,
    EV_ACQ, EV_COMMIT, EV_TWAIT, EV_RELEASE, EV_ACQ_DST, EV_REL_DST, EV_MATH, EV_PACK
};

enum TReg : uint8_t { T_IDLE, T_ACQ, T_COMMIT, T_WAIT, T_LEGACY, T_UNKNOWN };
const char* treg_name(uint8_t t) {
    switch (t) {
        case T_IDLE: return "released";
        case T_ACQ: return "acquired";
        case T_COMMIT: return "committed";
        case T_WAIT: return "waited";
        case T_LEGACY: return "acquired (acquire_dst)";
        default: return "unknown";
    }
}

Ev classify(const Ctx& c, const Expr& x) {
    if (x.kind != EK::Call || c.ast.exprs[x.a].kind != EK::Name) return EV_NONE;
    switch (x.op) {
        case W::cb_reserve_back: return EV_RESERVE;
        case W::cb_push_back: return EV_PUSH;
        case W::cb_wait_front: return EV_WAIT;
        case W::cb_pop_front: return EV_POP;
        case W::noc_async_read_barrier: return EV_READ_BAR;
        case W::noc_async_write_barrier: case W::noc_async_writes_flushed: return EV_WRITE_BAR;
        case W::noc_async_full_barrier: return EV_FULL_BAR;
        case W::tile_regs_acquire: return EV_ACQ;
        case W::tile_regs_commit: return EV_COMMIT;
        case W::tile_regs_wait: return EV_TWAIT;
        case W::tile_regs_release: return EV_RELEASE;
        case W::acquire_dst: return EV_ACQ_DST;
        case W::release_dst: return EV_REL_DST;
        default: break;
    }
    std::string_view n = c.sym_text(x.sym);
    if (starts_with(n, "noc_async_read")) return n.find("barrier") == std::string_view::npos ? EV_READ : EV_READ_BAR;
    if (starts_with(n, "noc_async_write")) return n.find("barrier") == std::string_view::npos ? EV_WRITE : EV_WRITE_BAR;
    if (starts_with(n, "pack_tile")) return EV_PACK;
    if (n.find("_tile") != std::string_view::npos && n.find("_init") == std::string_view::npos &&
        !starts_with(n, "noc_") && !starts_with(n, "cb_") && !starts_with(n, "get_") && !starts_with(n, "pack_") &&
        !starts_with(n, "tile_regs") && !starts_with(n, "unpack_") && !starts_with(n, "mm_"))
        return EV_MATH;
    return EV_NONE;
}

int digits_after(std::string_view n, std::string_view prefix) {
    if (!starts_with(n, prefix) || n.size() == prefix.size()) return -1;
    int v = 0;
    for (char ch : n.substr(prefix.size())) {
        if (ch < '0' || ch > '9') return -1;
        v = v * 10 + (ch - '0');
        if (v > 1000) return -1;
    }
    return v;
}

std::string cb_key(const Ctx& c, int32_t e, int depth = 0) {
    if (e < 0) return "?";
    int64_t v;
    if (c.cint(e, v)) return "cb" + std::to_string(v);
    const Expr& x = c.ast.exprs[e];
    if (x.kind == EK::Cast) return cb_key(c, x.a, depth + 1);
    if (x.kind == EK::Name) {
        std::string_view n = c.sym_text(x.sym);
        int k;
        if ((k = digits_after(n, "c_in")) >= 0) return "cb" + std::to_string(k);
        if ((k = digits_after(n, "c_out")) >= 0) return "cb" + std::to_string(16 + k);
        if ((k = digits_after(n, "c_intermed")) >= 0) return "cb" + std::to_string(24 + k);
        if ((k = digits_after(n, "c_")) >= 0) return "cb" + std::to_string(k);
        const Decl* d = c.decl_of(x.sym);
        if (d && d->init >= 0 && !d->is_param && depth < 4) return cb_key(c, d->init, depth + 1);
        return std::string(n);
    }
    return c.expr_text(e);
}

int64_t mul_cap(int64_t a, int64_t b) {
    constexpr int64_t kCap = int64_t(1) << 62;
    int64_t r;
    return (__builtin_mul_overflow(a, b, &r) || r > kCap) ? kCap : r;
}

int64_t tiles_of(const Ctx& c, const Expr& call) {
    if (call.nlist < 2) return -1;
    int64_t v;
    return c.cint(c.ast.lists[call.list + 1], v) ? v : -1;
}

// ------------------------------------------------------------------ CB pairing per block
struct CBEnt {
    std::string key, shown;
    int64_t res = 0, wait = 0;
    bool res_sym = false, wait_sym = false;
    uint32_t res_tok = 0, wait_tok = 0;
};

struct Pairing {
    Ctx& c;
    FnRes& r;
    int64_t tile_bytes;

    CBEnt& ent(std::vector<CBEnt>& v, const std::string& key, const std::string& shown) {
        for (CBEnt& e : v)
            if (e.key == key) return e;
        v.push_back(CBEnt());
        v.back().key = key;
        v.back().shown = shown;
        return v.back();
    }

    void note_tiles(const std::string& key, const std::string& shown, int64_t n) {
        if (n == 0) return;
        if (n < 0) n = -1;  // not a compile-time constant
        for (CBInfo& cb : r.cbs) {
            if (cb.cb == shown || cb.cb == key) {
                if (n > cb.tiles) {
                    cb.tiles = n;
                    cb.bytes = mul_cap(n, tile_bytes);
                }
                return;
            }
        }
        CBInfo cb;
        cb.cb = shown;
        cb.tiles = n;
        cb.bytes = n > 0 ? mul_cap(n, tile_bytes) : -1;
        r.cbs.push_back(cb);
    }

    void event(std::vector<CBEnt>& v, const Expr& x, Ev ev) {
        if (x.nlist < 1) return;
        int32_t arg = c.ast.lists[x.list];
        std::string key = cb_key(c, arg);
        std::string shown = c.expr_text(arg, 40);
        CBEnt& e = ent(v, key, shown);
        int64_t n = tiles_of(c, x);
        const uint32_t t = c.ast.exprs[x.a].tok;
        auto name = [&]() { return std::string(c.text(t)) + "(" + shown + ")"; };
        switch (ev) {
            case EV_RESERVE:
                note_tiles(key, shown, n);
                if (n < 0) e.res_sym = true;
                else e.res = e.res > (int64_t(1) << 62) - n ? (int64_t(1) << 62) : e.res + n;
                e.res_tok = t;
                break;
            case EV_PUSH:
                if (e.res == 0 && !e.res_sym) {
                    c.add(Sev::Error, "tt.cb-reserve-push", t,
                          name() + " without a matching cb_reserve_back earlier in the same block");
                } else if (n >= 0 && !e.res_sym) {
                    if (n > e.res) {
                        c.add(Sev::Error, "tt.cb-reserve-push", t,
                              name() + " pushes " + std::to_string(n) + " tile(s) but only " + std::to_string(e.res) +
                                  " were reserved (line " + std::to_string(c.tok(e.res_tok).line) + ")");
                        e.res = 0;
                    } else {
                        e.res -= n;
                    }
                } else {
                    e.res = 0;
                    e.res_sym = false;
                }
                break;
            case EV_WAIT:
                note_tiles(key, shown, n);
                if (n < 0) e.wait_sym = true;
                else e.wait = std::max(e.wait, n);
                e.wait_tok = t;
                break;
            case EV_POP:
                if (e.wait == 0 && !e.wait_sym) {
                    c.add(Sev::Error, "tt.cb-wait-pop", t,
                          name() + " without a matching cb_wait_front earlier in the same block: it releases tiles "
                                 "that were never received");
                } else if (n >= 0 && !e.wait_sym) {
                    if (n > e.wait) {
                        c.add(Sev::Error, "tt.cb-wait-pop", t,
                              name() + " pops " + std::to_string(n) + " tile(s) but waited for " +
                                  std::to_string(e.wait) + " (line " + std::to_string(c.tok(e.wait_tok).line) + ")");
                        e.wait = 0;
                    } else {
                        e.wait -= n;
                    }
                } else {
                    e.wait = 0;
                    e.wait_sym = false;
                }
                break;
            default: break;
        }
    }

    void exprs(std::vector<CBEnt>& v, int32_t e) {
        visit(c.ast, e, [&](int32_t, const Expr& x) {
            Ev ev = classify(c, x);
            if (ev >= EV_RESERVE && ev <= EV_POP) event(v, x, ev);
            return true;
        });
    }

    void stmts(std::vector<CBEnt>& v, int32_t s) {
        if (s < 0) return;
        const Stmt& st = c.ast.stmts[s];
        switch (st.kind) {
            case SK::Block:
                for (uint32_t i = 0; i < st.nlist; ++i) stmts(v, c.ast.lists[st.list + i]);
                return;
            case SK::Decl:
                for (uint32_t i = 0; i < st.nlist; ++i) exprs(v, c.ast.decls[c.ast.lists[st.list + i]].init);
                return;
            case SK::If:
                exprs(v, st.e0);
                region(st.s0, false);
                region(st.s1, false);
                return;
            case SK::For:
                stmts(v, st.s0);
                exprs(v, st.e0);
                region(st.s1, true, st.e1);
                return;
            case SK::While: case SK::Do:
                exprs(v, st.e0);
                region(st.s0, true);
                return;
            case SK::Switch:
                exprs(v, st.e0);
                region(st.s0, false);
                return;
            default:
                exprs(v, st.e0);
                return;
        }
    }

    void region(int32_t s, bool loop_body, int32_t step = -1) {
        if (s < 0) return;
        std::vector<CBEnt> v;
        stmts(v, s);
        exprs(v, step);
        for (const CBEnt& e : v) {
            if (e.res > 0 || e.res_sym) {
                c.add(Sev::Error, "tt.cb-reserve-push", e.res_tok,
                      "cb_reserve_back(" + e.shown + ") is never followed by cb_push_back in the same block: "
                      "the consumer waits forever");
            }
            if (loop_body && (e.wait > 0 || e.wait_sym)) {
                c.add(Sev::Error, "tt.cb-wait-pop", e.wait_tok,
                      "cb_wait_front(" + e.shown + ") in a loop is never followed by cb_pop_front in the same block: "
                      "the producer stalls and later iterations see the same tiles");
            }
        }
    }
};

// ------------------------------------------------------------------ NOC barriers and tile registers
struct TState {
    bool dead = false;
    bool rd = false, wr = false;
    uint32_t rd_tok = 0, wr_tok = 0;
    uint8_t treg = T_IDLE;
    uint32_t treg_tok = 0;
};

struct Flow {
    Ctx& c;
    bool check_regs;
    bool is_main;
    struct Frame {
        bool is_switch = false;
        TState brk, cont, entry;
    };
    std::vector<Frame> frames;
    int nest = 0;

    static TState dead() {
        TState s;
        s.dead = true;
        return s;
    }
    static void merge_into(TState& a, const TState& b) {
        if (b.dead) return;
        if (a.dead) {
            a = b;
            return;
        }
        if (b.rd && !a.rd) {
            a.rd = true;
            a.rd_tok = b.rd_tok;
        }
        if (b.wr && !a.wr) {
            a.wr = true;
            a.wr_tok = b.wr_tok;
        }
        if (a.treg != b.treg) a.treg = T_UNKNOWN;
    }

    void regs_error(uint32_t t, const std::string& what, const TState& s) {
        std::string since = s.treg_tok ? " (since line " + std::to_string(c.tok(s.treg_tok).line) + ")" : "";
        c.add(Sev::Error, "tt.tile-regs-order", t,
              what + "; the tile registers are " + treg_name(s.treg) + since +
                  ": the protocol is tile_regs_acquire -> math -> tile_regs_commit -> tile_regs_wait -> pack_tile -> "
                  "tile_regs_release");
    }

    void event(const Expr& x, Ev ev, TState& s) {
        if (s.dead) return;
        const uint32_t t = c.ast.exprs[x.a].tok;
        const std::string name(c.text(t));
        switch (ev) {
            case EV_READ: s.rd = true; s.rd_tok = t; break;
            case EV_WRITE: s.wr = true; s.wr_tok = t; break;
            case EV_READ_BAR: s.rd = false; break;
            case EV_WRITE_BAR: s.wr = false; break;
            case EV_FULL_BAR: s.rd = s.wr = false; break;
            case EV_PUSH:
                if (s.rd) {
                    c.add(Sev::Error, "tt.noc-read-barrier", t,
                          name + " while the " + std::string(c.text(s.rd_tok)) + " at line " +
                              std::to_string(c.tok(s.rd_tok).line) +
                              " may still be in flight: call noc_async_read_barrier() before pushing the tiles");
                }
                break;
            case EV_POP:
                if (s.wr) {
                    c.add(Sev::Error, "tt.noc-write-barrier", t,
                          name + " while the " + std::string(c.text(s.wr_tok)) + " at line " +
                              std::to_string(c.tok(s.wr_tok).line) +
                              " may still be reading the tiles: call noc_async_write_barrier() before popping them");
                }
                break;
            default: break;
        }
        if (!check_regs) return;
        auto set = [&](uint8_t v) {
            s.treg = v;
            s.treg_tok = t;
        };
        const bool unk = s.treg == T_UNKNOWN;
        switch (ev) {
            case EV_ACQ:
                if (s.treg != T_IDLE && !unk) {
                    regs_error(t, name + "() while the registers are still held", s);
                    set(T_UNKNOWN);
                } else {
                    set(T_ACQ);
                }
                break;
            case EV_COMMIT:
                if (s.treg != T_ACQ && !unk) {
                    regs_error(t, name + "() without a preceding tile_regs_acquire()", s);
                    set(T_UNKNOWN);
                } else {
                    set(T_COMMIT);
                }
                break;
            case EV_TWAIT:
                if (s.treg != T_COMMIT && !unk) {
                    regs_error(t, name + "() without a preceding tile_regs_commit()", s);
                    set(T_UNKNOWN);
                } else {
                    set(T_WAIT);
                }
                break;
            case EV_RELEASE:
                if (s.treg != T_WAIT && !unk) {
                    regs_error(t, name + "() without a preceding tile_regs_wait()", s);
                    set(T_UNKNOWN);
                } else {
                    set(T_IDLE);
                }
                break;
            case EV_ACQ_DST:
                if (s.treg != T_IDLE && !unk) {
                    regs_error(t, name + "() while the registers are still held", s);
                    set(T_UNKNOWN);
                } else {
                    set(T_LEGACY);
                }
                break;
            case EV_REL_DST:
                if (s.treg != T_LEGACY && !unk) {
                    regs_error(t, name + "() without a preceding acquire_dst()", s);
                    set(T_UNKNOWN);
                } else {
                    set(T_IDLE);
                }
                break;
            case EV_MATH:
                if (s.treg != T_ACQ && s.treg != T_LEGACY && !unk)
                    regs_error(t, name + " writes the destination registers outside acquire/commit", s);
                break;
            case EV_PACK:
                if (s.treg != T_WAIT && s.treg != T_LEGACY && !unk) {
                    regs_error(t, name + " reads the destination registers before tile_regs_wait()", s);
                    set(T_UNKNOWN);
                }
                break;
            default: break;
        }
    }

    void expr(int32_t e, TState& s) {
        visit(c.ast, e, [&](int32_t, const Expr& x) {
            if (x.kind == EK::Call) {
                Ev ev = classify(c, x);
                if (ev != EV_NONE) event(x, ev, s);
            }
            return true;
        });
    }

    void end(TState& s, uint32_t t) {
        if (s.dead || !is_main) return;
        if (s.wr) {
            c.add(Sev::Error, "tt.noc-write-barrier", s.wr_tok,
                  "the " + std::string(c.text(s.wr_tok)) +
                      " is still in flight when the kernel returns: call noc_async_write_barrier()");
        }
        if (s.rd) {
            c.add(Sev::Error, "tt.noc-read-barrier", s.rd_tok,
                  "the " + std::string(c.text(s.rd_tok)) +
                      " is never waited for: call noc_async_read_barrier() before using the data");
        }
        if (check_regs && s.treg != T_IDLE && s.treg != T_UNKNOWN) {
            regs_error(t, "the kernel returns with the tile registers still held", s);
        }
    }

    void loop(int32_t cond, int32_t step, int32_t body, bool cond_first, TState& s) {
        if (cond_first) expr(cond, s);
        TState exit = cond_first ? s : dead();
        Frame fr;
        fr.brk = dead();
        frames.push_back(fr);
        const int iters = nest < 3 ? 2 : 1;
        ++nest;
        TState it = s;
        for (int k = 0; k < iters; ++k) {
            frames.back().cont = dead();
            stmt(body, it);
            merge_into(it, frames.back().cont);
            if (it.dead) break;
            expr(step, it);
            expr(cond, it);
            merge_into(exit, it);
        }
        --nest;
        merge_into(exit, frames.back().brk);
        frames.pop_back();
        s = exit;
    }

    void stmt(int32_t id, TState& s) {
        if (id < 0) return;
        const Stmt& st = c.ast.stmts[id];
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
                for (auto it = frames.rbegin(); it != frames.rend(); ++it)
                    if (it->is_switch) {
                        merge_into(s, it->entry);
                        break;
                    }
                break;
            case SK::Return:
                expr(st.e0, s);
                end(s, st.tok);
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
                TState t = s, u = s;
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
                TState b = dead();
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

void rules_ttmetal(Ctx& c, int f) {
    const Function& fn = c.ast.funcs[f];
    FnRes& r = c.res[f];
    bool regs_calls = false, any_tile = false;
    int rt = -1, ct = -1;
    walk_stmts(c.ast, fn.body, [](int32_t, const Stmt&) { return true; },
               [&](int32_t e) {
                   visit(c.ast, e, [&](int32_t, const Expr& x) {
                       if (x.kind != EK::Call) return true;
                       Ev ev = classify(c, x);
                       if (ev >= EV_ACQ && ev <= EV_REL_DST) regs_calls = true;
                       if (ev == EV_MATH || ev == EV_PACK) any_tile = true;
                       if ((x.op == W::get_arg_val || x.op == W::get_compile_time_arg_val) && x.nlist >= 1) {
                           int64_t v;
                           if (c.cint(c.ast.lists[x.list], v) && v >= 0 && v < 100000) {
                               int& m = x.op == W::get_arg_val ? rt : ct;
                               m = std::max<int>(m, static_cast<int>(v));
                           }
                       }
                       return true;
                   });
               });
    r.runtime_args = rt + 1;
    r.ct_args = ct + 1;

    Pairing p{c, r, c.exp.tile_bytes > 0 ? c.exp.tile_bytes : 2048};
    p.region(fn.body, false);

    Flow w{c, regs_calls || (fn.is_tt_main && any_tile), fn.is_tt_main, {}, 0};
    TState s;
    w.stmt(fn.body, s);
    w.end(s, fn.body_close);
}

}  // namespace uhop::an
