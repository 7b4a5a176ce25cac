// @launch: every kernel has an annotation above it that parses, names only size
// symbols, and agrees with reqd_work_group_size / __launch_bounds__ / dynamic shared memory.
#include <algorithm>

#include "analysis.hpp"
#include "launch.hpp"

namespace uhop::an {

namespace {

template <class S>
std::string join(const std::vector<S>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) s += ", ";
        s += v[i];
    }
    return s;
}

std::string dims(const std::vector<int64_t>& v) {
    std::string s = "(";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + ")";
}

}  // namespace

void rules_launch(Ctx& c) {
    const auto& ann = c.lx.launches;
    size_t next = 0;
    c.rep.launches.reserve(c.kernels.size());
    LaunchSpec& spec = c.ws.spec;
    std::vector<std::string_view>& sizes = c.ws.sizes;
    std::vector<std::string_view>& names = c.ws.names;
    std::vector<int64_t>& loc = c.ws.loc;
    const int64_t max_wg = c.exp.max_work_group_size > 0 ? c.exp.max_work_group_size : 1024;
    for (size_t ki = 0; ki < c.kernels.size(); ++ki) {
        const int k = c.kernels[ki];
        const Function& fn = c.ast.funcs[k];
        KernelInfo& info = c.rep.kernels[ki];
        const uint32_t kpos = c.tok(fn.first_tok).off;
        size_t pick = ann.size();
        for (size_t a = next; a < ann.size() && ann[a].off < kpos; ++a) pick = a;
        if (pick == ann.size()) {
            if (!c.is_tt()) {
                c.add(Sev::Error, "launch.missing", fn.name_tok,
                      "kernel `" + info.name + "` has no `// @launch " +
                          std::string(c.is_cuda() ? "grid=(...) block=(...)" : "global=(...) local=(...)") +
                          "` annotation above it",
                      k);
            }
            continue;
        }
        next = pick + 1;
        const LaunchComment& lc = ann[pick];
        std::string_view body = c.src.substr(lc.body_off, lc.body_len);
        LaunchInfo li;
        li.kernel = info.name;
        li.line = lc.line;
        li.text = "@launch" + std::string(body.substr(0, std::min<size_t>(body.size(), 200)));
        while (!li.text.empty() && (li.text.back() == ' ' || li.text.back() == '\t' || li.text.back() == '\r'))
            li.text.pop_back();
        spec.nodes.clear();
        spec.global.clear();
        spec.local.clear();
        spec.global_text.clear();
        spec.local_text.clear();
        spec.grid_style = false;
        spec.smem = -1;
        spec.smem_text = std::string_view();
        std::string err;
        const bool ok = parse_launch_body(body, spec, err);
        li.ok = ok;
        if (!ok) {
            li.error = err;
            c.add_lc(Sev::Error, "launch.malformed", lc.line, lc.col, "@launch of `" + info.name + "`: " + err, k);
            info.launch = static_cast<int>(c.rep.launches.size());
            c.rep.launches.push_back(std::move(li));
            continue;
        }
        li.grid_style = spec.grid_style;
        li.global.assign(spec.global_text.begin(), spec.global_text.end());
        li.local.assign(spec.local_text.begin(), spec.local_text.end());
        li.smem = std::string(spec.smem_text);
        info.launch = static_cast<int>(c.rep.launches.size());
        c.rep.launches.push_back(std::move(li));

        // names must be size symbols
        sizes.clear();
        if (c.exp.has_args) {
            for (const ExpectedArg& a : c.exp.args)
                if (a.kind == "size") sizes.push_back(a.name);
        } else {
            for (uint32_t i = 0; i < fn.nparams; ++i) {
                const Decl& p = c.ast.decls[fn.params + i];
                if (p.sym && !p.ptr && !p.is_array() && is_integer_type(p.ts.word)) sizes.push_back(c.sym_text(p.sym));
            }
        }
        names.clear();
        for (int r : spec.global) launch_names(spec, r, names);
        for (int r : spec.local) launch_names(spec, r, names);
        if (spec.smem >= 0) launch_names(spec, spec.smem, names);
        for (std::string_view n : names) {
            if (std::find(sizes.begin(), sizes.end(), n) == sizes.end()) {
                c.add_lc(Sev::Error, "launch.unknown-symbol", lc.line, lc.col,
                         "@launch of `" + info.name + "` uses `" + std::string(n) + "`, which is not a size symbol" +
                             (sizes.empty() ? std::string(" (the kernel has no integer size arguments)")
                                            : " (sizes: " + join(sizes) + ")"),
                         k);
            }
        }

        // geometry
        loc.clear();
        bool loc_const = !spec.local.empty();
        for (int r : spec.local) {
            auto v = launch_const(spec, r);
            if (!v) loc_const = false;
            else loc.push_back(*v);
        }
        if (loc_const) {
            for (int64_t v : loc)
                if (v <= 0) {
                    c.add_lc(Sev::Error, "launch.malformed", lc.line, lc.col,
                             "@launch of `" + info.name + "`: " + (spec.grid_style ? "block" : "local") +
                                 " size " + dims(loc) + " has an empty or negative dimension",
                             k);
                    loc_const = false;
                    break;
                }
        }
        int64_t prod = 1;
        if (loc_const) {
            for (int64_t v : loc) prod = prod > (int64_t(1) << 40) ? prod : prod * v;
            if (prod > max_wg) {
                c.add_lc(Sev::Error, "res.work-group-size", lc.line, lc.col,
                         "@launch of `" + info.name + "` asks for " + std::to_string(prod) +
                             " work-items per group; the limit is " + std::to_string(max_wg),
                         k);
            }
        }
        if (!spec.grid_style && !spec.local.empty()) {
            if (spec.global.size() != spec.local.size()) {
                c.add_lc(Sev::Error, "launch.dims", lc.line, lc.col,
                         "@launch of `" + info.name + "`: global has " + std::to_string(spec.global.size()) +
                             " dimension(s) but local has " + std::to_string(spec.local.size()),
                         k);
            } else if (loc_const) {
                for (size_t d = 0; d < spec.global.size(); ++d) {
                    auto g = launch_const(spec, spec.global[d]);
                    if (g) {
                        if (*g % loc[d] != 0) {
                            c.add_lc(Sev::Error, "launch.not-multiple", lc.line, lc.col,
                                     "@launch of `" + info.name + "`: global size " + std::to_string(*g) +
                                         " is not a multiple of local size " + std::to_string(loc[d]) +
                                         " in dimension " + std::to_string(d),
                                     k);
                        }
                    } else if (!launch_multiple_of(spec, spec.global[d], loc[d])) {
                        c.add_lc(Sev::Warning, "launch.not-multiple", lc.line, lc.col,
                                 "@launch of `" + info.name + "`: global size `" + std::string(spec.global_text[d]) +
                                     "` is not always a multiple of local size " + std::to_string(loc[d]) +
                                     " (use roundup(" + std::string(spec.global_text[d]) + ", " + std::to_string(loc[d]) +
                                     ") and guard the extra work-items)",
                                 k);
                    }
                }
            }
        }
        // reqd_work_group_size / __launch_bounds__
        const auto& reqd = info.reqd_work_group_size;
        if (!reqd.empty() && std::all_of(reqd.begin(), reqd.end(), [](int64_t v) { return v > 0; })) {
            bool match = loc_const;
            if (loc_const) {
                for (size_t d = 0; d < std::max(reqd.size(), loc.size()); ++d) {
                    int64_t a = d < reqd.size() ? reqd[d] : 1, b = d < loc.size() ? loc[d] : 1;
                    if (a != b) match = false;
                }
            }
            if (!match) {
                c.add(Sev::Error, "launch.reqd-mismatch", fn.name_tok,
                      "kernel `" + info.name + "` requires reqd_work_group_size" + dims(reqd) + " but its @launch " +
                          (spec.local.empty() ? std::string("leaves the local size to the runtime")
                                              : "sets local=(" + join(spec.local_text) + ")"),
                      k);
            }
        }
        if (!info.launch_bounds.empty() && info.launch_bounds[0] > 0 && loc_const && prod > info.launch_bounds[0]) {
            c.add(Sev::Error, "launch.bounds-exceeded", fn.name_tok,
                  "kernel `" + info.name + "` is compiled for at most " + std::to_string(info.launch_bounds[0]) +
                      " threads per block (__launch_bounds__) but @launch uses " + std::to_string(prod),
                  k);
        }
        if (info.dynamic_shared && c.is_cuda() && spec.smem < 0) {
            c.add_lc(Sev::Error, "launch.smem-missing", lc.line, lc.col,
                     "kernel `" + info.name + "` uses `extern __shared__` memory but its @launch has no smem=BYTES",
                     k);
        }
        if (spec.smem >= 0) {
            auto sm = launch_const(spec, spec.smem);
            int64_t limit = c.exp.local_mem_bytes > 0 ? c.exp.local_mem_bytes : 49152;
            if (sm && *sm + info.local_mem_bytes > limit) {
                c.add_lc(Sev::Error, "res.local-mem-limit", lc.line, lc.col,
                         "kernel `" + info.name + "` needs " + std::to_string(*sm + info.local_mem_bytes) +
                             " bytes of shared memory (smem=" + std::to_string(*sm) + " plus " +
                             std::to_string(info.local_mem_bytes) + " static); the limit is " + std::to_string(limit),
                         k);
            }
        }
    }
}

}  // namespace uhop::an
