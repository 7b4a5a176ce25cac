// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium kernel API that uhopc's generated
// kernels use, with the signatures of tt-metal main (2026). The JIT build of the real SDK
// compiles kernels for the RISC-V cores; this set only lets a host compiler check the syntax.

#pragma once
#include <cstdint>

// Device half of TensorAccessorArgs: the tensor layout the host appended to the kernel's
// compile-time args, starting at CTA_OFFSET.
template <std::uint32_t CTA_OFFSET, std::uint32_t CRTA_OFFSET = 0xFFFFFFFFu>
struct TensorAccessorArgs {
    constexpr TensorAccessorArgs() = default;
    // Placeholder value (an interleaved tensor's args take one word); the real value depends on
    // the layout the host packed. Defined only so that it can appear in a template argument.
    static constexpr std::uint32_t next_compile_time_args_offset() { return CTA_OFFSET + 1; }
};

// An address generator over an interleaved or sharded tensor (what noc_async_read_tile takes).
template <typename Args>
class TensorAccessor {
public:
    TensorAccessor(const Args& args, std::uint32_t bank_base_address, std::uint32_t page_size = 0);
    std::uint64_t get_noc_addr(std::uint32_t page_id, std::uint32_t offset = 0) const;
};
