// uhopc sdk_decls: declarations written from public docs for syntax checking; not the SDK.
// They declare (never define) the subset of the TT-Metalium API that uhopc's generated projects
// use, with the signatures of tt-metal main (2026). Nothing here runs; build against an installed
// tt-metal (TT_METAL_HOME / find_package(TT-Metalium)) for real binaries.

#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <tt-metalium/buffer_types.hpp>
#include <tt-metalium/core_coord.hpp>
#include <tt-metalium/device.hpp>
#include <tt-metalium/program.hpp>
#include <tt-metalium/tt_backend_api_types.hpp>

namespace tt::tt_metal::distributed {
class MeshShape {
public:
    MeshShape(std::uint32_t rows, std::uint32_t cols);
    std::size_t mesh_size() const;
};

class MeshCoordinateRange {
public:
    explicit MeshCoordinateRange(const MeshShape& shape);
};

class MeshCommandQueue;

class MeshDevice : public IDevice {
public:
    static std::shared_ptr<MeshDevice> create_unit_mesh(int device_id);
    MeshCommandQueue& mesh_command_queue(std::optional<std::uint8_t> cq_id = std::nullopt);
    const MeshShape& shape() const;
    tt::ARCH arch() const override;
    CoreCoord compute_with_storage_grid_size() const override;
    bool close();
};

struct DeviceLocalBufferConfig {
    DeviceAddr page_size = 0;
    BufferType buffer_type = BufferType::DRAM;
    std::optional<bool> bottom_up;
};

struct ReplicatedBufferConfig {
    DeviceAddr size = 0;
};

class MeshBuffer {
public:
    static std::shared_ptr<MeshBuffer> create(const ReplicatedBufferConfig& mesh_buffer_config,
                                              const DeviceLocalBufferConfig& device_local_config,
                                              MeshDevice* mesh_device,
                                              std::optional<DeviceAddr> address = std::nullopt);
    DeviceAddr address() const;
    DeviceAddr size() const;
    MeshDevice* device() const;
};

class MeshWorkload {
public:
    MeshWorkload();
    void add_program(const MeshCoordinateRange& device_range, Program&& program);
};

class MeshCommandQueue {
public:
    MeshCommandQueue(const MeshCommandQueue&) = delete;
    MeshCommandQueue& operator=(const MeshCommandQueue&) = delete;
};

template <typename DType>
void EnqueueWriteMeshBuffer(MeshCommandQueue& cq, std::shared_ptr<MeshBuffer>& mesh_buffer, std::vector<DType>& src,
                            bool blocking = false);

template <typename DType>
void EnqueueReadMeshBuffer(MeshCommandQueue& cq, std::vector<DType>& dst, std::shared_ptr<MeshBuffer>& mesh_buffer,
                           bool blocking = true);

void EnqueueMeshWorkload(MeshCommandQueue& cq, MeshWorkload& mesh_workload, bool blocking);

void Finish(MeshCommandQueue& cq);
}  // namespace tt::tt_metal::distributed
