// Memory access: vector loads/stores (vloadN/vstoreN, floatN pointers, vector pointer
// casts), the indexing pattern of global accesses along the fastest work-item id
// (unit-stride, strided, uniform, irregular), atomics.
#include <cstdlib>

#include "analysis.hpp"

namespace uhop::an {

namespace {

Cls U() { return Cls(); }
Cls Uc(int64_t v) {
    Cls c;
    c.has_c = true;
    c.c = v;
    return c;
}
Cls L(int64_t s) {
    Cls c;
    c.k = Cls::L;
    c.stride = s;
    return c;
}
Cls N() {
    Cls c;
    c.k = Cls::N;
    return c;
}

Cls join(const Cls& a, const Cls& b) {
    if (a.k != b.k) return N();
    if (a.k == Cls::U) return (a.has_c && b.has_c && a.c == b.c) ? a : U();
    if (a.k == Cls::L) return a.stride == b.stride ? a : L(0);
    return N();
}

Cls add(const Cls& a, const Cls& b, bool sub) {
    if (a.k == Cls::U && b.k == Cls::U) {
        int64_t v;
        if (a.has_c && b.has_c && !(sub ? __builtin_sub_overflow(a.c, b.c, &v) : __builtin_add_overflow(a.c, b.c, &v)))
            return Uc(v);
        return U();
    }
    if (b.k == Cls::U) return a;
    if (a.k == Cls::U) return b.k == Cls::L ? L(sub ? -b.stride : b.stride) : b;
    if (a.k == Cls::L && b.k == Cls::L) {
        if (a.stride == 0 || b.stride == 0) return L(0);
        int64_t s = sub ? a.stride - b.stride : a.stride + b.stride;
        return s == 0 ? U() : L(s);
    }
    return N();
}

Cls mul(const Cls& a, const Cls& b) {
    if (a.k == Cls::U && b.k == Cls::U) {
        int64_t v;
        if (a.has_c && b.has_c && !__builtin_mul_overflow(a.c, b.c, &v)) return Uc(v);
        return U();
    }
    const Cls& l = a.k == Cls::L ? a : b;
    const Cls& u = a.k == Cls::L ? b : a;
    if (l.k == Cls::L && u.k == Cls::U) {
        if (u.has_c) {
            int64_t v;
            if (u.c == 0) return Uc(0);
            if (l.stride != 0 && !__builtin_mul_overflow(l.stride, u.c, &v)) return L(v);
        }
        return L(0);
    }
    return N();
}

Cls divide(const Cls& a, const Cls& b) {
    if (b.k != Cls::U) return N();
    if (a.k == Cls::U) return (a.has_c && b.has_c && b.c != 0) ? Uc(a.c / b.c) : U();
    if (a.k == Cls::L) {
        if (b.has_c && b.c != 0 && a.stride != 0 && a.stride % b.c == 0) return L(a.stride / b.c);
        return U();  // consecutive work-items share the quotient
    }
    return N();
}

Cls modulo(const Cls& a, const Cls& b) {
    if (b.k != Cls::U) return N();
    if (a.k == Cls::U) return (a.has_c && b.has_c && b.c != 0) ? Uc(a.c % b.c) : U();
    if (a.k == Cls::L) return a;  // piecewise linear
    return N();
}

struct Mem {
    Ctx& c;
    std::vector<Cls> args;  // argument classes of the calls being scanned (a stack)
    explicit Mem(Ctx& c_) : c(c_) { args.reserve(32); }

    bool global_ptr(const Decl* d, int depth = 0) const {
        if (!d || d->ptr == 0) return false;
        if (c.is_cl()) return d->ts.space == SP_GLOBAL;
        if (c.is_cuda()) {
            if (d->ts.space != SP_NONE) return false;
            if (d->is_param) return true;
            if (d->init < 0 || depth > 4) return false;
            int32_t r = c.root_sym(d->init);
            return r > 0 && global_ptr(c.decl_of(static_cast<uint32_t>(r)), depth + 1);
        }
        return false;
    }

