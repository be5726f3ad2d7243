//! The ONNX front end the detector loads its model with: tract-onnx's reader, with
//! only the ops the cut plans run (`cut.rs`): Gemm, Add and Relu.
//!
//! `tract_onnx::onnx()` registers every ONNX op. The registry is a table of function
//! pointers, so everything each of them can build (convolutions, recurrent nets,
//! resizing, quantisation... most of tract-hir and tract-core) stays reachable and
//! the linker keeps it all: `cargo bloat` counted 8.9 MiB of code in tract_core
//! alone. With a register of three, the rest of the graph (the clip, the gather,
//! softmax, ReduceMin) is read as tract's "unimplemented" placeholder, which the cut
//! leaves outside the plans and drops.
//!
//! The builders are tract-onnx 0.23.9's own (`ops/math.rs`, `ops/nn/mod.rs`,
//! `ops/math/gemm.rs`; MIT or Apache-2.0), which keep their modules private: the
//! same ops, wired the same way, so the plans are the ones `onnx()` gives, to the bit
//! (`detector.rs`'s test runs the whole graph through `onnx()` beside them).

use tract_onnx::{
    Onnx,
    model::OnnxOpRegister,
    pb::NodeProto,
    tract_hir::{internal::*, ops},
};

/// tract-onnx's reader with the cut plans' ops.
pub(super) fn served_ops() -> Onnx {
    let mut register = OnnxOpRegister::default();
    register.insert("Add", |_, _| Ok((ops::math::Add.into_hir(), vec![])));
    register.insert("Relu", |_, _| {
        Ok((expand(ops::activations::Clip::new(Some(0.0), None)), vec![]))
    });
    register.insert("Gemm", |_, node| Ok((expand(Gemm::of(node)?), vec![])));
    Onnx {
        op_register: register,
        ..Onnx::default()
    }
}

/// ONNX's Gemm, `alpha * A' B' + beta * C`, as tract-onnx expands it.
#[derive(Debug, Clone)]
struct Gemm {
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
}

impl Gemm {
    fn of(node: &NodeProto) -> TractResult<Self> {
        Ok(Self {
            alpha: node.get_attr_opt("alpha")?.unwrap_or(1.),
            beta: node.get_attr_opt("beta")?.unwrap_or(1.),
            trans_a: node.get_attr_opt("transA")?.unwrap_or(false),
            trans_b: node.get_attr_opt("transB")?.unwrap_or(false),
        })
    }
}

impl Expansion for Gemm {
    fn name(&self) -> StaticName {
        "Gemm".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        if inputs.len() < 2 {
            bail!(
                "Wrong input number. Rules expect at least 2, node has {}.",
                inputs.len()
            );
        }
        if inputs.len() == 3 {
            s.equals(&inputs[2].datum_type, &outputs[0].datum_type)?;
        }
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&inputs[1].rank, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].rank, 2)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[1].datum_type, &outputs[0].datum_type)?;
        let (ca, ra) = if self.trans_a { (0, 1) } else { (1, 0) };
        let (cb, rb) = if self.trans_b { (0, 1) } else { (1, 0) };
        s.equals(&inputs[0].shape[ra], &outputs[0].shape[0])?;
        s.equals(&inputs[0].shape[ca], &inputs[1].shape[rb])?;
        s.equals(&inputs[1].shape[cb], &outputs[0].shape[1])?;
        Ok(())
    }

    fn wire(
        &self,
        name: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        use tract_onnx::tract_core::ops::{change_axes::AxisOp, einsum::EinSum};
        let (a, b, c) = (inputs[0], inputs[1], inputs.get(2));
        let axes = AxesMapping::for_numpy_matmul(2, self.trans_a, self.trans_b, false)?;
        let mut wire = model.wire_node(
            format!("{name}.ab"),
            EinSum::new(axes, model.outlet_fact(a)?.datum_type),
            [a, b].as_ref(),
        )?[0];
        if self.alpha != 1.0 {
            let alpha = tensor0(self.alpha).broadcast_into_rank(model.outlet_fact(wire)?.rank())?;
            let alpha = model.add_const(name.to_string() + ".alpha_ab.cst", alpha)?;
            wire = model.wire_node(
                name.to_string() + ".alpha_ab",
                ops::math::mul(),
                &[alpha, wire],
            )?[0];
        }
        if let (true, Some(&c)) = (self.beta != 0.0, c) {
            let mut c = c;
            while model.outlet_fact(wire)?.rank() > model.outlet_fact(c)?.rank() {
                c = model.wire_node(
                    format!("{}.c_add_axis_{}", name, model.outlet_fact(c)?.rank()),
                    AxisOp::Add(0),
                    &[c],
                )?[0];
            }
            let beta = tensor0(self.beta).broadcast_into_rank(model.outlet_fact(wire)?.rank())?;
            let beta = model.add_const(name.to_string() + ".beta_c.cst", beta)?;
            let beta_c =
                model.wire_node(name.to_string() + ".beta_c", ops::math::mul(), &[beta, c])?[0];
            wire = model.wire_node(name, ops::math::add(), &[wire, beta_c])?[0];
        }
        Ok(tvec!(wire))
    }
}
