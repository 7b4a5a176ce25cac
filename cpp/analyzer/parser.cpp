#include "parser.hpp"

#include <algorithm>

namespace uhop::an {
namespace {

class Parser {
public:
    Parser(const std::vector<Token>& toks, const std::vector<int32_t>& match, std::string_view src, Target target,
           Ast& ast)
        : toks_(toks), match_(match), src_(src), target_(target), ast_(ast) {
        end_ = static_cast<uint32_t>(toks.size() ? toks.size() - 1 : 0);
        endtok_.kind = TK::End;
        if (!toks.empty()) endtok_ = toks.back();
        endtok_.kind = TK::End;
    }

    void file(uint32_t b, uint32_t e);
    int32_t expr_range(uint32_t b, uint32_t e);

private:
    const std::vector<Token>& toks_;
    const std::vector<int32_t>& match_;
    std::string_view src_;
    Target target_;
    Ast& ast_;
    uint32_t pos_ = 0, end_ = 0;
    Token endtok_;
    int nest_ = 0;
    std::vector<int32_t> scratch_;

    struct Sub {
        Parser& p;
        uint32_t saved;
        Sub(Parser& p_, uint32_t e) : p(p_), saved(p_.end_) { p.end_ = std::min(e, p_.end_); }
        ~Sub() { p.end_ = saved; }
    };
    struct Nest {
        Parser& p;
        explicit Nest(Parser& p_) : p(p_) {
            if (++p.nest_ > kMaxNest && !p.ast_.too_deep) {
                p.ast_.too_deep = true;
                p.ast_.too_deep_tok = p.pos_ < p.toks_.size() ? p.pos_ : 0;
            }
        }
        ~Nest() { --p.nest_; }
    };

    // ---- token helpers
    const Token& tk(uint32_t i) const { return i < end_ ? toks_[i] : endtok_; }
    bool punct(uint32_t i, uint16_t c) const {
        return i < end_ && toks_[i].kind == TK::Punct && toks_[i].code == c;
    }
    bool word(uint32_t i, uint16_t w) const { return i < end_ && toks_[i].kind == TK::Ident && toks_[i].code == w; }
    bool ident(uint32_t i) const { return i < end_ && toks_[i].kind == TK::Ident; }
    // index of the partner of an opener at i (or i itself when unmatched, which the lexer excludes)
    uint32_t close_of(uint32_t i) const {
        int32_t m = i < match_.size() ? match_[i] : -1;
        return m > static_cast<int32_t>(i) ? static_cast<uint32_t>(m) : i;
    }
    bool is_open(uint32_t i) const {
        return i < end_ && toks_[i].kind == TK::Punct &&
               (toks_[i].code == '(' || toks_[i].code == '[' || toks_[i].code == '{');
    }
    // first index in [p, e) holding punct c at depth 0 (groups skipped), else e
    uint32_t find_top(uint32_t p, uint32_t e, uint16_t c) const {
        while (p < e) {
            if (toks_[p].kind == TK::Punct) {
                if (toks_[p].code == c) return p;
                if (toks_[p].code == '(' || toks_[p].code == '[' || toks_[p].code == '{') {
                    p = close_of(p) + 1;
                    continue;
                }
            }
            ++p;
        }
        return e;
    }
    bool is_type_sym(uint32_t sym) const { return sym < ast_.is_type.size() && ast_.is_type[sym]; }
    bool cl() const { return target_ == Target::OpenCL; }

    // ---- node builders
    int32_t mk(EK k, uint32_t tok, uint32_t tb, uint32_t te, int32_t a = -1, int32_t b = -1, int32_t c = -1) {
        int d = 0;
        if (a >= 0) d = std::max<int>(d, ast_.exprs[a].depth);
        if (b >= 0) d = std::max<int>(d, ast_.exprs[b].depth);
        if (c >= 0) d = std::max<int>(d, ast_.exprs[c].depth);
        if (d + 1 > kMaxNest && !ast_.too_deep) {
            ast_.too_deep = true;
            ast_.too_deep_tok = tok;
        }
        Expr& x = ast_.exprs.emplace_back();  // in place (see the lexer)
        x.kind = k;
        x.tok = tok;
        x.tb = tb;
        x.te = te;
        x.a = a;
        x.b = b;
        x.c = c;
        x.depth = static_cast<uint16_t>(std::min(d + 1, 60000));
        return static_cast<int32_t>(ast_.exprs.size() - 1);
    }
    void set_list(int32_t e, size_t mark) {
        Expr& x = ast_.exprs[e];
        x.list = static_cast<uint32_t>(ast_.lists.size());
        x.nlist = static_cast<uint32_t>(scratch_.size() - mark);
        int d = x.depth - 1;
        for (size_t i = mark; i < scratch_.size(); ++i) {
            ast_.lists.push_back(scratch_[i]);
            d = std::max<int>(d, ast_.exprs[scratch_[i]].depth);
        }
        scratch_.resize(mark);
        if (d + 1 > kMaxNest && !ast_.too_deep) {
            ast_.too_deep = true;
            ast_.too_deep_tok = x.tok;
        }
        ast_.exprs[e].depth = static_cast<uint16_t>(std::min(d + 1, 60000));
    }
    int32_t mk_stmt(SK k, uint32_t tok) {
        Stmt& s = ast_.stmts.emplace_back();
        s.kind = k;
        s.tok = tok;
        return static_cast<int32_t>(ast_.stmts.size() - 1);
    }
    Stmt& st(int32_t i) { return ast_.stmts[i]; }

    // ---- declarations
    bool qualifier_word(uint16_t w) const;
    bool starts_decl(uint32_t p, uint32_t e) const;
    uint32_t template_close(uint32_t lt, uint32_t e) const;
    bool cast_ahead(uint32_t lp) const;
    void specifiers(TypeSpec& ts);
    bool declarator(Decl& d, bool param);
    int32_t decl_stmt(uint32_t b, uint32_t e);
    void parameters(uint32_t lp, uint32_t rp, Function& f);
    void attributes(uint32_t b, uint32_t e, Function& f);
    void args_into(uint32_t lp, int32_t* out, int& n, int cap);

    // ---- statements
    int32_t stmt();
    int32_t stmt_inner();
    int32_t block(uint32_t open);
    int32_t simple_stmt();
    int32_t cond_group(uint32_t lp);

