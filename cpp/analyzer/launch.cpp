#include "launch.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

namespace uhop::an {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && is_space(s[b])) ++b;
    while (e > b && is_space(s[e - 1])) --e;
    return s.substr(b, e - b);
}
std::string strip(std::string_view s) { return std::string(trim(s)); }

using LTok = std::pair<char, std::string_view>;  // kind ('i', 'n', 'o'), text

class ExprParser {
public:
    ExprParser(std::string_view text, LaunchSpec& spec) : text_(text), spec_(spec), toks_(spec.toks) {
        toks_.clear();
        size_t i = 0;
        while (i < text.size()) {
            char c = text[i];
            if (is_space(c)) {
                ++i;
                continue;
            }
            if (is_digit(c)) {
                size_t j = i;
                while (j < text.size() && is_digit(text[j])) ++j;
                toks_.push_back({'i', text.substr(i, j - i)});
                i = j;
            } else if (is_alpha(c)) {
                size_t j = i;
                while (j < text.size() && (is_alpha(text[j]) || is_digit(text[j]))) ++j;
                toks_.push_back({'n', text.substr(i, j - i)});
                i = j;
            } else {
                toks_.push_back({'o', text.substr(i, 1)});
                ++i;
            }
        }
    }

    bool parse(int& root, std::string& err) {
        if (!sum(root, err)) return false;
        if (i_ < toks_.size()) {
            err = "in `" + strip(text_) + "`: unexpected `" + std::string(toks_[i_].second) + "`";
            return false;
        }
        return true;
    }

private:
    std::string_view text_;
    LaunchSpec& spec_;
    std::vector<LTok>& toks_;  // parsers run one at a time: the spec's buffer
    size_t i_ = 0;
    int depth_ = 0;

    const LTok* peek() const { return i_ < toks_.size() ? &toks_[i_] : nullptr; }
    bool take(const char* value, std::string& err) {
        const LTok* t = peek();
        if (!t || (value && t->second != value)) {
            std::string want = value ? "'" + std::string(value) + "'" : "an expression";
            err = "in `" + strip(text_) + "`: expected " + want + ", got " + (t ? std::string(t->second) : "the end");
            return false;
        }
        ++i_;
        return true;
    }
    int node(char kind, int a = -1, int b = -1) {
        LNode n;
        n.kind = kind;
        n.a = a;
        n.b = b;
        spec_.nodes.push_back(n);
        return static_cast<int>(spec_.nodes.size() - 1);
    }
    struct Depth {
        int& d;
        explicit Depth(int& d_) : d(d_) { ++d; }
        ~Depth() { --d; }
    };
    bool sum(int& out, std::string& err) {
        Depth g(depth_);
        if (depth_ > 200) {
            err = "@launch expression nested too deeply";
            return false;
        }
        int x;
        if (!product(x, err)) return false;
        while (peek() && peek()->first == 'o' && (peek()->second[0] == '+' || peek()->second[0] == '-')) {
            char op = peek()->second[0];
            ++i_;
            int y;
            if (!product(y, err)) return false;
            x = node(op, x, y);
        }
        out = x;
        return true;
    }
    bool product(int& out, std::string& err) {
        int x;
        if (!atom(x, err)) return false;
        while (peek() && peek()->first == 'o' && (peek()->second[0] == '*' || peek()->second[0] == '/')) {
            char op = peek()->second[0];
            ++i_;
            int y;
            if (!atom(y, err)) return false;
            x = node(op, x, y);
        }
        out = x;
        return true;
    }
    bool atom(int& out, std::string& err) {
        Depth g(depth_);
        if (depth_ > 200) {
            err = "@launch expression nested too deeply";
            return false;
        }
        const LTok* t = peek();
        if (!take(nullptr, err)) return false;
        if (t->first == 'i') {
            if (t->second.size() > 17) {
                err = "in `" + strip(text_) + "`: integer `" + std::string(t->second) + "` is too large";
                return false;
            }
            int x = node('i');
            int64_t v = 0;
            for (char ch : t->second) v = v * 10 + (ch - '0');
            spec_.nodes[x].v = v;
            out = x;
            return true;
        }
        if (t->first == 'n') {
            std::string_view name = t->second;
            if (peek() && peek()->second == "(") {
                if (name != "cdiv" && name != "roundup") {
                    err = "unknown function `" + std::string(name) + "` in @launch (use cdiv or roundup)";
                    return false;
                }
                int a, b;
                if (!take("(", err) || !sum(a, err) || !take(",", err) || !sum(b, err) || !take(")", err)) return false;
                out = node(name == "cdiv" ? 'c' : 'r', a, b);
                return true;
            }
            int x = node('n');
            spec_.nodes[x].name = name;
            out = x;
            return true;
        }
        if (t->second == "(") {
            int x;
            if (!sum(x, err) || !take(")", err)) return false;
            out = x;
            return true;
        }
        if (t->second == "-") {
            int z = node('i');
            int a;
            if (!atom(a, err)) return false;
            out = node('-', z, a);
            return true;
        }
        err = "in `" + strip(text_) + "`: unexpected `" + std::string(t->second) + "`";
        return false;
    }
};

