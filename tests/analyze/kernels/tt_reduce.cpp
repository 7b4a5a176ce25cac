// TT-Metal compute kernel: row reduction with a scaler tile kept for the whole kernel and an
// intermediate CB, using the older acquire_dst/release_dst protocol for the final pack.
#include <cstdint>
#include "compute_kernel_api/reduce.h"

namespace NAMESPACE {
void MAIN {
    constexpr uint32_t Ht = get_compile_time_arg_val(0);
    constexpr uint32_t Wt = get_compile_time_arg_val(1);
    constexpr uint32_t cb_in = tt::CBIndex::c_0;
    constexpr uint32_t cb_scaler = tt::CBIndex::c_2;
    constexpr uint32_t cb_out = tt::CBIndex::c_16;

    reduce_init(cb_in, cb_scaler, cb_out);
    cb_wait_front(cb_scaler, 1);  // kept for the whole kernel

    for (uint32_t ht = 0; ht < Ht; ++ht) {
        acquire_dst();
        for (uint32_t wt = 0; wt < Wt; ++wt) {
            cb_wait_front(cb_in, 1);
            reduce_tile(cb_in, cb_scaler, 0, 0, 0);
            cb_pop_front(cb_in, 1);
        }
        cb_reserve_back(cb_out, 1);
        pack_tile(0, cb_out);
        cb_push_back(cb_out, 1);
        release_dst();
    }
}
}  // namespace NAMESPACE
