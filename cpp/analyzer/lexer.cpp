#include "lexer.hpp"

#include <array>
#include <cstdio>
#include <cstring>

namespace uhop::an {

// ------------------------------------------------------------------ words
namespace {

constexpr std::string_view kWordText[] = {
    "",
#define UHOP_W_TEXT(id, text) text,
    UHOP_WORDS(UHOP_W_TEXT)
#undef UHOP_W_TEXT
};

inline uint32_t hash_bytes(const char* p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; ++i) {
        h ^= static_cast<unsigned char>(p[i]);
        h *= 16777619u;
    }
    return h;
}

struct WordTable {
    static constexpr uint32_t kSize = 1024;
    std::array<uint16_t, kSize> slot{};
    WordTable() {
        for (uint16_t w = 1; w < W_count; ++w) {
            std::string_view t = kWordText[w];
            uint32_t i = hash_bytes(t.data(), t.size()) & (kSize - 1);
            while (slot[i]) i = (i + 1) & (kSize - 1);
            slot[i] = w;
        }
    }
    uint16_t find(std::string_view s, uint32_t h) const {
        uint32_t i = h & (kSize - 1);
        while (slot[i]) {
            if (kWordText[slot[i]] == s) return slot[i];
            i = (i + 1) & (kSize - 1);
        }
        return W_none;
    }
};

const WordTable& words() {
    static const WordTable t;
    return t;
}

}  // namespace

uint16_t word_id(std::string_view s) { return words().find(s, hash_bytes(s.data(), s.size())); }

std::string_view word_text(uint16_t w) { return w < W_count ? kWordText[w] : std::string_view(); }

int vector_lanes(uint16_t w) {
    if (!is_vector_type(w)) return 1;
    static const int lanes[5] = {2, 3, 4, 8, 16};
    return lanes[(w - W::char2) % 5];
}

uint16_t vector_elem(uint16_t w) {
    if (!is_vector_type(w)) return w;
    static const uint16_t base[] = {W::char_, W::uchar, W::short_, W::ushort, W::int_, W::uint,
                                    W::long_, W::ulong, W::half, W::float_, W::double_};
    return base[(w - W::char2) / 5];
}

int scalar_bytes(uint16_t w) {
    switch (w) {
        case W::bool_: case W::char_: case W::uchar: case W::int8_t_: case W::uint8_t_: return 1;
        case W::short_: case W::ushort: case W::half: case W::int16_t_: case W::uint16_t_:
        case W::half_cuda: case W::bf16_cuda: case W::bfloat16: return 2;
        case W::int_: case W::uint: case W::float_: case W::int32_t_: case W::uint32_t_: case W::half2_cuda:
        case W::unsigned_: case W::signed_: return 4;
        case W::long_: case W::ulong: case W::double_: case W::size_t_: case W::ptrdiff_t_: case W::intptr_t_:
        case W::uintptr_t_: case W::int64_t_: case W::uint64_t_: return 8;
        case W::dim3: return 12;
        default: return 0;
    }
}

bool is_integer_type(uint16_t w) {
    switch (w) {
        case W::bool_: case W::char_: case W::uchar: case W::short_: case W::ushort: case W::int_: case W::uint:
        case W::long_: case W::ulong: case W::size_t_: case W::ptrdiff_t_: case W::intptr_t_: case W::uintptr_t_:
        case W::int8_t_: case W::int16_t_: case W::int32_t_: case W::int64_t_: case W::uint8_t_: case W::uint16_t_:
        case W::uint32_t_: case W::uint64_t_: case W::unsigned_: case W::signed_: return true;
        default: return false;
    }
}

// ------------------------------------------------------------------ interner
namespace {

// The identifier interner works on the Lexed's own buffers (no thread-local state).
struct Interner {
    std::vector<uint32_t>& table;   // slot -> symbol id (0: empty)
    std::vector<uint64_t>& hashes;  // symbol id -> hash
    uint32_t& mask;

    explicit Interner(Lexed& out) : table(out.intern_table), hashes(out.intern_hash), mask(out.intern_mask) {}

    void reset(size_t expect) {
        size_t n = 256;
        while (n < expect * 2) n <<= 1;
        table.assign(n, 0);
        mask = static_cast<uint32_t>(n - 1);
        hashes.clear();
        hashes.push_back(0);
    }

