#include "report.hpp"

#include <algorithm>
#include <cstring>

namespace uhop::an {

const char* sev_name(Sev s) {
    switch (s) {
        case Sev::Error: return "error";
        case Sev::Warning: return "warning";
        default: return "info";
    }
}

int Report::count(Sev s) const {
    int n = 0;
    for (const Finding& f : findings) n += f.sev == s;
    return n;
}

namespace {
constexpr size_t kMaxFindings = 400;
}

void finalize(Report& r) {
    auto& v = r.findings;
    std::stable_sort(v.begin(), v.end(), [](const Finding& a, const Finding& b) {
        if (a.sev != b.sev) return a.sev < b.sev;
        if (a.line != b.line) return a.line < b.line;
        if (a.col != b.col) return a.col < b.col;
        return std::strcmp(a.code, b.code) < 0;
    });
    size_t w = 0;
    for (size_t i = 0; i < v.size(); ++i) {
        if (w > 0) {
            const Finding& p = v[w - 1];
            if (p.line == v[i].line && p.col == v[i].col && std::strcmp(p.code, v[i].code) == 0) continue;
        }
        if (w != i) v[w] = std::move(v[i]);
        ++w;
    }
    v.resize(w);
    if (v.size() > kMaxFindings) {
        size_t dropped = v.size() - kMaxFindings;
        v.resize(kMaxFindings);
        Finding f;
        f.sev = Sev::Info;
        f.code = "report.truncated";
        f.message = std::to_string(dropped) + " more finding(s) left out";
        v.push_back(std::move(f));
    }
}

}  // namespace uhop::an
