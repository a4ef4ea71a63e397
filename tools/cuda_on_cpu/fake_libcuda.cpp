// A CPU stand-in for the part of the CUDA driver API (libcuda.so) that
// cudarc calls for this crate: one device, "device" memory in host memory,
// kernels run through cuda_shim.h (one block at a time, its threads as
// fibers) from the unit libraries build-fake-libcuda.sh builds beside it.
// A function is found by its name in the unit libraries, once the module
// image (PTX or a cubin) shows the kernel.
//
// Streams run late, as a GPU's do (fake_streams.h): queued work runs when
// the host waits for it, and SLIMMABLE_FAKE_CUDA_STREAMS picks which
// stream goes first, so that a missing event wait between two shows.
//
// Why: the CUDA backend's host code (routes, launch shapes, argument
// order, split-K zeroing, views, the trainer's step) runs unchanged against
// it, so `slimmable verify --backend cuda` checks host and kernels together
// on a machine without a GPU (tests/cuda_backend_on_cpu.rs). It checks
// indexing and launch logic, not the hardware: no tensor-core PTX, no GPU
// rounding, no memory model, no speed.
//
// Checks a real driver makes, made here too: block size, grid limits,
// dynamic shared memory beyond what 48 KiB leaves beside the static,
// without the function attribute that allows more; more threads than the
// kernel's __launch_bounds__; unknown handles; a module image for another
// architecture or one that lacks the kernel asked for; and from a cubin
// (cubin_resources.h), a block's registers beyond the 64 Ki register file
// or static plus dynamic shared memory beyond what a block may have on
// the reported capability (227 KiB on 9.0). Fresh allocations are filled with NaN, as cudaMalloc gives
// garbage, so reads of never-written memory show; each lies between guard
// pages (guarded_memory.h), so an access past its end stops the process
// with a report naming the kernel and the allocation.
// SLIMMABLE_FAKE_CUDA_DEBUG=1 prints every launch;
// SLIMMABLE_FAKE_CUDA_CC=8.0 reports another compute capability.
#include <dirent.h>
#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "cubin_resources.h"
#include "fake_abi.h"
#include "fake_streams.h"
#include "guarded_memory.h"

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;

