// "Device" memory for the libcuda stand-in (fake_libcuda.cpp) with an
// inaccessible page on each side, so that a kernel reading or writing past
// its buffer stops at once instead of quietly using a neighbour's bytes, as
// it may on a GPU. Each allocation ends where its guard page starts: its
// size is rounded up to 256 bytes (the granularity a GPU allocator gives,
// inside which a stray access goes unseen there too), and its start stays
// 256-byte aligned, as cuMemAlloc's does. Below the start, the rest of the
// first page is unguarded slack: overruns are caught, underruns only past
// that page.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

struct GuardedMapping {
    void* base = nullptr;  // the whole mapping, guards included
    size_t length = 0;
};

inline size_t page_size() {
    static const size_t page = size_t(sysconf(_SC_PAGESIZE));
    return page;
}

// `bytes` of memory (at least 1) between two guard pages, or nullptr.
inline void* guarded_alloc(size_t bytes, GuardedMapping* mapping) {
    const size_t page = page_size();
    const size_t rounded = (bytes ? bytes + 255 : 256) / 256 * 256;
    const size_t data_pages = (rounded + page - 1) / page;
    const size_t length = (data_pages + 2) * page;
    void* base = mmap(nullptr, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return nullptr;
    char* data = static_cast<char*>(base) + page;
    if (mprotect(data, data_pages * page, PROT_READ | PROT_WRITE) != 0) {
        munmap(base, length);
        return nullptr;
    }
    *mapping = {base, length};
    return data + data_pages * page - rounded;
}

inline void guarded_free(const GuardedMapping& mapping) { munmap(mapping.base, mapping.length); }
