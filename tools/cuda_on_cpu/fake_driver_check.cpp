// Checks of the libcuda stand-in itself (fake_libcuda.cpp), through the
// driver API as cudarc calls it; run by tests/cuda_backend_on_cpu.rs.
//   fake_driver_check LIBCUDA api       module images, names, a launch
//                                       that stays inside its buffer
//   fake_driver_check LIBCUDA overrun   a planted kernel (planted_faults.cu)
//                                       writes one float past its buffer:
//                                       the guard page must stop it (the
//                                       process dies on SIGSEGV after the
//                                       stand-in names the kernel)
//   fake_driver_check LIBCUDA race      a planted kernel reads a neighbour's
//                                       value without the barrier; prints
//                                       "race: seen" or "race: unseen" (the
//                                       fiber order decides, see
//                                       SLIMMABLE_FAKE_CUDA_ORDER)
//   fake_driver_check LIBCUDA unwritten a planted kernel reads a shared slot
//                                       no thread wrote; prints what it read
//   fake_driver_check LIBCUDA streams   two streams: a copy on one that waits
//                                       for the other's memset through an
//                                       event sees its value; one that does
//                                       not wait prints "streams: unordered
//                                       copy saw the memset" or "... ran
//                                       first" (SLIMMABLE_FAKE_CUDA_STREAMS
//                                       decides); and a wait queued before
//                                       the event is re-recorded on a third
//                                       stream holds for its own record
// Prints "ok: ..." per check; exits 1 on the first that fails.
#include <dlfcn.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

using CUresult = int;
using CUdeviceptr = unsigned long long;

namespace {

void* library = nullptr;

template <class F>
F symbol(const char* name) {
    void* f = dlsym(library, name);
    if (!f) {
        std::printf("FAIL: the stand-in lacks %s\n", name);
        std::exit(1);
    }
    return reinterpret_cast<F>(f);
}

void expect(bool what, const std::string& check) {
    std::printf("%s: %s\n", what ? "ok" : "FAIL", check.c_str());
    if (!what) std::exit(1);
}

// A PTX image as the driver sees one: its target and entry names are all
// the stand-in reads.
std::string ptx(const char* target) {
    return std::string(".version 9.0\n.target ") + target +
           "\n.address_size 64\n.visible .entry slimmable_planted_overrun(\n.param .u64 y,\n.param .u32 n\n)\n{\nret;\n}\n"
           ".visible .entry slimmable_planted_race(\n.param .u64 x,\n.param .u64 y\n)\n{\nret;\n}\n"
           ".visible .entry slimmable_planted_unwritten(\n.param .u64 x,\n.param .u64 y\n)\n{\nret;\n}\n";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: fake_driver_check LIBCUDA api|overrun|race|unwritten|streams\n");
        return 2;
    }
    library = dlopen(argv[1], RTLD_NOW);
    if (!library) {
        std::printf("FAIL: %s\n", dlerror());
        return 1;
    }
    auto init = symbol<CUresult (*)(unsigned)>("cuInit");
    auto alloc = symbol<CUresult (*)(CUdeviceptr*, size_t)>("cuMemAlloc_v2");
    auto to_host = symbol<CUresult (*)(void*, CUdeviceptr, size_t)>("cuMemcpyDtoH_v2");
    auto load = symbol<CUresult (*)(void**, const void*)>("cuModuleLoadData");
    auto get = symbol<CUresult (*)(void**, void*, const char*)>("cuModuleGetFunction");
    auto launch = symbol<CUresult (*)(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                                      unsigned, void*, void**, void**)>("cuLaunchKernel");
    expect(init(0) == 0, "cuInit");

    void* module = nullptr;
    const std::string newer = ptx("sm_100");
    expect(load(&module, newer.c_str()) == 218, "PTX for sm_100 is refused on a 9.0 device (INVALID_PTX)");
    const std::string specific = ptx("sm_90a");
    expect(load(&module, specific.c_str()) == 0, "arch-specific PTX for sm_90a loads on 9.0");
    const std::string image = ptx("sm_80");
    expect(load(&module, image.c_str()) == 0, "PTX for sm_80 loads on 9.0 (the driver compiles it)");
    void* function = nullptr;
    expect(get(&function, module, "slimmable_slice_copy_f32") == 500,
           "a kernel of the unit libraries that the image does not enter is not found");
    expect(get(&function, module, "slimmable_planted_overrun") == 0, "the image's own kernel is found");

