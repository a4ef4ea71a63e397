// "Device" memory for the libcuda stand-in (fake_libcuda.cpp) with 64 KiB
// (GUARD_BYTES) of inaccessible pages on each side, so that a kernel reading or writing
// past its buffer stops at once instead of quietly using a neighbour's
// bytes, as it may on a GPU. Each allocation ends where its guard starts:
// its size is rounded up to 256 bytes (the granularity a GPU allocator
// gives, inside which a stray access goes unseen there too), and its start
// stays 256-byte aligned, as cuMemAlloc's does. Below the start, the rest
// of the first page is unguarded slack: overruns are caught, underruns only
// past that page. The guards are address space only: they take no memory.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

struct GuardedMapping {
    void* base = nullptr;  // the whole mapping, guards included
    size_t length = 0;
};

constexpr size_t GUARD_BYTES = 64 * 1024;

inline size_t page_size() {
    static const size_t page = size_t(sysconf(_SC_PAGESIZE));
    return page;
}

// `bytes` of memory (at least 1) between two guards of `guard` bytes (a
// multiple of the page size), or nullptr.
inline void* guarded_alloc(size_t bytes, size_t guard, GuardedMapping* mapping) {
    const size_t page = page_size();
    const size_t rounded = (bytes ? bytes + 255 : 256) / 256 * 256;
    const size_t data_bytes = (rounded + page - 1) / page * page;
    const size_t length = data_bytes + 2 * guard;
    void* base = mmap(nullptr, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return nullptr;
    char* data = static_cast<char*>(base) + guard;
    if (mprotect(data, data_bytes, PROT_READ | PROT_WRITE) != 0) {
        munmap(base, length);
        return nullptr;
    }
    *mapping = {base, length};
    return data + data_bytes - rounded;
}

// Whether `at` lies in `mapping`, guards included.
inline bool in_mapping(const GuardedMapping& mapping, uintptr_t at) {
    return at >= uintptr_t(mapping.base) && at - uintptr_t(mapping.base) < mapping.length;
}

inline void guarded_free(const GuardedMapping& mapping) { munmap(mapping.base, mapping.length); }
