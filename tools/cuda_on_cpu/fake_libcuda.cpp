// A CPU stand-in for the part of the CUDA driver API (libcuda.so) that
// cudarc calls for this crate: one device, "device" memory in host memory,
// kernels run through cuda_shim.h (one block at a time, each CUDA thread an
// OS thread) from the unit libraries build-fake-libcuda.sh builds beside
// it. Module images (PTX, cubins) are accepted and ignored: a function is
// found by its name in the unit libraries. Every launch runs to completion
// inside cuLaunchKernel, so streams and events only keep order and time.
//
// Why: the CUDA backend's host code (routes, launch shapes, argument
// order, split-K zeroing, views, the trainer's step) runs unchanged against
// it, so `slimmable verify --backend cuda` checks host and kernels together
// on a machine without a GPU (tests/cuda_backend_on_cpu.rs). It checks
// indexing and launch logic, not the hardware: no tensor-core PTX, no GPU
// rounding, no memory model, no speed.
//
// Checks a real driver makes, made here too: block size, grid limits,
// dynamic shared memory beyond 48 KiB without the function attribute that
// allows it, more threads than the kernel's __launch_bounds__, unknown
// handles. Fresh allocations are filled with NaN, as
// cudaMalloc gives garbage, so reads of never-written memory show.
// SLIMMABLE_FAKE_CUDA_DEBUG=1 prints every launch;
// SLIMMABLE_FAKE_CUDA_CC=8.0 reports another compute capability.
#include <dirent.h>
#include <dlfcn.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "fake_abi.h"

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;

namespace {

constexpr CUresult OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, INVALID_DEVICE = 101,
                   INVALID_IMAGE = 200, INVALID_HANDLE = 400, NOT_FOUND = 500,
                   LAUNCH_OUT_OF_RESOURCES = 701;

struct Function {
    std::string name;
    FakeLauncher launch;
    unsigned max_threads;  // __launch_bounds__
    int max_dynamic_smem = 48 * 1024;
};
struct Event {
    std::chrono::steady_clock::time_point at;
};

struct Driver {
    std::recursive_mutex lock;
    bool units_loaded = false;
    std::string units_error;
    std::map<std::string, FakeEntry> kernels;
    std::map<uintptr_t, size_t> allocations;  // address -> bytes
    std::set<Function*> functions;
    std::set<Event*> events;
    std::set<void*> modules, streams;
    int context_token = 0;
};

Driver& driver() {
    static Driver d;
    return d;
}

// The compute capability reported (SLIMMABLE_FAKE_CUDA_CC, e.g. "8.0";
// default 9.0, the H200's, so that the host takes the routes it takes there).
void capability(int* major, int* minor) {
    *major = 9;
    *minor = 0;
    if (const char* cc = std::getenv("SLIMMABLE_FAKE_CUDA_CC")) std::sscanf(cc, "%d.%d", major, minor);
}

// Opens every libslimmable_cuda_unit_*.so beside this library.
CUresult load_units(Driver& d) {
    if (d.units_loaded) return d.units_error.empty() ? OK : NOT_FOUND;
    d.units_loaded = true;
    Dl_info self{};
    if (!dladdr(reinterpret_cast<void*>(&load_units), &self) || !self.dli_fname) {
        d.units_error = "cannot find the fake driver's own path";
        return NOT_FOUND;
    }
    std::string dir(self.dli_fname);
    dir = dir.substr(0, dir.rfind('/') == std::string::npos ? 0 : dir.rfind('/'));
    if (dir.empty()) dir = ".";
    DIR* listing = opendir(dir.c_str());
    if (!listing) {
        d.units_error = "cannot list " + dir;
        return NOT_FOUND;
    }
    while (dirent* e = readdir(listing)) {
        const std::string name = e->d_name;
        if (name.rfind("libslimmable_cuda_unit_", 0) != 0) continue;
        void* lib = dlopen((dir + "/" + name).c_str(), RTLD_NOW | RTLD_LOCAL);
        auto entries = lib ? reinterpret_cast<FakeUnitEntries>(dlsym(lib, "shim_unit_entries")) : nullptr;
        if (!entries) {
            d.units_error = "cannot load " + name + ": " + (lib ? "no shim_unit_entries" : dlerror());
            std::fprintf(stderr, "fake libcuda: %s\n", d.units_error.c_str());
            continue;
        }
        size_t count = 0;
        const FakeEntry* table = entries(&count);
        for (size_t i = 0; i < count; ++i) d.kernels[table[i].name] = table[i];
    }
    closedir(listing);
    if (d.kernels.empty() && d.units_error.empty()) d.units_error = "no unit libraries in " + dir;
    return d.units_error.empty() ? OK : NOT_FOUND;
}

bool debug() { return std::getenv("SLIMMABLE_FAKE_CUDA_DEBUG") != nullptr; }

// A planted fault for the tests of the checks built on this driver: launches
// of kernels whose name contains SLIMMABLE_FAKE_CUDA_SKIP return success
// without running, so their outputs keep whatever the buffers held.
bool skipped(const std::string& kernel) {
    const char* skip = std::getenv("SLIMMABLE_FAKE_CUDA_SKIP");
    return skip && *skip && kernel.find(skip) != std::string::npos;
}

// The allocation holding [p, p + bytes), if any.
bool inside_allocation(Driver& d, CUdeviceptr p, size_t bytes) {
    auto it = d.allocations.upper_bound(uintptr_t(p));
    if (it == d.allocations.begin()) return false;
    --it;
    return p >= it->first && p + bytes <= it->first + it->second;
}

}  // namespace