namespace {

constexpr CUresult OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, INVALID_DEVICE = 101,
                   INVALID_IMAGE = 200, NO_BINARY_FOR_GPU = 209, INVALID_PTX = 218,
                   INVALID_HANDLE = 400, NOT_FOUND = 500, NOT_READY = 600, LAUNCH_OUT_OF_RESOURCES = 701;

// A loaded image: the kernels it holds, and from a cubin what each needs.
struct Module {
    std::set<std::string> entries;
    std::map<std::string, KernelResources> resources;  // empty for PTX
};
struct Function {
    std::string name;
    FakeLauncher launch;
    unsigned max_threads;  // __launch_bounds__
    std::vector<unsigned> param_bytes;  // each by-value parameter's size
    KernelResources resources;
    int max_dynamic_smem;
};
// Device memory handed out: the bytes asked for, and its guarded pages.
struct Allocation {
    size_t bytes;
    GuardedMapping mapping;
};
struct Driver {
    std::recursive_mutex lock;
    bool units_loaded = false;
    std::string units_error;
    std::map<std::string, FakeEntry> kernels;
    std::map<uintptr_t, Allocation> allocations;  // by address
    std::set<Function*> functions;
    // Destroyed events live on while queued work names them.
    std::map<Event*, std::shared_ptr<Event>> events;
    std::set<Module*> modules;
    Streams streams;
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

// The most shared memory a block may have once its function asks for it
// (the device's opt-in limit; CUDA C++ Programming Guide, compute
// capabilities table): 64 KiB on 7.5, 163 KiB on 8.0 and 8.7, 99 KiB on
// 8.6, 8.9 and 12.x, 227 KiB on 9.0 and 10.x.
size_t shared_memory_optin() {
    int major, minor;
    capability(&major, &minor);
    const int cc = major * 10 + minor;
    if (cc == 75) return 64 * 1024;
    if (cc == 80 || cc == 87) return 163 * 1024;
    if (cc == 86 || cc == 89 || major == 12) return 99 * 1024;
    if (cc < 75) return 96 * 1024;
    return FAKE_DYNAMIC_SMEM_BYTES;  // 227 KiB
}

// Registers an SM has for one block (64 Ki on every GPU since Kepler);
// SLIMMABLE_FAKE_CUDA_REGISTER_FILE plants a smaller one for the tests of
// the check itself.
unsigned long long register_file() {
    const char* planted = std::getenv("SLIMMABLE_FAKE_CUDA_REGISTER_FILE");
    return planted && *planted ? std::strtoull(planted, nullptr, 10) : 65536;
}

// The registers a block of `threads` takes: each warp's allocation is the
// thread's count times 32, rounded up to the 256-register unit.
unsigned long long block_registers(unsigned registers, unsigned long long threads) {
    const unsigned long long per_warp = (registers * 32ull + 255) / 256 * 256;
    return (threads + 31) / 32 * per_warp;
}

// Where an ELF image ends (cuModuleLoadData is given no size): its section
// header table comes last in what NVRTC writes.
size_t elf_extent(const unsigned char* image) {
    uint64_t shoff;
    uint16_t shentsize, shnum;
    std::memcpy(&shoff, image + 0x28, 8);
    std::memcpy(&shentsize, image + 0x3a, 2);
    std::memcpy(&shnum, image + 0x3c, 2);
    return size_t(shoff + uint64_t(shentsize) * shnum);
}

// The kernels a PTX image enters (".entry name(") and its ".target sm_XY[a]".
void read_ptx(const char* text, Module* m, unsigned* sm, bool* arch_specific) {
    const std::string ptx(text);
    *sm = 0;
    *arch_specific = false;
    const size_t target = ptx.find(".target sm_");
    if (target != std::string::npos) {
        char* end = nullptr;
        *sm = unsigned(std::strtoul(ptx.c_str() + target + 11, &end, 10));
        *arch_specific = end && *end == 'a';
    }
    for (size_t at = ptx.find(".entry "); at != std::string::npos; at = ptx.find(".entry ", at + 1)) {
        size_t begin = at + 7, end = begin;
        while (end < ptx.size() && (std::isalnum(static_cast<unsigned char>(ptx[end])) || ptx[end] == '_')) ++end;
        m->entries.insert(ptx.substr(begin, end - begin));
    }
}

// Whether code for `sm` runs on this device. Machine code (a cubin) runs
// on devices of its major version and the same or a later minor one; PTX
// on any device as new or newer, the driver compiling it; an
// arch-specific build ("sm_90a") only on its own.
bool runs_here(unsigned sm, bool arch_specific, bool is_ptx) {
    int major, minor;
    capability(&major, &minor);
    const unsigned here = unsigned(major * 10 + minor);
    if (arch_specific) return sm == here;
    if (is_ptx) return sm <= here;
    return sm / 10 == unsigned(major) && sm <= here;
}

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
    return p >= it->first && p + bytes <= it->first + it->second.bytes;
}

// The kernel cuLaunchKernel is running, for the report of a fault in it.
const char* running_kernel = nullptr;
struct sigaction earlier_segv, earlier_bus;

// A fault inside a launch (the guard pages of guarded_memory.h, or any
// wild address): says which kernel and where the address lies against the
// nearest allocation, then lets the signal end the process as before.
// Outside a launch, the handler that was there before takes it.
void report_fault(int signal_number, siginfo_t* info, void*) {
    struct sigaction& earlier = signal_number == SIGBUS ? earlier_bus : earlier_segv;
    if (!running_kernel) {
        sigaction(signal_number, &earlier, nullptr);
        return;  // the access faults again, into that handler
    }
    const uintptr_t at = uintptr_t(info->si_addr);
    char where[192] =
        "outside every allocation's guards: past the launch's dynamic shared memory, a CUDA thread's stack "
        "overflowed, or a wild pointer";
    const Driver& d = driver();
    auto next = d.allocations.upper_bound(at);
    for (auto it : {next, next == d.allocations.begin() ? d.allocations.end() : std::prev(next)}) {
        if (it == d.allocations.end() || !in_mapping(it->second.mapping, at)) continue;
        const uintptr_t start = it->first;
        const size_t bytes = it->second.bytes;
        if (at >= start + bytes)
            std::snprintf(where, sizeof where, "%zu bytes past the end of an allocation of %zu bytes",
                          size_t(at - start - bytes), bytes);
        else if (at < start)
            std::snprintf(where, sizeof where, "%zu bytes before the start of an allocation of %zu bytes",
                          size_t(start - at), bytes);
    }
    char text[512];
    const int n = std::snprintf(text, sizeof text, "fake libcuda: kernel %s touched %p, %s\n", running_kernel,
                                info->si_addr, where);
    if (n > 0) (void)!write(2, text, size_t(std::min(n, int(sizeof text) - 1)));
    signal(signal_number, SIG_DFL);
}

// Installs report_fault, with a stack of its own on this thread: a fault
// on a fiber's guard page means that fiber's stack is used up.
void install_fault_report() {
    thread_local bool installed = false;
    if (installed) return;
    installed = true;
    thread_local std::vector<char> alternate(256 * 1024);
    stack_t stack{};
    stack.ss_sp = alternate.data();
    stack.ss_size = alternate.size();
    sigaltstack(&stack, nullptr);
    struct sigaction action {};
    action.sa_sigaction = report_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    static std::once_flag once;
    std::call_once(once, [&] {
        sigaction(SIGSEGV, &action, &earlier_segv);
        sigaction(SIGBUS, &action, &earlier_bus);
    });
}


std::shared_ptr<Event> find_event(Driver& d, void* handle) {
    auto it = d.events.find(static_cast<Event*>(handle));
    return it == d.events.end() ? nullptr : it->second;
}

// Frees at once (cuMemFree_v2 first runs the work queued before it).
CUresult release(Driver& d, CUdeviceptr p) {
    auto it = d.allocations.find(uintptr_t(p));
    if (it == d.allocations.end()) return INVALID_VALUE;
    guarded_free(it->second.mapping);
    d.allocations.erase(it);
    return OK;
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
        case 3: *value = 1024; break;          // max block y
        case 4: *value = 64; break;            // max block z
        case 5: *value = 0x7fffffff; break;    // max grid x
        case 6: case 7: *value = 65535; break;
        case 8: *value = 48 * 1024; break;     // shared memory per block
        case 10: *value = 32; break;           // warp size
        case 16: *value = 4; break;            // multiprocessors
        case 75: *value = major; break;
        case 76: *value = minor; break;
        case 81: *value = 228 * 1024; break;   // shared memory per multiprocessor
        case 97: *value = int(shared_memory_optin()); break;  // opt-in per block
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
API cuCtxSynchronize() {
    LOCKED;
    d.streams.run_all();
    return OK;
}

API cuStreamCreate(void** stream, unsigned flags) {
    LOCKED;
    // A blocking stream's implicit ordering with the null stream is not
    // modelled; cudarc makes only non-blocking ones.
    if (!(flags & 1)) {
        std::fprintf(stderr, "fake libcuda: cuStreamCreate without CU_STREAM_NON_BLOCKING is not supported\n");
        return INVALID_VALUE;
    }
    *stream = d.streams.create();
    return OK;
}
API cuStreamCreateWithPriority(void** stream, unsigned flags, int) { return cuStreamCreate(stream, flags); }
API cuStreamDestroy_v2(void* stream) {
    LOCKED;
    return d.streams.destroy(stream) ? OK : INVALID_HANDLE;
}
API cuStreamSynchronize(void* stream) {
    LOCKED;
    Stream* s = d.streams.find(stream);
    if (!s) return INVALID_HANDLE;
    d.streams.run_until([&] { return s->queue.empty(); });
    return OK;
}
API cuStreamQuery(void* stream) { return cuStreamSynchronize(stream); }
API cuStreamWaitEvent(void* stream, void* event, unsigned) {
    LOCKED;
    Stream* s = d.streams.find(stream);
    auto e = find_event(d, event);
    if (!s || !e) return INVALID_HANDLE;
    d.streams.queue(s, {Work::WAIT, {}, e, e->recorded});
    return OK;
}

API cuEventCreate(void** event, unsigned) {
    LOCKED;
    auto e = std::make_shared<Event>();
    e->at = std::chrono::steady_clock::now();
    *event = e.get();
    d.events[e.get()] = e;
    return OK;
}
API cuEventRecord(void* event, void* stream) {
    LOCKED;
    Stream* s = d.streams.find(stream);
    auto e = find_event(d, event);
    if (!s || !e) return INVALID_HANDLE;
    d.streams.queue(s, {Work::RECORD, {}, e, ++e->recorded});
    return OK;
}
API cuEventRecordWithFlags(void* event, void* stream, unsigned) { return cuEventRecord(event, stream); }
API cuEventSynchronize(void* event) {
    LOCKED;
    auto e = find_event(d, event);
    if (!e) return INVALID_HANDLE;
    d.streams.run_until([&] { return e->newest_ran(); });
    return OK;
}
API cuEventQuery(void* event) { return cuEventSynchronize(event); }
API cuEventElapsedTime(float* ms, void* start, void* end) {
    LOCKED;
    auto a = find_event(d, start), b = find_event(d, end);
    if (!a || !b || !a->recorded || !b->recorded) return INVALID_HANDLE;
    if (!a->newest_ran() || !b->newest_ran()) return NOT_READY;
    *ms = std::chrono::duration<float, std::milli>(b->at - a->at).count();
    return OK;
}
API cuEventElapsedTime_v2(float* ms, void* start, void* end) { return cuEventElapsedTime(ms, start, end); }
API cuEventDestroy_v2(void* event) {
    LOCKED;
    if (!d.events.erase(static_cast<Event*>(event))) return INVALID_HANDLE;
    return OK;
}

API cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    LOCKED;
    GuardedMapping mapping;
    void* mem = guarded_alloc(bytes, GUARD_BYTES, &mapping);
    if (!mem) return OUT_OF_MEMORY;
    std::memset(mem, 0xFF, (bytes + 255) / 256 * 256);  // NaN: never-written memory is not zero
    d.allocations[uintptr_t(mem)] = {bytes, mapping};
    *p = CUdeviceptr(uintptr_t(mem));
    return OK;
}
API cuMemAllocAsync(CUdeviceptr* p, size_t bytes, void*) { return cuMemAlloc_v2(p, bytes); }
// As on a GPU, freeing waits for the work queued before it.
API cuMemFree_v2(CUdeviceptr p) {
    LOCKED;
    d.streams.run_all();
    return release(d, p);
}
API cuMemFreeAsync(CUdeviceptr p, void* stream) {
    LOCKED;
    Stream* s = d.streams.find(stream);
    if (!s) return INVALID_HANDLE;
    if (!d.allocations.count(uintptr_t(p))) return INVALID_VALUE;
    d.streams.submit(s, [&d, p] { release(d, p); }, false);
    return OK;
}
API cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
    *free_bytes = size_t(8) << 30;
    *total = size_t(16) << 30;
    return OK;
}