    void grow(const Lexed& out) {
        size_t n = table.size() * 2;
        table.assign(n, 0);
        mask = static_cast<uint32_t>(n - 1);
        for (uint32_t id = 1; id < out.syms.size(); ++id) {
            uint32_t i = static_cast<uint32_t>(hashes[id]) & mask;
            while (table[i]) i = (i + 1) & mask;
            table[i] = id;
        }
    }

    // Identifiers are told apart by their 64-bit hash and length (a collision would merge two
    // names: an analysis imprecision, never a fault).
    __attribute__((always_inline)) uint32_t intern(const char* p, size_t n, uint64_t h, Lexed& out) {
        uint32_t i = static_cast<uint32_t>(h) & mask;
        while (uint32_t id = table[i]) {
            if (hashes[id] == h && out.syms[id].size() == n) return id;
            i = (i + 1) & mask;
        }
        uint32_t id = static_cast<uint32_t>(out.syms.size());
        std::string_view s(p, n);
        out.syms.push_back(s);
        out.sym_word.push_back(words().find(s, hash_bytes(p, n)));
        hashes.push_back(h);
        table[i] = id;
        if (out.syms.size() * 2 > table.size()) grow(out);
        return id;
    }
};

enum CharClass : uint8_t { C_OTHER, C_WS, C_NL, C_ID, C_DIGIT, C_PUNCT, C_QUOTE, C_SLASH, C_HASH, C_BSLASH, C_DOT };

struct CharTable {
    uint8_t cls[256];
    uint8_t id[256];  // identifier continuation
    CharTable() {
        for (int c = 0; c < 256; ++c) {
            cls[c] = C_OTHER;
            id[c] = 0;
        }
        for (int c = 'a'; c <= 'z'; ++c) cls[c] = C_ID;
        for (int c = 'A'; c <= 'Z'; ++c) cls[c] = C_ID;
        cls[static_cast<unsigned char>('_')] = cls[static_cast<unsigned char>('$')] = C_ID;
        for (int c = 0; c < 256; ++c) id[c] = cls[c] == C_ID;
        for (int c = '0'; c <= '9'; ++c) {
            cls[c] = C_DIGIT;
            id[c] = 1;
        }
        for (const char* p = " \t\r\f\v"; *p; ++p) cls[static_cast<unsigned char>(*p)] = C_WS;
        cls[static_cast<unsigned char>('\n')] = C_NL;
        for (const char* p = "+-*%<>=!&|^~?:;,()[]{}"; *p; ++p) cls[static_cast<unsigned char>(*p)] = C_PUNCT;
        cls[static_cast<unsigned char>('"')] = cls[static_cast<unsigned char>('\'')] = C_QUOTE;
        cls[static_cast<unsigned char>('/')] = C_SLASH;
        cls[static_cast<unsigned char>('#')] = C_HASH;
        cls[static_cast<unsigned char>('\\')] = C_BSLASH;
        cls[static_cast<unsigned char>('.')] = C_DOT;
    }
};

const CharTable& chars() {
    static const CharTable t;
    return t;
}

// Hash of an identifier, 8 bytes at a time (the source is padded with 16 NUL bytes, so the
// loads may run past the end of short identifiers).
inline uint64_t ident_hash(const char* p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xff51afd7ed558ccdULL);
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t w;
        std::memcpy(&w, p + k, 8);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
        h ^= h >> 29;
    }
    if (k < n) {
        uint64_t w;
        std::memcpy(&w, p + k, 8);
        w &= ~0ULL >> (8 * (8 - (n - k)));
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
        h ^= h >> 29;
    }
    return h ^ (h >> 32);
}

}  // namespace