    // ---- expressions
    int32_t comma();
    int32_t assign();
    int32_t ternary();
    int32_t binary(int minprec);
    int32_t unary();
    int32_t postfix(int32_t x);
    int32_t primary();
};

// ------------------------------------------------------------------ declarations
bool Parser::qualifier_word(uint16_t w) const {
    switch (w) {
        case W::const_: case W::volatile_: case W::static_: case W::inline_: case W::extern_: case W::restrict_:
        case W::restrict2: case W::restrict3: case W::register_: case W::constexpr_: case W::unsigned_:
        case W::signed_: case W::forceinline: case W::noinline: case W::always_inline: case W::tt_l1_ptr:
        case W::cl_global: case W::cl_local: case W::cl_constant: case W::cl_private: case W::cu_device:
        case W::cu_host: case W::cu_shared: case W::cu_constant: case W::typename_: case W::struct_: case W::union_:
        case W::enum_: case W::class_:
            return true;
        case W::cl_global2: case W::cl_local2: case W::cl_constant2: case W::cl_private2:
            return cl();
        default:
            return false;
    }
}

// Does [p, e) start a declaration?
bool Parser::starts_decl(uint32_t p, uint32_t e) const {
    bool qual = false;
    while (p < e && toks_[p].kind == TK::Ident) {
        uint16_t w = toks_[p].code;
        if ((w == W::attribute || w == W::attribute2) && p + 1 < e && toks_[p + 1].kind == TK::Punct &&
            toks_[p + 1].code == '(') {
            p = close_of(p + 1) + 1;
            continue;
        }
        if (!qualifier_word(w)) break;
        if (w != W::inline_ && w != W::forceinline && w != W::noinline) qual = true;
        ++p;
    }
    if (p >= e) return false;
    const Token& t = toks_[p];
    if (t.kind == TK::Punct && t.code == P_SCOPE) return p + 1 < e && starts_decl(p + 1, e);
    if (t.kind != TK::Ident) return false;
    if (is_builtin_type(t.code) || t.code == W::auto_) return true;
    if (qual) return true;
    if (t.code != W_none && !is_type_sym(t.sym)) {
        // keywords and known functions do not start declarations
        if (t.code != W::tt_l1_ptr) return false;
    }
    // Name (:: Name)* [<...>] (* | &)* Name then = ; , [ ( {
    uint32_t q = p + 1;
    while (q + 1 < e && toks_[q].kind == TK::Punct && toks_[q].code == P_SCOPE && toks_[q + 1].kind == TK::Ident) q += 2;
    if (q < e && toks_[q].kind == TK::Punct && toks_[q].code == '<') {
        uint32_t gt = template_close(q, e);
        if (!gt) return false;
        q = gt + 1;
    }
    bool typed = is_type_sym(t.sym);
    while (q < e && toks_[q].kind == TK::Punct && (toks_[q].code == '*' || toks_[q].code == '&' || toks_[q].code == P_ANDAND)) ++q;
    while (q < e && toks_[q].kind == TK::Ident && qualifier_word(toks_[q].code)) ++q;
    if (q >= e || toks_[q].kind != TK::Ident) return false;
    if (toks_[q].code != W_none && !typed && is_builtin_type(toks_[q].code)) return false;
    ++q;
    if (q >= e) return true;  // `Type name` up to the end of the statement
    const Token& n = toks_[q];
    if (n.kind != TK::Punct) return false;
    return n.code == '=' || n.code == ';' || n.code == ',' || n.code == '[' || n.code == '{' ||
           (n.code == '(' && typed) || n.code == ':';
}

// `<` at lt opens template arguments closed before e? Returns the closing `>` index or 0.
uint32_t Parser::template_close(uint32_t lt, uint32_t e) const {
    int depth = 0;
    uint32_t limit = std::min<uint32_t>(e, lt + 48);
    for (uint32_t q = lt; q < limit; ++q) {
        const Token& t = toks_[q];
        if (t.kind == TK::Punct) {
            if (t.code == '<') {
                ++depth;
            } else if (t.code == '>') {
                if (--depth == 0) return q;
            } else if (t.code == P_SHR) {
                depth -= 2;
                if (depth <= 0) return depth == 0 ? q : 0;
            } else if (t.code == '(') {
                q = close_of(q);
            } else if (!(t.code == P_SCOPE || t.code == ',' || t.code == '*' || t.code == '&' || t.code == '+' ||
                         t.code == '-')) {
                return 0;
            }
        } else if (t.kind != TK::Ident && t.kind != TK::Number) {
            return 0;
        }
    }
    return 0;
}

// Does the `(` at lp open a cast `(type-name) operand`?
bool Parser::cast_ahead(uint32_t lp) const {
    uint32_t rp = close_of(lp);
    if (rp <= lp + 1 || rp >= end_) return false;
    bool typeish = false;
    for (uint32_t q = lp + 1; q < rp; ++q) {
        const Token& t = toks_[q];
        if (t.kind == TK::Ident) {
            if (is_builtin_type(t.code) || is_type_sym(t.sym)) {
                typeish = true;
            } else if (t.code == W::unsigned_ || t.code == W::signed_) {
                typeish = true;
            } else if (qualifier_word(t.code)) {
            } else if (t.code == W_none && t.len > 2 && src_.compare(t.off + t.len - 2, 2, "_t") == 0) {
                typeish = true;
            } else {
                return false;
            }
        } else if (t.kind == TK::Punct) {
            if (!(t.code == '*' || t.code == '&' || t.code == P_SCOPE || t.code == '<' || t.code == '>')) return false;
        } else {
            return false;
        }
    }
    if (!typeish) return false;
    const Token& n = tk(rp + 1);
    switch (n.kind) {
        case TK::Ident: case TK::Number: case TK::String: case TK::Char: return true;
        case TK::Punct:
            return n.code == '(' || n.code == '-' || n.code == '+' || n.code == '!' || n.code == '~' ||
                   n.code == '*' || n.code == '&' || n.code == P_INC || n.code == P_DEC || n.code == '{';
        default: return false;
    }
}

void Parser::specifiers(TypeSpec& ts) {
    ts.tb = pos_;
    bool have_type = false;
    int longs = 0;
    bool is_unsigned = false, is_signed = false, is_short = false;
    uint16_t base = 0;
    while (pos_ < end_) {
        const Token& t = toks_[pos_];
        if (t.kind == TK::Punct && t.code == P_SCOPE && !have_type) {
            ++pos_;
            continue;
        }
        if (t.kind != TK::Ident) break;
        uint16_t w = t.code;
        if ((w == W::attribute || w == W::attribute2 || w == W::launch_bounds) && punct(pos_ + 1, '(')) {
            pos_ = close_of(pos_ + 1) + 1;
            continue;
        }
        switch (w) {
            case W::const_: ts.is_const = true; ++pos_; continue;
            case W::volatile_: ts.is_volatile = true; ++pos_; continue;
            case W::static_: ts.is_static = true; ++pos_; continue;
            case W::extern_: ts.is_extern = true; ++pos_; continue;
            case W::constexpr_: ts.is_constexpr = true; ts.is_const = true; ++pos_; continue;
            case W::restrict_: case W::restrict2: case W::restrict3: ts.is_restrict = true; ++pos_; continue;
            case W::register_: case W::inline_: case W::forceinline: case W::noinline: case W::always_inline:
            case W::tt_l1_ptr: case W::cu_device: case W::cu_host: case W::typename_: case W::cl_kernel:
            case W::cu_global:
                ++pos_;
                continue;
            case W::cu_shared: ts.is_shared = true; ts.space = SP_LOCAL; ++pos_; continue;
            case W::cu_constant: ts.space = SP_CONSTANT; ++pos_; continue;
            case W::cl_global: ts.space = SP_GLOBAL; ++pos_; continue;
            case W::cl_local: ts.space = SP_LOCAL; ++pos_; continue;
            case W::cl_constant: ts.space = SP_CONSTANT; ++pos_; continue;
            case W::cl_private: ts.space = SP_PRIVATE; ++pos_; continue;
            case W::cl_global2: if (cl()) { ts.space = SP_GLOBAL; ++pos_; continue; } break;
            case W::cl_local2: if (cl()) { ts.space = SP_LOCAL; ++pos_; continue; } break;
            case W::cl_constant2: if (cl()) { ts.space = SP_CONSTANT; ++pos_; continue; } break;
            case W::cl_private2: if (cl()) { ts.space = SP_PRIVATE; ++pos_; continue; } break;
            case W::cl_kernel2: if (cl()) { ++pos_; continue; } break;
            case W::unsigned_: is_unsigned = true; have_type = true; ++pos_; continue;
            case W::signed_: is_signed = true; have_type = true; ++pos_; continue;
            case W::long_: ++longs; have_type = true; ++pos_; continue;
            case W::short_: is_short = true; have_type = true; ++pos_; continue;
            case W::struct_: case W::union_: case W::enum_: case W::class_:
                ++pos_;
                if (ident(pos_)) {
                    ts.type_sym = toks_[pos_].sym;
                    ++pos_;
                }
                if (punct(pos_, '{')) pos_ = close_of(pos_) + 1;
                have_type = true;
                continue;
            default: break;
        }
        if (is_builtin_type(w) || w == W::auto_) {
            if (base || ts.type_sym) break;
            base = w;
            have_type = true;
            ++pos_;
            continue;
        }
        if (have_type) break;  // the declarator name
        // a named type: Name (:: Name)* [<...>]
        ts.type_sym = t.sym;
        ++pos_;
        while (punct(pos_, P_SCOPE) && ident(pos_ + 1)) {
            ts.type_sym = toks_[pos_ + 1].sym;
            pos_ += 2;
        }
        if (punct(pos_, '<')) {
            uint32_t gt = template_close(pos_, end_);
            if (gt) pos_ = gt + 1;
        }
        have_type = true;
    }
    // normalise the builtin type
    if (base == W::char_) {
        base = is_unsigned ? W::uchar : W::char_;
    } else if (base == W::int_ || (!base && !ts.type_sym && (is_unsigned || is_signed || longs || is_short))) {
        if (longs) base = is_unsigned ? W::ulong : W::long_;
        else if (is_short) base = is_unsigned ? W::ushort : W::short_;
        else base = is_unsigned ? W::uint : W::int_;
    } else if (base == W::double_ && longs) {
        base = W::double_;
    }
    ts.word = base;
    ts.te = pos_;
}

bool Parser::declarator(Decl& d, bool param) {
    d.tb = pos_;
    while (pos_ < end_) {
        const Token& t = toks_[pos_];
        if (t.kind == TK::Punct && t.code == '*') {
            ++d.ptr;
            ++pos_;
        } else if (t.kind == TK::Punct && (t.code == '&' || t.code == P_ANDAND)) {
            d.is_ref = true;
            ++pos_;
        } else if (t.kind == TK::Ident && (qualifier_word(t.code) && t.code != W::struct_ && t.code != W::class_ &&
                                            t.code != W::union_ && t.code != W::enum_)) {
            switch (t.code) {
                case W::cl_global: case W::cl_global2: d.ts.space = SP_GLOBAL; break;
                case W::cl_local: case W::cl_local2: d.ts.space = SP_LOCAL; break;
                case W::cl_constant: case W::cl_constant2: d.ts.space = SP_CONSTANT; break;
                case W::const_: if (d.ptr == 0) d.ts.is_const = true; break;
                case W::restrict_: case W::restrict2: case W::restrict3: d.ts.is_restrict = true; break;
                default: break;
            }
            ++pos_;
        } else if (t.kind == TK::Ident && (t.code == W::attribute || t.code == W::attribute2) && punct(pos_ + 1, '(')) {
            pos_ = close_of(pos_ + 1) + 1;
        } else {
            break;
        }
    }
    if (punct(pos_, '(')) {  // function pointer or other complex declarator: keep the name if any
        uint32_t rp = close_of(pos_);
        for (uint32_t q = pos_ + 1; q < rp; ++q) {
            if (toks_[q].kind == TK::Ident && toks_[q].code == W_none) {
                d.name_tok = q;
                d.sym = toks_[q].sym;
            }
        }
        d.ptr = d.ptr ? d.ptr : 1;
        pos_ = find_top(rp + 1, end_, ',');
        d.te = pos_;
        return d.name_tok != 0 || param;
    }
    if (ident(pos_) && !is_builtin_type(toks_[pos_].code)) {
        d.name_tok = pos_;
        d.sym = toks_[pos_].sym;
        ++pos_;
    } else if (!param) {
        d.te = pos_;
        return false;
    }
    while (punct(pos_, '[')) {
        uint32_t rb = close_of(pos_);
        if (rb == pos_ + 1) {
            d.unsized = true;
        } else if (d.ndims < 4) {
            d.dims[d.ndims] = expr_range(pos_ + 1, rb);
            ++d.ndims;
        }
        pos_ = rb + 1;
    }
    while (ident(pos_) && (toks_[pos_].code == W::attribute || toks_[pos_].code == W::attribute2) && punct(pos_ + 1, '('))
        pos_ = close_of(pos_ + 1) + 1;
    if (punct(pos_, ':')) {  // bit field
        pos_ = find_top(pos_ + 1, end_, ',');
    } else if (punct(pos_, '=')) {
        uint32_t e = find_top(pos_ + 1, end_, ',');
        d.init = expr_range(pos_ + 1, e);
        pos_ = e;
    } else if (punct(pos_, '(') || punct(pos_, '{')) {
        uint32_t rp = close_of(pos_);
        if (toks_[pos_].code == '{') {
            Sub r(*this, rp + 1);
            d.init = primary();
        } else {
            d.init = expr_range(pos_ + 1, rp);
        }
        pos_ = rp + 1;
    }
    d.te = pos_;
    return true;
}

int32_t Parser::decl_stmt(uint32_t b, uint32_t e) {
    Sub r(*this, e);
    pos_ = b;
    TypeSpec ts;
    specifiers(ts);
    size_t mark = scratch_.size();
    while (pos_ < end_ && !ast_.too_deep) {
        Decl d;
        d.ts = ts;
        uint32_t before = pos_;
        if (declarator(d, false)) {
            ast_.decls.push_back(d);
            scratch_.push_back(static_cast<int32_t>(ast_.decls.size() - 1));
        }
        if (punct(pos_, ',')) {
            ++pos_;
            continue;
        }
        if (pos_ < end_) {  // garbage: skip to the next declarator
            uint32_t nx = find_top(pos_, end_, ',');
            pos_ = nx < end_ ? nx + 1 : end_;
        }
        if (pos_ == before) ++pos_;
    }
    int32_t s = mk_stmt(SK::Decl, b);
    st(s).te = e;
    st(s).list = static_cast<uint32_t>(ast_.lists.size());
    st(s).nlist = static_cast<uint32_t>(scratch_.size() - mark);
    for (size_t i = mark; i < scratch_.size(); ++i) ast_.lists.push_back(scratch_[i]);
    scratch_.resize(mark);
    return s;
}

void Parser::parameters(uint32_t lp, uint32_t rp, Function& f) {
    f.params = static_cast<uint32_t>(ast_.decls.size());
    uint32_t p = lp + 1;
    while (p < rp && !ast_.too_deep) {
        uint32_t e = find_top(p, rp, ',');
        bool only_void = (e == p + 1 && toks_[p].kind == TK::Ident && toks_[p].code == W::void_);
        bool ellipsis = (e == p + 1 && toks_[p].kind == TK::Punct && toks_[p].code == P_ELLIPSIS);
        if (e > p && !only_void && !ellipsis) {
            Sub r(*this, e);
            pos_ = p;
            Decl d;
            specifiers(d.ts);
            d.is_param = true;
            declarator(d, true);
            d.tb = p;
            d.te = e;
            ast_.decls.push_back(d);
        }
        p = e + 1;
    }
    f.nparams = static_cast<uint32_t>(ast_.decls.size()) - f.params;
}

void Parser::args_into(uint32_t lp, int32_t* out, int& n, int cap) {
    uint32_t rp = close_of(lp);
    uint32_t p = lp + 1;
    n = 0;
    while (p < rp) {
        uint32_t e = find_top(p, rp, ',');
        if (n < cap) out[n++] = expr_range(p, e);
        p = e + 1;
    }
}

void Parser::attributes(uint32_t b, uint32_t e, Function& f) {
    for (uint32_t q = b; q < e; ++q) {
        const Token& t = toks_[q];
        if (t.kind != TK::Ident) continue;
        if ((t.code == W::attribute || t.code == W::attribute2) && q + 1 < e && toks_[q + 1].kind == TK::Punct &&
            toks_[q + 1].code == '(') {
            uint32_t rp = close_of(q + 1);
            for (uint32_t k = q + 2; k < rp; ++k) {
                if (toks_[k].kind == TK::Ident && toks_[k].code == W::reqd_wgs && k + 1 < rp &&
                    toks_[k + 1].kind == TK::Punct && toks_[k + 1].code == '(') {
                    args_into(k + 1, f.reqd, f.nreqd, 3);
                    k = close_of(k + 1);
                }
            }
            q = rp;
        } else if (t.code == W::launch_bounds && q + 1 < e && toks_[q + 1].kind == TK::Punct &&
                   toks_[q + 1].code == '(') {
            args_into(q + 1, f.bounds, f.nbounds, 2);
            q = close_of(q + 1);
        } else if ((t.code == W::cl_kernel || (t.code == W::cl_kernel2 && cl())) && target_ == Target::OpenCL) {
            f.is_kernel = true;
        } else if (t.code == W::cu_global && target_ == Target::CUDA) {
            f.is_kernel = true;
        }
    }
}

// ------------------------------------------------------------------ top level
void Parser::file(uint32_t b, uint32_t e) {
    Sub r(*this, e);
    uint32_t p = b;
    while (p < end_ && !ast_.too_deep) {
        const Token& t = toks_[p];
        if (t.kind == TK::Punct && t.code == ';') {
            ++p;
            continue;
        }
        if (t.kind == TK::Ident) {
            uint16_t w = t.code;
            if (w == W::namespace_) {
                uint32_t q = p + 1;
                while (q < end_ && !punct(q, '{') && !punct(q, ';') && (ident(q) || punct(q, P_SCOPE) || punct(q, '='))) ++q;
                if (punct(q, '{')) {
                    uint32_t c = close_of(q);
                    file(q + 1, c);
                    p = c + 1;
                } else {
                    p = find_top(q, end_, ';') + 1;
                }
                continue;
            }
            if (w == W::extern_ && p + 1 < end_ && toks_[p + 1].kind == TK::String) {
                if (punct(p + 2, '{')) {
                    uint32_t c = close_of(p + 2);
                    file(p + 3, c);
                    p = c + 1;
                } else {
                    p += 2;
                }
                continue;
            }
            if (w == W::template_ && punct(p + 1, '<')) {
                int depth = 0;
                uint32_t q = p + 1;
                for (; q < end_; ++q) {
                    if (punct(q, '<')) ++depth;
                    else if (punct(q, '>')) { if (--depth == 0) break; }
                    else if (punct(q, P_SHR)) { depth -= 2; if (depth <= 0) break; }
                    else if (is_open(q)) q = close_of(q);
                    else if (punct(q, ';') || punct(q, '{')) break;
                }
                p = (q < end_ && !punct(q, ';') && !punct(q, '{')) ? q + 1 : q;
                continue;
            }
            if (w == W::typedef_ || w == W::using_) {
                p = find_top(p, end_, ';') + 1;
                continue;
            }
        }
        // a declaration: find where it ends (`;`) or where a body starts (`{`)
        uint32_t q = p;
        bool has_eq = false;
        uint32_t name = 0, lparen = 0;
        bool found = false;
        while (q < end_) {
            const Token& u = toks_[q];
            if (u.kind == TK::Punct) {
                if (u.code == ';' || u.code == '{') break;
                if (u.code == '=') has_eq = true;
                if (u.code == '(' || u.code == '[') {
                    if (u.code == '(' && !found && !has_eq && q > p && toks_[q - 1].kind == TK::Ident) {
                        uint16_t pw = toks_[q - 1].code;
                        if (pw != W::attribute && pw != W::attribute2 && pw != W::launch_bounds) {
                            found = true;
                            name = q - 1;
                            lparen = q;
                        }
                    }
                    q = close_of(q) + 1;
                    continue;
                }
            }
            ++q;
        }
        if (q >= end_) break;  // trailing tokens without `;`
        if (punct(q, '{')) {
            uint32_t c = close_of(q);
            bool main_macro = !found && !has_eq && q > p && toks_[q - 1].kind == TK::Ident && toks_[q - 1].code == W::MAIN;
            if ((found || main_macro) && !has_eq) {
                Function f;
                f.first_tok = p;
                if (found) {
                    f.name_tok = name;
                    uint32_t rp = close_of(lparen);
                    parameters(lparen, rp, f);
                    attributes(p, name, f);
                    attributes(rp + 1, q, f);
                } else {
                    f.name_tok = q - 1;
                    f.params = static_cast<uint32_t>(ast_.decls.size());
                    attributes(p, q - 1, f);
                }
                f.sym = toks_[f.name_tok].sym;
                uint16_t nw = toks_[f.name_tok].code;
                if (target_ == Target::TTMetal && (nw == W::kernel_main || nw == W::MAIN)) {
                    f.is_kernel = true;
                    f.is_tt_main = true;
                }
                f.body_open = q;
                f.body_close = c;
                f.calls_b = static_cast<uint32_t>(ast_.calls.size());
                f.casts_b = static_cast<uint32_t>(ast_.casts.size());
                f.loops_b = static_cast<uint32_t>(ast_.loops.size());
                f.body = block(q);
                f.calls_e = static_cast<uint32_t>(ast_.calls.size());
                f.casts_e = static_cast<uint32_t>(ast_.casts.size());
                f.loops_e = static_cast<uint32_t>(ast_.loops.size());
                ast_.funcs.push_back(f);
                p = c + 1;
                continue;
            }
            if (has_eq) {  // a variable with a braced initializer
                uint32_t semi = find_top(q, end_, ';');
                ast_.globals.push_back(decl_stmt(p, semi));
                p = semi + 1;
                continue;
            }
            // struct / class / enum definitions and anything else with a body
            p = find_top(c + 1, end_, ';') + 1;
            continue;
        }
        // `;`: a prototype or a variable
        if (!found || has_eq) {
            if (starts_decl(p, q)) ast_.globals.push_back(decl_stmt(p, q));
        }
        p = q + 1;
    }
}

// ------------------------------------------------------------------ statements
int32_t Parser::block(uint32_t open) {
    uint32_t c = close_of(open);
    int32_t s = mk_stmt(SK::Block, open);
    size_t mark = scratch_.size();
    {
        Sub r(*this, c);
        pos_ = open + 1;
        while (pos_ < end_ && !ast_.too_deep) {
            uint32_t before = pos_;
            scratch_.push_back(stmt());
            if (pos_ <= before) pos_ = before + 1;
        }
    }
    st(s).list = static_cast<uint32_t>(ast_.lists.size());
    st(s).nlist = static_cast<uint32_t>(scratch_.size() - mark);
    for (size_t i = mark; i < scratch_.size(); ++i) ast_.lists.push_back(scratch_[i]);
    scratch_.resize(mark);
    pos_ = c + 1;
    st(s).te = pos_;
    return s;
}

int32_t Parser::cond_group(uint32_t lp) {
    uint32_t rp = close_of(lp);
    int32_t e = expr_range(lp + 1, rp);
    pos_ = rp + 1;
    return e;
}

int32_t Parser::stmt() {
    const int32_t s = stmt_inner();
    Stmt& st = ast_.stmts[s];
    if (st.te < pos_) st.te = pos_;
    return s;
}

int32_t Parser::stmt_inner() {
    Nest g(*this);
    if (ast_.too_deep) {
        uint32_t at = pos_;
        pos_ = end_;
        return mk_stmt(SK::Empty, at);
    }
    const uint32_t at = pos_;
    const Token& t = tk(pos_);
    if (t.kind == TK::End) {
        return mk_stmt(SK::Empty, at);
    }
    if (t.kind == TK::Punct) {
        if (t.code == '{') return block(pos_);
        if (t.code == ';') {
            ++pos_;
            return mk_stmt(SK::Empty, at);
        }
        return simple_stmt();
    }
    if (t.kind != TK::Ident) return simple_stmt();
    switch (t.code) {
        case W::if_: {
            ++pos_;
            if (word(pos_, W::constexpr_)) ++pos_;
            if (!punct(pos_, '(')) return simple_stmt();
            int32_t s = mk_stmt(SK::If, at);
            int32_t c = cond_group(pos_);
            int32_t th = stmt();
            int32_t el = -1;
            if (word(pos_, W::else_)) {
                ++pos_;
                el = stmt();
            }
            st(s).e0 = c;
            st(s).s0 = th;
            st(s).s1 = el;
            return s;
        }
        case W::for_: {
            ++pos_;
            if (!punct(pos_, '(')) return simple_stmt();
            uint32_t lp = pos_, rp = close_of(pos_);
            int32_t s = mk_stmt(SK::For, at);
            uint32_t s1 = find_top(lp + 1, rp, ';');
            int32_t init = -1, cond = -1, step = -1;
            if (s1 < rp) {
                uint32_t s2 = find_top(s1 + 1, rp, ';');
                if (s1 > lp + 1) {
                    if (starts_decl(lp + 1, s1)) {
                        init = decl_stmt(lp + 1, s1);
                    } else {
                        init = mk_stmt(SK::Expr, lp + 1);
                        int32_t e = expr_range(lp + 1, s1);
                        st(init).e0 = e;
                        st(init).te = s1;
                    }
                }
                if (s2 > s1 + 1) cond = expr_range(s1 + 1, s2);
                if (s2 + 1 < rp) step = expr_range(s2 + 1, rp);
            } else if (rp > lp + 1) {  // range-based for: keep the declaration, no condition
                uint32_t colon = find_top(lp + 1, rp, ':');
                init = decl_stmt(lp + 1, colon);
                if (colon + 1 < rp) step = expr_range(colon + 1, rp);
                cond = -2;  // marks a bounded iteration
            }
            pos_ = rp + 1;
            int32_t body = stmt();
            st(s).s0 = init;
            st(s).e0 = cond;
            st(s).e1 = step;
            st(s).s1 = body;
            st(s).te = pos_;
            ast_.loops.push_back(s);
            return s;
        }
        case W::while_: {
            ++pos_;
            if (!punct(pos_, '(')) return simple_stmt();
            int32_t s = mk_stmt(SK::While, at);
            int32_t c = cond_group(pos_);
            int32_t body = stmt();
            st(s).e0 = c;
            st(s).s0 = body;
            st(s).te = pos_;
            ast_.loops.push_back(s);
            return s;
        }
        case W::do_: {
            ++pos_;
            int32_t s = mk_stmt(SK::Do, at);
            int32_t body = stmt();
            int32_t c = -1;
            if (word(pos_, W::while_) && punct(pos_ + 1, '(')) {
                ++pos_;
                c = cond_group(pos_);
            }
            if (punct(pos_, ';')) ++pos_;
            st(s).s0 = body;
            st(s).e0 = c;
            st(s).te = pos_;
            ast_.loops.push_back(s);
            return s;
        }
        case W::switch_: {
            ++pos_;
            if (!punct(pos_, '(')) return simple_stmt();
            int32_t s = mk_stmt(SK::Switch, at);
            int32_t c = cond_group(pos_);
            int32_t body = stmt();
            st(s).e0 = c;
            st(s).s0 = body;
            return s;
        }
        case W::case_: {
            uint32_t colon = find_top(pos_ + 1, end_, ':');
            int32_t s = mk_stmt(SK::Case, at);
            int32_t e = expr_range(pos_ + 1, colon);
            st(s).e0 = e;
            pos_ = colon < end_ ? colon + 1 : end_;
            return s;
        }
        case W::default_: {
            if (punct(pos_ + 1, ':')) {
                pos_ += 2;
                return mk_stmt(SK::Default, at);
            }
            return simple_stmt();
        }
        case W::return_: {
            uint32_t semi = find_top(pos_ + 1, end_, ';');
            int32_t s = mk_stmt(SK::Return, at);
            int32_t e = semi > pos_ + 1 ? expr_range(pos_ + 1, semi) : -1;
            st(s).e0 = e;
            pos_ = semi < end_ ? semi + 1 : end_;
            return s;
        }
        case W::break_: case W::continue_: case W::goto_: {
            uint32_t semi = find_top(pos_ + 1, end_, ';');
            int32_t s = mk_stmt(t.code == W::break_ ? SK::Break : t.code == W::continue_ ? SK::Continue : SK::Goto, at);
            pos_ = semi < end_ ? semi + 1 : end_;
            return s;
        }
        case W::asm_: case W::asm2: case W::asm3: {
            uint32_t semi = find_top(pos_ + 1, end_, ';');
            int32_t s = mk_stmt(SK::Asm, at);
            pos_ = semi < end_ ? semi + 1 : end_;
            return s;
        }
        case W::typedef_: case W::using_: {
            uint32_t semi = find_top(pos_ + 1, end_, ';');
            pos_ = semi < end_ ? semi + 1 : end_;
            return mk_stmt(SK::Empty, at);
        }
        default: break;
    }
    if (t.code == W_none && punct(pos_ + 1, ':')) {  // label
        pos_ += 2;
        return mk_stmt(SK::Label, at);
    }
    return simple_stmt();
}

int32_t Parser::simple_stmt() {
    const uint32_t at = pos_;
    uint32_t semi = find_top(pos_, end_, ';');
    int32_t s;
    if (semi > at && starts_decl(at, semi)) {
        s = decl_stmt(at, semi);
    } else {
        s = mk_stmt(SK::Expr, at);
        int32_t e = expr_range(at, semi);
        st(s).e0 = e;
    }
    pos_ = semi < end_ ? semi + 1 : end_;
    if (pos_ <= at) pos_ = at + 1;
    return s;
}

// ------------------------------------------------------------------ expressions
int32_t Parser::expr_range(uint32_t b, uint32_t e) {
    if (b >= e || ast_.too_deep) return -1;
    Sub r(*this, e);
    pos_ = b;
    int32_t x = comma();
    if (pos_ < end_ && !ast_.too_deep) {  // trailing tokens: keep them as a flat sequence
        size_t mark = scratch_.size();
        scratch_.push_back(x);
        while (pos_ < end_ && !ast_.too_deep) {
            uint32_t before = pos_;
            scratch_.push_back(comma());
            if (pos_ <= before) pos_ = before + 1;
        }
        int32_t seq = mk(EK::Comma, b, b, end_);
        set_list(seq, mark);
        x = seq;
    }
    pos_ = e;
    return x;
}

int32_t Parser::comma() {
    uint32_t b = pos_;
    int32_t x = assign();
    if (!punct(pos_, ',')) return x;
    size_t mark = scratch_.size();
    scratch_.push_back(x);
    while (punct(pos_, ',') && !ast_.too_deep) {
        ++pos_;
        scratch_.push_back(assign());
    }
    int32_t seq = mk(EK::Comma, b, b, pos_);
    set_list(seq, mark);
    return seq;
}

static bool assign_op(const Token& t) {
    if (t.kind != TK::Punct) return false;
    switch (t.code) {
        case '=': case P_ADDEQ: case P_SUBEQ: case P_MULEQ: case P_DIVEQ: case P_MODEQ: case P_ANDEQ: case P_OREQ:
        case P_XOREQ: case P_SHLEQ: case P_SHREQ: return true;
        default: return false;
    }
}

int32_t Parser::assign() {
    Nest g(*this);
    uint32_t b = pos_;
    int32_t lhs = ternary();
    if (ast_.too_deep) return lhs;
    const Token& t = tk(pos_);
    if (assign_op(t)) {
        uint32_t op = pos_++;
        int32_t rhs = assign();
        int32_t x = mk(EK::Assign, op, b, pos_, lhs, rhs);
        ast_.exprs[x].op = toks_[op].code;
        return x;
    }
    return lhs;
}

int32_t Parser::ternary() {
    uint32_t b = pos_;
    int32_t c = binary(4);
    if (!punct(pos_, '?') || ast_.too_deep) return c;
    uint32_t q = pos_++;
    Nest g(*this);
    int32_t x = comma();
    int32_t y = -1;
    if (punct(pos_, ':')) {
        ++pos_;
        y = assign();
    }
    return mk(EK::Ternary, q, b, pos_, c, x, y);
}

static int binprec(const Token& t) {
    if (t.kind != TK::Punct) return -1;
    switch (t.code) {
        case P_OROR: return 4;
        case P_ANDAND: return 5;
        case '|': return 6;
        case '^': return 7;
        case '&': return 8;
        case P_EQ: case P_NE: return 9;
        case '<': case '>': case P_LE: case P_GE: return 10;
        case P_SHL: case P_SHR: return 11;
        case '+': case '-': return 12;
        case '*': case '/': case '%': return 13;
        default: return -1;
    }
}

int32_t Parser::binary(int minprec) {
    uint32_t b = pos_;
    int32_t lhs = unary();
    while (!ast_.too_deep) {
        const Token& t = tk(pos_);
        int p = binprec(t);
        if (p < minprec) break;
        uint32_t op = pos_++;
        int32_t rhs = binary(p + 1);
        lhs = mk(EK::Binary, op, b, pos_, lhs, rhs);
        ast_.exprs[lhs].op = toks_[op].code;
    }
    return lhs;
}

int32_t Parser::unary() {
    uint32_t b = pos_;
    if (ast_.too_deep) {
        pos_ = end_;
        return mk(EK::Other, b, b, b);
    }
    const Token& t = tk(pos_);
    if (t.kind == TK::Punct) {
        switch (t.code) {
            case '-': case '+': case '!': case '~': case '*': case '&': case P_INC: case P_DEC: {
                Nest g(*this);
                uint32_t op = pos_++;
                int32_t x = unary();
                int32_t u = mk(EK::Unary, op, b, pos_, x);
                ast_.exprs[u].op = toks_[op].code;
                return u;
            }
            case '(':
                if (cast_ahead(pos_)) {
                    Nest g(*this);
                    uint32_t rp = close_of(pos_);
                    TypeSpec ts;
                    {
                        Sub r(*this, rp);
                        pos_ = b + 1;
                        specifiers(ts);
                    }
                    bool ptr = false;
                    for (uint32_t q = b + 1; q < rp; ++q)
                        if (toks_[q].kind == TK::Punct && toks_[q].code == '*') ptr = true;
                    pos_ = rp + 1;
                    int32_t x = unary();
                    int32_t c = mk(EK::Cast, b, b, pos_, x);
                    ast_.casts.push_back(c);
                    Expr& ce = ast_.exprs[c];
                    ce.t0 = b + 1;
                    ce.t1 = rp;
                    ce.op = ts.word;
                    ce.sym = ts.type_sym;
                    if (ptr) ce.flags |= EF_PTR_TYPE;
                    return c;
                }
                break;
            default: break;
        }
    } else if (t.kind == TK::Ident && t.code == W::sizeof_) {
        Nest g(*this);
        ++pos_;
        if (punct(pos_, '(')) {
            uint32_t rp = close_of(pos_);
            bool typeish = rp > pos_ + 1 && toks_[pos_ + 1].kind == TK::Ident &&
                           (is_builtin_type(toks_[pos_ + 1].code) || is_type_sym(toks_[pos_ + 1].sym) ||
                            qualifier_word(toks_[pos_ + 1].code));
            if (typeish) {
                int32_t s = mk(EK::Sizeof, b, b, rp + 1);
                ast_.exprs[s].t0 = pos_ + 1;
                ast_.exprs[s].t1 = rp;
                TypeSpec ts;
                {
                    Sub r(*this, rp);
                    pos_ = ast_.exprs[s].t0;
                    specifiers(ts);
                }
                ast_.exprs[s].op = ts.word;
                for (uint32_t q = ast_.exprs[s].t0; q < rp; ++q)
                    if (toks_[q].kind == TK::Punct && toks_[q].code == '*') ast_.exprs[s].flags |= EF_PTR_TYPE;
                pos_ = rp + 1;
                return s;
            }
        }
        int32_t x = unary();
        int32_t u = mk(EK::Sizeof, b, b, pos_, x);
        return u;
    }
    return postfix(primary());
}

int32_t Parser::postfix(int32_t x) {
    while (!ast_.too_deep) {
        const Token& t = tk(pos_);
        if (t.kind != TK::Punct) break;
        const uint32_t b = ast_.exprs[x].tb;
        if (t.code == '(') {
            uint32_t lp = pos_, rp = close_of(pos_);
            size_t mark = scratch_.size();
            {
                Sub r(*this, rp);
                pos_ = lp + 1;
                while (pos_ < end_ && !ast_.too_deep) {
                    uint32_t before = pos_;
                    if (punct(pos_, ',')) {
                        ++pos_;
                        continue;
                    }
                    scratch_.push_back(assign());
                    if (pos_ <= before) pos_ = before + 1;
                }
            }
            pos_ = rp + 1;
            int32_t c = mk(EK::Call, lp, b, pos_, x);
            set_list(c, mark);
            ast_.calls.push_back(c);
            const Expr& callee = ast_.exprs[x];
            if (callee.kind == EK::Name || callee.kind == EK::Member) {
                ast_.exprs[c].sym = callee.sym;
                ast_.exprs[c].op = callee.op;
            }
            x = c;
        } else if (t.code == '[') {
            uint32_t lb = pos_, rb = close_of(pos_);
            int32_t i = expr_range(lb + 1, rb);
            pos_ = rb + 1;
            x = mk(EK::Index, lb, b, pos_, x, i);
        } else if (t.code == '.' || t.code == P_ARROW) {
            uint32_t op = pos_++;
            if (word(pos_, W::template_)) ++pos_;
            if (ident(pos_)) {
                uint32_t nt = pos_++;
                x = mk(EK::Member, nt, b, pos_, x);
                ast_.exprs[x].sym = toks_[nt].sym;
                ast_.exprs[x].op = toks_[nt].code;
                if (toks_[op].code == P_ARROW) ast_.exprs[x].flags |= EF_ARROW;
                if (punct(pos_, '<')) {
                    uint32_t gt = template_close(pos_, end_);
                    if (gt && punct(gt + 1, '(')) pos_ = gt + 1;
                }
            }
        } else if (t.code == P_INC || t.code == P_DEC) {
            uint32_t op = pos_++;
            x = mk(EK::Postfix, op, b, pos_, x);
            ast_.exprs[x].op = toks_[op].code;
        } else {
            break;
        }
    }
    return x;
}

int32_t Parser::primary() {
    const uint32_t b = pos_;
    if (pos_ >= end_) return mk(EK::Other, b, b, b);
    const Token& t = toks_[pos_];
    switch (t.kind) {
        case TK::Number: ++pos_; return mk(EK::Num, b, b, pos_);
        case TK::Char: ++pos_; return mk(EK::Chr, b, b, pos_);
        case TK::String:
            while (pos_ < end_ && toks_[pos_].kind == TK::String) ++pos_;
            return mk(EK::Str, b, b, pos_);
        case TK::Ident: {
            uint16_t w = t.code;
            if ((w == W::reinterpret_cast_ || w == W::static_cast_ || w == W::const_cast_ || w == W::dynamic_cast_) &&
                punct(pos_ + 1, '<')) {
                uint32_t gt = template_close(pos_ + 1, end_);
                if (gt && punct(gt + 1, '(')) {
                    uint32_t lp = gt + 1, rp = close_of(lp);
                    TypeSpec ts;
                    {
                        Sub r(*this, gt);
                        pos_ = b + 2;
                        specifiers(ts);
                    }
                    int32_t x = expr_range(lp + 1, rp);
                    pos_ = rp + 1;
                    int32_t c = mk(EK::Cast, b, b, pos_, x);
                    ast_.casts.push_back(c);
                    Expr& ce = ast_.exprs[c];
                    ce.t0 = b + 2;
                    ce.t1 = gt;
                    ce.op = ts.word;
                    ce.sym = ts.type_sym;
                    ce.flags |= EF_CXX_CAST;
                    for (uint32_t q = b + 2; q < gt; ++q)
                        if (toks_[q].kind == TK::Punct && toks_[q].code == '*') ce.flags |= EF_PTR_TYPE;
                    return c;
                }
            }
            uint8_t flags = 0;
            uint32_t last = pos_;
            ++pos_;
            for (;;) {
                if (punct(pos_, '<')) {
                    const Token& lt = toks_[last];
                    bool likely = lt.code == W::get_arg_val || lt.code == W::get_common_arg_val ||
                                  lt.code == W::get_compile_time_arg_val || is_type_sym(lt.sym) || (flags & EF_SCOPED);
                    if (!likely && pos_ + 1 < end_) {
                        const Token& in = toks_[pos_ + 1];
                        likely = in.kind == TK::Ident && (is_builtin_type(in.code) || in.code == W::true_ ||
                                                          in.code == W::false_ || is_type_sym(in.sym));
                    }
                    if (likely) {
                        uint32_t gt = template_close(pos_, end_);
                        if (gt && (punct(gt + 1, '(') || punct(gt + 1, '{') || punct(gt + 1, P_SCOPE))) {
                            flags |= EF_TEMPLATE;
                            pos_ = gt + 1;
                        }
                    }
                }
                if (punct(pos_, P_SCOPE) && ident(pos_ + 1)) {
                    flags |= EF_SCOPED;
                    last = pos_ + 1;
                    pos_ += 2;
                    continue;
                }
                break;
            }
            int32_t x = mk(EK::Name, last, b, pos_);
            Expr& e = ast_.exprs[x];
            e.sym = toks_[last].sym;
            e.op = toks_[last].code;
            e.flags = flags;
            return x;
        }
        case TK::Punct: {
            if (t.code == '(') {
                uint32_t rp = close_of(pos_);
                Nest g(*this);
                int32_t inner = rp > pos_ + 1 ? expr_range(pos_ + 1, rp) : -1;
                pos_ = rp + 1;
                if (inner < 0) return mk(EK::Other, b, b, pos_);
                return inner;
            }
            if (t.code == '{') {
                uint32_t rc = close_of(pos_);
                size_t mark = scratch_.size();
                {
                    Sub r(*this, rc);
                    pos_ = b + 1;
                    while (pos_ < end_ && !ast_.too_deep) {
                        uint32_t before = pos_;
                        if (punct(pos_, ',')) {
                            ++pos_;
                            continue;
                        }
                        scratch_.push_back(assign());
                        if (pos_ <= before) pos_ = before + 1;
                    }
                }
                pos_ = rc + 1;
                int32_t x = mk(EK::Init, b, b, pos_);
                set_list(x, mark);
                return x;
            }
            if (t.code == '[') {  // lambda captures or stray brackets: skip the group
                pos_ = close_of(pos_) + 1;
                return mk(EK::Other, b, b, pos_);
            }
            if (t.code == P_SCOPE) {
                ++pos_;
                return primary();
            }
            ++pos_;
            return mk(EK::Other, b, b, pos_);
        }
        default:
            ++pos_;
            return mk(EK::Other, b, b, pos_);
    }
}

// ------------------------------------------------------------------ helpers
void mark_types(const Lexed& lx, Ast& ast) {
    const auto& toks = lx.toks;
    const size_t n = toks.size();
    ast.is_type.assign(lx.syms.size(), 0);
    for (size_t i = 0; i + 1 < n; ++i) {
        const Token& t = toks[i];
        if (t.kind != TK::Ident) continue;
        switch (t.code) {
            case W::struct_: case W::union_: case W::enum_: case W::class_: case W::typename_:
                if (toks[i + 1].kind == TK::Ident && toks[i + 1].code == W_none) ast.is_type[toks[i + 1].sym] = 1;
                break;
            case W::using_:
                if (toks[i + 1].kind == TK::Ident && i + 2 < n && toks[i + 2].kind == TK::Punct && toks[i + 2].code == '=')
                    ast.is_type[toks[i + 1].sym] = 1;
                break;
            case W::typedef_: {
                uint32_t last = 0;
                size_t j = i + 1;
                for (; j < n; ++j) {
                    const Token& u = toks[j];
                    if (u.kind == TK::Punct) {
                        if (u.code == ';') break;
                        if ((u.code == '{' || u.code == '(' || u.code == '[') && lx.match[j] > static_cast<int32_t>(j)) {
                            if (u.code == '(') {  // function pointer typedef: the name is inside
                                for (int32_t k = static_cast<int32_t>(j) + 1; k < lx.match[j]; ++k)
                                    if (toks[k].kind == TK::Ident && toks[k].code == W_none) last = toks[k].sym;
                            }
                            j = static_cast<size_t>(lx.match[j]);
                            continue;
                        }
                    } else if (u.kind == TK::Ident && u.code == W_none) {
                        last = u.sym;
                    } else if (u.kind == TK::End) {
                        break;
                    }
                }
                if (last) ast.is_type[last] = 1;
                i = j;
                break;
            }
            default: break;
        }
    }
}

}  // namespace

bool parse_int_literal(std::string_view t, int64_t& out) {
    // fast path: a short plain decimal literal
    if (!t.empty() && t.size() <= 18 && t[0] >= '1' && t[0] <= '9') {
        int64_t v = 0;
        size_t i = 0;
        for (; i < t.size(); ++i) {
            const char ch = t[i];
            if (ch < '0' || ch > '9') break;
            v = v * 10 + (ch - '0');
        }
        if (i == t.size()) {
            out = v;
            return true;
        }
    } else if (t.size() == 1 && t[0] == '0') {
        out = 0;
        return true;
    }
    size_t n = t.size();
    while (n > 0 && (t[n - 1] == 'u' || t[n - 1] == 'U' || t[n - 1] == 'l' || t[n - 1] == 'L')) --n;
    if (n == 0) return false;
    int base = 10;
    size_t i = 0;
    if (n > 1 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
        base = 16;
        i = 2;
    } else if (n > 1 && t[0] == '0' && (t[1] == 'b' || t[1] == 'B')) {
        base = 2;
        i = 2;
    } else if (n > 1 && t[0] == '0') {
        base = 8;
        i = 1;
    }
    uint64_t v = 0;
    bool any = false;
    for (; i < n; ++i) {
        const char c = t[i];
        if (c == '\'') continue;  // digit separator
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return false;
        if (d >= base) return false;
        if (v > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) return false;
        v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
        any = true;
    }
    if (!any || v > static_cast<uint64_t>(INT64_MAX)) return false;
    out = static_cast<int64_t>(v);
    return true;
}

bool const_eval(const Ast& ast, const std::vector<Token>& toks, std::string_view src, int32_t e,
                const std::vector<int64_t>& env_val, const std::vector<uint8_t>& env_has, int64_t& out, int depth) {
    if (e < 0 || depth > 64) return false;
    const Expr& x = ast.exprs[e];
    switch (x.kind) {
        case EK::Num: {
            const Token& t = toks[x.tok];
            return parse_int_literal(src.substr(t.off, t.len), out);
        }
        case EK::Name:
            if (x.op == W::true_) { out = 1; return true; }
            if (x.op == W::false_) { out = 0; return true; }
            if (x.sym < env_has.size() && (env_has[x.sym] & 1)) {
                out = env_val[x.sym];
                return true;
            }
            return false;
        case EK::Cast:
            if (x.flags & EF_PTR_TYPE) return false;
            if (x.op && !is_integer_type(x.op)) return false;
            return const_eval(ast, toks, src, x.a, env_val, env_has, out, depth + 1);
        case EK::Sizeof:
            if (x.a < 0 && x.op && !(x.flags & EF_PTR_TYPE)) {
                int sb = scalar_bytes(vector_elem(x.op));
                int lanes = vector_lanes(x.op);
                if (!sb) return false;
                out = static_cast<int64_t>(sb) * (lanes == 3 ? 4 : lanes);
                return true;
            }
            return false;
        case EK::Unary: {
            int64_t v;
            if (!const_eval(ast, toks, src, x.a, env_val, env_has, v, depth + 1)) return false;
            switch (x.op) {
                case '-': out = v == INT64_MIN ? v : -v; return true;
                case '+': out = v; return true;
                case '~': out = ~v; return true;
                case '!': out = !v; return true;
                default: return false;
            }
        }
        case EK::Ternary: {
            int64_t c;
            if (!const_eval(ast, toks, src, x.a, env_val, env_has, c, depth + 1)) return false;
            return const_eval(ast, toks, src, c ? x.b : x.c, env_val, env_has, out, depth + 1);
        }
        case EK::Comma:
            if (x.nlist == 1) return const_eval(ast, toks, src, ast.lists[x.list], env_val, env_has, out, depth + 1);
            return false;
        case EK::Binary: {
            int64_t a, b;
            if (!const_eval(ast, toks, src, x.a, env_val, env_has, a, depth + 1)) return false;
            if (!const_eval(ast, toks, src, x.b, env_val, env_has, b, depth + 1)) return false;
            switch (x.op) {
                case '+': return !__builtin_add_overflow(a, b, &out);
                case '-': return !__builtin_sub_overflow(a, b, &out);
                case '*': return !__builtin_mul_overflow(a, b, &out);
                case '/': if (b == 0 || (a == INT64_MIN && b == -1)) return false; out = a / b; return true;
                case '%': if (b == 0 || (a == INT64_MIN && b == -1)) return false; out = a % b; return true;
                case P_SHL: if (b < 0 || b > 62 || a < 0) return false; out = a << b; return out >= 0;
                case P_SHR: if (b < 0 || b > 63) return false; out = a >> b; return true;
                case '&': out = a & b; return true;
                case '|': out = a | b; return true;
                case '^': out = a ^ b; return true;
                case '<': out = a < b; return true;
                case '>': out = a > b; return true;
                case P_LE: out = a <= b; return true;
                case P_GE: out = a >= b; return true;
                case P_EQ: out = a == b; return true;
                case P_NE: out = a != b; return true;
                case P_ANDAND: out = a && b; return true;
                case P_OROR: out = a || b; return true;
                default: return false;
            }
        }
        default: return false;
    }
}

void parse(const Lexed& lx, std::string_view src, Target target, Ast& ast) {
    ast.exprs.clear();
    ast.stmts.clear();
    ast.decls.clear();
    ast.lists.clear();
    ast.funcs.clear();
    ast.globals.clear();
    ast.calls.clear();
    ast.casts.clear();
    ast.loops.clear();
    ast.too_deep = false;
    ast.too_deep_tok = 0;
    ast.exprs.reserve(lx.toks.size());
    ast.stmts.reserve(lx.toks.size() / 4 + 8);
    ast.lists.reserve(lx.toks.size() / 2 + 8);
    ast.decls.push_back(Decl());  // index 0 unused
    mark_types(lx, ast);

    // object-like #define NAME <integer expression>
    ast.macro_val.assign(lx.syms.size(), 0);
    ast.macro_has.assign(lx.syms.size(), 0);
    std::vector<int32_t> pmatch(lx.pp.size(), -1);
    std::vector<int32_t> stack;
    for (const Directive& d : lx.dirs) {
        if (d.end - d.begin < 3) continue;
        const Token& kw = lx.pp[d.begin];
        const Token& nm = lx.pp[d.begin + 1];
        if (kw.kind != TK::Ident || src.substr(kw.off, kw.len) != "define" || nm.kind != TK::Ident) continue;
        const Token& nx = lx.pp[d.begin + 2];
        if (nx.kind == TK::Punct && nx.code == '(' && nx.off == nm.off + nm.len) continue;  // function-like
        bool ok = true;
        stack.clear();
        for (uint32_t k = d.begin + 2; k < d.end; ++k) {
            const Token& t = lx.pp[k];
            if (t.kind != TK::Punct) continue;
            if (t.code == '(' || t.code == '[' || t.code == '{') {
                stack.push_back(static_cast<int32_t>(k));
            } else if (t.code == ')' || t.code == ']' || t.code == '}') {
                if (stack.empty()) { ok = false; break; }
                pmatch[k] = stack.back();
                pmatch[stack.back()] = static_cast<int32_t>(k);
                stack.pop_back();
            }
        }
        if (!ok || !stack.empty() || stack.size() > 32) continue;
        size_t ne = ast.exprs.size(), nl = ast.lists.size(), nc = ast.calls.size(), nk = ast.casts.size();
        // the sub-parser reads lx.pp; its "end" token is the directive end
        std::vector<Token> body(lx.pp.begin() + d.begin + 2, lx.pp.begin() + d.end);
        std::vector<int32_t> bm(body.size() + 1, -1);
        for (size_t k = 0; k < body.size(); ++k) {
            int32_t m = pmatch[d.begin + 2 + k];
            if (m >= 0) bm[k] = m - static_cast<int32_t>(d.begin + 2);
        }
        Token endt;
        endt.kind = TK::End;
        body.push_back(endt);
        Parser sub(body, bm, src, target, ast);
        bool deep = ast.too_deep;
        int32_t e = sub.expr_range(0, static_cast<uint32_t>(body.size() - 1));
        int64_t v;
        if (!ast.too_deep && e >= 0 && const_eval(ast, body, src, e, ast.macro_val, ast.macro_has, v)) {
            ast.macro_val[nm.sym] = v;
            ast.macro_has[nm.sym] = ast.macro_has[nm.sym] ? 2 : 1;
        } else {
            ast.macro_has[nm.sym] = 2;  // defined but not a known integer
        }
        ast.too_deep = deep;
        ast.exprs.resize(ne);
        ast.lists.resize(nl);
        ast.calls.resize(nc);
        ast.casts.resize(nk);
    }

    if (lx.fatal) return;
    Parser p(lx.toks, lx.match, src, target, ast);
    p.file(0, static_cast<uint32_t>(lx.toks.size() - 1));
}

}  // namespace uhop::an