#define LOCKED Driver& d = driver(); std::lock_guard<std::recursive_mutex> guard(d.lock)
#define API extern "C" __attribute__((visibility("default"))) CUresult

API cuInit(unsigned) { return OK; }
API cuDriverGetVersion(int* v) {
    *v = 13000;
    return OK;
}
API cuDeviceGetCount(int* n) {
    *n = 1;
    return OK;
}
API cuDeviceGet(CUdevice* dev, int ordinal) {
    if (ordinal != 0) return INVALID_DEVICE;
    *dev = 0;
    return OK;
}
API cuDeviceGetName(char* name, int len, CUdevice) {
    std::snprintf(name, size_t(len), "CUDA on the CPU (fake libcuda, tools/cuda_on_cpu)");
    return OK;
}
API cuDeviceTotalMem_v2(size_t* bytes, CUdevice) {
    *bytes = size_t(16) << 30;
    return OK;
}
API cuDeviceGetAttribute(int* value, int attribute, CUdevice) {
    int major, minor;
    capability(&major, &minor);
    switch (attribute) {
        case 1: *value = 1024; break;          // max threads per block
        case 2: *value = 1024; break;          // max block x
        case 3: case 4: *value = 1024 / (attribute == 4 ? 16 : 1); break;
        case 5: *value = 0x7fffffff; break;    // max grid x
        case 6: case 7: *value = 65535; break;
        case 8: *value = 48 * 1024; break;     // shared memory per block
        case 10: *value = 32; break;           // warp size
        case 16: *value = 4; break;            // multiprocessors
        case 75: *value = major; break;
        case 76: *value = minor; break;
        case 81: *value = 228 * 1024; break;   // shared memory per multiprocessor
        case 97: *value = int(FAKE_DYNAMIC_SMEM_BYTES); break;  // opt-in per block
        case 115: *value = 0; break;           // memory pools: no (cuMemAlloc)
        default: *value = 0;
    }
    return OK;
}
API cuDevicePrimaryCtxRetain(void** ctx, CUdevice) {
    LOCKED;
    *ctx = &d.context_token;
    return OK;
}
API cuDevicePrimaryCtxRelease_v2(CUdevice) { return OK; }
API cuDevicePrimaryCtxRelease(CUdevice) { return OK; }
API cuCtxSetCurrent(void*) { return OK; }
API cuCtxGetCurrent(void** ctx) {
    LOCKED;
    *ctx = &d.context_token;
    return OK;
}
API cuCtxPushCurrent_v2(void*) { return OK; }
API cuCtxPopCurrent_v2(void** ctx) {
    if (ctx) *ctx = &driver().context_token;
    return OK;
}
API cuCtxGetDevice(CUdevice* dev) {
    *dev = 0;
    return OK;
}
API cuCtxSynchronize() { return OK; }

