//! The WGSL GEMMs index their accumulator arrays with constants only.
//!
//! A dynamic index into a function-scope array can make a GPU's shader
//! compiler keep the whole array in local memory instead of registers; for
//! the conv GEMMs' 64 accumulators that would put every multiply-add of the
//! main loop through memory. lavapipe does not show it (its "registers" are
//! memory anyway), so it is checked here, on naga's parse of the shaders:
//! every index into an `acc` array, or into a pointer to one, must be an
//! `AccessIndex` (a constant), never an `Access` (a computed index).

use naga::{Expression, Handle, Module, TypeInner};
use slimmable::kernel_sources;

/// Whether `e` is the array named `acc` itself: the local variable, a
/// pointer argument to it, or a load of either (not an element of it).
fn is_acc_array(module: &Module, f: &naga::Function, e: Handle<Expression>) -> bool {
    let is_array = |ty: Handle<naga::Type>| -> bool {
        match &module.types[ty].inner {
            TypeInner::Array { .. } => true,
            TypeInner::Pointer { base, .. } => {
                matches!(module.types[*base].inner, TypeInner::Array { .. })
            }
            _ => false,
        }
    };
    match f.expressions[e] {
        Expression::LocalVariable(v) => {
            let var = &f.local_variables[v];
            var.name.as_deref() == Some("acc") && is_array(var.ty)
        }
        Expression::FunctionArgument(i) => {
            let arg = &f.arguments[i as usize];
            arg.name.as_deref() == Some("acc") && is_array(arg.ty)
        }
        Expression::Load { pointer } => is_acc_array(module, f, pointer),
        _ => false,
    }
}

/// The functions (with the entry points') that index an `acc` array with a
/// computed index.
fn dynamic_acc_indexing(module: &Module) -> Vec<String> {
    let functions = module
        .functions
        .iter()
        .map(|(_, f)| f)
        .chain(module.entry_points.iter().map(|ep| &ep.function));
    let mut found = Vec::new();
    for f in functions {
        for (_, e) in f.expressions.iter() {
            if let Expression::Access { base, .. } = *e
                && is_acc_array(module, f, base)
            {
                found.push(f.name.clone().unwrap_or_default());
            }
        }
    }
    found
}

fn parse(body: &str) -> Module {
    let src = kernel_sources::wgsl_source(body);
    naga::front::wgsl::parse_str(&src).expect("the shader parses")
}

#[test]
fn accumulator_arrays_are_indexed_by_constants_only() {
    // Every shader; the conv GEMMs' `acc` is the array this is about.
    for &(name, body) in kernel_sources::WGSL_SHADERS {
        let found = dynamic_acc_indexing(&parse(body));
        assert!(
            found.is_empty(),
            "{name}: computed index into an accumulator array in {found:?}"
        );
    }
}

/// The check itself can fail: the accessor as it was before (one computed
/// index into the array) is caught.
#[test]
fn a_computed_index_into_the_accumulators_is_caught() {
    let planted = "
        fn acc_at(acc: ptr<function, array<vec4<f32>, 16>>, i: i32, j: i32) -> f32 {
            return (*acc)[2 * i + (j >> 2)][j & 3];
        }
        fn constant_only(acc: ptr<function, array<vec4<f32>, 16>>) -> f32 {
            return (*acc)[3][1];
        }
    ";
    let found = dynamic_acc_indexing(&parse(planted));
    assert_eq!(found, vec!["acc_at".to_string()]);
}
