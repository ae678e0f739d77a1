//! ONNX element types that tract has no element type for: BFLOAT16, the five FLOAT8 kinds,
//! FLOAT4E2M1 and the 4-bit and 2-bit integers. They are carried through the crate *widened*:
//! floats as f32, signed integers as i8, unsigned ones as u8, every value exactly (each of these
//! types is a subset of its wide type). Reference data keeps the ONNX type it was stored as
//! beside the tensor, and a runtime that has these types (onnxruntime) narrows an input back to
//! the declared type and widens its outputs.
//!
//! Why widened and not raw bytes: the comparison, the reports and every runtime seam already
//! speak tract tensors; two values of a narrow type are equal exactly when their widened values
//! are. This module must never round: narrowing a value its type cannot hold is an error.
//!
//! Bit layouts (ONNX `onnx.proto` and the FLOAT8 paper by Micikevicius et al., 2022):
//! - BFLOAT16: the upper 16 bits of an IEEE f32;
//! - FLOAT8E4M3FN: sign, 4 exponent bits (bias 7), 3 mantissa bits; no infinities, NaN is
//!   S.1111.111; FLOAT8E4M3FNUZ: bias 8, the only NaN is 0x80 (no negative zero);
//! - FLOAT8E5M2: sign, 5 exponent bits (bias 15), 2 mantissa bits, IEEE-like with infinities;
//!   FLOAT8E5M2FNUZ: bias 16, no infinities, the only NaN is 0x80;
//! - FLOAT8E8M0: an unsigned power of two `2^(e - 127)`, 0xFF is NaN;
//! - FLOAT4E2M1: sign, 2 exponent bits (bias 1), 1 mantissa bit: 0, 0.5, 1, 1.5, 2, 3, 4, 6;
//! - INT4/UINT4/INT2/UINT2: two's complement (or unsigned) fields packed into bytes, the first
//!   element in the least significant bits.

use ndarray::{ArrayD, IxDyn};
use tract_onnx::prelude::{DatumType, Tensor};

use super::pb::tensor_proto::DataType;

/// The tract type a narrow ONNX type is widened to, and the bits per element; `None` for the
/// types tract has (or that are not narrow floats and integers).
pub fn widened(dt: DataType) -> Option<(DatumType, u32)> {
    use DataType as D;
    Some(match dt {
        D::Bfloat16 => (DatumType::F32, 16),
        D::Float8e4m3fn | D::Float8e4m3fnuz | D::Float8e5m2 | D::Float8e5m2fnuz | D::Float8e8m0 => {
            (DatumType::F32, 8)
        }
        D::Float4e2m1 => (DatumType::F32, 4),
        D::Int4 => (DatumType::I8, 4),
        D::Uint4 => (DatumType::U8, 4),
        D::Int2 => (DatumType::I8, 2),
        D::Uint2 => (DatumType::U8, 2),
        _ => return None,
    })
}

/// A tensor's element type as ONNX names it, `declared` being the type the graph declares for
/// it: a narrow type that came back widened is named as declared (`BFLOAT16`), any other by
/// its own type (`FLOAT`).
pub fn type_name(t: &Tensor, declared: Option<i32>) -> String {
    let narrow = declared
        .and_then(|d| DataType::try_from(d).ok())
        .filter(|&d| widened(d).is_some_and(|(w, _)| w == t.datum_type()));
    match narrow {
        Some(d) => d.as_str_name().to_owned(),
        None => crate::metrics::datum_name(t.datum_type()),
    }
}

/// Bytes that hold `count` elements of `dt` (packed for sub-byte types).
pub fn packed_len(dt: DataType, count: usize) -> Option<usize> {
    let (_, bits) = widened(dt)?;
    Some((count * bits as usize).div_ceil(8))
}

/// One element's bit pattern as f32, for the float kinds.
fn float_value(dt: DataType, bits: u32) -> f32 {
    let b = bits;
    match dt {
        DataType::Bfloat16 => f32::from_bits(b << 16),
        DataType::Float8e4m3fn => minifloat(b, 4, 3, 7, Special::Fn),
        DataType::Float8e4m3fnuz => minifloat(b, 4, 3, 8, Special::Fnuz),
        DataType::Float8e5m2 => minifloat(b, 5, 2, 15, Special::Ieee),
        DataType::Float8e5m2fnuz => minifloat(b, 5, 2, 16, Special::Fnuz),
        DataType::Float4e2m1 => minifloat(b, 2, 1, 1, Special::None),
        DataType::Float8e8m0 if b == 0xff => f32::NAN,
        DataType::Float8e8m0 => 2f32.powi(b as i32 - 127),
        _ => unreachable!("float_value is only called for narrow float types"),
    }
}