    Cls name_cls(uint32_t sym) const {
        if (c.cls.has(sym)) return c.cls.get(sym);
        if (sym < c.chas.size() && (c.chas[sym] & 1)) return Uc(c.cval[sym]);
        return U();
    }

    Cls id_call(const Expr& x) const {
        int64_t dim = -1;
        if (x.nlist >= 1) c.cint(c.ast.lists[x.list], dim);
        switch (x.op) {
            case W::get_global_id: case W::get_local_id:
                return dim == 0 ? L(1) : dim > 0 ? U() : N();
            case W::get_local_linear_id: case W::get_global_linear_id: case W::get_sub_group_local_id:
                return L(1);
            default:
                return U();
        }
    }

    void count(const Cls& k, int width, uint32_t arr_sym, uint32_t tok, int32_t access) {
        if (k.k == Cls::U) {
            ++c.rep.uniform;
            return;
        }
        if (k.k == Cls::L) {
            int64_t s = std::llabs(k.stride);
            if (s == 1 || (width > 1 && s == width)) {
                ++c.rep.unit_stride;
                return;
            }
            ++c.rep.strided;
            uint8_t& fl = c.flags.put(arr_sym);
            if (!(fl & 1)) {
                fl |= 1;
                std::string st = s ? std::to_string(s) + " elements" : std::string("a runtime value");
                c.add(Sev::Info, "mem.strided-access", tok,
                      "`" + c.expr_text(access) + "` is strided along the fastest work-item id (stride " + st +
                          "): neighbouring work-items touch distant addresses");
            }
            return;
        }
        ++c.rep.irregular;
        uint8_t& fl = c.flags.put(arr_sym);
        if (!(fl & 2)) {
            fl |= 2;
            c.add(Sev::Info, "mem.irregular-access", tok,
                  "`" + c.expr_text(access) + "` has an index that is not affine in the fastest work-item id (gather/scatter)");
        }
    }

