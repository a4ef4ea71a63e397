//! Operations see their buffers as of when they were issued, on every
//! backend: the wgpu backend submits recorded operations in batches, so a
//! host write or read between them must submit what is pending first.

mod common;

use slimmable::ops;
use slimmable::view::View;

#[test]
fn writes_and_reads_keep_their_place_among_operations() {
    let mut rng = slimmable::rng::Rng::new(common::seed());
    for be in common::backends() {
        let be = be.as_ref();
        let n = 64;
        let v = View::contiguous([1, n, 1, 1]);
        let (old, new) = (rng.vec_f32(n), rng.vec_f32(n));
        let a = be.upload(&old).unwrap();
        let (b, c) = (be.alloc(n).unwrap(), be.alloc(n).unwrap());
        // b reads a before the write, c after it.
        ops::slice_copy(be, &a, &v, &b, &v).unwrap();
        be.write(&a, &new).unwrap();
        ops::slice_copy(be, &a, &v, &c, &v).unwrap();
        assert_eq!(
            be.download(&b).unwrap(),
            old,
            "{}: copy issued before the write",
            be.kind()
        );
        assert_eq!(
            be.download(&c).unwrap(),
            new,
            "{}: copy issued after the write",
            be.kind()
        );
        // More operations than one batch, each overwriting the last: the
        // buffer ends with the last value, and a read partway sees the
        // value written just before it.
        for k in 0..40 {
            ops::fill(be, &b, &v, k as f32).unwrap();
            if k == 20 {
                assert_eq!(
                    be.download(&b).unwrap(),
                    vec![20.0; n],
                    "{}: read partway",
                    be.kind()
                );
            }
        }
        assert_eq!(
            be.download(&b).unwrap(),
            vec![39.0; n],
            "{}: last of 40 fills",
            be.kind()
        );
    }
}