API cuStreamCreate(void** stream, unsigned) {
    LOCKED;
    *stream = new char;
    d.streams.insert(*stream);
    return OK;
}
API cuStreamCreateWithPriority(void** stream, unsigned flags, int) { return cuStreamCreate(stream, flags); }
API cuStreamDestroy_v2(void* stream) {
    LOCKED;
    if (!d.streams.erase(stream)) return INVALID_HANDLE;
    delete static_cast<char*>(stream);
    return OK;
}
API cuStreamSynchronize(void*) { return OK; }
API cuStreamQuery(void*) { return OK; }
API cuStreamWaitEvent(void*, void*, unsigned) { return OK; }

API cuEventCreate(void** event, unsigned) {
    LOCKED;
    auto* e = new Event{std::chrono::steady_clock::now()};
    d.events.insert(e);
    *event = e;
    return OK;
}
API cuEventRecord(void* event, void*) {
    LOCKED;
    auto* e = static_cast<Event*>(event);
    if (!d.events.count(e)) return INVALID_HANDLE;
    e->at = std::chrono::steady_clock::now();
    return OK;
}
API cuEventRecordWithFlags(void* event, void* stream, unsigned) { return cuEventRecord(event, stream); }
API cuEventSynchronize(void*) { return OK; }
API cuEventQuery(void*) { return OK; }
API cuEventElapsedTime(float* ms, void* start, void* end) {
    LOCKED;
    auto *a = static_cast<Event*>(start), *b = static_cast<Event*>(end);
    if (!d.events.count(a) || !d.events.count(b)) return INVALID_HANDLE;
    *ms = std::chrono::duration<float, std::milli>(b->at - a->at).count();
    return OK;
}
API cuEventElapsedTime_v2(float* ms, void* start, void* end) { return cuEventElapsedTime(ms, start, end); }
API cuEventDestroy_v2(void* event) {
    LOCKED;
    auto* e = static_cast<Event*>(event);
    if (!d.events.erase(e)) return INVALID_HANDLE;
    delete e;
    return OK;
}

API cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    LOCKED;
    const size_t rounded = (bytes + 255) / 256 * 256;
    void* mem = std::aligned_alloc(256, rounded ? rounded : 256);
    if (!mem) return OUT_OF_MEMORY;
    std::memset(mem, 0xFF, rounded);  // NaN: never-written memory is not zero
    d.allocations[uintptr_t(mem)] = bytes;
    *p = CUdeviceptr(uintptr_t(mem));
    return OK;
}
API cuMemAllocAsync(CUdeviceptr* p, size_t bytes, void*) { return cuMemAlloc_v2(p, bytes); }
API cuMemFree_v2(CUdeviceptr p) {
    LOCKED;
    if (!d.allocations.erase(uintptr_t(p))) return INVALID_VALUE;
    std::free(reinterpret_cast<void*>(p));
    return OK;
}
API cuMemFreeAsync(CUdeviceptr p, void*) { return cuMemFree_v2(p); }
API cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
    *free_bytes = size_t(8) << 30;
    *total = size_t(16) << 30;
    return OK;
}

static CUresult copy(void* dst, const void* src, size_t bytes, CUdeviceptr dev_a, size_t a_bytes,
                     CUdeviceptr dev_b, size_t b_bytes) {
    LOCKED;
    if ((dev_a && !inside_allocation(d, dev_a, a_bytes)) || (dev_b && !inside_allocation(d, dev_b, b_bytes)))
        return INVALID_VALUE;
    std::memmove(dst, src, bytes);
    return OK;
}
API cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t bytes) {
    return copy(reinterpret_cast<void*>(dst), src, bytes, dst, bytes, 0, 0);
}
API cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t bytes) {
    return copy(dst, reinterpret_cast<const void*>(src), bytes, src, bytes, 0, 0);
}
API cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
    return copy(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), bytes, dst, bytes, src, bytes);
}
API cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t bytes, void*) {
    return cuMemcpyHtoD_v2(dst, src, bytes);
}
API cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t bytes, void*) {
    return cuMemcpyDtoH_v2(dst, src, bytes);
}
API cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, void*) {
    return cuMemcpyDtoD_v2(dst, src, bytes);
}
API cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t n) {
    LOCKED;
    if (!inside_allocation(d, dst, n)) return INVALID_VALUE;
    std::memset(reinterpret_cast<void*>(dst), value, n);
    return OK;
}
API cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t n, void*) { return cuMemsetD8_v2(dst, value, n); }
API cuMemsetD32_v2(CUdeviceptr dst, unsigned value, size_t n) {
    LOCKED;
    if (!inside_allocation(d, dst, n * 4)) return INVALID_VALUE;
    auto* w = reinterpret_cast<unsigned*>(dst);
    for (size_t i = 0; i < n; ++i) w[i] = value;
    return OK;
}
API cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t n, void*) { return cuMemsetD32_v2(dst, value, n); }