// A copy queued on `stream`. A host source is read now (a GPU stages
// pageable memory before the call returns); a host destination is written
// before the call returns, once the stream's earlier work has run.
static CUresult copy(void* stream, void* dst, const void* src, size_t bytes, CUdeviceptr dev_dst,
                     CUdeviceptr dev_src) {
    LOCKED;
    Stream* s = d.streams.find(stream);
    if (!s) return INVALID_HANDLE;
    if ((dev_dst && !inside_allocation(d, dev_dst, bytes)) || (dev_src && !inside_allocation(d, dev_src, bytes)))
        return INVALID_VALUE;
    if (!dev_src) {
        auto staged = std::make_shared<std::vector<unsigned char>>(static_cast<const unsigned char*>(src),
                                                                   static_cast<const unsigned char*>(src) + bytes);
        d.streams.submit(s, [dst, staged] { std::memcpy(dst, staged->data(), staged->size()); }, false);
    } else {
        d.streams.submit(s, [dst, src, bytes] { std::memmove(dst, src, bytes); }, !dev_dst);
    }
    return OK;
}
static void* at(CUdeviceptr p) { return reinterpret_cast<void*>(p); }
API cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t bytes) {
    return copy(nullptr, at(dst), src, bytes, dst, 0);
}
API cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t bytes) { return copy(nullptr, dst, at(src), bytes, 0, src); }
API cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
    return copy(nullptr, at(dst), at(src), bytes, dst, src);
}
API cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t bytes, void* stream) {
    return copy(stream, at(dst), src, bytes, dst, 0);
}
API cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t bytes, void* stream) {
    return copy(stream, dst, at(src), bytes, 0, src);
}
API cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, void* stream) {
    return copy(stream, at(dst), at(src), bytes, dst, src);
}
static CUresult set_memory(void* stream, CUdeviceptr dst, unsigned value, size_t n, size_t width) {
    LOCKED;
    Stream* s = d.streams.find(stream);
    if (!s) return INVALID_HANDLE;
    if (!inside_allocation(d, dst, n * width)) return INVALID_VALUE;
    d.streams.submit(s,
           [dst, value, n, width] {
               if (width == 1) std::memset(at(dst), int(value), n);
               auto* w = static_cast<unsigned*>(at(dst));
               if (width == 4)
                   for (size_t i = 0; i < n; ++i) w[i] = value;
           },
           false);
    return OK;
}
API cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t n) { return set_memory(nullptr, dst, value, n, 1); }
API cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t n, void* stream) {
    return set_memory(stream, dst, value, n, 1);
}
API cuMemsetD32_v2(CUdeviceptr dst, unsigned value, size_t n) { return set_memory(nullptr, dst, value, n, 4); }
API cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t n, void* stream) {
    return set_memory(stream, dst, value, n, 4);
}