void split_top(std::string_view text, std::vector<std::string_view>& parts) {
    int depth = 0;
    size_t start = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        const char ch = text[i];
        if (ch == ',' && depth == 0) {
            parts.push_back(text.substr(start, i - start));
            start = i + 1;
            continue;
        }
        depth += ch == '(';
        depth -= ch == ')';
    }
    std::string_view last = text.substr(start);
    if (!trim(last).empty()) parts.push_back(last);
}

bool tuple(std::string_view raw, LaunchSpec& spec, std::vector<int>& roots, std::vector<std::string_view>& texts,
           std::string& err) {
    std::string_view text = trim(raw);
    if (!(text.size() >= 1 && text.front() == '(' && text.back() == ')')) {
        int r;
        if (!ExprParser(text, spec).parse(r, err)) return false;
        roots.push_back(r);
        texts.emplace_back(text);
        return true;
    }
    std::vector<std::string_view>& items = spec.items;
    items.clear();
    split_top(text.substr(1, text.size() >= 2 ? text.size() - 2 : 0), items);
    if (items.empty() || items.size() > 3) {
        err = "`" + std::string(text) + "`: launch dimensions take 1 to 3 values";
        return false;
    }
    for (size_t k = 0; k < items.size(); ++k) {
        std::string_view it = items[k];
        int r;
        if (!ExprParser(it, spec).parse(r, err)) return false;
        roots.push_back(r);
        texts.emplace_back(trim(it));
    }
    return true;
}

bool fields(std::string_view body, std::vector<std::pair<std::string_view, std::string_view>>& out,
            std::string& err) {
    size_t i = 0, n = body.size();
    while (i < n) {
        size_t j = i;
        while (j < n && is_space(body[j])) ++j;
        size_t k0 = j;
        if (j < n && is_alpha(body[j])) {
            while (j < n && (is_alpha(body[j]) || is_digit(body[j]))) ++j;
        }
        size_t k1 = j;
        while (j < n && is_space(body[j])) ++j;
        if (k1 == k0 || j >= n || body[j] != '=') {
            if (!strip(body.substr(i)).empty()) {
                err = "cannot read `" + strip(body) + "`: expected key=value fields";
                return false;
            }
            break;
        }
        ++j;
        while (j < n && is_space(body[j])) ++j;
        std::string_view key = body.substr(k0, k1 - k0);
        i = j;
        std::string_view value;
        if (i < n && body[i] == '(') {
            int depth = 0;
            size_t q = i;
            while (q < n) {
                depth += body[q] == '(';
                depth -= body[q] == ')';
                ++q;
                if (depth == 0) break;
            }
            if (depth) {
                err = "unbalanced parentheses in `" + strip(body) + "`";
                return false;
            }
            value = body.substr(i, q - i);
            i = q;
        } else {
            size_t q = i;
            while (q < n && !is_space(body[q])) ++q;
            if (q == i) {
                err = "cannot read `" + strip(body) + "`: expected key=value fields";
                return false;
            }
            value = body.substr(i, q - i);
            i = q;
        }
        bool replaced = false;
        for (auto& kv : out)
            if (kv.first == key) {
                kv.second = value;
                replaced = true;
            }
        if (!replaced) out.emplace_back(key, value);
    }
    return true;
}

}  // namespace

