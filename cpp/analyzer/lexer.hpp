// Lexer: kernel source -> tokens with line/column, comments dropped, preprocessor
// directives split off, `// @launch` annotations collected, brackets matched.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "words.hpp"

namespace uhop::an {

enum class TK : uint8_t { Ident, Number, String, Char, Punct, End };

// Punctuators: single characters use their ASCII code, the longer ones these codes.
enum P : uint16_t {
    P_ARROW = 128, P_INC, P_DEC, P_SHL, P_SHR, P_LE, P_GE, P_EQ, P_NE, P_ANDAND, P_OROR,
    P_ADDEQ, P_SUBEQ, P_MULEQ, P_DIVEQ, P_MODEQ, P_ANDEQ, P_OREQ, P_XOREQ, P_SHLEQ, P_SHREQ,
    P_SCOPE, P_ELLIPSIS, P_HASHHASH
};

struct Token {
    uint32_t off = 0, len = 0;
    uint32_t line = 0, col = 0;
    uint32_t sym = 0;    // identifiers: per-source symbol id
    uint16_t code = 0;   // identifiers: word id (W); punctuators: P code or the character
    TK kind = TK::End;
    uint8_t pad = 0;

    Token() = default;
    Token(uint32_t off_, uint32_t len_, uint32_t line_, uint32_t col_, uint32_t sym_, uint16_t code_, TK kind_)
        : off(off_), len(len_), line(line_), col(col_), sym(sym_), code(code_), kind(kind_) {}
};

struct Directive {
    uint32_t line = 0, col = 0, off = 0;
    uint32_t begin = 0, end = 0;  // directive tokens (after the `#`) in Lexed::pp
    uint32_t code_pos = 0;        // index of the next code token
};

struct LaunchComment {
    uint32_t line = 0, col = 0, off = 0;
    uint32_t body_off = 0, body_len = 0;  // text after `@launch`
};

struct LexIssue {
    const char* code;
    std::string message;
    uint32_t line, col;
};

struct Lexed {
    std::vector<Token> toks;        // code tokens, terminated by one TK::End token
    std::vector<Token> pp;          // tokens of preprocessor directives
    std::vector<Directive> dirs;
    std::vector<LaunchComment> launches;
    std::vector<int32_t> match;     // for every bracket token of `toks`: index of its partner, else -1
    std::vector<std::string_view> syms;   // symbol id -> text (id 0 unused)
    std::vector<uint16_t> sym_word;       // symbol id -> word id
    std::vector<LexIssue> issues;
    std::vector<uint32_t> marks;          // code tokens the safety rules look at (asm, goto, printf, __has_include)
    uint32_t lines = 0;
    bool fatal = false;             // unbalanced or too deeply nested brackets: no parse
    int max_depth = 0;

    // lexer scratch, reused between sources
    std::string padded;                 // the source plus NUL padding
    std::vector<uint32_t> intern_table; // identifier interner: slot -> symbol
    std::vector<uint64_t> intern_hash;  // symbol -> hash
    uint32_t intern_mask = 0;

    std::string_view text(const Token& t, std::string_view src) const { return src.substr(t.off, t.len); }
};

// Nesting limit for brackets (and, in the parser, for statements and expressions).
constexpr int kMaxDepth = 256;

void lex(std::string_view src, Lexed& out);

}  // namespace uhop::an