API cuModuleLoadData(void** module, const void* image) {
    LOCKED;
    if (!image) return INVALID_IMAGE;
    const CUresult r = load_units(d);
    if (r != OK) return r;
    auto m = std::make_unique<Module>();
    const auto* bytes = static_cast<const unsigned char*>(image);
    if (is_elf(image)) {
        CubinResources cubin;
        if (!parse_cubin(bytes, elf_extent(bytes), &cubin)) return INVALID_IMAGE;
        if (!runs_here(cubin.sm, false, false)) return NO_BINARY_FOR_GPU;
        for (const auto& [name, needs] : cubin.kernels) m->entries.insert(name);
        m->resources = std::move(cubin.kernels);
    } else {
        unsigned sm;
        bool arch_specific;
        read_ptx(static_cast<const char*>(image), m.get(), &sm, &arch_specific);
        if (sm == 0) return INVALID_PTX;
        if (!runs_here(sm, arch_specific, true)) return INVALID_PTX;
    }
    *module = m.get();
    d.modules.insert(m.release());
    return OK;
}
API cuModuleUnload(void* module) {
    LOCKED;
    d.streams.run_all();
    auto* m = static_cast<Module*>(module);
    if (!d.modules.erase(m)) return INVALID_HANDLE;
    delete m;
    return OK;
}
API cuModuleGetFunction(void** function, void* module, const char* name) {
    LOCKED;
    auto* m = static_cast<Module*>(module);
    if (!d.modules.count(m)) return INVALID_HANDLE;
    if (!m->entries.count(name)) return NOT_FOUND;  // not in this image
    auto it = d.kernels.find(name);
    if (it == d.kernels.end()) return NOT_FOUND;
    KernelResources needs;
    if (auto r = m->resources.find(name); r != m->resources.end()) needs = r->second;
    unsigned max_threads = it->second.max_threads;
    // The bound build-fake-libcuda.sh read from the source and the one ptxas
    // wrote must agree; a difference means that script misread the source.
    if (needs.max_threads && needs.max_threads != max_threads) {
        std::fprintf(stderr, "fake libcuda: %s: __launch_bounds__ %u in the cubin, %u read from the source\n", name,
                     needs.max_threads, max_threads);
        max_threads = std::min(max_threads, needs.max_threads);
    }
    // Without the attribute, static and dynamic shared memory share 48 KiB.
    const int default_dynamic = std::max(0, 48 * 1024 - int(needs.static_smem));
    const FakeEntry& entry = it->second;
    auto* f = new Function{name, entry.launch, max_threads,
                           std::vector<unsigned>(entry.param_bytes, entry.param_bytes + entry.param_count), needs,
                           default_dynamic};
    d.functions.insert(f);
    *function = f;
    return OK;
}
API cuFuncSetAttribute(void* function, int attribute, int value) {
    LOCKED;
    auto* f = static_cast<Function*>(function);
    if (!d.functions.count(f)) return INVALID_HANDLE;
    if (attribute == 8) {  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
        if (value < 0 || size_t(value) + f->resources.static_smem > shared_memory_optin()) return INVALID_VALUE;
        f->max_dynamic_smem = value;
    }
    return OK;
}
API cuFuncGetAttribute(int* value, int attribute, void* function) {
    LOCKED;
    auto* f = static_cast<Function*>(function);
    if (!d.functions.count(f)) return INVALID_HANDLE;
    switch (attribute) {
        case 0: {  // max threads a block: the bound, and what the registers allow
            unsigned threads = std::min(f->max_threads, 1024u);
            while (f->resources.registers && threads > 32 &&
                   block_registers(f->resources.registers, threads) > register_file())
                threads -= 32;
            *value = int(threads);
            break;
        }
        case 1: *value = int(f->resources.static_smem); break;
        case 4: *value = int(f->resources.registers); break;
        case 8: *value = f->max_dynamic_smem; break;
        default: *value = 0;
    }
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
                   unsigned bz, unsigned smem, void* stream, void** params, void** extra) {
    LOCKED;
    auto* f = static_cast<Function*>(function);
    Stream* s = d.streams.find(stream);
    if (!d.functions.count(f) || !s) return INVALID_HANDLE;
    if (extra || !params) return INVALID_VALUE;
    const unsigned long long threads = 1ull * bx * by * bz;
    if (gx == 0 || gy == 0 || gz == 0 || threads == 0 || gy > 65535 || gz > 65535 || bz > 64 ||
        threads > 1024)
        return INVALID_VALUE;
    const KernelResources& needs = f->resources;
    if (smem > unsigned(f->max_dynamic_smem) || threads > f->max_threads ||
        smem + needs.static_smem > shared_memory_optin() ||
        (needs.registers && block_registers(needs.registers, threads) > register_file()))
        return LAUNCH_OUT_OF_RESOURCES;
    if (debug())
        std::fprintf(stderr,
                     "fake libcuda: %s grid (%u,%u,%u) block (%u,%u,%u) smem %u + %u static, registers %llu of %llu\n",
                     f->name.c_str(), gx, gy, gz, bx, by, bz, smem, needs.static_smem,
                     needs.registers ? block_registers(needs.registers, threads) : 0ull, register_file());
    if (skipped(f->name)) return OK;
    // The arguments are read now, as a GPU's driver does: the caller's
    // copies may be gone when the launch runs.
    std::vector<size_t> offsets;
    size_t total = 0;
    for (unsigned bytes : f->param_bytes) {
        total = (total + 15) / 16 * 16;
        offsets.push_back(total);
        total += bytes;
    }
    auto args = std::make_shared<std::vector<std::max_align_t>>(total / sizeof(std::max_align_t) + 1);
    auto* base = reinterpret_cast<unsigned char*>(args->data());
    for (size_t i = 0; i < offsets.size(); ++i) std::memcpy(base + offsets[i], params[i], f->param_bytes[i]);
    d.streams.submit(s,
           [name = f->name, launch = f->launch, grid = FakeDim3{gx, gy, gz}, block = FakeDim3{bx, by, bz}, smem, args,
            offsets] {
               auto* base = reinterpret_cast<unsigned char*>(args->data());
               std::vector<void*> pointers;
               for (size_t offset : offsets) pointers.push_back(base + offset);
               install_fault_report();
               running_kernel = name.c_str();
               launch(grid, block, smem, pointers.data());
               running_kernel = nullptr;
           },
           false);
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
        case NOT_READY: return "device not ready: the event's work has not run (fake libcuda)";
        case LAUNCH_OUT_OF_RESOURCES:
            return "too many resources requested for launch: threads beyond the kernel's __launch_bounds__, "
                   "registers beyond the register file, or shared memory beyond its attribute (fake libcuda)";
        case NO_BINARY_FOR_GPU: return "the cubin was built for another architecture (fake libcuda)";
        case INVALID_PTX: return "the PTX targets a newer architecture or names none (fake libcuda)";
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