bool parse_launch_body(std::string_view body, LaunchSpec& spec, std::string& err) {
    spec.nodes.reserve(32);
    std::vector<std::pair<std::string_view, std::string_view>>& f = spec.fields;
    f.clear();
    if (!fields(body, f, err)) return false;
    auto get = [&](std::string_view k) -> const std::string_view* {
        for (auto& kv : f)
            if (kv.first == k) return &kv.second;
        return nullptr;
    };
    std::set<std::string> unknown;
    for (auto& kv : f)
        if (kv.first != "global" && kv.first != "local" && kv.first != "grid" && kv.first != "block" &&
            kv.first != "smem")
            unknown.insert(std::string(kv.first));
    if (!unknown.empty()) {
        err = "unknown @launch field(s): ";
        bool first = true;
        for (const auto& u : unknown) {
            err += (first ? "" : ", ") + u;
            first = false;
        }
        return false;
    }
    if (const std::string_view* grid = get("grid")) {
        const std::string_view* block = get("block");
        if (!block) {
            err = "@launch grid=(...) needs block=(...)";
            return false;
        }
        spec.grid_style = true;
        if (!tuple(*grid, spec, spec.global, spec.global_text, err)) return false;
        if (!tuple(*block, spec, spec.local, spec.local_text, err)) return false;
        if (const std::string_view* sm = get("smem")) {
            int r;
            if (!ExprParser(*sm, spec).parse(r, err)) return false;
            spec.smem = r;
            spec.smem_text = trim(*sm);
        }
        return true;
    }
    const std::string_view* glob = get("global");
    if (!glob) {
        err = "@launch needs global=(...) (or grid=(...) block=(...) for CUDA)";
        return false;
    }
    // launch.py reads local before global: keep its order so the first error is the same
    const std::string_view* loc = get("local");
    std::string_view lv = loc ? trim(*loc) : std::string_view("auto");
    if (!(lv == "auto" || lv == "null" || lv == "none")) {
        if (!tuple(*loc, spec, spec.local, spec.local_text, err)) return false;
    }
    return tuple(*glob, spec, spec.global, spec.global_text, err);
}

std::optional<int64_t> launch_const(const LaunchSpec& s, int node) {
    if (node < 0 || node >= static_cast<int>(s.nodes.size())) return std::nullopt;
    const LNode& n = s.nodes[node];
    if (n.kind == 'i') return n.v;
    if (n.kind == 'n') return std::nullopt;
    auto a = launch_const(s, n.a), b = launch_const(s, n.b);
    if (!a || !b) return std::nullopt;
    int64_t x = *a, y = *b, r;
    auto floordiv = [](int64_t p, int64_t q) {
        int64_t d = p / q;
        if ((p % q != 0) && ((p < 0) != (q < 0))) --d;
        return d;
    };
    switch (n.kind) {
        case '+': if (__builtin_add_overflow(x, y, &r)) return std::nullopt; return r;
        case '-': if (__builtin_sub_overflow(x, y, &r)) return std::nullopt; return r;
        case '*': if (__builtin_mul_overflow(x, y, &r)) return std::nullopt; return r;
        case '/': if (y == 0) return std::nullopt; return floordiv(x, y);
        case 'c': if (y == 0) return std::nullopt; return -floordiv(-x, y);
        case 'r': {
            if (y == 0) return std::nullopt;
            int64_t q = -floordiv(-x, y);
            if (__builtin_mul_overflow(q, y, &r)) return std::nullopt;
            return r;
        }
        default: return std::nullopt;
    }
}

bool launch_multiple_of(const LaunchSpec& s, int node, int64_t m, int depth) {
    if (m == 1) return true;
    if (node < 0 || node >= static_cast<int>(s.nodes.size()) || m <= 0 || depth > 64) return false;
    if (auto v = launch_const(s, node)) return *v % m == 0;
    const LNode& n = s.nodes[node];
    switch (n.kind) {
        case '+': case '-':
            return launch_multiple_of(s, n.a, m, depth + 1) && launch_multiple_of(s, n.b, m, depth + 1);
        case '*': {
            if (launch_multiple_of(s, n.a, m, depth + 1) || launch_multiple_of(s, n.b, m, depth + 1)) return true;
            if (auto a = launch_const(s, n.a)) {
                int64_t g = std::gcd(std::llabs(*a), m);
                return g > 0 && launch_multiple_of(s, n.b, m / g, depth + 1);
            }
            if (auto b = launch_const(s, n.b)) {
                int64_t g = std::gcd(std::llabs(*b), m);
                return g > 0 && launch_multiple_of(s, n.a, m / g, depth + 1);
            }
            return false;
        }
        case 'r':
            return launch_multiple_of(s, n.b, m, depth + 1);
        default:
            return false;
    }
}

void launch_names(const LaunchSpec& s, int node, std::vector<std::string_view>& out) {
    if (node < 0 || node >= static_cast<int>(s.nodes.size())) return;
    const LNode& n = s.nodes[node];
    if (n.kind == 'n') {
        if (std::find(out.begin(), out.end(), n.name) == out.end()) out.push_back(n.name);
        return;
    }
    launch_names(s, n.a, out);
    launch_names(s, n.b, out);
}

}  // namespace uhop::an