/// How a small float spells its special values.
#[derive(Clone, Copy)]
enum Special {
    /// Infinity at the top exponent with a zero mantissa, NaN with any other (E5M2).
    Ieee,
    /// No infinities; NaN only where exponent and mantissa are all ones (E4M3FN).
    Fn,
    /// No infinities, no negative zero; the pattern of negative zero is the NaN.
    Fnuz,
    /// Every pattern is a number (E2M1).
    None,
}

fn minifloat(bits: u32, exp_bits: u32, man_bits: u32, bias: i32, special: Special) -> f32 {
    let sign_bit = 1 << (exp_bits + man_bits);
    let negative = bits & sign_bit != 0;
    let e = ((bits >> man_bits) & ((1 << exp_bits) - 1)) as i32;
    let m = bits & ((1 << man_bits) - 1);
    let top = (1 << exp_bits) - 1;
    match special {
        Special::Ieee if e == top => {
            return if m == 0 {
                if negative {
                    f32::NEG_INFINITY
                } else {
                    f32::INFINITY
                }
            } else {
                f32::NAN
            };
        }
        Special::Fn if e == top && m == (1 << man_bits) - 1 => return f32::NAN,
        Special::Fnuz if bits == sign_bit => return f32::NAN,
        _ => {}
    }
    let scale = |x: i32| 2f32.powi(x);
    let magnitude = if e == 0 {
        m as f32 * scale(1 - bias - man_bits as i32)
    } else {
        (1.0 + m as f32 / (1 << man_bits) as f32) * scale(e - bias)
    };
    if negative { -magnitude } else { magnitude }
}

/// The element at `i` of packed little-endian data with `bits` per element.
fn field(data: &[u8], i: usize, bits: u32) -> u32 {
    match bits {
        16 => u32::from(u16::from_le_bytes([data[2 * i], data[2 * i + 1]])),
        8 => u32::from(data[i]),
        4 | 2 => {
            let per_byte = 8 / bits as usize;
            let shift = (i % per_byte) as u32 * bits;
            (u32::from(data[i / per_byte]) >> shift) & ((1 << bits) - 1)
        }
        _ => unreachable!("narrow types have 16, 8, 4 or 2 bits"),
    }
}

/// Sign-extends a `bits`-wide two's complement field.
fn signed(v: u32, bits: u32) -> i8 {
    let shift = 8 - bits;
    ((v as u8) << shift) as i8 >> shift
}

/// Widens `count` packed elements of `dt` (`data` holds exactly [`packed_len`] bytes) into a
/// tract tensor of `shape`. `None` when `dt` is not a narrow type or the lengths disagree.
pub fn widen(dt: DataType, data: &[u8], shape: &[usize]) -> Option<Tensor> {
    let (wide, bits) = widened(dt)?;
    let count: usize = shape.iter().product();
    if data.len() != packed_len(dt, count)? {
        return None;
    }
    let values = (0..count).map(|i| field(data, i, bits));
    let shape = IxDyn(shape);
    let tensor = match wide {
        DatumType::F32 => {
            let v: Vec<f32> = values.map(|b| float_value(dt, b)).collect();
            Tensor::from(ArrayD::from_shape_vec(shape, v).ok()?)
        }
        DatumType::I8 => {
            let v: Vec<i8> = values.map(|b| signed(b, bits)).collect();
            Tensor::from(ArrayD::from_shape_vec(shape, v).ok()?)
        }
        _ => {
            let v: Vec<u8> = values.map(|b| b as u8).collect();
            Tensor::from(ArrayD::from_shape_vec(shape, v).ok()?)
        }
    };
    Some(tensor)
}