void lex(std::string_view src, Lexed& out) {
    Interner interner(out);
    std::string& padded = out.padded;
    const CharTable& T = chars();
    // A copy with NUL padding: the inner loops stop at the sentinel instead of testing bounds.
    padded.assign(src.data(), src.size());
    padded.append(16, '\0');
    const char* s = padded.data();
    const size_t n = src.size();
    out.toks.clear();
    out.pp.clear();
    out.dirs.clear();
    out.launches.clear();
    out.match.clear();
    out.syms.clear();
    out.sym_word.clear();
    out.issues.clear();
    out.marks.clear();
    out.syms.emplace_back();
    out.sym_word.push_back(W_none);
    out.fatal = false;
    out.max_depth = 0;
    out.toks.reserve(n / 3 + 16);
    interner.reset(n / 24 + 64);

    uint32_t line = 1;
    size_t line_start = 0;
    bool at_line_start = true;  // only whitespace so far on this line
    bool in_pp = false;
    Directive dir;
    uint32_t invalid_count = 0;
    uint32_t invalid_line = 0, invalid_col = 0;
    unsigned invalid_byte = 0;

    // Macros rather than capturing lambdas: the lexer state stays in registers (a local whose
    // address escapes into a lambda is reloaded after every token store).
    std::vector<Token>& code_toks = out.toks;
    std::vector<Token>& pp_toks = out.pp;
#define UHOP_COL(pos) static_cast<uint32_t>((pos) - line_start + 1)
#define UHOP_PUSH(kind, start, len, code, sym, tline, tcol)                                                   \
    (in_pp ? pp_toks : code_toks)                                                                             \
        .emplace_back(static_cast<uint32_t>(start), static_cast<uint32_t>(len), (tline), (tcol), (sym), (code), \
                      (kind))
#define UHOP_PUNCT(at, len, code) (UHOP_PUSH(TK::Punct, (at), (len), (code), 0u, line, UHOP_COL(at)), (at) + (len))
#define UHOP_END_DIRECTIVE()                                          \
    do {                                                              \
        dir.end = static_cast<uint32_t>(pp_toks.size());              \
        dir.code_pos = static_cast<uint32_t>(code_toks.size());       \
        out.dirs.push_back(dir);                                      \
        in_pp = false;                                                \
    } while (0)

    size_t i = 0;
    while (i < n) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const unsigned char d = static_cast<unsigned char>(s[i + 1]);  // the padding makes it safe
        const uint8_t cls = T.cls[c];
        if (cls == C_WS) {  // the commonest classes first: conditional branches predict better
            ++i;
            while (T.cls[static_cast<unsigned char>(s[i])] == C_WS) ++i;  // stops at the padding
            continue;
        }
        switch (cls) {
            case C_NL:
                if (in_pp) UHOP_END_DIRECTIVE();
                ++i;
                ++line;
                line_start = i;
                at_line_start = true;
                continue;
            case C_ID: {
                at_line_start = false;
                size_t j = i + 1;
                while (T.id[static_cast<unsigned char>(s[j])]) ++j;  // stops at the padding
                const uint64_t h = ident_hash(s + i, j - i);
                uint32_t sym = interner.intern(s + i, j - i, h, out);
                const uint16_t w = out.sym_word[sym];
                if (w && ((w >= W::printf_ && w <= W::has_embed) || w == W::goto_) && !in_pp)
                    out.marks.push_back(static_cast<uint32_t>(out.toks.size()));
                UHOP_PUSH(TK::Ident, i, j - i, w, sym, line, UHOP_COL(i));
                i = j;
                continue;
            }
            case C_DOT:
                if (!(d >= '0' && d <= '9')) {
                    at_line_start = false;
                    if (d == '.' && s[i + 2] == '.') i = UHOP_PUNCT(i, 3, P_ELLIPSIS);
                    else i = UHOP_PUNCT(i, 1, '.');
                    continue;
                }
                [[fallthrough]];
            case C_DIGIT: {
                at_line_start = false;
                size_t j = i + 1;
                for (;;) {  // stops at the padding
                    unsigned char e = static_cast<unsigned char>(s[j]);
                    if (T.id[e] || e == '.') {
                        ++j;
                    } else if ((e == '+' || e == '-') && (s[j - 1] == 'e' || s[j - 1] == 'E' || s[j - 1] == 'p' ||
                                                          s[j - 1] == 'P')) {
                        ++j;
                    } else if (e == '\'' && T.id[static_cast<unsigned char>(s[j + 1])]) {
                        j += 2;  // digit separator
                    } else {
                        break;
                    }
                }
                UHOP_PUSH(TK::Number, i, j - i, 0, 0, line, UHOP_COL(i));
                i = j;
                continue;
            }
            case C_PUNCT: {
                at_line_start = false;
                switch (c) {
                    case '-':
                        i = d == '>' ? UHOP_PUNCT(i, 2, P_ARROW) : d == '-' ? UHOP_PUNCT(i, 2, P_DEC)
                            : d == '=' ? UHOP_PUNCT(i, 2, P_SUBEQ) : UHOP_PUNCT(i, 1, '-');
                        break;
                    case '+':
                        i = d == '+' ? UHOP_PUNCT(i, 2, P_INC) : d == '=' ? UHOP_PUNCT(i, 2, P_ADDEQ) : UHOP_PUNCT(i, 1, '+');
                        break;
                    case '*': i = d == '=' ? UHOP_PUNCT(i, 2, P_MULEQ) : UHOP_PUNCT(i, 1, '*'); break;
                    case '%': i = d == '=' ? UHOP_PUNCT(i, 2, P_MODEQ) : UHOP_PUNCT(i, 1, '%'); break;
                    case '^': i = d == '=' ? UHOP_PUNCT(i, 2, P_XOREQ) : UHOP_PUNCT(i, 1, '^'); break;
                    case '=': i = d == '=' ? UHOP_PUNCT(i, 2, P_EQ) : UHOP_PUNCT(i, 1, '='); break;
                    case '!': i = d == '=' ? UHOP_PUNCT(i, 2, P_NE) : UHOP_PUNCT(i, 1, '!'); break;
                    case ':': i = d == ':' ? UHOP_PUNCT(i, 2, P_SCOPE) : UHOP_PUNCT(i, 1, ':'); break;
                    case '&':
                        i = d == '&' ? UHOP_PUNCT(i, 2, P_ANDAND) : d == '=' ? UHOP_PUNCT(i, 2, P_ANDEQ) : UHOP_PUNCT(i, 1, '&');
                        break;
                    case '|':
                        i = d == '|' ? UHOP_PUNCT(i, 2, P_OROR) : d == '=' ? UHOP_PUNCT(i, 2, P_OREQ) : UHOP_PUNCT(i, 1, '|');
                        break;
                    case '<':
                        if (d == '<') i = s[i + 2] == '=' ? UHOP_PUNCT(i, 3, P_SHLEQ) : UHOP_PUNCT(i, 2, P_SHL);
                        else i = d == '=' ? UHOP_PUNCT(i, 2, P_LE) : UHOP_PUNCT(i, 1, '<');
                        break;
                    case '>':
                        if (d == '>') i = s[i + 2] == '=' ? UHOP_PUNCT(i, 3, P_SHREQ) : UHOP_PUNCT(i, 2, P_SHR);
                        else i = d == '=' ? UHOP_PUNCT(i, 2, P_GE) : UHOP_PUNCT(i, 1, '>');
                        break;
                    default: i = UHOP_PUNCT(i, 1, c); break;
                }
                continue;
            }
            case C_SLASH:
                if (d == '/') {
                    size_t j = i + 2;
                    const void* nl = j < n ? std::memchr(s + j, '\n', n - j) : nullptr;
                    size_t eol = nl ? static_cast<size_t>(static_cast<const char*>(nl) - s) : n;
                    if (at_line_start && !in_pp) {
                        size_t k = j;
                        while (k < eol && (s[k] == ' ' || s[k] == '\t')) ++k;
                        if (eol - k >= 7 && std::memcmp(s + k, "@launch", 7) == 0 &&
                            (k + 7 == eol || !T.id[static_cast<unsigned char>(s[k + 7])])) {
                            LaunchComment lc;
                            lc.line = line;
                            lc.col = UHOP_COL(i);
                            lc.off = static_cast<uint32_t>(i);
                            lc.body_off = static_cast<uint32_t>(k + 7);
                            lc.body_len = static_cast<uint32_t>(eol - (k + 7));
                            out.launches.push_back(lc);
                        }
                    }
                    i = eol;
                    continue;
                }
                if (d == '*') {
                    size_t j = i + 2;
                    uint32_t l0 = line, c0 = UHOP_COL(i);
                    bool closed = false;
                    while (j < n) {
                        const char e = s[j];
                        if (e == '*' && j + 1 < n && s[j + 1] == '/') {
                            j += 2;
                            closed = true;
                            break;
                        }
                        if (e == '\n') {
                            ++line;
                            line_start = j + 1;
                        }
                        ++j;
                    }
                    if (!closed) {
                        out.issues.push_back({"lex.unterminated-comment",
                                              "unterminated /* comment: it runs to the end of the source", l0, c0});
                        i = n;
                        continue;
                    }
                    i = j;
                    continue;
                }
                at_line_start = false;
                i = d == '=' ? UHOP_PUNCT(i, 2, P_DIVEQ) : UHOP_PUNCT(i, 1, '/');
                continue;
            case C_HASH:
                if (at_line_start && !in_pp) {
                    in_pp = true;
                    dir = Directive();
                    dir.line = line;
                    dir.col = UHOP_COL(i);
                    dir.off = static_cast<uint32_t>(i);
                    dir.begin = static_cast<uint32_t>(out.pp.size());
                    ++i;
                    at_line_start = false;
                    continue;
                }
                i = d == '#' ? UHOP_PUNCT(i, 2, P_HASHHASH) : UHOP_PUNCT(i, 1, '#');
                continue;
            case C_BSLASH: {  // line continuation
                size_t j = i + 1;
                if (j < n && s[j] == '\r') ++j;
                if (j < n && s[j] == '\n') {
                    i = j + 1;
                    ++line;
                    line_start = i;
                    continue;
                }
                break;  // a stray backslash: invalid
            }
            case C_QUOTE: {
                at_line_start = false;
                const uint32_t tline = line, tcol = UHOP_COL(i);
                size_t j = i + 1;
                bool closed = false;
                while (j < n) {
                    const char e = s[j];
                    if (e == '\\' && j + 1 < n) {
                        if (s[j + 1] == '\n') {
                            ++line;
                            line_start = j + 2;
                        }
                        j += 2;
                        continue;
                    }
                    if (e == '\n') break;
                    if (e == static_cast<char>(c)) {
                        closed = true;
                        ++j;
                        break;
                    }
                    ++j;
                }
                if (!closed) {
                    out.issues.push_back({"lex.unterminated-string",
                                          c == '"' ? "unterminated string literal" : "unterminated character literal",
                                          tline, tcol});
                }
                UHOP_PUSH(c == '"' ? TK::String : TK::Char, i, j - i, 0u, 0u, tline, tcol);
                i = j;
                continue;
            }
            default: break;
        }
        // anything else: not valid outside strings and comments
        at_line_start = false;
        if (invalid_count++ == 0) {
            invalid_line = line;
            invalid_col = UHOP_COL(i);
            invalid_byte = c;
        }
        ++i;
    }
    if (in_pp) UHOP_END_DIRECTIVE();
    out.lines = line;
    if (invalid_count) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "invalid character 0x%02x in the source", invalid_byte);
        std::string msg = buf;
        if (invalid_count > 1) msg += " (" + std::to_string(invalid_count) + " invalid bytes in all)";
        out.issues.push_back({"lex.invalid-char", msg, invalid_line, invalid_col});
    }
    Token end;
    end.off = static_cast<uint32_t>(n);
    end.line = line;
    end.col = UHOP_COL(n);
    end.kind = TK::End;
    out.toks.push_back(end);

