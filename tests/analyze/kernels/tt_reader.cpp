// TT-Metal data-movement kernel: read two interleaved DRAM tensors tile by tile into CB 0 and CB 1.
#include <stdint.h>
#include "dataflow_api.h"

void kernel_main() {
    uint32_t src0_addr = get_arg_val<uint32_t>(0);
    uint32_t src1_addr = get_arg_val<uint32_t>(1);
    uint32_t num_tiles = get_arg_val<uint32_t>(2);

    constexpr uint32_t cb_id_in0 = tt::CBIndex::c_0;
    constexpr uint32_t cb_id_in1 = tt::CBIndex::c_1;
    constexpr bool src0_is_dram = get_compile_time_arg_val(0) == 1;

    const uint32_t tile_bytes = get_tile_size(cb_id_in0);
    const DataFormat data_format = get_dataformat(cb_id_in0);

    const InterleavedAddrGenFast<src0_is_dram> s0 = {
        .bank_base_address = src0_addr, .page_size = tile_bytes, .data_format = data_format};
    const InterleavedAddrGenFast<true> s1 = {
        .bank_base_address = src1_addr, .page_size = tile_bytes, .data_format = data_format};

    for (uint32_t i = 0; i < num_tiles; i++) {
        cb_reserve_back(cb_id_in0, 1);
        uint32_t l1_write_addr_in0 = get_write_ptr(cb_id_in0);
        noc_async_read_tile(i, s0, l1_write_addr_in0);

        cb_reserve_back(cb_id_in1, 1);
        uint32_t l1_write_addr_in1 = get_write_ptr(cb_id_in1);
        noc_async_read_tile(i, s1, l1_write_addr_in1);

        noc_async_read_barrier();
        cb_push_back(cb_id_in0, 1);
        cb_push_back(cb_id_in1, 1);
    }
}
