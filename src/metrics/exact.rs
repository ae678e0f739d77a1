//! Floats carried through JSON bit for bit: as their IEEE-754 bit patterns (unsigned integers,
//! which JSON parsers read back exactly), NaN and infinities included. For machine state that
//! must come back unchanged (a shard's partial sums, read by `merge`), never for what people
//! read: reports keep plain numbers.
//!
//! Use as `#[serde(with = "crate::metrics::exact")]` on an `f64`, `exact::f32_pair` on an
//! `[f32; 2]`, `exact::option` on an `Option<f64>`.

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(v.to_bits())
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    u64::deserialize(d).map(f64::from_bits)
}

/// `[f32; 2]` as two bit patterns.
pub mod f32_pair {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[f32; 2], s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&[v[0].to_bits(), v[1].to_bits()], s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[f32; 2], D::Error> {
        <[u32; 2]>::deserialize(d).map(|[a, b]| [f32::from_bits(a), f32::from_bits(b)])
    }
}

pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) => s.serialize_some(&x.to_bits()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<u64>::deserialize(d).map(|b| b.map(f64::from_bits))
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct Carried {
        #[serde(with = "super")]
        a: f64,
        #[serde(with = "super::f32_pair")]
        b: [f32; 2],
        #[serde(with = "super::option")]
        c: Option<f64>,
    }

    #[test]
    fn every_float_comes_back_bit_for_bit() {
        let awkward = [
            0.1 + 0.2,
            -0.0,
            f64::MIN_POSITIVE / 3.0,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::from_bits(0x7ff8_0000_0000_0abc),
        ];
        for x in awkward {
            let v = Carried {
                a: x,
                b: [x as f32, -(x as f32)],
                c: Some(x),
            };
            let back: Carried = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
            assert_eq!(back.a.to_bits(), x.to_bits());
            assert_eq!(
                back.b.map(f32::to_bits),
                [x as f32, -(x as f32)].map(f32::to_bits)
            );
            assert_eq!(back.c.map(f64::to_bits), Some(x.to_bits()));
        }
        let none: Carried = serde_json::from_str(r#"{"a":0,"b":[0,0],"c":null}"#).unwrap();
        assert_eq!(none.c, None);
    }
}
