// The analyzer's result: severity-ranked findings with source locations plus
// resource, synchronisation, memory, ABI and launch summaries.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace uhop::an {

enum class Sev : uint8_t { Error = 0, Warning = 1, Info = 2 };
const char* sev_name(Sev s);

struct Finding {
    Sev sev = Sev::Info;
    const char* code = "";   // stable id, e.g. "sync.barrier-divergent"
    std::string message;
    uint32_t line = 0, col = 0;
    std::string function;    // enclosing function ("" at file scope)
};

// What the caller expects (from the KernelSpec); every field optional.
struct ExpectedArg {
    std::string name, kind, dtype, c_type;  // kind: input, output, scalar, size, temp
};
struct Expected {
    std::string name;
    bool has_args = false;
    std::vector<ExpectedArg> args;
    int64_t arg_count = -1;
    int64_t local_mem_bytes = -1;
    int64_t max_work_group_size = -1;
    int64_t tile_bytes = -1;
};

struct ArgInfo {
    std::string name, type;
    const char* space = "";
    int pointer = 0;
    bool is_const = false;
    uint32_t line = 0, col = 0;
};
struct PrivArray {
    std::string name;
    int64_t bytes = -1;  // -1: size not constant
    uint32_t line = 0;
};
struct CBInfo {
    std::string cb;
    int64_t tiles = 0, bytes = 0;
};
struct LaunchInfo {
    std::string kernel, text, error;
    uint32_t line = 0;
    bool ok = false, grid_style = false;
    std::vector<std::string> global, local;
    std::string smem;
};
struct KernelInfo {
    std::string name;
    uint32_t line = 0, col = 0;
    bool entry = false;
    int nargs = 0;
    std::vector<ArgInfo> args;  // the entry kernel's only
    int64_t local_mem_bytes = 0;
    bool local_mem_unknown = false, dynamic_shared = false;
    int64_t private_bytes = 0;
    int registers = 0, barriers = 0;
    std::vector<int64_t> reqd_work_group_size, launch_bounds;
    int launch = -1;  // index into Report::launches
};

struct Report {
    std::string target;
    std::vector<Finding> findings;
    bool fatal = false;  // stopped before the rules ran (lexing/parsing/size)
    // resources of the entry kernel
    int64_t local_mem_bytes = 0;
    bool local_mem_unknown = false, dynamic_shared = false;
    int64_t private_bytes = 0;
    std::vector<PrivArray> private_arrays;
    int registers_estimate = 0;
    std::vector<int64_t> reqd_work_group_size, launch_bounds;
    std::vector<CBInfo> cbs;
    int64_t cb_bytes = 0;
    // synchronisation (whole source)
    int barriers = 0, barriers_in_loops = 0, divergent_barriers = 0;
    // memory access (whole source)
    int vector_loads = 0, vector_stores = 0, vector_casts = 0;
    int unit_stride = 0, strided = 0, uniform = 0, irregular = 0, atomics = 0;
    // ABI
    std::string entry;
    std::vector<KernelInfo> kernels;
    int runtime_args = -1, compile_time_args = -1;
    std::vector<LaunchInfo> launches;
    // stats
    uint64_t bytes = 0;
    uint32_t lines = 0, tokens = 0, functions = 0;

    int count(Sev s) const;
};

enum class Target : uint8_t;
Report analyze(std::string_view src, Target target, const Expected& exp);

// Sort by severity, then line, column and code; drop exact duplicates.
void finalize(Report& r);

}  // namespace uhop::an
