// Timing harness: shared types, statistics and the adaptive repetition loop.
//
// Statistics (summarize) reproduce uhop_cc.verify.timing.summarize exactly:
//   median and quartiles as NumPy's default (linear interpolation between order statistics),
//   std with ddof=1, cv = std/mean, Tukey outliers outside [q1 - 1.5 IQR, q3 + 1.5 IQR].
// Confidence interval of the median: distribution-free, order-statistics based. With the
// samples sorted x[0..n-1], the ranks n/2 -+ z*sqrt(n)/2 (z = 1.96, the normal approximation
// of the Binomial(n, 1/2) count of samples below the median) are rounded outwards and
// clipped: lo = floor(n/2 - z*sqrt(n)/2), hi = ceil(n/2 + z*sqrt(n)/2). No bootstrap, no
// normality assumption on the durations. rel_ci = (x[hi] - x[lo]) / (2 * median), and +inf
// while n < 3 or the median is not positive.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace uhop::harness {

struct Summary {
    std::size_t runs = 0;
    double median = std::numeric_limits<double>::quiet_NaN();
    double min = std::numeric_limits<double>::quiet_NaN();
    double max = std::numeric_limits<double>::quiet_NaN();
    double mean = std::numeric_limits<double>::quiet_NaN();
    double std = std::numeric_limits<double>::quiet_NaN();
    double q1 = std::numeric_limits<double>::quiet_NaN();
    double q3 = std::numeric_limits<double>::quiet_NaN();
    double iqr = std::numeric_limits<double>::quiet_NaN();
    double cv = std::numeric_limits<double>::quiet_NaN();
    std::size_t outliers = 0;
    double ci_low = std::numeric_limits<double>::quiet_NaN();
    double ci_high = std::numeric_limits<double>::quiet_NaN();
    double rel_ci = std::numeric_limits<double>::infinity();
};

// Statistics of durations (any order).
Summary summarize(std::vector<double> samples);
// NumPy-style percentile (linear) of sorted samples, p in [0, 100].
double percentile_sorted(const std::vector<double> &sorted, double p);
// Median of sorted samples.
double median_sorted(const std::vector<double> &sorted);
// Order-statistics CI of the median of sorted samples: (x[lo], x[hi]).
std::pair<double, double> median_ci_sorted(const std::vector<double> &sorted, double z = 1.96);
// rel_ci of sorted samples as defined above.
double rel_ci_sorted(const std::vector<double> &sorted);

// Loop settings (validated by check()).
struct LoopOptions {
    int warmup = 2;
    int min_runs = 5;
    int max_runs = 100;
    double budget_s = 2.0;
    double target_rel_ci = 0.02;
    std::uint64_t flush_bytes = 0;   // 0: no cache flush
    std::uint64_t flush_buffer = 0;  // caller's scratch buffer handle (cl_mem / CUdeviceptr), 0: allocate
    // Repetitions enqueued back to back before one wait: 1 = wait after every repetition
    // ('sync'); > 1 = 'batch' mode, at most this many per wait (device times stay per
    // repetition, from its own events; the wall time of a batch is shared equally).
    int batch = 1;
    void check();
};

// One repetition as measured by a backend.
struct Rep {
    bool device_ok = true;            // device (event) timing available for this repetition
    double wall = 0.0;                // host wall time, first enqueue to completion, seconds
    double flush = 0.0;               // time of the cache flush before it (excluded), seconds
    std::vector<double> stages;       // device time of each stage, seconds
};

struct LoopResult {
    std::string clock = "device";     // 'device' or 'wall'
    std::string stopped_by = "max_runs";
    int warmup = 0;
    std::vector<double> device;       // per repetition: sum of the stages' device times
    std::vector<double> wall;         // per repetition: host wall time
    std::vector<double> flush;        // per repetition (warm-up excluded): flush time
    std::vector<std::vector<double>> stages;  // [stage][repetition]
    double loop_s = 0.0;              // wall time of the measured loop (warm-up excluded)
    std::uint64_t flush_bytes = 0;
    int flushes = 0;                  // flushes done, warm-up included
    int waits = 0;                    // host waits (batches) in the measured loop
    int batch = 1;                    // largest batch allowed
};

// Runs k repetitions (k <= opts.batch) and appends one Rep per repetition to `out`.
using BatchFn = std::function<void(int k, bool warm, std::vector<Rep> &out)>;

// Warm-up, then repeat until min_runs and (precision or budget), at most max_runs. In batch
// mode the batch size is chosen so that the stopping rules are checked often enough: the
// first batch completes min_runs, later ones are at most a quarter of the runs so far (so
// the loop overshoots its stopping point by at most ~25%) and fit the remaining budget at
// the wall time per repetition seen so far.
LoopResult run_adaptive(const LoopOptions &opts, std::size_t n_stages, const BatchFn &batch);

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace uhop::harness