API cuModuleLoadData(void** module, const void* image) {
    LOCKED;
    if (!image) return INVALID_IMAGE;
    const CUresult r = load_units(d);
    if (r != OK) return r;
    *module = new char;
    d.modules.insert(*module);
    return OK;
}
API cuModuleUnload(void* module) {
    LOCKED;
    if (!d.modules.erase(module)) return INVALID_HANDLE;
    delete static_cast<char*>(module);
    return OK;
}
API cuModuleGetFunction(void** function, void* module, const char* name) {
    LOCKED;
    if (!d.modules.count(module)) return INVALID_HANDLE;
    auto it = d.kernels.find(name);
    if (it == d.kernels.end()) return NOT_FOUND;
    auto* f = new Function{name, it->second.launch, it->second.max_threads};
    d.functions.insert(f);
    *function = f;
    return OK;
}
API cuFuncSetAttribute(void* function, int attribute, int value) {
    LOCKED;
    auto* f = static_cast<Function*>(function);
    if (!d.functions.count(f)) return INVALID_HANDLE;
    if (attribute == 8) {  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
        if (value < 0 || size_t(value) > FAKE_DYNAMIC_SMEM_BYTES) return INVALID_VALUE;
        f->max_dynamic_smem = value;
    }
    return OK;
}
API cuFuncGetAttribute(int* value, int attribute, void* function) {
    LOCKED;
    auto* f = static_cast<Function*>(function);
    if (!d.functions.count(f)) return INVALID_HANDLE;
    *value = attribute == 8 ? f->max_dynamic_smem : 0;
    return OK;
}
API cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, void*, int, size_t) {
    *blocks = 2;
    return OK;
}
API cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* blocks, void* f, int threads, size_t smem,
                                                         unsigned) {
    return cuOccupancyMaxActiveBlocksPerMultiprocessor(blocks, f, threads, smem);
}

API cuLaunchKernel(void* function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                   unsigned bz, unsigned smem, void*, void** params, void** extra) {
    LOCKED;
    auto* f = static_cast<Function*>(function);
    if (!d.functions.count(f)) return INVALID_HANDLE;
    if (extra || !params) return INVALID_VALUE;
    const unsigned long long threads = 1ull * bx * by * bz;
    if (gx == 0 || gy == 0 || gz == 0 || threads == 0 || gy > 65535 || gz > 65535 || bz > 64 ||
        threads > 1024)
        return INVALID_VALUE;
    if (smem > unsigned(f->max_dynamic_smem) || threads > f->max_threads) return LAUNCH_OUT_OF_RESOURCES;
    if (debug())
        std::fprintf(stderr, "fake libcuda: %s grid (%u,%u,%u) block (%u,%u,%u) smem %u\n", f->name.c_str(), gx,
                     gy, gz, bx, by, bz, smem);
    if (!skipped(f->name)) f->launch({gx, gy, gz}, {bx, by, bz}, smem, params);
    return OK;
}

static const char* error_text(CUresult e) {
    switch (e) {
        case OK: return "no error";
        case INVALID_VALUE: return "invalid argument (fake libcuda)";
        case OUT_OF_MEMORY: return "out of memory (fake libcuda)";
        case INVALID_DEVICE: return "invalid device ordinal (fake libcuda)";
        case INVALID_IMAGE: return "invalid module image (fake libcuda)";
        case INVALID_HANDLE: return "invalid resource handle (fake libcuda)";
        case NOT_FOUND: return "named symbol not found in the unit libraries (fake libcuda)";
        case LAUNCH_OUT_OF_RESOURCES:
            return "too many threads for the kernel's __launch_bounds__, or too much dynamic shared memory "
                   "for its attribute (fake libcuda)";
        default: return "unknown error (fake libcuda)";
    }
}
API cuGetErrorString(CUresult e, const char** text) {
    *text = error_text(e);
    return OK;
}
API cuGetErrorName(CUresult e, const char** text) {
    *text = error_text(e);
    return OK;
}
