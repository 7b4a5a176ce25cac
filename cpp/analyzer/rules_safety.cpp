// Safety: errors that stop a candidate before any compiler sees it. #include and
// other preprocessor path access, asm, printf floods, recursion, goto, unbounded
// loops without an exit, pointer-to-integer casts.
#include <algorithm>
#include <functional>

#include "analysis.hpp"

namespace uhop::an {

namespace {

constexpr int kPrintfFlood = 4;

bool tt_header_allowed(std::string_view p) {
    if (p.find("..") != std::string_view::npos || p.empty() || p[0] == '/') return false;
    for (char ch : p) {
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                  ch == '/' || ch == '.';
        if (!ok) return false;
    }
    return p == "dataflow_api.h" || p == "cstdint" || p == "stdint.h" || p == "cstddef" || p == "stddef.h" || p == "compute_kernel_api.h" || p == "debug/dprint.h" ||
           starts_with(p, "compute_kernel_api/") || starts_with(p, "api/compute/") || starts_with(p, "api/dataflow/");
}

// The loop (do/while/for) at s has a `break` that leaves it, or a `return` anywhere inside.
bool has_exit(const Ctx& c, int32_t s, int loop_depth, int depth = 0) {
    if (s < 0 || depth > kMaxNest) return false;
    const Stmt& st = c.ast.stmts[s];
    switch (st.kind) {
        case SK::Return: case SK::Goto: return true;
        case SK::Break: return loop_depth == 0;
        case SK::Block:
            for (uint32_t i = 0; i < st.nlist; ++i)
                if (has_exit(c, c.ast.lists[st.list + i], loop_depth, depth + 1)) return true;
            return false;
        case SK::If: return has_exit(c, st.s0, loop_depth, depth + 1) || has_exit(c, st.s1, loop_depth, depth + 1);
        case SK::For: return has_exit(c, st.s1, loop_depth + 1, depth + 1);
        case SK::While: case SK::Do: case SK::Switch: return has_exit(c, st.s0, loop_depth + 1, depth + 1);
        default: return false;
    }
}

bool is_ptr_expr(const Ctx& c, int32_t e, int depth = 0) {
    if (e < 0 || depth > 32) return false;
    const Expr& x = c.ast.exprs[e];
    switch (x.kind) {
        case EK::Name: {
            const Decl* d = c.decl_of(x.sym);
            return d && (d->ptr > 0 || (d->is_array() && d->ndims <= 1));
        }
        case EK::Unary: return x.op == '&';
        case EK::Cast: return (x.flags & EF_PTR_TYPE) != 0;
        case EK::Binary:
            if (x.op == '+') return is_ptr_expr(c, x.a, depth + 1) != is_ptr_expr(c, x.b, depth + 1);
            if (x.op == '-') return is_ptr_expr(c, x.a, depth + 1) && !is_ptr_expr(c, x.b, depth + 1);
            return false;
        case EK::Comma:
            return x.nlist == 1 && is_ptr_expr(c, c.ast.lists[x.list], depth + 1);
        default: return false;
    }
}

bool integer_cast(const Ctx& c, const Expr& x) {
    if (x.flags & EF_PTR_TYPE) return false;
    if (x.op) return is_integer_type(x.op);
    std::string_view n = c.sym_text(x.sym);
    return n.size() > 2 && n.substr(n.size() - 2) == "_t";  // e.g. std::uintptr_t
}

}  // namespace

void rules_safety_fn(Ctx& c, int f) {
    const Function& fn = c.ast.funcs[f];
    // loops: constant-true conditions without an exit
    for (uint32_t i = fn.loops_b; i < fn.loops_e; ++i) {
        const Stmt& st = c.ast.stmts[c.ast.loops[i]];
        const int32_t cond = st.e0;
        const int32_t body = st.kind == SK::For ? st.s1 : st.s0;
        int64_t v = 0;
        const bool forever = (st.kind == SK::For && cond == -1) || (cond >= 0 && c.cint(cond, v) && v != 0);
        if (forever && !has_exit(c, body, 0)) {
            c.add(Sev::Error, "safety.unbounded-loop", st.tok,
                  std::string("`") + std::string(c.text(st.tok)) +
                      "` loop with a constant-true condition and no break or return: it never ends");
        }
    }
    // printf: a warning, an error inside a loop
    for (uint32_t i = fn.calls_b; i < fn.calls_e; ++i) {
        const Expr& x = c.ast.exprs[c.ast.calls[i]];
        if (x.op != W::printf_ || c.ast.exprs[x.a].kind != EK::Name) continue;
        bool in_loop = false;
        for (uint32_t k = fn.loops_b; k < fn.loops_e && !in_loop; ++k) {
            const Stmt& st = c.ast.stmts[c.ast.loops[k]];
            in_loop = st.tok < x.tb && x.tb < st.te;
        }
        if (in_loop) {
            c.add(Sev::Error, "safety.printf-flood", x.tb, "printf inside a loop: every work-item prints on every iteration");
        } else {
            c.add(Sev::Warning, "safety.printf", x.tb, "printf left in the kernel (debug output)");
        }
    }
    // pointer -> integer casts, except those that only feed an alignment test such as
    // `((uintptr_t)p | (uintptr_t)q) & 15` or `(size_t)p % 16`
    std::vector<int32_t> bad;
    for (uint32_t i = fn.casts_b; i < fn.casts_e; ++i) {
        const int32_t id = c.ast.casts[i];
        const Expr& x = c.ast.exprs[id];
        if (integer_cast(c, x) && is_ptr_expr(c, x.a)) bad.push_back(id);
    }
    if (bad.empty()) return;
    std::vector<int32_t> aligned;
    std::function<void(int32_t, int)> operand = [&](int32_t e, int depth) {
        if (e < 0 || depth > 64) return;
        const Expr& x = c.ast.exprs[e];
        if (x.kind == EK::Cast) {
            aligned.push_back(e);
        } else if (x.kind == EK::Binary && (x.op == '|' || x.op == '^' || x.op == '+' || x.op == '-')) {
            operand(x.a, depth + 1);
            operand(x.b, depth + 1);
        } else if (x.kind == EK::Comma && x.nlist == 1) {
            operand(c.ast.lists[x.list], depth + 1);
        }
    };
    walk_stmts(c.ast, fn.body, [](int32_t, const Stmt&) { return true; },
               [&](int32_t e) {
                   visit(c.ast, e, [&](int32_t, const Expr& x) {
                       if (x.kind == EK::Binary && (x.op == '&' || x.op == '%')) {
                           int64_t v;
                           if (c.cint(x.b, v)) operand(x.a, 0);
                           else if (x.op == '&' && c.cint(x.a, v)) operand(x.b, 0);
                       }
                       return true;
                   });
               });
    for (int32_t id : bad) {
        if (std::find(aligned.begin(), aligned.end(), id) != aligned.end()) continue;
        const Expr& x = c.ast.exprs[id];
        c.add(Sev::Error, "safety.pointer-to-int", x.tb,
              "cast of the pointer `" + c.expr_text(x.a) + "` to the integer type `" + c.tokens_text(x.t0, x.t1) + "`");
    }
}

void rules_safety_file(Ctx& c) {
    // preprocessor directives
    for (const Directive& d : c.lx.dirs) {
        if (d.end <= d.begin) continue;
        const Token& k = c.lx.pp[d.begin];
        std::string_view name = c.src.substr(k.off, k.len);
        if (k.kind != TK::Ident) continue;
        if (name == "include") {
            std::string path;
            if (d.begin + 1 < d.end) {
                const Token& p = c.lx.pp[d.begin + 1];
                if (p.kind == TK::String && p.len >= 2) {
                    path = std::string(c.src.substr(p.off + 1, p.len - 2));
                } else if (p.kind == TK::Punct && p.code == '<') {
                    const Token& last = c.lx.pp[d.end - 1];
                    if (last.kind == TK::Punct && last.code == '>' && d.end - 1 > d.begin + 2)
                        path = std::string(c.src.substr(c.lx.pp[d.begin + 2].off,
                                                        last.off - c.lx.pp[d.begin + 2].off));
                }
            }
            if (c.is_tt() && tt_header_allowed(path)) continue;
            c.add_lc(Sev::Error, "safety.include", d.line, d.col,
                     path.empty() ? std::string("#include is not allowed in kernel sources")
                                  : "#include \"" + path + "\" is not allowed in kernel sources", -1);
        } else if (name == "include_next" || name == "import" || name == "embed") {
            c.add_lc(Sev::Error, "safety.preprocessor-path", d.line, d.col,
                     "#" + std::string(name) + " reads files: not allowed in kernel sources", -1);
        } else if (name == "line") {
            for (uint32_t i = d.begin + 1; i < d.end; ++i)
                if (c.lx.pp[i].kind == TK::String) {
                    c.add_lc(Sev::Error, "safety.preprocessor-path", d.line, d.col,
                             "#line with a file name is not allowed in kernel sources", -1);
                    break;
                }
        } else if (name == "pragma") {
            for (uint32_t i = d.begin + 1; i < d.end; ++i) {
                std::string_view w = c.src.substr(c.lx.pp[i].off, c.lx.pp[i].len);
                if (w == "dependency" || w == "include_alias" || w == "push_macro_path") {
                    c.add_lc(Sev::Error, "safety.preprocessor-path", d.line, d.col,
                             "#pragma " + std::string(w) + " reads files: not allowed in kernel sources", -1);
                    break;
                }
            }
        }
        for (uint32_t i = d.begin; i < d.end; ++i) {
            const Token& t = c.lx.pp[i];
            if (t.kind != TK::Ident) continue;
            if (t.code == W::has_include || t.code == W::has_include_next || t.code == W::has_embed) {
                c.add_lc(Sev::Error, "safety.preprocessor-path", t.line, t.col,
                         std::string(c.src.substr(t.off, t.len)) + " probes files: not allowed in kernel sources", -1);
            } else if (t.code == W::asm_ || t.code == W::asm2 || t.code == W::asm3) {
                c.add_lc(Sev::Error, "safety.asm", t.line, t.col, "inline assembly is not allowed (in a macro)", -1);
            } else if (t.code == W::goto_) {
                c.add_lc(Sev::Error, "safety.goto", t.line, t.col, "goto is not allowed (in a macro)", -1);
            }
        }
    }
    // code tokens
    int printfs = 0;
    uint32_t first_printf = 0;
    for (uint32_t i : c.lx.marks) {
        const Token& t = c.lx.toks[i];
        switch (t.code) {
            case W::asm_: case W::asm2: case W::asm3:
                c.add(Sev::Error, "safety.asm", i, "inline assembly is not allowed", -1);
                break;
            case W::goto_:
                c.add(Sev::Error, "safety.goto", i, "goto is not allowed in kernels", -1);
                break;
            case W::has_include: case W::has_include_next: case W::has_embed:
                c.add(Sev::Error, "safety.preprocessor-path", i,
                      std::string(c.text(i)) + " probes files: not allowed in kernel sources", -1);
                break;
            case W::printf_:
                if (c.lx.toks[i + 1].kind == TK::Punct && c.lx.toks[i + 1].code == '(') {
                    if (printfs++ == 0) first_printf = i;
                }
                break;
            default: break;
        }
    }
    if (printfs > kPrintfFlood) {
        c.add(Sev::Error, "safety.printf-flood", first_printf,
              std::to_string(printfs) + " printf calls: output from every work-item floods the host", -1);
    }
    // recursion: a back edge of a depth-first walk of the call graph
    const size_t nf = c.ast.funcs.size();
    std::vector<uint8_t> color(nf, 0);
    std::vector<std::pair<int, size_t>> stack;
    for (size_t root = 0; root < nf; ++root) {
        if (color[root]) continue;
        stack.emplace_back(static_cast<int>(root), 0);
        color[root] = 1;
        while (!stack.empty()) {
            auto& top = stack.back();
            const int f = top.first;
            if (top.second < c.calls[f].size()) {
                auto edge = c.calls[f][top.second++];
                int g = edge.first;
                if (color[g] == 1) {
                    const Expr& call = c.ast.exprs[edge.second];
                    std::string fnm = c.fname(f), gnm = c.fname(g);
                    c.add(Sev::Error, "safety.recursion", call.tb,
                          f == g ? "`" + fnm + "` calls itself: recursion is not allowed in kernels"
                                 : "`" + fnm + "` calls `" + gnm + "`, which calls back into `" + fnm +
                                       "`: recursion is not allowed in kernels",
                          f);
                } else if (color[g] == 0) {
                    color[g] = 1;
                    stack.emplace_back(g, 0);
                }
            } else {
                color[f] = 2;
                stack.pop_back();
            }
        }
    }
}

}  // namespace uhop::an