    const unsigned n = 64;  // 256 bytes: the allocation ends at its guard page
    CUdeviceptr y = 0;
    expect(alloc(&y, n * sizeof(float)) == 0, "cuMemAlloc");
    float host[n];
    expect(to_host(host, y, sizeof host) == 0 && std::isnan(host[0]) && std::isnan(host[n - 1]),
           "fresh memory reads as NaN");
    if (std::strcmp(argv[2], "streams") == 0) {
        auto create = symbol<CUresult (*)(void**, unsigned)>("cuStreamCreate");
        auto stream_sync = symbol<CUresult (*)(void*)>("cuStreamSynchronize");
        auto event_create = symbol<CUresult (*)(void**, unsigned)>("cuEventCreate");
        auto record = symbol<CUresult (*)(void*, void*)>("cuEventRecord");
        auto wait = symbol<CUresult (*)(void*, void*, unsigned)>("cuStreamWaitEvent");
        auto set = symbol<CUresult (*)(CUdeviceptr, unsigned, size_t, void*)>("cuMemsetD32Async");
        auto copy = symbol<CUresult (*)(CUdeviceptr, CUdeviceptr, size_t, void*)>("cuMemcpyDtoDAsync_v2");
        void *first = nullptr, *second = nullptr, *third = nullptr, *event = nullptr;
        expect(create(&first, 0) == 1, "a blocking stream is refused (not modelled)");
        expect(create(&first, 1) == 0 && create(&second, 1) == 0 && create(&third, 1) == 0,
               "three non-blocking streams");
        expect(event_create(&event, 0) == 0, "cuEventCreate");
        const unsigned one = 0x3f800000;  // 1.0f
        // A memset and an event record on the first stream, then a copy of
        // the memset's buffer on the second: after waiting for the event;
        // without waiting; or after waiting, with the event then re-recorded
        // on the third stream, which must not release the wait (under
        // `newest` the third's record runs first: a stand-in that let any
        // later record release the wait would copy before the memset).
        enum Ordering { WAITS, NO_WAIT, WAITS_THEN_RERECORDED };
        for (const Ordering ordering : {WAITS, NO_WAIT, WAITS_THEN_RERECORDED}) {
            CUdeviceptr x = 0;
            expect(alloc(&x, sizeof host) == 0, "cuMemAlloc");
            expect(set(x, one, n, first) == 0 && record(event, first) == 0, "memset and record on the first");
            if (ordering != NO_WAIT) expect(wait(second, event, 0) == 0, "the second waits for the event");
            if (ordering == WAITS_THEN_RERECORDED)
                expect(record(event, third) == 0, "the event re-recorded on the third");
            expect(copy(y, x, sizeof host, second) == 0, "copy on the second");
            expect(stream_sync(second) == 0 && stream_sync(first) == 0 && stream_sync(third) == 0,
                   "the three synchronized");
            expect(to_host(host, y, sizeof host) == 0, "cuMemcpyDtoH");
            const bool saw = host[0] == 1.0f && host[n - 1] == 1.0f;
            if (ordering == WAITS) expect(saw, "the copy that waits sees the memset");
            else if (ordering == WAITS_THEN_RERECORDED)
                expect(saw, "a wait holds for the record it followed, not a later one on another stream");
            else std::printf("streams: unordered copy %s\n", saw ? "saw the memset" : "ran first");
            expect(symbol<CUresult (*)(CUdeviceptr)>("cuMemFree_v2")(x) == 0, "cuMemFree");
        }
        return 0;
    }
    if (std::strcmp(argv[2], "race") == 0 || std::strcmp(argv[2], "unwritten") == 0) {
        const bool race = std::strcmp(argv[2], "race") == 0;
        const char* name = race ? "slimmable_planted_race" : "slimmable_planted_unwritten";
        void* kernel = nullptr;
        expect(get(&kernel, module, name) == 0, std::string(name) + " is found");
        auto to_device = symbol<CUresult (*)(CUdeviceptr, const void*, size_t)>("cuMemcpyHtoD_v2");
        CUdeviceptr x = 0;
        expect(alloc(&x, n * sizeof(float)) == 0, "cuMemAlloc");
        for (unsigned i = 0; i < n; ++i) host[i] = float(i + 1);
        expect(to_device(x, host, sizeof host) == 0, "cuMemcpyHtoD");
        void* params[] = {&x, &y};
        expect(launch(kernel, 1, 1, 1, n, 1, 1, 0, nullptr, params, nullptr) == 0, "the kernel runs");
        expect(to_host(host, y, sizeof host) == 0, "cuMemcpyDtoH");
        if (!race) {
            std::printf("unwritten: read %g\n", double(host[n - 1]));
            return 0;
        }
        bool right = true;
        for (unsigned i = 0; i < n; ++i) right = right && host[i] == float(i > 0 ? i : 1);
        std::printf("race: %s\n", right ? "unseen" : "seen");
        return 0;
    }
    if (std::strcmp(argv[2], "api") == 0) {
        unsigned last = n - 1;  // the planted `<=` stays inside with n - 1
        void* params[] = {&y, &last};
        expect(launch(function, 1, 1, 1, 128, 1, 1, 0, nullptr, params, nullptr) == 0,
               "a launch that stays inside its buffer");
        expect(to_host(host, y, sizeof host) == 0 && host[0] == 1.0f && host[n - 1] == 1.0f,
               "it wrote every element");
        return 0;
    }
    void* params[] = {&y, const_cast<unsigned*>(&n)};
    std::printf("launching the overrun\n");
    std::fflush(stdout);
    launch(function, 1, 1, 1, 128, 1, 1, 0, nullptr, params, nullptr);
    symbol<CUresult (*)()>("cuCtxSynchronize")();  // the launch runs here
    std::printf("FAIL: the write past the buffer went unseen\n");
    return 1;
}
