// A light structural parser: functions, parameters with qualifiers, blocks and
// statements (enough for control-flow nesting), declarations and expressions.
// It never fails: unknown constructs become `Other` nodes. Nesting is bounded
// (kMaxDepth brackets, kMaxNest statements/expressions), so walkers may recurse.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lexer.hpp"

namespace uhop::an {

enum class Target : uint8_t { OpenCL, CUDA, TTMetal };

constexpr int kMaxNest = 600;

enum class EK : uint8_t {
    Name, Num, Str, Chr, Call, Index, Member, Unary, Postfix, Binary, Assign, Ternary, Cast, Comma, Init,
    Sizeof, Other
};

enum ExprFlag : uint8_t { EF_PTR_TYPE = 1, EF_SCOPED = 2, EF_TEMPLATE = 4, EF_ARROW = 8, EF_CXX_CAST = 16 };

struct Expr {
    EK kind = EK::Other;
    uint8_t flags = 0;
    uint16_t op = 0;       // operator (P code or character); Cast/Call/Name: word id
    uint16_t depth = 1;
    uint32_t tok = 0;      // main token: the name, the operator, the call's `(`
    uint32_t tb = 0, te = 0;  // source token range [tb, te)
    int32_t a = -1, b = -1, c = -1;
    uint32_t list = 0, nlist = 0;  // Call: arguments, Init/Comma: items (Ast::lists)
    uint32_t sym = 0;      // Name: symbol of the last component; Call: callee symbol; Member: field symbol
    uint32_t t0 = 0, t1 = 0;  // Cast: type tokens
};

enum class SK : uint8_t {
    Block, If, For, While, Do, Switch, Case, Default, Return, Break, Continue, Goto, Label, Decl, Expr, Empty, Asm
};

struct Stmt {
    SK kind = SK::Empty;
    uint32_t tok = 0;          // first token
    int32_t e0 = -1, e1 = -1;  // If/While/Do/Switch: e0 condition; For: e0 cond, e1 step; Return/Expr/Case: e0
    int32_t s0 = -1, s1 = -1;  // If: then/else; For: s0 init, s1 body; While/Do/Switch: s0 body
    uint32_t list = 0, nlist = 0;  // Block: statements; Decl: declarations (Ast::lists)
    uint32_t te = 0;           // the token after the statement (0: unknown)
};

enum Space : uint8_t { SP_NONE = 0, SP_GLOBAL, SP_LOCAL, SP_CONSTANT, SP_PRIVATE };

struct TypeSpec {
    uint16_t word = 0;      // builtin type word (W), 0 when a named type
    uint32_t type_sym = 0;  // named type (typedef, struct, template): symbol of its last identifier
    uint8_t space = SP_NONE;
    bool is_const = false, is_volatile = false, is_static = false, is_extern = false, is_constexpr = false;
    bool is_shared = false;     // CUDA __shared__
    bool is_restrict = false;
    uint32_t tb = 0, te = 0;    // specifier tokens
};

struct Decl {
    uint32_t name_tok = 0;   // 0 when unnamed (parameters)
    uint32_t sym = 0;
    TypeSpec ts;
    uint8_t ptr = 0;         // pointer depth
    bool is_ref = false;
    bool is_param = false;
    bool unsized = false;    // `x[]`
    uint8_t ndims = 0;
    int32_t dims[4] = {-1, -1, -1, -1};
    int32_t init = -1;
    uint32_t tb = 0, te = 0;
    bool is_array() const { return ndims > 0 || unsized; }
};

struct Function {
    uint32_t name_tok = 0;
    uint32_t sym = 0;
    uint32_t first_tok = 0;     // first token of the declaration
    bool is_kernel = false;     // __kernel / __global__ / TT-Metal kernel_main or MAIN
    bool is_tt_main = false;
    int32_t reqd[3] = {-1, -1, -1};  // reqd_work_group_size expressions
    int nreqd = 0;
    int32_t bounds[2] = {-1, -1};    // __launch_bounds__ expressions
    int nbounds = 0;
    uint32_t params = 0, nparams = 0;  // Ast::decls range
    int32_t body = -1;
    uint32_t body_open = 0, body_close = 0;
    uint32_t calls_b = 0, calls_e = 0, casts_b = 0, casts_e = 0, loops_b = 0, loops_e = 0;  // Ast lists
};

struct Ast {
    std::vector<Expr> exprs;
    std::vector<Stmt> stmts;
    std::vector<Decl> decls;
    std::vector<int32_t> lists;
    std::vector<Function> funcs;
    std::vector<int32_t> globals;     // file-scope declaration statements
    std::vector<int32_t> calls, casts, loops;  // every Call and Cast expression, every loop statement
    std::vector<uint8_t> is_type;     // symbol -> named type (typedef, struct, template parameter)
    std::vector<int64_t> macro_val;   // symbol -> value of an object-like integer #define
    std::vector<uint8_t> macro_has;
    bool too_deep = false;
    uint32_t too_deep_tok = 0;
};

void parse(const Lexed& lx, std::string_view src, Target target, Ast& ast);

// Integer constant evaluation. `env_has[sym]` == 1 gives env_val[sym].
bool const_eval(const Ast& ast, const std::vector<Token>& toks, std::string_view src, int32_t e,
                const std::vector<int64_t>& env_val, const std::vector<uint8_t>& env_has, int64_t& out,
                int depth = 0);
bool parse_int_literal(std::string_view t, int64_t& out);

}  // namespace uhop::an