#undef UHOP_COL
#undef UHOP_PUSH
#undef UHOP_PUNCT
#undef UHOP_END_DIRECTIVE

    // bracket matching
    const size_t nt = out.toks.size();
    out.match.assign(nt, -1);
    std::vector<int32_t> stack;
    stack.reserve(64);
    for (size_t k = 0; k < nt; ++k) {
        const Token& t = out.toks[k];
        if (t.kind != TK::Punct) continue;
        uint16_t p = t.code;
        if (p == '(' || p == '[' || p == '{') {
            stack.push_back(static_cast<int32_t>(k));
            if (static_cast<int>(stack.size()) > out.max_depth) out.max_depth = static_cast<int>(stack.size());
            if (static_cast<int>(stack.size()) > kMaxDepth) {
                out.issues.push_back({"parse.too-deep",
                                      "brackets nested deeper than " + std::to_string(kMaxDepth) + " levels",
                                      t.line, t.col});
                out.fatal = true;
                return;
            }
        } else if (p == ')' || p == ']' || p == '}') {
            uint16_t want = p == ')' ? '(' : p == ']' ? '[' : '{';
            if (stack.empty() || out.toks[stack.back()].code != want) {
                std::string msg = std::string("unbalanced brackets: `") + static_cast<char>(p) + "` ";
                if (stack.empty()) {
                    msg += "closes nothing";
                } else {
                    const Token& o = out.toks[stack.back()];
                    msg += "does not match `" + std::string(1, static_cast<char>(o.code)) + "` opened at line " +
                           std::to_string(o.line);
                }
                out.issues.push_back({"parse.unbalanced", msg, t.line, t.col});
                out.fatal = true;
                return;
            }
            out.match[k] = stack.back();
            out.match[stack.back()] = static_cast<int32_t>(k);
            stack.pop_back();
        }
    }
    if (!stack.empty()) {
        const Token& o = out.toks[stack.back()];
        out.issues.push_back({"parse.unbalanced",
                              std::string("unbalanced brackets: `") + static_cast<char>(o.code) + "` is never closed",
                              o.line, o.col});
        out.fatal = true;
    }
}

}  // namespace uhop::an