/// The bit pattern of `dt` that widens to exactly `v`, if there is one. NaN maps to the type's
/// canonical NaN; types without NaN refuse it.
fn float_bits(dt: DataType, v: f32) -> Option<u32> {
    if dt == DataType::Bfloat16 {
        let b = v.to_bits();
        return if v.is_nan() {
            Some((b >> 16) | 0x40)
        } else {
            (b & 0xffff == 0).then_some(b >> 16)
        };
    }
    let (_, bits) = widened(dt)?;
    // At most 256 patterns: find the one that widens to `v` (bitwise, so -0 and +0 differ).
    (0..1u32 << bits).find(|&b| {
        let w = float_value(dt, b);
        if v.is_nan() {
            w.is_nan()
        } else {
            w.to_bits() == v.to_bits()
        }
    })
}

/// Narrows a widened tensor back to the packed little-endian bytes of `dt`. `Err` names the
/// first value `dt` cannot hold exactly (or a tensor of the wrong wide type).
pub fn narrow(dt: DataType, tensor: &Tensor) -> Result<Vec<u8>, String> {
    let (wide, bits) = widened(dt).ok_or_else(|| format!("{dt:?} is not a narrow type"))?;
    if tensor.datum_type() != wide {
        return Err(format!(
            "{} holds {:?} values, a {} is carried as {wide:?}",
            dt.as_str_name(),
            tensor.datum_type(),
            dt.as_str_name()
        ));
    }
    let fields: Vec<u32> = match wide {
        DatumType::F32 => {
            let view = tensor
                .to_plain_array_view::<f32>()
                .map_err(|e| e.to_string())?;
            view.iter()
                .map(|&v| {
                    float_bits(dt, v)
                        .ok_or_else(|| format!("{v} is not a {} value", dt.as_str_name()))
                })
                .collect::<Result<_, _>>()?
        }
        DatumType::I8 => {
            let view = tensor
                .to_plain_array_view::<i8>()
                .map_err(|e| e.to_string())?;
            let (lo, hi) = (-(1i8 << (bits - 1)), (1i8 << (bits - 1)) - 1);
            view.iter()
                .map(|&v| {
                    if (lo..=hi).contains(&v) {
                        Ok(u32::from(v as u8) & ((1 << bits) - 1))
                    } else {
                        Err(format!("{v} is not a {} value", dt.as_str_name()))
                    }
                })
                .collect::<Result<_, _>>()?
        }
        _ => {
            let view = tensor
                .to_plain_array_view::<u8>()
                .map_err(|e| e.to_string())?;
            view.iter()
                .map(|&v| {
                    if u32::from(v) < 1 << bits {
                        Ok(u32::from(v))
                    } else {
                        Err(format!("{v} is not a {} value", dt.as_str_name()))
                    }
                })
                .collect::<Result<_, _>>()?
        }
    };
    let mut out = vec![0u8; packed_len(dt, fields.len()).expect("narrow type")];
    for (i, f) in fields.into_iter().enumerate() {
        match bits {
            16 => out[2 * i..2 * i + 2].copy_from_slice(&(f as u16).to_le_bytes()),
            8 => out[i] = f as u8,
            _ => {
                let per_byte = 8 / bits as usize;
                out[i / per_byte] |= (f as u8) << ((i % per_byte) as u32 * bits);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(dt: DataType, bytes: &[u8]) -> Vec<f32> {
        let n = bytes.len() * 8 / widened(dt).unwrap().1 as usize;
        widen(dt, bytes, &[n])
            .unwrap()
            .to_plain_array_view::<f32>()
            .unwrap()
            .iter()
            .copied()
            .collect()
    }

    #[test]
    fn float8_patterns_widen_as_the_specification_says() {
        // E4M3FN: 0x38 = 0.0111.000 = 2^(7-7) = 1; 0xC0 = -2; 0x7E = 448 (the largest);
        // 0x01 = 2^-9 (smallest subnormal); 0x7F is NaN.
        let v = floats(DataType::Float8e4m3fn, &[0x38, 0xc0, 0x7e, 0x01, 0x7f]);
        assert_eq!(&v[..4], &[1.0, -2.0, 448.0, 2f32.powi(-9)]);
        assert!(v[4].is_nan());
        // E4M3FNUZ: bias 8, so 0x40 = 1; 0x80 is the NaN; 0x7F = 240 (the largest).
        let v = floats(DataType::Float8e4m3fnuz, &[0x40, 0x7f, 0x80]);
        assert_eq!(&v[..2], &[1.0, 240.0]);
        assert!(v[2].is_nan());
        // E5M2: 0x3C = 1; 0x7B = 57344 (the largest); 0x7C = inf; 0xFC = -inf; 0x7D NaN.
        let v = floats(DataType::Float8e5m2, &[0x3c, 0x7b, 0x7c, 0xfc, 0x7d]);
        assert_eq!(&v[..4], &[1.0, 57344.0, f32::INFINITY, f32::NEG_INFINITY]);
        assert!(v[4].is_nan());
        // E5M2FNUZ: bias 16, 0x40 = 1, 0x7F = 57344, 0x80 NaN.
        let v = floats(DataType::Float8e5m2fnuz, &[0x40, 0x7f, 0x80]);
        assert_eq!(&v[..2], &[1.0, 57344.0]);
        assert!(v[2].is_nan());
        // E8M0: 0x7F = 1, 0x80 = 2, 0x00 = 2^-127, 0xFF NaN.
        let v = floats(DataType::Float8e8m0, &[0x7f, 0x80, 0x00, 0xff]);
        assert_eq!(&v[..3], &[1.0, 2.0, 2f32.powi(-127)]);
        assert!(v[3].is_nan());
        // BFLOAT16 0x3F80 = 1.0, 0xC000 = -2.0 (little-endian bytes).
        assert_eq!(
            floats(DataType::Bfloat16, &[0x80, 0x3f, 0x00, 0xc0]),
            [1.0, -2.0]
        );
    }

    #[test]
    fn sub_byte_values_unpack_low_bits_first() {
        // onnx.helper.make_tensor('t', INT4, [5], [1, -2, 3, 1, 0]) stores int32_data [225, 19, 0].
        let t = widen(DataType::Int4, &[225, 19, 0], &[5]).unwrap();
        let v: Vec<i8> = t
            .to_plain_array_view::<i8>()
            .unwrap()
            .iter()
            .copied()
            .collect();
        assert_eq!(v, [1, -2, 3, 1, 0]);
        assert_eq!(narrow(DataType::Int4, &t).unwrap(), [225, 19, 0]);
        // UINT2 [1, 2, 3, 1, 0] -> [121, 0]: 1 | 2<<2 | 3<<4 | 1<<6 = 121.
        let t = widen(DataType::Uint2, &[121, 0], &[5]).unwrap();
        let v: Vec<u8> = t
            .to_plain_array_view::<u8>()
            .unwrap()
            .iter()
            .copied()
            .collect();
        assert_eq!(v, [1, 2, 3, 1, 0]);
        assert_eq!(narrow(DataType::Uint2, &t).unwrap(), [121, 0]);
        // FLOAT4E2M1 [1, -2, 3, 1, 0] -> [194, 37, 0]: 1 = 0b0010, -2 = 0b1100, 3 = 0b0101.
        assert_eq!(
            floats(DataType::Float4e2m1, &[194, 37, 0])[..5],
            [1.0, -2.0, 3.0, 1.0, 0.0]
        );
        assert!(widen(DataType::Int4, &[0, 0], &[5]).is_none());
    }

    #[test]
    fn every_pattern_round_trips_and_other_values_are_refused() {
        for dt in [
            DataType::Float8e4m3fn,
            DataType::Float8e4m3fnuz,
            DataType::Float8e5m2,
            DataType::Float8e5m2fnuz,
            DataType::Float8e8m0,
        ] {
            let bytes: Vec<u8> = (0..=255).collect();
            let t = widen(dt, &bytes, &[256]).unwrap();
            let back = narrow(dt, &t).unwrap();
            // NaNs come back as the first NaN pattern; everything else bit for bit.
            for (b, r) in bytes.iter().zip(&back) {
                let (x, y) = (
                    float_value(dt, u32::from(*b)),
                    float_value(dt, u32::from(*r)),
                );
                assert!(
                    b == r || (x.is_nan() && y.is_nan()),
                    "{dt:?} {b:#x} -> {r:#x}"
                );
            }
        }
        let t = Tensor::from(ndarray::arr1(&[0.1f32]).into_dyn());
        assert!(
            narrow(DataType::Float8e4m3fn, &t)
                .unwrap_err()
                .contains("0.1")
        );
        assert!(narrow(DataType::Bfloat16, &t).is_err());
        let t = Tensor::from(ndarray::arr1(&[8i8]).into_dyn());
        assert!(narrow(DataType::Int4, &t).is_err());
    }
}
