// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium API that uhopc's generated projects
// use, with the signatures of tt-metal main (2026). Nothing here runs; build against an installed
// tt-metal (TT_METAL_HOME / find_package(TT-Metalium)) for real binaries.

#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

struct CoreCoord {
    std::size_t x = 0;
    std::size_t y = 0;
    constexpr CoreCoord() = default;
    constexpr CoreCoord(std::size_t x_, std::size_t y_) : x(x_), y(y_) {}
};
bool operator==(const CoreCoord& a, const CoreCoord& b);
bool operator!=(const CoreCoord& a, const CoreCoord& b);
bool operator<(const CoreCoord& a, const CoreCoord& b);

class CoreRange {
public:
    CoreCoord start_coord;
    CoreCoord end_coord;
    CoreRange(const CoreCoord& point);
    CoreRange(const CoreCoord& start, const CoreCoord& end);
    std::size_t size() const;
    bool contains(const CoreCoord& other) const;

    class CoreIterator {
    public:
        CoreIterator(const CoreCoord& current, const CoreRange& range);
        CoreCoord& operator*();
        CoreIterator& operator++();
        bool operator==(const CoreIterator& other) const;
        bool operator!=(const CoreIterator& other) const;
    };
    CoreIterator begin() const;
    CoreIterator end() const;
};

class CoreRangeSet {
public:
    CoreRangeSet();
    CoreRangeSet(const CoreRange& range);
    CoreRangeSet(const std::set<CoreRange>& ranges);
    CoreRangeSet(const std::vector<CoreRange>& ranges);
    const std::vector<CoreRange>& ranges() const;
    std::uint32_t num_cores() const;
    bool empty() const;
};

std::vector<CoreCoord> corerange_to_cores(const CoreRangeSet& crs, std::optional<std::uint32_t> max_cores = std::nullopt,
                                          bool row_wise = false);