    // One walk: visits every access (counting them) and returns the expression's class.
    Cls scan(int32_t e) {
        if (e < 0) return U();
        const Expr& x = c.ast.exprs[e];
        switch (x.kind) {
            case EK::Num: {
                const Token& t = c.tok(x.tok);
                int64_t v;
                if (parse_int_literal(c.src.substr(t.off, t.len), v)) return Uc(v);
                return U();
            }
            case EK::Name:
                if (c.is_cuda() && x.op == W::threadIdx) return N();
                return name_cls(x.sym);
            case EK::Member: {
                const Expr& base = c.ast.exprs[x.a];
                if (base.kind == EK::Name && base.op == W::threadIdx) return c.sym_text(x.sym) == "x" ? L(1) : U();
                if (base.kind == EK::Name &&
                    (base.op == W::blockIdx || base.op == W::blockDim || base.op == W::gridDim))
                    return U();
                return scan(x.a);
            }
            case EK::Assign: {
                const Cls rhs = scan(x.b);
                const Expr& l = c.ast.exprs[x.a];
                if (l.kind == EK::Index) {
                    const Cls k = index_cls(x.a);
                    access(x.a, true, k);
                    if (x.op != '=') access(x.a, false, k);
                    if (c.ast.exprs[l.a].kind != EK::Name) scan(l.a);
                } else if (l.kind == EK::Name) {
                    const Cls old = name_cls(l.sym);
                    Cls nv;
                    switch (x.op) {
                        case '=': nv = rhs; break;
                        case P_ADDEQ: nv = add(old, rhs, false); break;
                        case P_SUBEQ: nv = add(old, rhs, true); break;
                        case P_MULEQ: nv = mul(old, rhs); break;
                        case P_DIVEQ: nv = divide(old, rhs); break;
                        case P_MODEQ: nv = modulo(old, rhs); break;
                        default: nv = (old.k == Cls::U && rhs.k == Cls::U) ? U() : N(); break;
                    }
                    const Cls v = c.cls.has(l.sym) ? join(old, nv) : nv;
                    c.cls.put(l.sym) = v;
                } else {
                    scan(x.a);
                }
                return rhs;
            }
            case EK::Index: {
                const Cls k = index_cls(e);
                access(e, false, k);
                const Cls base = c.ast.exprs[x.a].kind != EK::Name ? scan(x.a) : name_cls(c.ast.exprs[x.a].sym);
                return k.k == Cls::U && base.k == Cls::U ? U() : N();
            }
            case EK::Call: {
                const size_t mark = args.size();
                for (uint32_t i = 0; i < x.nlist; ++i) {
                    const Cls k = scan(c.ast.lists[x.list + i]);
                    args.push_back(k);
                }
                Cls out = U();
                const bool named = c.ast.exprs[x.a].kind == EK::Name;
                if (!named) scan(x.a);
                if (c.is_cl() && named && c.varying_source(x) && !(x.sym < c.fn_of_sym.size() && c.fn_of_sym[x.sym] >= 0)) {
                    out = id_call(x);
                } else if ((x.op == W::mad || x.op == W::mad24 || x.op == W::fma_) && x.nlist == 3) {
                    out = add(mul(args[mark], args[mark + 1]), args[mark + 2], false);
                } else if (x.op == W::mul24 && x.nlist == 2) {
                    out = mul(args[mark], args[mark + 1]);
                } else if (c.varying_source(x)) {
                    out = N();
                } else {
                    for (uint32_t i = 0; i < x.nlist; ++i)
                        if (args[mark + i].k != Cls::U) out = N();
                }
                const uint8_t info = named ? c.call_info(x.sym) : 0;
                if (info) {
                    std::string_view name = c.sym_text(x.sym);
                    const int w = info & 31;
                    const bool ld = (info & 32) != 0;
                    if (w && x.nlist >= (ld ? 2u : 3u)) {
                        const uint32_t io = ld ? 0 : 1, ip = ld ? 1 : 2;
                        int32_t ptr = c.ast.lists[x.list + ip];
                        int32_t r = c.root_sym(ptr);
                        const Decl* d = r > 0 ? c.decl_of(static_cast<uint32_t>(r)) : nullptr;
                        if (global_ptr(d)) {
                            if (w > 1) (ld ? c.rep.vector_loads : c.rep.vector_stores)++;
                            Cls k = add(mul(args[mark + io], Uc(w)), args[mark + ip], false);
                            count(k, w, static_cast<uint32_t>(r), x.tb, e);
                        }
                    } else if (info & 128) {
                        ++c.rep.atomics;
                        std::string where;
                        if (x.nlist) {
                            int32_t r = c.root_sym(c.ast.lists[x.list]);
                            const Decl* d = r > 0 ? c.decl_of(static_cast<uint32_t>(r)) : nullptr;
                            if (d && d->ts.space == SP_LOCAL) where = " on local memory";
                            else if (d) where = " on `" + std::string(c.sym_text(static_cast<uint32_t>(r))) + "`";
                        }
                        c.add(Sev::Info, "mem.atomic", x.tb,
                              "`" + std::string(name) + "`" + where + ": conflicting work-items are serialised");
                    }
                }
                args.resize(mark);
                return out;
            }
            case EK::Cast:
                if ((x.flags & EF_PTR_TYPE) && is_vector_type(x.op)) {
                    ++c.rep.vector_casts;
                    int lanes = vector_lanes(x.op);
                    int sb = scalar_bytes(vector_elem(x.op));
                    c.add(Sev::Info, "mem.vector-cast", x.tb,
                          "pointer cast to `" + std::string(word_text(x.op)) + "*`: the address must be " +
                              std::to_string(sb * (lanes == 3 ? 4 : lanes)) + "-byte aligned");
                }
                return scan(x.a);
            case EK::Ternary: {
                scan(x.a);
                const Cls b = scan(x.b);
                return join(b, scan(x.c));
            }
            case EK::Unary: {
                Cls a = scan(x.a);
                if (x.op == '-') return a.k == Cls::L ? L(-a.stride) : a.k == Cls::U ? (a.has_c ? Uc(-a.c) : U()) : N();
                if (x.op == '+') return a;
                return a.k == Cls::U ? U() : N();
            }
            case EK::Comma: {
                Cls last = U();
                for (uint32_t i = 0; i < x.nlist; ++i) last = scan(c.ast.lists[x.list + i]);
                return last;
            }
            case EK::Binary: {
                const Cls a = scan(x.a);
                const Cls b = scan(x.b);
                return binary(x.op, a, b);
            }
            default:
                if (x.a >= 0) scan(x.a);
                if (x.b >= 0) scan(x.b);
                if (x.c >= 0) scan(x.c);
                for (uint32_t i = 0; i < x.nlist; ++i) scan(c.ast.lists[x.list + i]);
                return U();
        }
    }

