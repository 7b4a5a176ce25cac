// The `// @launch` annotation grammar of uhop_cc/codegen/launch.py, re-implemented:
//   global=(e, ...) [local=(e, ...)|auto]   or   grid=(e, ...) block=(e, ...) [smem=e]
// with e := ints, names, + - * / (floor), parentheses, unary -, cdiv(a, b), roundup(a, b).
#pragma once
#include <cstdint>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

namespace uhop::an {

struct LNode {
    char kind = 'i';  // 'i' int, 'n' name, '+', '-', '*', '/', 'c' cdiv, 'r' roundup
    int64_t v = 0;
    std::string_view name;  // into the annotation text
    int a = -1, b = -1;
};

struct LaunchSpec {
    // scratch buffers, kept here so that a reused LaunchSpec parses without allocating
    std::vector<std::pair<char, std::string_view>> toks;
    std::vector<std::string_view> items;
    std::vector<std::pair<std::string_view, std::string_view>> fields;

    std::vector<LNode> nodes;
    std::vector<int> global, local;  // root nodes; for grid style: grid and block
    std::vector<std::string_view> global_text, local_text;  // into the annotation text
    bool grid_style = false;
    int smem = -1;
    std::string_view smem_text;
};

// Parses the text after `@launch`; on failure returns false with the same message
// launch.py's LaunchError would carry.
bool parse_launch_body(std::string_view body, LaunchSpec& out, std::string& error);

// Value of a node when it only involves integers (division by zero: nullopt).
std::optional<int64_t> launch_const(const LaunchSpec& s, int node);
// Is the node provably a multiple of m for every value of its symbols?
bool launch_multiple_of(const LaunchSpec& s, int node, int64_t m, int depth = 0);
void launch_names(const LaunchSpec& s, int node, std::vector<std::string_view>& out);

}  // namespace uhop::an
