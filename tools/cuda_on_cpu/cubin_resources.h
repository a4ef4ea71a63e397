// What a cubin says each kernel needs, read the way the driver reads it:
// registers a thread, static shared memory, the __launch_bounds__ thread
// limit and the architecture it was built for. The stand-in for libcuda
// (fake_libcuda.cpp) runs the kernels from g++ builds of the same source,
// so without this it could not refuse a launch that a GPU refuses for want
// of registers or shared memory.
//
// A cubin is an ELF file. NVIDIA does not document its CUDA sections; the
// layout used here is what NVRTC 13.0 writes for sm_90a (checked against
// `ptxas -v` on all 155 kernels of stop 30: the same registers and shared
// memory):
//   - `.nv.info` holds, per kernel, an EIATTR_REGCOUNT record (attribute
//     0x2f) whose value is the kernel's symbol index and its register count;
//   - `.nv.info.<kernel>` holds EIATTR_MAX_THREADS (0x05: x, y, z) when the
//     kernel has __launch_bounds__;
//   - `.nv.shared.<kernel>` is a NOBITS section as large as the kernel's
//     static shared memory plus the 1 KiB every block reserves since sm_80
//     (ptxas -v, and the driver's limits, count without it: all 140 of our
//     kernels with shared memory differ by exactly 1024);
//   - bits 8..15 of the ELF header's e_flags are the SM number (90).
// Each .nv.info record starts with a format byte and an attribute byte;
// format 4 carries a 16-bit length and that many bytes, formats 1 to 3 fill
// four bytes in all.
#pragma once
#include <cstdint>
#include <cstring>
#include <map>
#include <string>

struct KernelResources {
    unsigned registers = 0;      // a thread's; 0: the cubin did not say
    unsigned static_smem = 0;    // bytes
    unsigned max_threads = 0;    // __launch_bounds__; 0: none
};

struct CubinResources {
    unsigned sm = 0;  // e.g. 90
    std::map<std::string, KernelResources> kernels;
};

namespace cubin_detail {

template <typename T>
bool read(const unsigned char* image, size_t size, size_t at, T* out) {
    if (at > size || size - at < sizeof(T)) return false;
    std::memcpy(out, image + at, sizeof(T));
    return true;
}

struct Section {
    uint32_t name, type;
    uint64_t offset, size;
    uint32_t link, info;
};

}  // namespace cubin_detail

// True when `image` starts like an ELF file (a cubin rather than PTX text).
inline bool is_elf(const void* image) { return std::memcmp(image, "\x7f" "ELF", 4) == 0; }

// Parses a 64-bit little-endian cubin of `size` bytes. False when it is
// malformed: a driver refuses such an image.
inline bool parse_cubin(const unsigned char* image, size_t size, CubinResources* out) {
    using namespace cubin_detail;
    if (size < 64 || !is_elf(image) || image[4] != 2 || image[5] != 1) return false;
    uint64_t shoff;
    uint32_t flags;
    uint16_t shentsize, shnum, shstrndx;
    if (!read(image, size, 0x28, &shoff) || !read(image, size, 0x30, &flags) ||
        !read(image, size, 0x3a, &shentsize) || !read(image, size, 0x3c, &shnum) ||
        !read(image, size, 0x3e, &shstrndx) || shentsize < 64 || shstrndx >= shnum)
        return false;
    out->sm = (flags >> 8) & 0xff;
    Section sections[1024];
    if (shnum > 1024) return false;
    for (unsigned i = 0; i < shnum; ++i) {
        const size_t at = shoff + size_t(i) * shentsize;
        Section& s = sections[i];
        if (!read(image, size, at, &s.name) || !read(image, size, at + 4, &s.type) ||
            !read(image, size, at + 24, &s.offset) || !read(image, size, at + 32, &s.size) ||
            !read(image, size, at + 40, &s.link) || !read(image, size, at + 44, &s.info))
            return false;
        // NOBITS sections (8) take no bytes of the file.
        if (s.type != 8 && (s.offset > size || s.size > size - s.offset)) return false;
    }
    auto string_at = [&](const Section& table, uint32_t at) -> std::string {
        if (at >= table.size) return {};
        const char* begin = reinterpret_cast<const char*>(image + table.offset + at);
        return std::string(begin, strnlen(begin, table.size - at));
    };
    const Section& names = sections[shstrndx];
    // Symbol names, for the register counts keyed by symbol index.
    std::map<uint32_t, std::string> symbols;
    for (unsigned i = 0; i < shnum; ++i) {
        const Section& s = sections[i];
        if (s.type != 2 || s.link >= shnum) continue;  // SHT_SYMTAB
        for (uint64_t at = 0; at + 24 <= s.size; at += 24) {
            uint32_t name;
            read(image, size, s.offset + at, &name);
            symbols[uint32_t(at / 24)] = string_at(sections[s.link], name);
        }
    }
    for (unsigned i = 0; i < shnum; ++i) {
        const Section& s = sections[i];
        const std::string name = string_at(names, s.name);
        if (name.rfind(".nv.shared.", 0) == 0 && name != ".nv.shared.reserved.0") {
            out->kernels[name.substr(11)].static_smem = unsigned(s.size > 1024 ? s.size - 1024 : 0);
            continue;
        }
        if (name.rfind(".nv.info", 0) != 0) continue;
        const std::string kernel = name.size() > 9 ? name.substr(9) : "";
        for (uint64_t at = 0; at + 4 <= s.size;) {
            const unsigned char* record = image + s.offset + at;
            const unsigned format = record[0], attribute = record[1];
            if (format != 4) {  // no value or a value of at most two bytes
                if (format < 1 || format > 3) return false;
                at += 4;
                continue;
            }
            uint16_t length = 0;
            read(image, size, s.offset + at + 2, &length);
            if (at + 4 + length > s.size) return false;
            const size_t value = s.offset + at + 4;
            if (kernel.empty() && attribute == 0x2f && length == 8) {  // EIATTR_REGCOUNT
                uint32_t symbol, registers;
                read(image, size, value, &symbol);
                read(image, size, value + 4, &registers);
                auto it = symbols.find(symbol);
                if (it != symbols.end()) out->kernels[it->second].registers = registers;
            } else if (!kernel.empty() && attribute == 0x05 && length == 12) {  // EIATTR_MAX_THREADS
                uint32_t x, y, z;
                read(image, size, value, &x);
                read(image, size, value + 4, &y);
                read(image, size, value + 8, &z);
                out->kernels[kernel].max_threads = x * y * z;
            }
            at += 4 + length;
        }
    }
    return true;
}
