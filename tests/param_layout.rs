//! The parameter structs' byte layouts in Rust match their mirrors in
//! `shaders/common.wgsl` (by naga's layout of the uniform structs) and in
//! `kernels/common.cuh` (by static_asserts compiled with NVRTC).

mod common;

use slimmable::kernel_sources;
use slimmable::params::{cuda_only_param_layouts, param_layouts};

#[test]
fn wgsl_structs_match_rust_layouts() {
    let src = kernel_sources::wgsl_source("");
    let module = naga::front::wgsl::parse_str(&src).expect("common.wgsl parses");
    for layout in param_layouts() {
        let (members, span) = module
            .types
            .iter()
            .find_map(|(_, ty)| match (&ty.name, &ty.inner) {
                (Some(n), naga::TypeInner::Struct { members, span }) if n == layout.name => {
                    Some((members.clone(), *span))
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("struct {} missing from common.wgsl", layout.name));
        assert_eq!(
            span as usize, layout.size,
            "{}: WGSL size {span} vs Rust {}",
            layout.name, layout.size
        );
        for (field, offset) in &layout.fields {
            let m = members
                .iter()
                .find(|m| m.name.as_deref() == Some(field))
                .unwrap_or_else(|| panic!("{}.{field} missing in WGSL", layout.name));
            assert_eq!(
                m.offset as usize, *offset,
                "{}.{field}: WGSL offset {} vs Rust {offset}",
                layout.name, m.offset
            );
        }
        // Uniform buffers need 16-byte multiples.
        assert_eq!(
            layout.size % 16,
            0,
            "{} size not a multiple of 16",
            layout.name
        );
    }
}

/// NVRTC has no `offsetof`, so the probe bit-casts a counting sequence of
/// words (0, 1, 2, ...) into each struct and asserts, at compile time, that
/// each field's first word equals its Rust offset / 4.
#[test]
fn cuda_structs_match_rust_layouts() {
    let mut src = String::from(
        "#include \"common.cuh\"\n\
         template <unsigned N> struct Words { unsigned w[N / 4]; };\n\
         template <class T> __device__ constexpr unsigned first_word(const T& t) {\n\
             return __builtin_bit_cast(Words<sizeof(T)>, t).w[0];\n\
         }\n",
    );
    for layout in param_layouts().into_iter().chain(cuda_only_param_layouts()) {
        let n = layout.name;
        let words: Vec<String> = (0..layout.size / 4).map(|i| i.to_string()).collect();
        src += &format!(
            "static_assert(sizeof({n}) == {}, \"sizeof({n}) differs from Rust\");\n\
             constexpr Words<{}> words_{n}{{{{{}}}}};\n\
             constexpr {n} probe_{n} = __builtin_bit_cast({n}, words_{n});\n",
            layout.size,
            layout.size,
            words.join(",")
        );
        for (field, offset) in &layout.fields {
            src += &format!(
                "static_assert(first_word(probe_{n}.{field}) == {}, \"{n}.{field} offset differs from Rust ({offset})\");\n",
                offset / 4
            );
        }
    }
    src += "extern \"C\" __global__ void slimmable_layout_probe() {}\n";
    if common::nvrtc_or_skip() {
        slimmable::backend::cuda::nvrtc::compile("layout probe", &src, "sm_90")
            .unwrap_or_else(|e| panic!("{e}\nprobe source:\n{src}"));
    }
}