    static Cls binary(uint16_t op, const Cls& a, const Cls& b) {
        switch (op) {
            case '+': return add(a, b, false);
            case '-': return add(a, b, true);
            case '*': return mul(a, b);
            case '/': return divide(a, b);
            case '%': return modulo(a, b);
            case P_SHL:
                if (b.k == Cls::U && b.has_c && b.c >= 0 && b.c < 31) return mul(a, Uc(int64_t(1) << b.c));
                return a.k == Cls::U && b.k == Cls::U ? U() : N();
            case P_SHR:
                if (b.k == Cls::U && b.has_c && b.c >= 0 && b.c < 31) return divide(a, Uc(int64_t(1) << b.c));
                return a.k == Cls::U && b.k == Cls::U ? U() : N();
            case '&':
                if (a.k == Cls::L && b.k == Cls::U) return a;
                if (b.k == Cls::L && a.k == Cls::U) return b;
                return a.k == Cls::U && b.k == Cls::U ? U() : N();
            default:
                return a.k == Cls::U && b.k == Cls::U ? U() : N();
        }
    }

    // class of the subscript of an access (scanning it)
    Cls index_cls(int32_t e) { return scan(c.ast.exprs[e].b); }

    void access(int32_t e, bool store, const Cls& k) {
        const Expr& x = c.ast.exprs[e];
        int32_t r = c.root_sym(e);
        if (r <= 0) return;
        const Decl* d = c.decl_of(static_cast<uint32_t>(r));
        if (!global_ptr(d)) return;
        int lanes = vector_lanes(d->ts.word);
        if (lanes > 1) (store ? c.rep.vector_stores : c.rep.vector_loads)++;
        count(k, 1, static_cast<uint32_t>(r), x.tb, e);
    }

    void stmt(int32_t s) {
        if (s < 0) return;
        const Stmt& st = c.ast.stmts[s];
        switch (st.kind) {
            case SK::Block:
                for (uint32_t i = 0; i < st.nlist; ++i) stmt(c.ast.lists[st.list + i]);
                return;
            case SK::Decl:
                for (uint32_t i = 0; i < st.nlist; ++i) {
                    const Decl& d = c.ast.decls[c.ast.lists[st.list + i]];
                    if (d.init < 0) continue;
                    const Cls k = scan(d.init);
                    if (d.sym && !d.is_array()) c.cls.put(d.sym) = k;  // a declaration starts a new variable
                }
                return;
            case SK::For:
                stmt(st.s0);
                scan(st.e0);
                stmt(st.s1);
                scan(st.e1);
                return;
            default:
                scan(st.e0);
                scan(st.e1);
                stmt(st.s0);
                stmt(st.s1);
                return;
        }
    }
};

}  // namespace

void rules_memory(Ctx& c, int f) {
    Mem m(c);
    m.stmt(c.ast.funcs[f].body);
}

}  // namespace uhop::an
